import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export function tempDir(prefix = "quiver-ds-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Writes files (relative path → contents) under dir. */
export function writeFiles(dir: string, files: Record<string, string | Uint8Array>): void {
  for (const [rel, data] of Object.entries(files)) {
    const p = path.join(dir, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data);
  }
}

let n = 0;
/** The stores every behaviour test runs on: core's memory store, the default DuckDB file, msgpack files. */
export const STORES: [string, (root: string) => string | undefined][] = [
  ["memory", () => `memory:ds-test-${process.pid}-${++n}`],
  ["duckdb", () => undefined], // default: duckdb:<root>/datasources.db
  ["msgpack", (root) => `msgpack:${root}/msgpack`], // another conformance-passing store, no SQL
  ["postgres", () => pgUrl()], // SQL in another dialect: the fold engine over a shared server
];

/** A fresh schema on the test server (test/pg-server.ts starts one unless QUIVER_PG_URL is set). */
export function pgUrl(): string {
  const base = process.env.QUIVER_PG_URL;
  if (!base) throw new Error("QUIVER_PG_URL is not set: test/pg-server.ts starts a PostgreSQL server for the tests");
  const u = new URL(base);
  u.searchParams.set("schema", `ds_${process.pid}_${++n}_${Math.random().toString(36).slice(2, 8)}`);
  return u.toString();
}

export async function expectCode(p: Promise<unknown> | (() => unknown), code: string, message?: RegExp): Promise<Error> {
  let err: unknown;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    err = e;
  }
  if (!err) throw new Error(`expected ${code}, nothing was thrown`);
  const e = err as Error & { code?: string };
  if (e.code !== code) throw new Error(`expected ${code}, got ${e.code}: ${e.message}`);
  if (message && !message.test(e.message)) throw new Error(`message ${JSON.stringify(e.message)} does not match ${message}`);
  return e;
}

/** A datasource's events files (segments.ts) of one shard, or of every shard. */
export function segmentFiles(ds: { root: string; id: string }, shard?: number): string[] {
  const dir = path.join(ds.root, "segments", ds.id);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".parquet") && (shard === undefined || f.endsWith(`-${shard}.parquet`)))
    .map((f) => path.join(dir, f));
}

/** SQL over a shard's events on DuckDB, wherever they are: its table and its segment files. */
export async function shardEventsSql(ds: { root: string; id: string; store: { schema(t: string): Promise<unknown> } }, shard = 0): Promise<string> {
  const table = `datasource/${ds.id}/events${shard ? `-${shard}` : ""}`;
  const parts: string[] = [];
  if (await ds.store.schema(table)) parts.push(`SELECT * FROM "${table}"`);
  const files = segmentFiles(ds, shard);
  if (files.length) parts.push(`SELECT * FROM read_parquet([${files.map((f) => `'${f.replace(/'/g, "''")}'`).join(", ")}], union_by_name = true)`);
  return `(${parts.join(" UNION ALL BY NAME ") || "SELECT NULL::BIGINT AS _seq WHERE FALSE"})`;
}
