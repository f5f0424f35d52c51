/**
 * Events segments: a large events batch of one shard written as an immutable Parquet file
 * (parquet.ts) under the root instead of being appended to the shard's DuckDB table, which
 * costs 5× more (DuckDB's appender and the value conversion before it). Only for the default
 * local DuckDB store: DuckDB reads the files natively (read_parquet), so the SQL engine reads a
 * shard as `table UNION ALL BY NAME read_parquet([its segments])`.
 *
 *   <root>/segments/<datasource id>/<seq0>-<shard>.parquet
 *
 * A segment is written to a temporary name, fsynced, renamed and its folder fsynced before the
 * `commits` row that makes its commit visible, and that row records it (`segments`: JSON
 * `[[shard, rows, [columns…]], …]`). Readers take segments from committed rows only, never from
 * listing the folder, so a file whose commit never landed (a crash in between) is never read;
 * the next commit removes such orphans (seq0 ≥ bound).
 */
import { closeSync, existsSync, fsync, fsyncSync, writev as fsWritev, mkdirSync, openSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { RecordBatch } from "apache-arrow";
import { quoteString } from "./duck.js";
import { encodeParquet, parquetWritable } from "./parquet.js";
import { fsOp, ioError } from "./storage.js";

/** One committed segment: the events of `shard` of the commit starting at `seq0`. */
export interface Segment {
  seq0: number;
  seq1: number;
  shard: number;
  rows: number;
  columns: readonly string[];
  file: string;
}

/** Rows from which a shard's batch becomes a segment; undefined when segments are off. Read at each commit. */
export function segmentThreshold(): number | undefined {
  if (process.env.QUIVER_DS_SEGMENTS === "0") return undefined;
  const v = Number(process.env.QUIVER_DS_SEGMENT_ROWS ?? 65_536);
  return Number.isFinite(v) && v >= 1 ? v : 65_536;
}

export function segmentFile(dir: string, seq0: number, shard: number): string {
  return join(dir, `${seq0}-${shard}.parquet`);
}

/** Whether a batch can be a segment: flat scalar columns, one chunk each. */
export function segmentable(batch: RecordBatch): boolean {
  return batch.schema.fields.every((f, i) => parquetWritable(f.type) && batch.getChildAt(i)!.data.length === 1);
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A positioned writev on the thread pool: the bytes written. */
function writev(fd: number, parts: Uint8Array[], pos: number): Promise<number> {
  return new Promise((resolve, reject) => fsWritev(fd, parts, pos, (err, n) => (err ? reject(err) : resolve(n))));
}

/** Writes `parts` one after another from `pos`: in groups of 256 buffers, a short write going on from where it stopped. */
async function writeAt(fd: number, parts: readonly Uint8Array[], pos: number): Promise<void> {
  let i = 0;
  let skip = 0; // bytes of parts[i] already written
  while (i < parts.length) {
    const group = parts.slice(i, i + 256);
    if (skip) group[0] = group[0]!.subarray(skip);
    let n = await writev(fd, group, pos);
    if (n === 0 && group.some((b) => b.length > 0)) throw new Error("a write wrote nothing");
    pos += n;
    while (i < parts.length && n >= parts[i]!.length - skip) (n -= parts[i]!.length - skip), (skip = 0), i++;
    skip += n;
  }
}

/**
 * Writes one segment durably (temp name, fsync, rename, folder fsync); resolves to its file. Its
 * bytes go to the thread pool a row group at a time as they are encoded (positioned writes), so
 * the disk works while the rest is encoded and while the caller's JS (the hot state) runs (the
 * whole file encoded first, then written, left ~100 ms of waiting per 1M rows after the JS).
 */
export function writeSegment(dir: string, seq0: number, shard: number, batch: RecordBatch): Promise<string> {
  const file = segmentFile(dir, seq0, shard);
  const tmp = `${file}.tmp-${process.pid}`;
  const what = "cannot write the events segment";
  fsOp("cannot create the segments folder", dir, () => mkdirSync(dir, { recursive: true }));
  const fd = fsOp(what, tmp, () => openSync(tmp, "w"));
  const writes: Promise<void>[] = [];
  let failed: unknown;
  try {
    let pos = 0;
    encodeParquet(batch, (parts) => {
      writes.push(writeAt(fd, parts, pos));
      for (const b of parts) pos += b.length;
    });
  } catch (err) {
    failed = err;
  }
  const done = (async () => {
    try {
      // Every write settles before the descriptor is closed: a file opened later could get its number.
      for (const r of await Promise.allSettled(writes)) if (r.status === "rejected") failed ??= ioError(r.reason, what, tmp);
      if (failed) throw failed;
      await new Promise<void>((resolve, reject) => fsync(fd, (err) => (err ? reject(ioError(err, what, tmp)) : resolve())));
      fsOp(what, tmp, () => closeSync(fd));
    } catch (err) {
      try {
        closeSync(fd);
      } catch {
        /* closed above, or unusable: the error already says what failed */
      }
      rmSync(tmp, { force: true });
      throw err;
    }
    try {
      fsOp("cannot rename the events segment into place", file, () => renameSync(tmp, file));
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    if (process.env.QUIVER_DS_TEST_CRASH_AFTER_SEGMENT === "1") process.kill(process.pid, "SIGKILL"); // tests: die between the rename and the commit row
    fsOp("cannot sync the segments folder", dir, () => fsyncDir(dir));
    return file;
  })();
  done.catch(() => undefined); // the commit awaits it later: not an unhandled rejection meanwhile
  return done;
}

/** Removes segment files (and temporary files) of commits at or beyond `bound`: never committed. */
export function removeOrphans(dir: string, bound: number): void {
  if (!existsSync(dir)) return;
  for (const name of fsOp("cannot list the segments folder", dir, () => readdirSync(dir))) {
    const seq0 = Number(name.slice(0, name.indexOf("-")));
    if (!Number.isSafeInteger(seq0) || seq0 < bound) continue;
    fsOp("cannot remove the uncommitted events segment", join(dir, name), () => rmSync(join(dir, name), { force: true }));
  }
}

/** The commits row's `segments` value for these segments. */
export function segmentsJSON(segs: readonly Segment[]): string {
  return JSON.stringify(segs.map((s) => [s.shard, s.rows, s.columns]));
}

/** The segments a commits row records. */
export function parseSegments(dir: string, seq0: number, seq1: number, json: string): Segment[] {
  return (JSON.parse(json) as [number, number, string[]][]).map(([shard, rows, columns]) => ({ seq0, seq1, shard, rows, columns, file: segmentFile(dir, seq0, shard) }));
}

/** DuckDB table function reading these files (their columns united by name). */
export function readParquetSql(segs: readonly Segment[]): string {
  return `read_parquet([${segs.map((s) => quoteString(s.file)).join(", ")}], union_by_name = true)`;
}
