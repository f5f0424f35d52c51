/**
 * What the store keeps per table, the folder layout, and small file helpers shared by the
 * modules (loading, recovery, block reading, the Store methods).
 *
 *   <root>/<table path>/data.msgpack         msgpack-lines: one record + "\n" per row or columnar batch
 *   <root>/<table path>/.quiver-schema.json  Arrow column types (so bigints, Dates, float32 lists… survive)
 *   <root>/<table path>/.quiver-index        time index: one 64-byte entry per block of records
 *   <root>/<table path>/.quiver-lock         write lock (exists only while a process is writing)
 */
import { type BigIntStats, closeSync, readSync, statSync } from "node:fs";
import { join, sep } from "node:path";
import { type DataType, type Schema, Type } from "apache-arrow";
import { QuiverError } from "@quiver/core";
import type { Segment } from "./decode.js";
import type { DataFile } from "./files.js";
import type { Entry } from "./index-file.js";
import type { Intent } from "./intent.js";

export const DATA_FILE = "data.msgpack";
export const SCHEMA_FILE = ".quiver-schema.json";
export const INDEX_FILE = ".quiver-index";
export const LOCK_FILE = ".quiver-lock";

export interface MsgpackStoreOptions {
  /** How long an append waits for another process's write lock before LOCKED (ms, default 10000). */
  lockTimeout?: number;
  /** Rows per index block for layout "rows" (default 1024): smaller blocks, finer time seeks. */
  blockRows?: number;
  /** Receives recovery warnings (torn records cut, index rebuilt). Default: process.emitWarning. */
  onWarning?: (message: string) => void;
  /** flush() fsyncs written files (default true). */
  fsync?: boolean;
  /** Open only to read: NOT_FOUND for a missing folder, nothing created or locked, writes UNSUPPORTED. */
  readOnly?: boolean;
  /**
   * Keep dreamlake's local layout beside ours (dreamlake.ts): tracks' metadata.json under their
   * `.track.lock` (flock), a session's episode.json, parameters.json and logs/logs.jsonl. true:
   * always; false: never; "auto" (default): in a root named `.dreamlake`, and in sessions that
   * dreamlake has opened (their episode.json exists) — so a Quiver-only folder pays nothing.
   */
  dreamlake?: boolean | "auto";
}

export interface TableState {
  name: string;
  dir: string;
  dataPath: string;
  schemaPath: string;
  indexPath: string;
  lockPath: string;
  schema: Schema | undefined;
  schemaId: string | undefined;
  hasSchemaFile: boolean;
  /** The schema was inferred or widened in memory from records no sidecar describes (a writer persists it). */
  schemaPending: boolean;
  entries: Entry[];
  /** Byte end of the last indexed block. */
  end: number;
  rows: number;
  dataIno: bigint | undefined;
  dataSize: number;
  indexId: string | undefined;
  indexIno: bigint | undefined;
  indexBytes: number;
  generation: string;
  /** Entries match data.msgpack (from the index file or rebuilt in memory). */
  usable: boolean;
  /** Entries from this position on were indexed in memory by a reader (not in the index file). */
  memFrom: number | undefined;
  /** A failed append whose bytes could not be cut back: cut data.msgpack to this length before writing again. */
  cutTo: number | undefined;
  /** data.msgpack opened to append, while we may write (its inode tells whether it is still the table's file). */
  appender: DataFile | undefined;
  indexFd: number | undefined;
  /** indexBytes when the index file's size was last verified under our lock. */
  indexChecked: number;
  dirty: boolean;
  /** The write intent of a dead writer whose lock we took over, until recovery has dealt with it. */
  inherited: Intent | undefined;
}

export type LoadStatus = "missing" | "ok" | "tail" | "bad";

/** What the modules share of the store. */
export interface Ctx {
  readonly root: string;
  readonly blockRows: number;
  readonly durable: boolean;
  readonly cache: Map<string, Segment>;
  /** Keep dreamlake's files (dreamlake.ts): always, never, or in sessions dreamlake opened. */
  readonly dreamlake: boolean | "auto";
  /** ms to wait for a lock (ours or dreamlake's flock). */
  readonly lockTimeout: number;
  warn(message: string): void;
}

