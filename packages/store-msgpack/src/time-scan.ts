/**
 * Scans ordered by `_ts` (Track.readByTime) through the time index: blocks are visited in time
 * order and the walk stops once `offset + limit` rows are certain.
 */
import { type Float64, Int64, makeData, type RecordBatch, Schema } from "apache-arrow";
import { buildData, type ScanOptions } from "@quiver/core";
import { segment } from "./blocks.js";
import { batchOf, columnValues, isFloat64, type Segment, withIndexField } from "./decode.js";
import type { Readable } from "./files.js";
import type { Entry } from "./index-file.js";
import { inIntervals, overlaps, type TsRange, tsRange, within } from "./range.js";
import { type Ctx, isNumericTs, type TableState, tsNumber } from "./state.js";

/**
 * Scans ordered by `_ts` (Track.readByTime), through the index: blocks are visited in time
 * order and the walk stops once `offset + limit` rows are certain. Returns undefined when the
 * scan does not have that shape (the general path handles it), null for no rows.
 */
export function timeScan(ctx: Ctx, st: TableState, data: Readable, entries: Entry[], schema: Schema, options: ScanOptions): RecordBatch | null | undefined {
  const ob = options.orderBy;
  if (!ob?.length || ob[0]!.column !== "_ts" || ob.length > 2 || !isNumericTs(schema)) return undefined;
  const desc = ob[0]!.direction === "desc";
  let tieDesc = false;
  if (ob.length === 2) {
    if (!options.rowIndex || ob[1]!.column !== options.rowIndex) return undefined;
    tieDesc = ob[1]!.direction === "desc";
  }
  let range: TsRange | undefined;
  if (options.where) {
    range = tsRange(options.where);
    if (!range?.pure) return undefined;
  } else if (entries.some((e) => e.tsCount < e.rows)) return undefined; // nulls sort last: general path
  const ivs = range?.intervals;
  const cands = ivs ? entries.filter((e) => e.tsCount > 0 && overlaps(e.minTs, e.maxTs, ivs)) : entries.slice();
  if (desc) cands.sort((a, b) => b.maxTs - a.maxTs || b.firstRow - a.firstRow);
  else cands.sort((a, b) => a.minTs - b.minTs || a.firstRow - b.firstRow);
  const offset = options.offset ?? 0;
  const need = options.limit === undefined ? Infinity : offset + options.limit;
  const segs: Segment[] = [];
  let cap = 0;
  for (const e of cands) cap += e.rows;
  const pTs = new Float64Array(cap);
  const pRow = new Float64Array(cap);
  const pSeg = new Uint32Array(cap);
  const pI = new Uint32Array(cap);
  let c = 0;
  for (const e of cands) {
    if (c >= need) {
      const sorted = pTs.slice(0, c).sort();
      const kth = desc ? sorted[c - need]! : sorted[need - 1]!;
      if (desc ? e.maxTs < kth : e.minTs > kth) break;
    }
    const seg = segment(ctx, st, data, e);
    const id = segs.push(seg) - 1;
    const tsA = columnValues(seg, "_ts");
    const inside = ivs && !within(e.minTs, e.maxTs, ivs) ? ivs : undefined;
    const n = seg.n;
    // Newest first when descending: rows of a block come out in the order they will be returned.
    for (let k = 0; k < n; k++) {
      const i = desc ? n - 1 - k : k;
      const raw = tsA[i];
      const ts = typeof raw === "number" ? raw : tsNumber(raw);
      if (ts === undefined || ts !== ts || (inside && !inIntervals(ts, inside))) continue;
      pTs[c] = ts;
      pRow[c] = e.firstRow + i;
      pSeg[c] = id;
      pI[c] = i;
      c++;
    }
  }
  // Usually the blocks do not overlap and the picks are already in order: no sort.
  const sign = desc ? -1 : 1;
  const tieSign = tieDesc ? -1 : 1;
  let inOrder = true;
  for (let i = 1; i < c; i++) {
    const d = (pTs[i]! - pTs[i - 1]!) * sign;
    if (d > 0) continue;
    if (d < 0 || (pRow[i]! - pRow[i - 1]!) * tieSign < 0) {
      inOrder = false;
      break;
    }
  }
  let order: ArrayLike<number>;
  if (inOrder) order = { length: c } as ArrayLike<number>;
  else {
    const idx = Array.from({ length: c }, (_, i) => i);
    idx.sort((a, b) => (pTs[a]! - pTs[b]!) * sign || (pRow[a]! - pRow[b]!) * tieSign);
    order = idx;
  }
  const from = Math.min(offset, c);
  const to = Math.min(c, from + (options.limit ?? Infinity));
  if (to <= from) return null;
  const take = new Uint32Array(to - from);
  for (let k = 0; k < take.length; k++) take[k] = inOrder ? from + k : order[from + k]!;
  const ri = options.rowIndex;
  const names = [...(options.columns ?? schema.fields.map((f) => f.name))];
  if (ri && !names.includes(ri)) names.push(ri);
  const indexField = ri ? withIndexField(new Schema([]), ri).fields[0]! : undefined;
  const fields = names.map((n) => (n === ri ? indexField! : schema.fields.find((f) => f.name === n)!));
  const datas = fields.map((f) => {
    if (f === indexField)
      return buildData(
        new Int64(),
        Array.from(take, (p) => pRow[p]!),
      );
    const bySeg = segs.map((seg) => columnValues(seg, f.name));
    if (isFloat64(f.type)) {
      // Straight into the Float64Array buildData would make.
      const out = new Float64Array(take.length);
      let bitmap: Uint8Array | undefined;
      let nulls = 0;
      for (let k = 0; k < take.length; k++) {
        const p = take[k]!;
        const v = bySeg[pSeg[p]!]![pI[p]!];
        if (typeof v === "number") out[k] = v;
        else if (v == null) {
          bitmap ??= new Uint8Array((take.length + 7) >> 3).fill(0xff);
          bitmap[k >> 3]! &= ~(1 << (k & 7));
          nulls++;
        } else out[k] = Number(v);
      }
      return makeData({ type: f.type as Float64, length: take.length, nullCount: nulls, nullBitmap: bitmap, data: out });
    }
    const vals = new Array<unknown>(take.length);
    for (let k = 0; k < take.length; k++) {
      const p = take[k]!;
      vals[k] = bySeg[pSeg[p]!]![pI[p]!];
    }
    return buildData(f.type, vals, f.name);
  });
  return batchOf(new Schema(fields, schema.metadata), datas, take.length);
}
