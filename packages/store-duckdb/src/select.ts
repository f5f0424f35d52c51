/**
 * Reads as SQL: scans (where, columns, orderBy, offset, limit, rowIndex), time windows and run
 * summaries, each one statement that DuckDB plans with its zone maps and top-N.
 *
 * Row indexes are `row_number() OVER () - 1` of a plain scan: with preserve_insertion_order
 * that streaming window runs in table order (a fifth of the cost of `OVER (ORDER BY rowid)`),
 * and it works when a user column named `rowid` hides DuckDB's pseudo-column. But a window
 * counts every row of the table, so where rowid can stand for the index it is used instead:
 * when the index only breaks ties (rowid orders rows as insertion does), and when the table is
 * dense — `count(*) = max(rowid) + 1`, i.e. rowids are exactly 0..n-1, no row was deleted —
 * so that a filter on `_ts` is pushed into the scan and skips row groups.
 */
import type { DuckDBConnection, DuckDBType, DuckDBValue } from "@duckdb/node-api";
import { DuckDBTypeId } from "./duck.js";
import { BIGINT_META, type RunSummary, type ScanOptions, type SummaryValue, type TimeRange, timeRangeScan, vectorToValues } from "@quiver/core/store-kit";
import { Field, type RecordBatch, Schema, Type } from "apache-arrow";
import { hidesRowid, type TableInfo } from "./catalog.js";
import { readBatches, resultShape } from "./convert.js";
import { compileWhere, ident, SqlBuilder, toNamed } from "./sql.js";
import { arrowTypeOf } from "./types.js";

const ROW_NUMBER = "__quiver_idx";
const INDEX_TYPE = arrowTypeOf({ typeId: DuckDBTypeId.BIGINT } as DuckDBType);

/** `base`, or `base` with a suffix, so that it names no column of `schema` (case-insensitively, as DuckDB compares). */
function freeName(schema: Schema, base: string): string {
  const taken = new Set(schema.fields.map((f) => f.name.toLowerCase()));
  let name = base;
  for (let i = 1; taken.has(name.toLowerCase()); i++) name = `${base}_${i}`;
  return name;
}

export interface Select {
  sql: string;
  params: Record<string, DuckDBValue>;
  /** The Arrow schema of the result. */
  schema: Schema;
}

export interface IndexUse {
  /** The rowIndex only orders rows (a time window's tie-break): it is left out of the result. */
  orderOnly?: boolean;
  /** The table's rowids are exactly 0..n-1 (see isDense): they are the row indexes. */
  dense?: boolean;
}

/** A scan (options checked by core) as one SELECT. */
export function selectSql(info: TableInfo, options: ScanOptions, use: IndexUse = {}): Select {
  const idx = options.rowIndex;
  const hidden = hidesRowid(info.schema);
  const byRowid = idx !== undefined && !hidden && (use.orderOnly === true || use.dense === true);
  const numbered = (idx !== undefined && !byRowid) || (hidden && !!options.orderBy?.length);
  const number = ident(freeName(info.schema, ROW_NUMBER));
  const idxExpr = byRowid ? "rowid" : number;
  const outCols = (options.columns ?? info.schema.fields.map((f) => f.name)).filter((c) => !(use.orderOnly && c === idx));
  if (idx && !use.orderOnly && !outCols.includes(idx)) outCols.push(idx);
  const fields = outCols.map((c) => (c === idx ? new Field(c, INDEX_TYPE, false) : info.schema.fields.find((f) => f.name === c)!));
  const select = outCols.map((c) => (c === idx ? `${idxExpr} AS ${ident(c)}` : ident(c))).join(", ");
  const from = numbered ? `(SELECT *, row_number() OVER () - 1 AS ${number} FROM ${ident(info.name)}) AS q` : ident(info.name);
  const w = compileWhere(options.where, new SqlBuilder(info.schema));
  let sql = `SELECT ${select} FROM ${from}${w.sql}`;
  if (options.orderBy?.length) {
    const keys = options.orderBy.map((o) => `${o.column === idx ? idxExpr : ident(o.column)} ${o.direction === "desc" ? "DESC" : "ASC"} NULLS LAST`);
    sql += ` ORDER BY ${keys.join(", ")}, ${numbered ? number : "rowid"}`;
  }
  // Without ORDER BY, DuckDB (preserve_insertion_order) returns rows in table order.
  if (options.limit !== undefined) sql += ` LIMIT ${options.limit}`;
  if (options.offset) sql += ` OFFSET ${options.offset}`;
  return { sql, params: toNamed(w.params), schema: new Schema(fields) };
}

