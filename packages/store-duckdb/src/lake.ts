/**
 * The lake export: a table of any store as Hive-partitioned Parquet (zstd, rows ordered by time
 * within each file) that DuckDB, Spark and Trino read. The table is read through the Store
 * interface batch by batch and appended to a private DuckDB file in a temp folder (so a large
 * table never has to fit in memory), then written by DuckDB's COPY into a fresh folder next to
 * the target, which is renamed into place only once complete: a failed export leaves nothing.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { type DataType, Type } from "apache-arrow";
import { openStore, QuiverError, type Store } from "@quiver/core";
import { ioError, messageOf } from "./errors.js";
import { ident, literal } from "./sql.js";
import { DuckDBStore } from "./store.js";

export interface LakeOptions {
  /** Hive partition columns, e.g. "track_id" → DIR/track_id=<value>/data_0.parquet. */
  partitionBy?: string | readonly string[];
  /** The time column rows are ordered by within a file: default `_ts` (tracks), else `timestamp` (runs); null keeps insertion order. */
  orderBy?: string | null;
  /** Where the staging DuckDB file goes (default the OS temp folder); it is removed afterwards. */
  tempDir?: string;
  /** Called after each batch read from the store with the rows read so far. */
  onProgress?: (rows: number) => void;
}

export interface LakeReport {
  /** The folder written (absolute). */
  dir: string;
  rows: number;
  /** Parquet files written, relative to `dir`, sorted. */
  files: string[];
}

const STAGE = "rows";
/** A partition column's name is a folder name: only names DuckDB writes and reads back unchanged. */
const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function listFiles(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).sort();
}

/** Refuses a target that is not a fresh folder: export never overwrites or mixes into other files. */
function checkTarget(target: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw ioError("checking the export folder", target, err);
  }
  if (!st.isDirectory()) throw new QuiverError("INVALID_PATH", `${target} exists and is not a folder; export to a new folder`);
  if (fs.readdirSync(target).length > 0) {
    throw new QuiverError("INVALID_PATH", `${target} is not empty; export never overwrites or adds to files: choose a new folder (or remove this one's contents first)`);
  }
}

function isTimestamp(t: DataType): boolean {
  return t.typeId === Type.Timestamp || t.typeId === Type.Date;
}

/**
 * Writes `table` of `store` to `dir` as Parquet through DuckDB's COPY. `dir` must not exist or
 * be empty; its parent is created. Timestamps are written as UTC instants
 * (TIMESTAMP isAdjustedToUTC), bigints as int64, lists as Parquet lists, tensors as structs.
 */
