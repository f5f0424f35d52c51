/**
 * The read accelerators the driver hands to defineStore, all through the block index: the
 * pushdown scan (`_ts` ranges prune blocks, offset/limit seek by row counts, `_ts` order walks
 * blocks in time order), count (blocks wholly inside a pure `_ts` range are counted from the
 * index) and the time window (Track.readByTime). Core has checked every option against the
 * schema, and the table's state was refreshed by the schema() call that precedes each of these.
 */
import type { RecordBatch, Schema } from "apache-arrow";
import { dropColumn, evaluate, type QueryNode, type ScanOptions, scanBatches, type TimeRange, timeRangeScan } from "@quiver/core/store-kit";
import { batches, openData, rangeFor, segment } from "./blocks.js";
import { columnValues, withIndexField } from "./decode.js";
import type { Entry } from "./index-file.js";
import { inIntervals, overlaps, within } from "./range.js";
import { type Ctx, type TableState, tsNumber } from "./state.js";
import { timeScan } from "./time-scan.js";

/** Every block in file order. */
export function* readAll(ctx: Ctx, st: TableState, schema: Schema): Generator<RecordBatch> {
  if (!st.entries.length) return;
  const data = openData(ctx, st);
  if (!data) return;
  try {
    yield* batches(st, data, st.entries.slice(), schema);
  } finally {
    data.close();
  }
}

/** Rows [offset, offset + limit) of the blocks, by their row counts: the blocks holding them and the offset left. */
function seek(entries: Entry[], offset: number, limit: number | undefined): { cands: Entry[]; offset: number } {
  let k = 0;
  while (k < entries.length && offset >= entries[k]!.rows) offset -= entries[k++]!.rows;
  let cands = entries.slice(k);
  if (limit !== undefined) {
    let need = offset + limit;
    let j = 0;
    while (j < cands.length && need > 0) need -= cands[j++]!.rows;
    cands = cands.slice(0, j);
  }
  return { cands, offset };
}

/** The pushdown scan: any ScanOptions, answered over the blocks the index leaves. */
export async function* scanTable(ctx: Ctx, st: TableState, schema: Schema, options: ScanOptions, table: string): AsyncGenerator<RecordBatch> {
  if (options.limit === 0 || !st.entries.length) return;
  const data = openData(ctx, st);
  if (!data) return;
  const entries = st.entries.slice(); // after openData: it may have reloaded the state
  try {
    const timed = timeScan(ctx, st, data, entries, schema, options);
    if (timed !== undefined) {
      if (timed) yield timed;
      return;
    }
    let cands = entries;
    const range = rangeFor(schema, options.where);
    if (range) cands = cands.filter((e) => overlaps(e.minTs, e.maxTs, range.intervals));
    let offset = options.offset ?? 0;
    const simple = !options.where && !options.orderBy?.length;
    // Seek by row counts: reading rows [offset, offset + limit) costs the window only.
    if (simple) ({ cands, offset } = seek(cands, offset, options.limit));
    const ri = options.rowIndex;
    if (simple && !options.columns && !ri && offset === 0 && options.limit === undefined) {
      yield* batches(st, data, cands, schema);
      return;
    }
    const s2 = ri ? withIndexField(schema, ri) : schema;
    const cols = options.columns && ri && !options.columns.includes(ri) ? [...options.columns, ri] : options.columns;
    yield* scanBatches(batches(st, data, cands, schema, ri), s2, { where: options.where, columns: cols, orderBy: options.orderBy, offset, limit: options.limit }, table);
  } finally {
    data.close();
  }
}

/** Rows matching `where` (all rows without one). */
export function countRows(ctx: Ctx, st: TableState, schema: Schema, where: QueryNode | undefined): number {
  if (!where) return st.rows;
  if (!st.entries.length) return 0;
  const data = openData(ctx, st);
  if (!data) return 0;
  const entries = st.entries.slice();
  const range = rangeFor(schema, where);
  try {
    let n = 0;
    if (range?.pure) {
      const ivs = range.intervals;
      for (const e of entries) {
        if (e.tsCount === 0 || !overlaps(e.minTs, e.maxTs, ivs)) continue;
        if (within(e.minTs, e.maxTs, ivs)) {
          n += e.tsCount; // every numeric _ts of the block is inside: no need to decode it
          continue;
        }
        const tsA = columnValues(segment(ctx, st, data, e), "_ts");
        for (let i = 0; i < tsA.length; i++) {
          const ts = tsNumber(tsA[i]);
          if (ts !== undefined && inIntervals(ts, ivs)) n++;
        }
      }
      return n;
    }
    const cands = range ? entries.filter((e) => overlaps(e.minTs, e.maxTs, range.intervals)) : entries;
    for (const b of batches(st, data, cands, schema)) for (const m of evaluate(where, b)) n += m;
    return n;
  } finally {
    data.close();
  }
}

/**
 * A `_ts` window (start ≤ t < end, offset, limit, reverse) through the time index: blocks in
 * time order, the walk stopping once the window is certain. Undefined for windows the index
 * does not serve (another column, a `_ts` that is not a plain number): core scans those.
 */
export function readWindow(ctx: Ctx, st: TableState, schema: Schema, range: TimeRange & { column: string }): RecordBatch[] | undefined {
  if (range.column !== "_ts") return undefined;
  const { options, strip } = timeRangeScan(range);
  if (options.limit === 0 || !st.entries.length) return [];
  const data = openData(ctx, st);
  if (!data) return [];
  try {
    const timed = timeScan(ctx, st, data, st.entries.slice(), schema, options);
    if (timed === undefined) return undefined;
    if (timed === null) return [];
    return [strip ? dropColumn(timed, strip) : timed];
  } finally {
    data.close();
  }
}