export function newState(root: string, name: string): TableState {
  const dir = join(root, ...name.split("/"));
  if (!(dir + sep).startsWith(root + sep)) throw new QuiverError("INVALID_NAME", `table name ${JSON.stringify(name)} leaves the store root`);
  return {
    name,
    dir,
    dataPath: join(dir, DATA_FILE),
    schemaPath: join(dir, SCHEMA_FILE),
    indexPath: join(dir, INDEX_FILE),
    lockPath: join(dir, LOCK_FILE),
    schema: undefined,
    schemaId: undefined,
    hasSchemaFile: false,
    schemaPending: false,
    entries: [],
    end: 0,
    rows: 0,
    dataIno: undefined,
    dataSize: 0,
    indexId: undefined,
    indexIno: undefined,
    indexBytes: 0,
    generation: "",
    usable: false,
    memFrom: undefined,
    cutTo: undefined,
    appender: undefined,
    indexFd: undefined,
    indexChecked: -1,
    dirty: false,
    inherited: undefined,
  };
}

export function resetIndex(st: TableState): void {
  st.entries = [];
  st.end = 0;
  st.rows = 0;
  st.indexId = undefined;
  st.indexIno = undefined;
  st.indexBytes = 0;
  st.generation = "";
  st.usable = false;
  st.memFrom = undefined;
}

/** Closes the table's write handles (data and index); the next write reopens them. */
export function closeFds(st: TableState): void {
  st.appender?.close();
  st.appender = undefined;
  if (st.indexFd !== undefined) {
    try {
      closeSync(st.indexFd);
    } catch {
      /* closed */
    }
  }
  st.indexFd = undefined;
}

/** Forgets what a reader indexed or inferred in memory, back to what the sidecars say. */
export function dropMemory(st: TableState): void {
  if (st.memFrom !== undefined) {
    const keep = st.entries.slice(0, st.memFrom);
    st.entries = keep;
    st.end = keep.reduce((a, e) => a + e.length, 0);
    st.rows = keep.reduce((a, e) => a + e.rows, 0);
    st.memFrom = undefined;
    if (!keep.length && st.indexId === undefined) st.usable = false;
  }
  if (st.schemaPending) {
    st.schema = undefined;
    st.schemaId = undefined;
    st.hasSchemaFile = false;
    st.schemaPending = false;
  }
}

/** What to do about a file system error, by its code. */
function remedy(code: string | undefined): string {
  switch (code) {
    case "ENOSPC":
    case "EDQUOT":
      return "free disk space and retry; what was stored before is intact";
    case "EROFS":
      return "the file system is read-only: remount it read-write and retry (or open the store with readOnly: true just to read)";
    case "EACCES":
    case "EPERM":
      return "check the permissions of the folder and retry (or open the store with readOnly: true just to read)";
    case "EIO":
      return "the device reported an I/O error: check the disk, then retry";
    default:
      return "fix the fault and retry";
  }
}

/** An fs error as QuiverError("IO") naming the file; QuiverErrors pass through. */
export function ioError(doing: string, path: string, err: unknown, todo?: string): QuiverError {
  if (err instanceof QuiverError) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  const code = typeof e?.code === "string" ? e.code : undefined;
  const reason = e instanceof Error ? e.message : String(err);
  return new QuiverError("IO", `${doing} ${path}: ${reason}; ${todo ?? remedy(code)}`, { cause: err });
}

/** Runs `fn`, turning a file system error into ioError(doing, path). */
export function io<T>(doing: string, path: string, fn: () => T, todo?: string): T {
  try {
    return fn();
  } catch (err) {
    throw ioError(doing, path, err, todo);
  }
}

export function statBig(path: string): BigIntStats | undefined {
  try {
    return statSync(path, { bigint: true, throwIfNoEntry: false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw ioError("cannot look at", path, err);
  }
}

export function idOf(s: BigIntStats): string {
  return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

export function readAt(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, offset + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export function isNumericTs(schema: Schema | undefined): boolean {
  const f = schema?.fields.find((x) => x.name === "_ts");
  if (!f) return false;
  const t = f.type as DataType;
  return (t.typeId === Type.Float || t.typeId === Type.Int) && f.metadata.get("quiver:bigint") !== "1";
}

export function tsNumber(v: unknown): number | undefined {
  if (typeof v === "number") return v === v ? v : undefined;
  if (typeof v === "bigint") return Number(v);
  return undefined;
}