export async function exportLake(store: Store, table: string, dir: string, options: LakeOptions = {}): Promise<LakeReport> {
  if (typeof dir !== "string" || !dir) throw new QuiverError("INVALID_PATH", "exportLake needs a target folder");
  const target = path.resolve(dir);
  const schema = await store.schema(table);
  if (!schema) {
    const tables = await store.tables();
    throw new QuiverError("NOT_FOUND", `${store.uri} has no table ${JSON.stringify(table)}; tables: ${tables.join(", ") || "(none)"}`);
  }
  const names = schema.fields.map((f) => f.name);
  const partitionBy = options.partitionBy === undefined ? [] : typeof options.partitionBy === "string" ? [options.partitionBy] : [...options.partitionBy];
  for (const p of partitionBy) {
    const f = schema.fields.find((x) => x.name === p);
    if (!f) throw new QuiverError("UNKNOWN_FIELD", `cannot partition by ${JSON.stringify(p)}: ${table} has no such column; columns: ${names.join(", ")}`);
    if (!PLAIN_NAME.test(p)) {
      throw new QuiverError(
        "INVALID_NAME",
        `cannot partition by ${JSON.stringify(p)}: a partition column becomes a folder name, so it must be letters, digits and _ (not starting with a digit)`,
      );
    }
    if ([Type.List, Type.Struct, Type.Binary, Type.LargeBinary, Type.FixedSizeList].includes(f.type.typeId)) {
      throw new QuiverError("UNSUPPORTED", `cannot partition by ${JSON.stringify(p)}: it holds ${f.type}; partition by a column of strings, numbers, booleans or times`);
    }
  }
  if (partitionBy.length === names.length) throw new QuiverError("UNSUPPORTED", `partitioning by every column of ${table} leaves nothing in the files; partition by fewer columns`);
  const time = options.orderBy === null ? undefined : (options.orderBy ?? (names.includes("_ts") ? "_ts" : names.includes("timestamp") ? "timestamp" : undefined));
  if (time !== undefined && !names.includes(time))
    throw new QuiverError("UNKNOWN_FIELD", `cannot order by ${JSON.stringify(time)}: ${table} has no such column; columns: ${names.join(", ")}`);
  checkTarget(target);

  const parent = path.dirname(target);
  try {
    fs.mkdirSync(parent, { recursive: true });
  } catch (err) {
    throw ioError("creating the folder of", target, err);
  }
  const tmp = options.tempDir ?? os.tmpdir();
  let scratch: string;
  try {
    scratch = fs.mkdtempSync(path.join(tmp, "quiver-lake-"));
  } catch (err) {
    throw ioError("creating the staging folder in", tmp, err);
  }
  // Written beside the target (same file system), renamed into place when complete.
  let partial: string | undefined;
  let stage: Store | undefined;
  try {
    stage = await openStore(`duckdb:${path.join(scratch, "stage.db")}?mode=exclusive`);
    if (!(stage instanceof DuckDBStore)) throw new QuiverError("UNSUPPORTED", "the lake export needs @quiver/store-duckdb's duckdb: store for staging");
    let rows = 0;
    for await (const batch of store.scan(table)) {
      if (batch.numRows === 0) continue;
      await stage.append(STAGE, batch);
      rows += batch.numRows;
      options.onProgress?.(rows);
    }
    partial = fs.mkdtempSync(path.join(parent, `.${path.basename(target)}.quiver-export-`));
    if (rows > 0) {
      const duck = stage;
      const out = partial;
      await duck.session(async (conn) => {
        // One thread: a multi-threaded partitioned COPY interleaves the sorted rows within a file.
        await conn.run("SET threads = 1");
        const cols = schema.fields.map((f) => (isTimestamp(f.type) ? `timezone('UTC', ${ident(f.name)}) AS ${ident(f.name)}` : ident(f.name)));
        const order = time !== undefined ? ` ORDER BY ${ident(time)} NULLS LAST, rowid` : " ORDER BY rowid";
        const opts = ["FORMAT parquet", "COMPRESSION zstd"];
        if (partitionBy.length) opts.push(`PARTITION_BY (${partitionBy.map(ident).join(", ")})`);
        const to = partitionBy.length ? out : path.join(out, "data_0.parquet");
        try {
          await conn.run(`COPY (SELECT ${cols.join(", ")} FROM ${ident(STAGE)}${order}) TO ${literal(to)} (${opts.join(", ")})`);
        } catch (err) {
          throw ioError(`writing Parquet to ${target} from`, store.uri, err);
        }
      }, `exporting ${table} to ${target}: staging in`);
    }
    const files = listFiles(partial);
    // DuckDB percent-encodes partition values, so no value can name a path outside the folder; checked anyway.
    const real = fs.realpathSync(partial);
    for (const f of files) {
      if (!fs.realpathSync(path.join(partial, f)).startsWith(real + path.sep))
        throw new QuiverError("INVALID_PATH", `export would write ${f} outside ${target}; nothing was exported`);
    }
    checkTarget(target); // made meanwhile by someone else?
    try {
      if (fs.existsSync(target)) fs.rmdirSync(target);
      fs.renameSync(partial, target);
    } catch (err) {
      throw ioError("moving the finished export into", target, err);
    }
    partial = undefined;
    return { dir: target, rows, files };
  } catch (err) {
    if (err instanceof QuiverError) throw err;
    throw new QuiverError("IO", `exporting ${table} of ${store.uri} to ${target} failed: ${messageOf(err)}; check the disk and retry (nothing was exported)`, { cause: err });
  } finally {
    await stage?.close().catch(() => undefined);
    fs.rmSync(scratch, { recursive: true, force: true });
    if (partial) fs.rmSync(partial, { recursive: true, force: true });
  }
}
