/**
 * Time windows (Track.readByTime) through the (column, _quiver_pos) index every `_ts` and
 * `track_id` column of a Quiver table has (other columns: the same SQL): the first page skips `offset` rows,
 * later pages continue from the last (value, position) pair, so a window costs what it returns.
 * Windows this cannot serve exactly (no bound, a foreign table, a bound of the other kind) are
 * handed back to core, which scans.
 */
import { type RecordBatch, type Timestamp, TimeUnit } from "apache-arrow";
import type { TimeRange } from "@quiver/core/store-kit";
import type Database from "better-sqlite3";
import { ident, POS, type TableInfo } from "./catalog.js";
import { timeText } from "./codec.js";
import { CHUNK, safeIntegers, toBatch } from "./read.js";

type Bound = number | string;

/** A bound as the column stores it, or undefined when it cannot be compared there exactly. */
function boundOf(v: number | Date, storage: string, type: Timestamp): Bound | undefined {
  if (storage === "time") {
    if (!(v instanceof Date)) return undefined;
    const ms = v.getTime();
    if (type.unit === TimeUnit.SECOND) return ms % 1000 === 0 ? timeText(ms / 1000, type.unit) : undefined;
    const per = [0, 1, 1000, 1_000_000][type.unit]!;
    return timeText(Number.isSafeInteger(ms * per) ? ms * per : BigInt(ms) * BigInt(per), type.unit);
  }
  if (storage === "float" || storage === "int") return typeof v === "number" ? v : undefined;
  return undefined;
}

/** A generator of the window's batches, or undefined when core should answer it. */
export function timeWindow(db: Database.Database, info: TableInfo, range: TimeRange & { column: string }): (() => Generator<RecordBatch>) | undefined {
  if (info.foreign) return undefined;
  const col = info.byName.get(range.column);
  if (!col || (range.start === undefined && range.end === undefined)) return undefined;
  const C = ident(col.ident);
  const P = ident(POS);
  const conds: string[] = [];
  const params: Bound[] = [];
  for (const [v, op] of [
    [range.start, ">="],
    [range.end, "<"],
  ] as const) {
    if (v === undefined) continue;
    const b = boundOf(v, col.storage, col.type as Timestamp);
    if (b === undefined) return undefined;
    conds.push(`${C} ${op} ?`);
    params.push(b);
  }
  // NaN is stored as the text 'NaN', which SQLite orders after every number: never in a window.
  if (col.storage === "float") conds.push(`typeof(${C}) IN ('integer', 'real')`);
  const cols = range.columns ? range.columns.map((n) => info.byName.get(n)).filter((c) => c !== undefined) : info.columns;
  if (range.columns && cols.length !== range.columns.length) return undefined;
  const dir = range.reverse ? "DESC" : "ASC";
  const after = range.reverse ? "<" : ">";
  const list = [...cols.map((c) => ident(c.ident)), P, C].join(", ");
  const base = `SELECT ${list} FROM ${ident(info.ident)} WHERE ${conds.join(" AND ")}`;
  const order = ` ORDER BY ${C} ${dir}, ${P} ${dir} LIMIT ?`;
  const first = db.prepare(`${base}${order} OFFSET ?`).raw(true);
  const next = db.prepare(`${base} AND (${C}, ${P}) ${after} (?, ?)${order}`).raw(true);
  const exact = safeIntegers(cols);
  first.safeIntegers(exact);
  next.safeIntegers(exact);
  const k = cols.length;
  const proj = { cols, rowIndex: range.rowIndex };
  return function* () {
    let left = range.limit ?? Number.POSITIVE_INFINITY;
    let rows = first.all(...params, Math.min(left, CHUNK), range.offset ?? 0) as unknown[][];
    while (rows.length > 0) {
      const last = rows[rows.length - 1]!;
      const key = [last[k + 1], last[k]];
      for (const r of rows) r.length = range.rowIndex === undefined ? k : k + 1;
      yield toBatch(info, proj, rows);
      left -= rows.length;
      if (left <= 0 || rows.length < CHUNK) return;
      rows = next.all(...params, ...key, Math.min(left, CHUNK)) as unknown[][];
    }
  };
}
