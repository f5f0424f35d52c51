/** The file layout as plain SQL sees it, and Arrow bulk reads. */
import { DuckDBInstance } from "@duckdb/node-api";
import { Type } from "apache-arrow";
import { field, openStore, rowsToBatch, Tracker, vectorToValues } from "@quiver/core";
import { describe, expect, it } from "vitest";
import { DuckDBStore } from "../dist/index.js";
import { tmpDb } from "./helpers.js";

async function raw<T>(file: string, fn: (q: (sql: string) => Promise<unknown[][]>) => Promise<T>): Promise<T> {
  const inst = await DuckDBInstance.create(file);
  const conn = await inst.connect();
  try {
    return await fn(async (sql) => (await conn.runAndReadAll(sql)).getRows());
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

describe("duckdb: layout", () => {
  it("one table per tracker table, columns typed on first sight, plain SQL sees them", async () => {
    const file = tmpDb();
    const t = await Tracker.open(`duckdb:${file}`, { params: { model: "resnet18" } });
    await t.log({ accuracy: 0.9, epoch: 1, ok: true, note: "first" });
    await t.flush();
    await t.log({ epoch: 1.5, big: 2n ** 62n, blob: new Uint8Array([1, 2]), losses: [0.5, 0.25], img: { data: new Float32Array(4), shape: [2, 2] }, when: new Date(1000) });
    await t.close();
    const other = await Tracker.open(`duckdb:${file}`, { table: "evals" });
    await other.log({ score: 3 });
    await other.close();
    await raw(file, async (q) => {
      const cols = await q("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'events' ORDER BY column_index");
      expect(Object.fromEntries(cols)).toEqual({
        accuracy: "DOUBLE",
        epoch: "DOUBLE", // int on first sight, widened by the float
        ok: "BOOLEAN",
        note: "VARCHAR",
        model: "VARCHAR",
        timestamp: "TIMESTAMP",
        track_id: "VARCHAR",
        big: "BIGINT",
        blob: "BLOB",
        losses: "DOUBLE[]",
        img: 'STRUCT("data" FLOAT[], shape INTEGER[])',
        when: "TIMESTAMP",
      });
      expect(await q("SELECT table_name FROM duckdb_tables() ORDER BY 1")).toEqual([["evals"], ["events"]]);
      const rows = await q(`SELECT epoch, model, strftime("when", '%Y-%m-%d %H:%M:%S') FROM events ORDER BY rowid`);
      expect(rows).toEqual([
        [1, "resnet18", null],
        [1.5, "resnet18", "1970-01-01 00:00:01"],
      ]);
      // timestamp is UTC wall-clock time in µs
      const [[diff]] = (await q(`SELECT abs(epoch_ms("timestamp") - ${Date.now()}) < 600000 FROM events LIMIT 1`)) as [[boolean]];
      expect(diff).toBe(true);
    });
    // Reads come back with the logged kinds.
    const s = await openStore(`duckdb:${file}`);
    const rows = [];
    for await (const b of s.scan("events", { where: field("epoch").eq(1.5).node }))
      rows.push(
        ...vectorToValues(
          b.getChild("big")!,
          b.schema.fields.find((f) => f.name === "big"),
        ),
      );
    expect(rows).toEqual([2n ** 62n]);
    await s.close();
  });

  it("a column first seen as int becomes DOUBLE in the file when a float arrives", async () => {
    const file = tmpDb();
    const s = await openStore(`duckdb:${file}`);
    await s.append("t", rowsToBatch([{ x: 1 }, { x: 2 }]));
    expect((await s.schema("t"))!.fields[0]!.type.typeId).toBe(Type.Int);
    await s.append("t", rowsToBatch([{ x: 2.5 }]));
    await s.close();
    expect(await raw(file, (q) => q("SELECT data_type FROM duckdb_columns() WHERE column_name = 'x'"))).toEqual([["DOUBLE"]]);
    expect(await raw(file, (q) => q("SELECT x FROM t ORDER BY rowid"))).toEqual([[1], [2], [2.5]]);
  });

  it("updating a list or tensor column keeps insertion order and row indexes", async () => {
    const s = await openStore(`duckdb:${tmpDb()}`);
    await s.append("t", rowsToBatch([0, 1, 2, 3, 4].map((i) => ({ i, v: [i], m: { data: new Float32Array([i]), shape: [1] } }))));
    expect(await s.update("t", field("i").eq(1).or(field("i").eq(3)).node, { v: [9, 9], m: { data: new Float32Array([7, 7]), shape: [2] } })).toBe(2);
    expect(await s.update("t", field("i").eq(0).node, { flag: true })).toBe(1);
    const rows: unknown[] = [];
    for await (const b of s.scan("t", { rowIndex: "idx", columns: ["i", "v"] })) rows.push(...b.toArray().map((r) => r.toJSON()));
    expect(
      rows.map((r) => {
        const o = r as { i: bigint; idx: bigint; v: { toArray(): Float64Array } };
        return [Number(o.i), Number(o.idx), Array.from(o.v.toArray())];
      }),
    ).toEqual([
      [0, 0, [0]],
      [1, 1, [9, 9]],
      [2, 2, [2]],
      [3, 3, [9, 9]],
      [4, 4, [4]],
    ]);
    await s.close();
  });

  it("string columns: constant long values, same-length distinct values, one odd value out", async () => {
    const s = await openStore(`duckdb:${tmpDb()}`);
    const same = "0123456789abcdef-constant-value";
    const rows = Array.from({ length: 6000 }, (_, i) => ({
      c: same,
      d: `distinct-value-${String(i).padStart(6, "0")}`,
      o: i === 4097 ? same.toUpperCase() : same,
    }));
    await s.append("t", rowsToBatch(rows));
    const got: Record<string, unknown>[] = [];
    for await (const b of s.scan("t")) got.push(...b.toArray().map((r) => r.toJSON()));
    expect(got).toEqual(rows);
    await s.close();
  });

  it("sql() reads constant and repeated long strings (shared heap pointers)", async () => {
    const s = await openStore("duckdb::memory:");
    await s.append("t", rowsToBatch(Array.from({ length: 5000 }, (_, i) => ({ i }))));
    const tb = await s.sql!(
      "SELECT i, 'a constant string longer than twelve' AS c, CASE WHEN i % 3 = 0 THEN 'another long string value here' ELSE 'short' END AS d FROM t ORDER BY i",
    );
    const rows = tb.toArray().map((r) => r.toJSON() as { i: bigint; c: string; d: string });
    expect(rows.length).toBe(5000);
    for (const r of rows) {
      expect(r.c).toBe("a constant string longer than twelve");
      expect(r.d).toBe(Number(r.i) % 3 === 0 ? "another long string value here" : "short");
    }
    await s.close();
  });

  it("appends committed in the background (second connection) keep their order", async () => {
    const file = tmpDb();
    const s = await openStore(`duckdb:${file}?commitInterval=0&mode=exclusive`);
    for (let k = 0; k < 40; k++) await s.append("t", rowsToBatch(Array.from({ length: 500 }, (_, j) => ({ i: k * 500 + j }))));
    const seen: number[] = [];
    for await (const b of s.scan("t", { rowIndex: "idx" })) {
      const i = vectorToValues(b.getChild("i")!);
      const idx = vectorToValues(b.getChild("idx")!);
      i.forEach((v, r) => {
        expect(idx[r]).toBe(v);
        seen.push(v as number);
      });
    }
    expect(seen).toEqual(Array.from({ length: 20_000 }, (_, j) => j));
    await s.close();
    expect(await raw(file, (q) => q("SELECT count(*), min(i), max(i) FROM t"))).toEqual([[20000n, 0n, 19999n]]);
  });

  it("names differing only in case are rejected (DuckDB identifiers are case-insensitive)", async () => {
    const s = await openStore(`duckdb:${tmpDb()}`);
    await s.append("t", rowsToBatch([{ Loss: 1 }]));
    await expect(s.append("t", rowsToBatch([{ loss: 1 }]))).rejects.toMatchObject({ code: "INVALID_NAME" });
    await expect(s.append("T", rowsToBatch([{ a: 1 }]))).rejects.toMatchObject({ code: "INVALID_NAME" });
    expect(await s.count("t")).toBe(1);
    await s.close();
  });

  it("URI options: mode, lockTimeout; bad options and paths are INVALID_URI / INVALID_PATH", async () => {
    const s = await openStore(`duckdb:${tmpDb()}?mode=exclusive&lockTimeout=100`);
    expect(s).toBeInstanceOf(DuckDBStore);
    expect(s.capabilities.concurrentWriters).toBe(false);
    await s.close();
    await expect(openStore(`duckdb:${tmpDb()}?mode=weird`)).rejects.toMatchObject({ code: "INVALID_URI" });
    await expect(openStore(`duckdb:${tmpDb()}?colour=red`)).rejects.toMatchObject({ code: "INVALID_URI" });
    await expect(openStore(`duckdb:/nonexistent-dir-quiver/x/y.db`)).rejects.toMatchObject({ code: "INVALID_PATH" });
    const m = await openStore("duckdb::memory:");
    expect(m.capabilities.persistent).toBe(false);
    await m.append("t", rowsToBatch([{ a: 1 }]));
    expect(await m.count("t")).toBe(1);
    await m.close();
  });
});

describe("duckdb: Arrow bulk reads", () => {
  it("reads 100k rows with nulls, unicode, short and long strings across chunk boundaries", async () => {
    const s = await openStore(`duckdb:${tmpDb()}`);
    const N = 100_000;
    const words = ["a", "short", "héllo wörld ünïcode ✓ more than twelve bytes", "exactly12byt", "a much longer string that is not inlined"];
    const rows = Array.from({ length: N }, (_, i) => ({
      i,
      f: i % 7 === 0 ? null : i / 3,
      s: i % 5 === 3 ? null : words[i % words.length]! + (i % 11 === 0 ? String(i) : ""),
      b: i % 3 === 0 ? null : i % 2 === 0,
      t: i % 13 === 0 ? null : new Date(1_600_000_000_000 + i),
    }));
    for (let k = 0; k < N; k += 25_000) await s.append("t", rowsToBatch(rows.slice(k, k + 25_000)));
    const check = async (where: ReturnType<typeof field> extends never ? never : Parameters<typeof s.scan>[1]) => {
      const got: Record<string, unknown>[] = [];
      for await (const b of s.scan("t", where)) {
        expect(b.schema.fields.map((f) => f.type.typeId)).toEqual([Type.Int, Type.Float, Type.Utf8, Type.Bool, Type.Timestamp]);
        const cols = b.schema.fields.map((f, c) => vectorToValues(b.getChildAt(c)!, f));
        for (let r = 0; r < b.numRows; r++) got.push(Object.fromEntries(b.schema.fields.map((f, c) => [f.name, cols[c]![r]])));
      }
      return got;
    };
    expect(await check({})).toEqual(rows);
    // An odd filter gives chunks whose sizes are not multiples of 8.
    const odd = await check({ where: field("i").ne(5).and(field("s").isNotNull()).node });
    expect(odd).toEqual(rows.filter((r) => r.i !== 5 && r.s !== null));
    await s.close();
  });
});
