/**
 * Records beyond the last index entry: a crashed writer's leftover, or another tool's appends
 * (dreamlake writes the same file without an index). They are framed record by record
 * (msgpack-lines separators skipped), grouped into index blocks, and their types merged into the
 * schema. A reader keeps the result in memory. A writer, under the lock, persists it — and cuts
 * a torn last record only when its lock inherited the intent of a dead Quiver writer that was
 * writing exactly there; bytes it cannot prove are its own are never cut (the append is refused).
 * The data file is seen only through a Readable (and, for the writer, a Writable to cut).
 */
import { type Schema, Schema as ArrowSchema } from "apache-arrow";
import { mergeSchemas, QuiverError, rowsToBatch } from "@quiver/core";
import { columnValues, decodeSegment, inferSchema, isColumnar, rawColumns, rawFound, type Segment, segmentRows, withRawColumns } from "./decode.js";
import type { Readable, Writable } from "./files.js";
import { type Entry, newGeneration } from "./index-file.js";
import { frameRecords, unpackr } from "./records.js";
import { appendIndex, writeIndexFile, writeSchema } from "./sidecars.js";
import { type Ctx, ioError, resetIndex, statBig, type TableState, tsNumber } from "./state.js";

function entryFor(start: number, end: number, kind: 0 | 1, rows: number, ts: ArrayLike<unknown>): Entry {
  let minTs = Infinity;
  let maxTs = -Infinity;
  let tsCount = 0;
  for (let i = 0; i < ts.length; i++) {
    const v = tsNumber(ts[i]);
    if (v === undefined) continue;
    if (v < minTs) minTs = v;
    if (v > maxTs) maxTs = v;
    tsCount++;
  }
  return { minTs, maxTs, offset: start, length: end - start, firstRow: 0, rows, tsCount, kind };
}

/** Decodes the blocks of the data file, with `raw` columns (those at or after `tail.base` from `tail.buf`). */
function decodeBlocks(data: Readable, blocks: readonly Entry[], raw: ReadonlySet<string>, tail?: { buf: Buffer; base: number }): Segment[] {
  return blocks.map((e) => {
    const bytes = tail && e.offset >= tail.base ? tail.buf.subarray(e.offset - tail.base, e.offset - tail.base + e.length) : data.read(e.offset, e.length);
    try {
      return decodeSegment(bytes, e.kind, e.rows, raw);
    } catch (err) {
      throw new QuiverError("IO", `${data.path}, bytes ${e.offset}-${e.offset + e.length}: ${(err as Error).message}`, { cause: err });
    }
  });
}

/** Index blocks for the framed records of `buf` (at file offset `base`): runs of rows, one per columnar record. */
function blocksOf(ctx: Ctx, buf: Buffer, base: number, schema: Schema | undefined): Entry[] {
  const f = frameRecords(buf);
  const out: Entry[] = [];
  let runStart = -1;
  const endRun = (k: number) => {
    if (runStart < 0) return;
    out.push({
      minTs: Infinity,
      maxTs: -Infinity,
      offset: base + f.starts[runStart]!,
      length: f.ends[k - 1]! - f.starts[runStart]!,
      firstRow: 0,
      rows: k - runStart,
      tsCount: 0,
      kind: 0,
    });
    runStart = -1;
  };
  for (let k = 0; k < f.starts.length; k++) {
    const rec = unpackr.unpack(buf.subarray(f.starts[k]!, f.values[k]!)) as Record<string, unknown>;
    if (isColumnar(rec, schema)) {
      endRun(k);
      let n = 0;
      for (const c in rec) {
        n = (rec[c] as unknown[]).length;
        break;
      }
      out.push({ minTs: Infinity, maxTs: -Infinity, offset: base + f.starts[k]!, length: f.ends[k]! - f.starts[k]!, firstRow: 0, rows: n, tsCount: 0, kind: 1 });
    } else {
      if (runStart < 0) runStart = k;
      if (k - runStart + 1 > ctx.blockRows) {
        endRun(k);
        runStart = k;
      }
    }
  }
  endRun(f.starts.length);
  return out;
}

/** Columns whose values cannot share one type across the segments. */
function clashing(segs: readonly Segment[], schema: Schema | undefined): string[] {
  const names = new Set<string>();
  for (const s of segs) for (const r of segmentRows(s)) for (const k in r) names.add(k);
  const out: string[] = [];
  for (const k of names) {
    if (schema?.fields.some((f) => f.name === k)) continue;
    try {
      let t: Schema | undefined;
      for (const s of segs) {
        const rows = segmentRows(s).map((r) => ({ [k]: r[k] }));
        if (rows.length) t = mergeSchemas(t, rowsToBatch(rows, { schema: t }).schema);
      }
    } catch {
      out.push(k);
    }
  }
  return out;
}

/**
 * Indexes the records of `data` after the last index entry (`st.dataSize` bytes in all). With a
 * `writer` (the lock holder's handle on the same file) the result is persisted and a torn tail
 * proven ours is cut; without one nothing is written anywhere.
 */
