/**
 * A Query as a SQL condition, for the queries SQLite answers exactly as core's evaluator does
 * (SQL's three-valued logic is the same): comparisons of numbers, and of times, ranges, `in`
 * lists and equality of strings and booleans, null tests, and/or/not. Anything else (string
 * ordering — UTF-8 bytes vs UTF-16 units —, lists, mixed kinds) returns undefined and core
 * evaluates it.
 *
 * Floats: NaN is stored as the text 'NaN', which no comparison may match; times: core compares
 * Dates in whole milliseconds, so a bound on a microsecond column is the range of its millisecond.
 */
import { type Timestamp, TimeUnit } from "apache-arrow";
import type { Primitive, QueryNode } from "@quiver/core/store-kit";
import { type Col, ident, type TableInfo } from "./catalog.js";
import { timeText } from "./codec.js";

export interface Compiled {
  sql: string;
  params: unknown[];
}

const PER_MS = [0, 1, 1000, 1_000_000];

/** The time text of `ms` (+1 ms when `next`) in the column's unit, or undefined when inexact. */
function timeAt(ms: number, c: Col): string | undefined {
  const unit = (c.type as Timestamp).unit;
  if (unit === TimeUnit.SECOND) return undefined;
  const per = PER_MS[unit]!;
  return timeText(Number.isSafeInteger(ms * per) ? ms * per : BigInt(ms) * BigInt(per), unit);
}

function msOf(v: Primitive): number | undefined {
  const ms = v instanceof Date ? v.getTime() : typeof v === "number" ? v : undefined;
  return ms !== undefined && Number.isSafeInteger(ms) ? ms : undefined;
}

function fits(c: Col, v: Primitive): boolean {
  switch (c.storage) {
    case "int":
    case "float":
      return (typeof v === "number" && v === v) || typeof v === "bigint";
    case "text":
      return typeof v === "string";
    case "bool":
      return typeof v === "boolean";
    default:
      return false;
  }
}

const SQL_OP: Record<string, string> = { eq: "=", ne: "<>", gt: ">", ge: ">=", lt: "<", le: "<=" };

function compare(c: Col, op: string, v: Primitive, params: unknown[]): string | undefined {
  const C = ident(c.ident);
  if (c.storage === "time") {
    const ms = msOf(v);
    if (ms === undefined) return undefined;
    const at = timeAt(ms, c);
    const next = timeAt(ms + 1, c);
    if (at === undefined || next === undefined) return undefined;
    // floor(t) op ms, in whole milliseconds
    const range: Record<string, [string, string][]> = {
      eq: [
        [">=", at],
        ["<", next],
      ],
      ge: [[">=", at]],
      gt: [[">=", next]],
      lt: [["<", at]],
      le: [["<", next]],
    };
    if (op === "ne") {
      params.push(at, next);
      return `(${C} < ? OR ${C} >= ?)`;
    }
    const parts = range[op];
    if (!parts) return undefined;
    for (const [, x] of parts) params.push(x);
    return `(${parts.map(([o]) => `${C} ${o} ?`).join(" AND ")})`;
  }
  const sqlOp = SQL_OP[op];
  if (!sqlOp || !fits(c, v)) return undefined;
  if (c.storage === "text" && op !== "eq" && op !== "ne") return undefined;
  params.push(typeof v === "boolean" ? (v ? 1 : 0) : v);
  // A float column's NaN (the text 'NaN') matches no comparison; a null stays unknown.
  if (c.storage === "float") return `((${C} IS NULL OR typeof(${C}) IN ('integer', 'real')) AND ${C} ${sqlOp} ?)`;
  return `${C} ${sqlOp} ?`;
}

function node(info: TableInfo, n: QueryNode, params: unknown[]): string | undefined {
  switch (n.op) {
    case "and":
    case "or": {
      if (n.args.length === 0) return n.op === "and" ? "1" : "0";
      const parts: string[] = [];
      for (const a of n.args) {
        const s = node(info, a, params);
        if (s === undefined) return undefined;
        parts.push(s);
      }
      return `(${parts.join(n.op === "and" ? " AND " : " OR ")})`;
    }
    case "not": {
      const s = node(info, n.arg, params);
      return s === undefined ? undefined : `(NOT ${s})`;
    }
    case "isNull":
    case "isNotNull": {
      const c = info.byName.get(n.field);
      if (!c) return undefined;
      return `${ident(c.ident)} ${n.op === "isNull" ? "IS NULL" : "IS NOT NULL"}`;
    }
    case "in": {
      const c = info.byName.get(n.field);
      if (!c || c.storage === "float" || c.storage === "time" || !n.values.every((v) => fits(c, v))) return undefined;
      if (n.values.length === 0) return `(CASE WHEN ${ident(c.ident)} IS NULL THEN NULL ELSE 0 END)`; // SQLite's IN () is false even for null
      for (const v of n.values) params.push(typeof v === "boolean" ? (v ? 1 : 0) : v);
      return `${ident(c.ident)} IN (${n.values.map(() => "?").join(", ")})`;
    }
    default: {
      const c = info.byName.get(n.field);
      if (!c) return undefined;
      return compare(c, n.op, n.value, params);
    }
  }
}

/** The condition, or undefined when core must evaluate the query. */
export function compileWhere(info: TableInfo, where: QueryNode): Compiled | undefined {
  if (info.foreign) return undefined; // mixed storage classes: SQLite's affinities would compare otherwise
  const params: unknown[] = [];
  const sql = node(info, where, params);
  return sql === undefined ? undefined : { sql, params };
}
