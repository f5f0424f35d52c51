/** The SQL of scans, counts and rewrites: columns, a WHERE narrowed to a run (spans.ts), order, limit. */
import type { QueryNode, ScanOptions } from "@quiver/core";
import { POS, type TableInfo } from "./catalog.js";
import type { Column } from "./read.js";
import { aboutOneRun, narrowToRun, type RunShape, spansFrom } from "./spans.js";
import { compileWhere, ident, SqlBuilder } from "./sql.js";

/** The WHERE of a query, narrowed to a run's window of positions when it is about one (spans.ts). */
export function whereOf(S: string, info: TableInfo, where: QueryNode | undefined, b: SqlBuilder): string {
  const w = compileWhere(where, b);
  const narrow = narrowToRun(S, info, where, b);
  return narrow ? `${w} AND ${narrow}` : w;
}

/** FROM and WHERE of a query over `info`: a "spans" read of one run (spans.ts), or the table narrowed by whereOf. */
export function fromWhere(S: string, info: TableInfo, where: QueryNode | undefined, b: SqlBuilder, shape?: RunShape): string {
  const T = `${S}.${ident(info.ident)}`;
  const id = shape === "spans" ? aboutOneRun(info, where) : undefined;
  return id === undefined ? `${T}${whereOf(S, info, where, b)}` : spansFrom(S, info, id, T, b.where(where!), b);
}

/** The SELECT answering `options` over `info`, with its parameters and output columns. */
export function selectSql(
  S: string,
  info: TableInfo,
  options: ScanOptions,
  slots: "params" | "settings" = "params",
  shape?: RunShape,
): { text: string; params: (string | null)[]; columns: Column[] } {
  const idx = options.rowIndex;
  const names = [...(options.columns ?? info.columns.map((c) => c.name))];
  if (idx && !names.includes(idx)) names.push(idx);
  const b = new SqlBuilder(info.byName, slots);
  const columns: Column[] = names.map((n) => (n === idx ? { name: n, rowIndex: true } : { name: n, col: info.byName.get(n)! }));
  const list = columns.map((c) => (c.rowIndex ? `${ident(POS)} AS ${ident(c.name)}` : ident(c.col!.ident))).join(", ") || "NULL";
  let text = `SELECT ${list} FROM ${fromWhere(S, info, options.where, b, shape)}`;
  const keys = (options.orderBy ?? []).map((o) => (o.column === idx ? `${ident(POS)} ${o.direction === "desc" ? "DESC" : "ASC"}` : b.orderKey(o.column, o.direction === "desc")));
  text += ` ORDER BY ${[...keys, ident(POS)].join(", ")}`;
  if (options.limit !== undefined) text += ` LIMIT ${b.param(String(options.limit), "int8")}`;
  if (options.offset) text += ` OFFSET ${b.param(String(options.offset), "int8")}`;
  return { text, params: b.params, columns };
}