export function recover(ctx: Ctx, st: TableState, data: Readable, writer?: Writable): void {
  const persist = writer !== undefined;
  const fresh = !st.usable;
  if (fresh) {
    const ino = st.dataIno;
    resetIndex(st);
    st.dataIno = ino;
  }
  const size = st.dataSize;
  const from = st.end;
  const buf = size > from ? data.read(from, size - from) : Buffer.alloc(0);
  const framed = frameRecords(buf);
  const cut = from + framed.good;

  if (framed.tail !== "none" && persist) {
    const intent = st.inherited;
    const ours = framed.tail === "torn" && intent !== undefined && intent.ino === st.dataIno && intent.offset >= from && cut >= intent.offset;
    if (!ours) {
      const what = framed.tail === "torn" ? "an incomplete record" : "bytes that are not msgpack records";
      throw new QuiverError(
        "IO",
        `${st.dataPath} ends with ${what} (${size - cut} bytes at offset ${cut}) that no crashed Quiver writer is known to have left — another program may be writing it right now. Quiver does not cut bytes it did not write, and appending after them would make the new records unreadable. If nothing else is writing the file, keep every record before them with \`truncate -s ${cut} ${st.dataPath}\`, then retry`,
      );
    }
  }

  // Blocks for the complete records, typed against the schema (widened by what they hold).
  let schema = st.schema;
  const added = blocksOf(ctx, buf.subarray(0, framed.good), from, schema);
  const tail = { buf, base: from };
  let raw = rawColumns(schema);
  let segs = decodeBlocks(data, added, raw, tail);
  let old: Segment[] = [];
  if (!schema && st.entries.length) old = decodeBlocks(data, st.entries, raw); // a sidecar went missing
  const found = rawFound([...old, ...segs]);
  for (let round = 0; ; round++) {
    for (const k of raw) found.delete(k);
    if (found.size) {
      // Lists of maps and the like: those columns hold msgpack bytes; decode again with them raw.
      schema = withRawColumns(schema, new Set([...raw, ...found]));
      raw = rawColumns(schema);
      if (st.entries.length) old = decodeBlocks(data, st.entries, raw);
      segs = decodeBlocks(data, added, raw, tail);
    }
    try {
      schema = inferSchema([...old, ...segs], schema) ?? new ArrowSchema([]);
      break;
    } catch (err) {
      // Another writer put values of different kinds in one column (a number, then a string):
      // such columns keep their values as msgpack bytes too. Columns the sidecar types stay.
      const clash = round < 2 && !st.hasSchemaFile ? clashing([...old, ...segs], schema) : [];
      if (!clash.length)
        throw new QuiverError(
          "IO",
          `${st.dataPath}: records written after the last indexed one do not fit the table's schema (${(err as Error).message}); they were written by another program`,
          { cause: err },
        );
      for (const k of clash) found.add(k);
    }
  }
  let rows = st.rows;
  let end = st.end;
  added.forEach((e, k) => {
    const seg = segs[k]!;
    const stats = entryFor(e.offset, e.offset + e.length, e.kind, seg.n, columnValues(seg, "_ts"));
    Object.assign(e, { minTs: stats.minTs, maxTs: stats.maxTs, tsCount: stats.tsCount, rows: seg.n, firstRow: rows });
    rows += seg.n;
    end += e.length;
  });
  const schemaChanged = schema !== st.schema;

  if (!persist) {
    if (st.memFrom === undefined) st.memFrom = st.entries.length;
    st.entries.push(...added);
    st.rows = rows;
    st.end = end;
    st.usable = true;
    st.schema = schema;
    if (schemaChanged) st.schemaPending = true;
    if (!st.generation) st.generation = `mem-${newGeneration()}`;
    return;
  }

  if (cut < size) {
    // Proven a torn write of a crashed Quiver writer (checked above): cut it, under our lock.
    try {
      writer.truncate(cut);
    } catch (err) {
      throw ioError("cannot cut the torn record at the end of", st.dataPath, err);
    }
    ctx.warn(
      `${st.dataPath}: cut away a torn last record (${size - cut} bytes at offset ${cut}) left by a Quiver writer that was killed while writing it; every record before it is kept (${added.length ? `${rows - st.rows} of them were not yet indexed and are indexed now` : "all of them indexed"})`,
    );
    st.dataSize = cut;
  }
  if (schemaChanged || st.schemaPending || !st.hasSchemaFile) writeSchema(st, schema);
  const before = { n: st.entries.length, rows: st.rows, end: st.end };
  st.entries.push(...added);
  st.rows = rows;
  st.end = end;
  st.usable = true;
  if (fresh || st.indexId === undefined || !statBig(st.indexPath)) {
    if (fresh && from === 0 && size > 0 && st.entries.length && statBig(st.indexPath)) ctx.warn(`${st.dataPath}: time index stale, rebuilt from ${st.entries.length} blocks`);
    writeIndexFile(st);
  } else if (added.length) {
    try {
      appendIndex(st, added);
    } catch (err) {
      st.entries.length = before.n;
      st.rows = before.rows;
      st.end = before.end;
      throw err;
    }
  }
}
