/**
 * Reading rows into Arrow: pages of a table in insertion order (keyset paging on the rowid, so
 * no statement stays open between pages and the connection is free for other calls), time
 * windows through the (column, _quiver_pos) index, and result sets of sql().
 */
import { Field, Int64, makeData, RecordBatch, Schema, Struct } from "apache-arrow";
import { buildData } from "@quiver/core/store-kit";
import type Database from "better-sqlite3";
import { type Col, ident, type TableInfo } from "./catalog.js";
import { decodeColumn } from "./codec.js";

/** Rows per page (and per RecordBatch). */
export const CHUNK = 16384;

export interface Projection {
  cols: Col[];
  /** Add the insertion position under this name (int64). */
  rowIndex?: string;
}

/** The batch of `rows` (arrays: the projected columns, then the position when asked). */
export function toBatch(info: TableInfo, p: Projection, rows: unknown[][]): RecordBatch {
  const n = rows.length;
  const fields: Field[] = [];
  const children = p.cols.map((c, k) => {
    const vals = new Array<unknown>(n);
    for (let r = 0; r < n; r++) vals[r] = rows[r]![k] ?? null;
    fields.push(info.schema.fields.find((f) => f.name === c.name)!);
    return decodeColumn(c.type, c.storage, vals, c.name);
  });
  if (p.rowIndex !== undefined) {
    const k = p.cols.length;
    const vals = new Array<unknown>(n);
    for (let r = 0; r < n; r++) vals[r] = Number(rows[r]![k]);
    fields.push(new Field(p.rowIndex, new Int64(), true));
    children.push(buildData(new Int64(), vals, p.rowIndex));
  }
  return new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: n, nullCount: 0, children }));
}

/** Whether a read of these columns needs 64-bit integers exactly. */
export function safeIntegers(cols: readonly Col[]): boolean {
  return cols.some((c) => c.wide);
}

/** A filter in SQL, and a window of the filtered rows. */
export interface Filter {
  sql?: string;
  params?: readonly unknown[];
  offset?: number;
  limit?: number;
}

/** The table's rows in insertion order (those `filter` keeps), `CHUNK` at a time. */
export function* pages(db: Database.Database, info: TableInfo, p: Projection, filter: Filter = {}): Generator<RecordBatch> {
  const list = p.cols.map((c) => ident(c.ident));
  const T = ident(info.ident);
  const cond = filter.sql ? ` AND (${filter.sql})` : "";
  const params = filter.params ?? [];
  let left = filter.limit ?? Number.POSITIVE_INFINITY;
  if (left <= 0) return;
  if (!info.order) {
    // WITHOUT ROWID: no insertion order to page on; one statement, primary-key order.
    const stmt = db.prepare(`SELECT ${list.join(", ") || "NULL"} FROM ${T} WHERE 1${cond}`).raw(true);
    stmt.safeIntegers(safeIntegers(p.cols));
    const rows = (stmt.all(...params) as unknown[][]).slice(filter.offset ?? 0, Number.isFinite(left) ? (filter.offset ?? 0) + left : undefined);
    for (let i = 0; i < rows.length; i += CHUNK) yield toBatch(info, p, rows.slice(i, i + CHUNK));
    return;
  }
  const key = ident(info.order);
  const stmt = db.prepare(`SELECT ${[...list, key].join(", ")} FROM ${T} WHERE ${key} > ?${cond} ORDER BY ${key} LIMIT ? OFFSET ?`).raw(true);
  // Quiver's positions are dense (< 2^53); a foreign rowid may be any int64, so it is read exactly.
  stmt.safeIntegers(safeIntegers(p.cols) || info.foreign);
  let last: bigint | number = -(2n ** 63n);
  let offset = filter.offset ?? 0;
  const proj: Projection = { cols: p.cols, rowIndex: p.rowIndex };
  for (;;) {
    const want = Math.min(CHUNK, left);
    const rows = stmt.all(last, ...params, want, offset) as unknown[][];
    offset = 0;
    if (rows.length === 0) return;
    const k = p.cols.length;
    last = rows[rows.length - 1]![k] as bigint | number;
    if (p.rowIndex === undefined) for (const r of rows) r.length = k;
    yield toBatch(info, proj, rows);
    left -= rows.length;
    if (rows.length < want || left <= 0) return;
  }
}