/**
 * Whether the table's rowids are exactly 0..n-1: n distinct non-negative rowids whose largest
 * is n − 1. Deletes (and the in-order rewrite of a list update) leave gaps; a count is cheap.
 */
export async function isDense(conn: DuckDBConnection, table: string): Promise<boolean> {
  const r = await conn.runAndReadAll(`SELECT count(*) = coalesce(max(rowid) + 1, 0) FROM ${ident(table)}`);
  return r.getRows()[0]![0] === true;
}

/** A time window as one SELECT: the scan it stands for (timeRangeScan), with rowid for the index where it can. */
export async function timeWindowSql(conn: DuckDBConnection, info: TableInfo, range: TimeRange & { column: string }): Promise<Select> {
  const { options, strip } = timeRangeScan(range);
  const dense = strip === undefined && !hidesRowid(info.schema) && (await isDense(conn, info.name));
  return selectSql(info, options, { orderOnly: strip !== undefined, dense });
}

/** Runs a SELECT into Arrow batches of `schema`. */
export async function selectBatches(conn: DuckDBConnection, s: Select): Promise<RecordBatch[]> {
  const result = await conn.stream(s.sql, s.params);
  return readBatches(result, { ...resultShape(result), schema: s.schema });
}

/**
 * Run summaries by one GROUP BY, in order of first appearance (the smallest rowid or row
 * number): rows, min/max `timestamp` and, per summarized column, its last non-null value
 * (`arg_max` over the insertion position) and min/max. DuckDB orders as the contract does:
 * NaN above every number, VARCHAR by bytes (code points), false < true. Undefined when
 * `track_id` is not a string column or `timestamp` not a timestamp (core's scan then decides,
 * as it would for any store).
 */
export async function readRuns(conn: DuckDBConnection, info: TableInfo, columns: readonly string[] = []): Promise<RunSummary[] | undefined> {
  const id = info.schema.fields.find((f) => f.name === "track_id");
  const ts = info.schema.fields.find((f) => f.name === "timestamp");
  if (id?.type.typeId !== Type.Utf8 || (ts && ts.type.typeId !== Type.Timestamp)) return undefined;
  const t = ts ? ident("timestamp") : "CAST(NULL AS TIMESTAMP)";
  let from = ident(info.name);
  let pos = "rowid";
  if (hidesRowid(info.schema)) {
    pos = ident(freeName(info.schema, ROW_NUMBER));
    from = `(SELECT *, row_number() OVER () AS ${pos} FROM ${from}) AS q`;
  }
  const fields = columns.map((c) => info.schema.fields.find((f) => f.name === c)!);
  const stats = columns.map((c, i) => {
    const q = ident(c);
    // arg_max skips rows whose value is NULL (arg_max_null would not): the last value logged.
    return `arg_max(${q}, ${pos}) AS "l${i}", min(${q}) AS "m${i}", max(${q}) AS "x${i}"`;
  });
  const result = await conn.stream(
    `SELECT track_id, count(*) AS n, min(${t}) AS first, max(${t}) AS last${stats.map((x) => `, ${x}`).join("")} FROM ${from} WHERE track_id IS NOT NULL GROUP BY track_id ORDER BY min(${pos})`,
  );
  const out: RunSummary[] = [];
  for (const b of await readBatches(result, resultShape(result))) {
    const [ids, ns, firsts, lasts] = [0, 1, 2, 3].map((c) => vectorToValues(b.getChildAt(c)!));
    const vals = fields.map((f, i) => [4 + 3 * i, 5 + 3 * i, 6 + 3 * i].map((c) => vectorToValues(b.getChildAt(c)!).map((v) => summaryValue(v, f))));
    for (let i = 0; i < b.numRows; i++) {
      const r: RunSummary = { track_id: ids![i] as string, rows: Number(ns![i]), first: (firsts![i] as Date | null) ?? null, last: (lasts![i] as Date | null) ?? null };
      if (columns.length) r.columns = Object.fromEntries(columns.map((c, k) => [c, { last: vals[k]![0]![i]!, min: vals[k]![1]![i]!, max: vals[k]![2]![i]! }]));
      out.push(r);
    }
  }
  return out;
}

/** A value of a summary as its column reads back: integers as numbers, or bigints in `quiver:bigint` columns. */
function summaryValue(v: unknown, f: Field): SummaryValue | null {
  if (v == null) return null;
  if (f.type.typeId === Type.Int) return f.metadata.get(BIGINT_META) === "1" ? BigInt(v as number | bigint) : Number(v);
  return v as SummaryValue;
}
