/**
 * For the export tests: a real PostgreSQL server (QUIVER_PG_URL, else a throw-away one started
 * with store-postgres's scripts/pg-server.sh), rows of every kind, and two independent readers
 * of a Parquet lake — DuckDB's read_parquet and hyparquet — giving rows in file order.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from "hyparquet";
import { compressors } from "hyparquet-compressors";

export interface PgServer {
  url: string;
  stop(): void;
}

/** QUIVER_PG_URL when set; otherwise starts a server (never a mock: no server, the test fails). */
export function pgServer(): PgServer {
  const given = process.env.QUIVER_PG_URL;
  if (given) return { url: given, stop: () => undefined };
  const script = path.join(path.dirname(createRequire(import.meta.url).resolve("@quiver/store-postgres")), "..", "scripts", "pg-server.sh");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-cli-pg-"));
  const url = execFileSync("bash", [script, "start", dir], { encoding: "utf8" }).trim();
  return {
    url,
    stop: () => {
      try {
        execFileSync("bash", [script, "stop", dir], { stdio: "ignore" });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

let n = 0;
/** A store URL in a fresh schema of the server. */
export function pgSchemaUrl(base: string): string {
  const u = new URL(base);
  u.searchParams.set("schema", `lake_${process.pid}_${++n}_${Math.random().toString(36).slice(2, 8)}`);
  return u.toString();
}

export const RUNS = ["run-a", "b/c d=é", "123"]; // a slash, a space, an "=", non-ASCII, digits only
export const INT_COLUMNS = new Set(["epoch"]);

/**
 * Rows of every value kind, in insertion order; within each run the timestamps run backwards
 * in blocks, so a file sorted by time is not the insertion order.
 */
export function lakeRows(count: number): Record<string, unknown>[] {
  const t0 = Date.UTC(2024, 0, 1);
  const specials = [-0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-300, 1.5e300];
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const block = Math.floor(i / 97);
    rows.push({
      track_id: RUNS[i % RUNS.length],
      timestamp: new Date(t0 + (1000 - block) * 10_000 + (i % 97) * 7),
      epoch: i,
      loss: i % 50 < specials.length ? specials[i % 50] : 1 / (i + 1),
      big: 2n ** 62n + BigInt(i),
      ok: i % 3 === 0,
      tag: i % 11 === 0 ? null : `tag ${i} ✓ 😀`,
      at: new Date(t0 - i * 86_400_000),
      blob: new Uint8Array([i & 255, 0, 255]),
      hist: [i, -0, i / 3],
      tensor: { data: [i, i + 0.5, -i, 2], shape: [2, 2] },
    });
  }
  return rows;
}

/** A value in a form both readers and the logged rows agree on (ints as bigint, bytes and lists as arrays, times as ms). */
export function norm(v: unknown, column: string): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return v;
  if (typeof v === "number") return INT_COLUMNS.has(column) ? BigInt(v) : v;
  if (v instanceof Date) return v.getTime();
  if (v instanceof Uint8Array) return { bytes: Array.from(v) };
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return Array.from(v as ArrayLike<unknown>, (x) => (typeof x === "bigint" ? Number(x) : x));
  if (typeof v === "object") {
    const o = v as { data: ArrayLike<number>; shape: ArrayLike<number> };
    return { data: Array.from(o.data, Number), shape: Array.from(o.shape, Number) };
  }
  return v;
}

export function normRow(r: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, norm(v, k)]));
}

/** The logged rows as each partition file must hold them: grouped by run, sorted by timestamp (stable). */
export function expectedByRun(rows: Record<string, unknown>[]): Map<string, Record<string, unknown>[]> {
  const out = new Map<string, Record<string, unknown>[]>();
  for (const r of rows) {
    const id = r.track_id as string;
    if (!out.has(id)) out.set(id, []);
    out.get(id)!.push(normRow(r));
  }
  for (const list of out.values()) list.sort((a, b) => (a.timestamp as number) - (b.timestamp as number));
  return out;
}

/** Every Parquet file under dir, relative, sorted. */
export function parquetFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith(".parquet")).sort();
}

/** The run of a partition file from its path, as a Hive reader decodes it. */
export function runOfFile(rel: string): string {
  const m = /^track_id=([^/]+)\//.exec(rel);
  if (!m) throw new Error(`${rel} is not in a track_id= folder`);
  return decodeURIComponent(m[1]!);
}

/** hyparquet: rows of each file in file order (partition column from the path), and the files' column types. */
export async function readWithHyparquet(dir: string): Promise<{ byFile: Map<string, Record<string, unknown>[]>; types: Record<string, string>; codecs: Set<string> }> {
  const byFile = new Map<string, Record<string, unknown>[]>();
  const types: Record<string, string> = {};
  const codecs = new Set<string>();
  for (const rel of parquetFiles(dir)) {
    const file = await asyncBufferFromFile(path.join(dir, rel));
    const metadata = await parquetMetadataAsync(file);
    for (const c of parquetSchema(metadata).children) {
      const e = c.element;
      types[e.name] = [e.type ?? "GROUP", e.logical_type?.type ?? e.converted_type ?? "", e.logical_type?.type === "TIMESTAMP" ? `utc=${e.logical_type.isAdjustedToUTC}` : ""]
        .filter(Boolean)
        .join(" ");
    }
    for (const g of metadata.row_groups) for (const c of g.columns) if (c.meta_data) codecs.add(c.meta_data.codec);
    const rows = (await parquetReadObjects({ file, metadata, compressors, utf8: false })) as Record<string, unknown>[];
    byFile.set(rel, rows);
  }
  return { byFile, types, codecs };
}

/** DuckDB's read_parquet over DIR/**\/*.parquet with Hive partitioning: rows by file in file order, and the column types. */
export async function readWithDuckDB(dir: string, options = ""): Promise<{ byFile: Map<string, Record<string, unknown>[]>; types: Record<string, string> }> {
  const db = await DuckDBInstance.create(":memory:", { autoinstall_known_extensions: "false", autoload_known_extensions: "false" });
  const c = await db.connect();
  try {
    const src = `read_parquet('${path.join(dir, "**", "*.parquet").replace(/'/g, "''")}', hive_partitioning = true, filename = true, file_row_number = true${options})`;
    const described = (await c.runAndReadAll(`DESCRIBE SELECT * EXCLUDE (filename, file_row_number) FROM ${src}`)).getRowObjectsJS();
    const types = Object.fromEntries(described.map((r) => [String(r.column_name), String(r.column_type)]));
    const rows = (await c.runAndReadAll(`SELECT * FROM ${src} ORDER BY filename, file_row_number`)).getRowObjectsJS() as Record<string, unknown>[];
    const byFile = new Map<string, Record<string, unknown>[]>();
    for (const r of rows) {
      const rel = path.relative(dir, String(r.filename));
      delete r.filename;
      delete r.file_row_number;
      if (!byFile.has(rel)) byFile.set(rel, []);
      byFile.get(rel)!.push(r);
    }
    return { byFile, types };
  } finally {
    c.closeSync();
    db.closeSync();
  }
}
