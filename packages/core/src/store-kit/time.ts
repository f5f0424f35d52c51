/**
 * Time-range reads (Track.readByTime): the ScanOptions a window stands for, and a reader that
 * uses a store's time index when it has one and a scan otherwise.
 */
import { makeData, RecordBatch, Schema, Struct } from "apache-arrow";
import { describeValue, QuiverError } from "../errors.js";
import { and, field, type QueryNode } from "../query/query.js";
import type { ScanOptions, Store, TimeRange } from "../store/contract.js";

/** The rowIndex a window orders ties by when the caller asked for none (removed from results). */
const TIE_INDEX = "__quiver_time_index";

function checkBound(v: unknown, what: string): void {
  if (v === undefined) return;
  if (typeof v === "number" ? Number.isFinite(v) : v instanceof Date && Number.isFinite(v.getTime())) return;
  throw new QuiverError("INVALID_TIMESTAMP", `${what} must be a finite number or a valid Date, got ${describeValue(v)}`);
}

/** Validates a window and fills in its column ("_ts"). */
export function checkTimeRange(range: TimeRange | undefined): TimeRange & { column: string } {
  if (range !== undefined && (range === null || typeof range !== "object")) throw new QuiverError("INVALID_VALUE", `a time range must be an object, got ${describeValue(range)}`);
  const r = range ?? {};
  checkBound(r.start, "start");
  checkBound(r.end, "end");
  if (r.reverse !== undefined && typeof r.reverse !== "boolean") throw new QuiverError("INVALID_VALUE", `reverse must be true or false, got ${describeValue(r.reverse)}`);
  const column = r.column ?? "_ts";
  if (typeof column !== "string" || column === "") throw new QuiverError("INVALID_VALUE", `the time column must be a column name, got ${describeValue(column)}`);
  return { ...r, column };
}

/**
 * The scan a window stands for; `strip` names the tie-break index column to remove from the
 * batches when the caller did not ask for a rowIndex.
 */
export function timeRangeScan(range: TimeRange & { column: string }): { options: ScanOptions; strip: string | undefined } {
  const conds: QueryNode[] = [];
  if (range.start !== undefined) conds.push(field(range.column).ge(range.start).node);
  if (range.end !== undefined) conds.push(field(range.column).lt(range.end).node);
  const where = conds.length === 0 ? undefined : conds.length === 1 ? conds[0] : and(...conds).node;
  const dir = range.reverse ? "desc" : "asc";
  const rowIndex = range.rowIndex ?? TIE_INDEX;
  const options: ScanOptions = {
    where,
    orderBy: [
      { column: range.column, direction: dir },
      { column: rowIndex, direction: dir },
    ],
    offset: range.offset,
    limit: range.limit,
    columns: range.columns,
    rowIndex,
  };
  return { options, strip: range.rowIndex === undefined ? TIE_INDEX : undefined };
}

/** The batch without one column (a no-op when it lacks it). */
export function dropColumn(batch: RecordBatch, name: string): RecordBatch {
  const k = batch.schema.fields.findIndex((f) => f.name === name);
  if (k < 0) return batch;
  const fields = batch.schema.fields.filter((_, i) => i !== k);
  const children = batch.data.children.filter((_, i) => i !== k);
  return new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: batch.numRows, nullCount: 0, children }));
}

/**
 * A time window of any store: through `store.readByTime` (stores made with defineStore, which
 * use the driver's time index when there is one), else as the equivalent scan.
 */
export function readTimeRange(store: Store, table: string, range: TimeRange = {}): AsyncIterable<RecordBatch> {
  if (store.readByTime) return store.readByTime(table, range);
  return scanTimeRange(store, table, range);
}

async function* scanTimeRange(store: Store, table: string, range: TimeRange): AsyncGenerator<RecordBatch> {
  const { options, strip } = timeRangeScan(checkTimeRange(range));
  if (!(await store.schema(table))) return; // a window of a missing table is empty
  for await (const b of store.scan(table, options)) yield strip ? dropColumn(b, strip) : b;
}
