/** Reading index blocks of data.msgpack (through a Readable): decoding (LRU-cached), opening the file, batches. */
import type { RecordBatch, Schema } from "apache-arrow";
import { type QueryNode, QuiverError } from "@quiver/core";
import { decodeSegment, rawColumns, rawKey, type Segment, segmentsToBatch } from "./decode.js";
import { DataFile, type Readable } from "./files.js";
import type { Entry } from "./index-file.js";
import { refresh } from "./load.js";
import { type TsRange, tsRange } from "./range.js";
import { type Ctx, isNumericTs, type TableState } from "./state.js";

const SLAB_ROWS = 65536;
const CACHE_SEGMENTS = 96;

function cacheKey(st: TableState, e: Entry): string {
  return `${st.dataPath}\u0000${st.generation}:${st.dataIno}:${e.offset}:${e.length}:${e.kind}\u0000${rawKey(st.schema)}`;
}

export function decodeAt(st: TableState, buf: Buffer, e: Entry): Segment {
  try {
    return decodeSegment(buf, e.kind, e.rows, rawColumns(st.schema));
  } catch (err) {
    throw new QuiverError("IO", `${st.dataPath}, bytes ${e.offset}-${e.offset + e.length}: ${(err as Error).message}`, { cause: err });
  }
}

/** One block's records, decoded (LRU-cached: count() then scan() of a window share them). */
export function segment(ctx: Ctx, st: TableState, data: Readable, e: Entry): Segment {
  const key = cacheKey(st, e);
  const hit = ctx.cache.get(key);
  if (hit) {
    ctx.cache.delete(key);
    ctx.cache.set(key, hit);
    return hit;
  }
  const seg = decodeAt(st, data.read(e.offset, e.length), e);
  ctx.cache.set(key, seg);
  if (ctx.cache.size > CACHE_SEGMENTS) ctx.cache.delete(ctx.cache.keys().next().value!);
  return seg;
}

/** Opens data.msgpack for reading, checking it is the file the entries describe (close it after). */
export function openData(ctx: Ctx, st: TableState): DataFile | undefined {
  for (let attempt = 0; attempt < 5; attempt++) {
    const file = DataFile.open(st.dataPath, "r", true);
    if (!file) return undefined;
    if (file.ino === st.dataIno) return file;
    file.close();
    refresh(ctx, st);
  }
  throw new QuiverError("IO", `${st.dataPath} keeps changing under the reader; try again`);
}

/** Batches of the given entries (file order), in slabs of about SLAB_ROWS rows. */
export function* batches(st: TableState, data: Readable, entries: readonly Entry[], schema: Schema, rowIndex?: string): Generator<RecordBatch> {
  let k = 0;
  while (k < entries.length) {
    let rows = 0;
    let j = k;
    while (j < entries.length && (j === k || rows + entries[j]!.rows <= SLAB_ROWS)) rows += entries[j++]!.rows;
    const slab = entries.slice(k, j);
    k = j;
    const segs: Segment[] = [];
    // One read for a run of adjacent blocks.
    let a = 0;
    while (a < slab.length) {
      let b = a + 1;
      while (b < slab.length && slab[b]!.offset === slab[b - 1]!.offset + slab[b - 1]!.length) b++;
      const base = slab[a]!.offset;
      const last = slab[b - 1]!;
      const buf = data.read(base, last.offset + last.length - base);
      for (let q = a; q < b; q++) {
        const e = slab[q]!;
        segs.push(decodeAt(st, buf.subarray(e.offset - base, e.offset - base + e.length), e));
      }
      a = b;
    }
    yield segmentsToBatch(segs, schema, rowIndex ? { name: rowIndex, firstRows: slab.map((e) => e.firstRow) } : undefined);
  }
}

export function rangeFor(schema: Schema, where: QueryNode | undefined): TsRange | undefined {
  if (!where || !isNumericTs(schema)) return undefined;
  return tsRange(where);
}
