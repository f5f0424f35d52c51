/**
 * exportLake: time order within each partition file at a size where DuckDB's multi-threaded
 * partitioned COPY interleaves rows, streaming from a non-DuckDB store, and a failed export
 * (disk full on a real tmpfs) leaving nothing behind. quiver export's tests (packages/cli) read
 * lakes from duckdb:, msgpack: and postgres: back with DuckDB and hyparquet.
 */
import fs from "node:fs";
import path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { openStore, rowsToBatch } from "@quiver/core";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { afterAll, describe, expect, it } from "vitest";
import { exportLake } from "../dist/index.js";
import { tmpDir } from "./helpers.js";
import { mountRefused, tmpfs, unmountAll } from "@quiver/core/testing";

afterAll(() => unmountAll());

async function duck<T>(sql: string): Promise<T[]> {
  const inst = await DuckDBInstance.create(":memory:");
  const conn = await inst.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRowObjectsJS() as T[];
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

const q = (p: string) => `'${p.replaceAll("'", "''")}'`;

describe("exportLake", () => {
  it("400k rows from a memory: store, streamed in batches: each partition file is in time order (ties in insertion order)", async () => {
    const store = await openStore(`memory:lake-${process.pid}`);
    const N = 400_000;
    const B = 50_000;
    for (let b = 0; b < N; b += B) {
      const rows = [];
      // Time runs backwards overall, with equal timestamps in pairs: ties must keep insertion order.
      for (let i = b; i < b + B; i++) rows.push({ track_id: `r${i % 4}`, timestamp: new Date(Date.UTC(2024, 0, 1) + Math.floor((N - i) / 8) * 1000), i });
      await store.append("events", rowsToBatch(rows));
    }
    const seen: number[] = [];
    const dir = path.join(tmpDir(), "lake");
    const r = await exportLake(store, "events", dir, { partitionBy: "track_id", onProgress: (n) => seen.push(n) });
    expect(r.rows).toBe(N);
    expect(seen).toEqual([50_000, 100_000, 150_000, 200_000, 250_000, 300_000, 350_000, 400_000]);
    expect(r.files).toEqual(["track_id=r0/data_0.parquet", "track_id=r1/data_0.parquet", "track_id=r2/data_0.parquet", "track_id=r3/data_0.parquet"]);
    const src = `read_parquet(${q(path.join(dir, "**", "*.parquet"))}, hive_partitioning = true, filename = true, file_row_number = true)`;
    const bad = await duck<{ n: bigint }>(
      `SELECT count(*) AS n FROM (SELECT timestamp, i, lag(timestamp) OVER w AS pt, lag(i) OVER w AS pi FROM ${src} WINDOW w AS (PARTITION BY filename ORDER BY file_row_number)) WHERE timestamp < pt OR (timestamp = pt AND i < pi)`,
    );
    expect(bad[0]!.n).toBe(0n);
    const counts = await duck<{ track_id: string; n: bigint; s: bigint }>(`SELECT track_id, count(*) AS n, sum(i) AS s FROM ${src} GROUP BY ALL ORDER BY track_id`);
    expect(counts.map((c) => [c.track_id, Number(c.n)])).toEqual(["r0", "r1", "r2", "r3"].map((t) => [t, N / 4]));
    expect(counts.reduce((a, c) => a + c.s, 0n)).toBe(BigInt((N * (N - 1)) / 2));
    // hyparquet agrees on the first rows of a file, and the file is zstd-compressed.
    const file = await asyncBufferFromFile(path.join(dir, r.files[1]!));
    const metadata = await parquetMetadataAsync(file);
    expect(new Set(metadata.row_groups.flatMap((g) => g.columns.map((c) => c.meta_data?.codec)))).toEqual(new Set(["ZSTD"]));
    const head = await parquetReadObjects({ file, metadata, compressors, rowEnd: 2 });
    expect(head).toEqual([
      { timestamp: new Date(Date.UTC(2024, 0, 1)), i: 399_993n }, // a tie: insertion order
      { timestamp: new Date(Date.UTC(2024, 0, 1)), i: 399_997n },
    ]);
    await store.close();
  });

  it.skipIf(mountRefused() !== undefined)(`a disk that fills up mid-export is IO naming the folder, and leaves nothing there ${mountRefused() ?? ""}`, async () => {
    const store = await openStore(`memory:lake-full-${process.pid}`);
    const rows = Array.from({ length: 20_000 }, (_, i) => ({
      track_id: `r${i % 3}`,
      timestamp: new Date(i),
      s: `${i}-${Math.random().toString(36)}${Math.random().toString(36)}`,
    }));
    await store.append("events", rowsToBatch(rows));
    const disk = tmpfs("128k");
    const dir = path.join(disk, "lake");
    const err = await exportLake(store, "events", dir, { partitionBy: "track_id" }).catch((e: unknown) => e as Error & { code?: string });
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code).toBe("IO");
    expect((err as Error).message).toContain(dir);
    expect(fs.readdirSync(disk)).toEqual([]); // neither the target nor the partial folder
    await store.close();
  });
});
