/**
 * Run summaries (Reader.runs, `quiver ls`, the dashboard's run table) as one aggregate query:
 * per run its rows, first/last timestamp, and per summarized column min, max and the position
 * of its last non-null value, whose value is then fetched by primary key (no per-run arrays).
 * PostgreSQL orders as the contract does when told to: text by bytes (COLLATE "C": code point
 * order in UTF-8), NaN above every number; booleans have no min/max, so bool_and/bool_or.
 */
import type { ColumnSummary, RunSummary, SummaryValue } from "@quiver/core";
import type { Sql } from "postgres";
import { type ColInfo, POS, type TableInfo } from "./catalog.js";
import { ident } from "./sql.js";

const ms = (x: string) => `(extract(epoch FROM ${x}) * 1000)::float8`;

/** A summary value from PostgreSQL's text output of the column's storage. */
function decode(text: string | null, c: ColInfo): SummaryValue | null {
  if (text === null) return null;
  if (c.storage.kind !== "scalar") return null;
  switch (c.storage.elem) {
    case "int2":
    case "int4":
    case "int8":
      return c.bigint ? BigInt(text) : Number(text);
    case "float4":
      return Math.fround(Number(text));
    case "float8":
      return Number(text);
    case "bool":
      return text === "t" || text === "true";
    case "timestamptz":
      return new Date(Math.round(Number(text)));
    default:
      return text;
  }
}

/** The SQL of one column's value as text (timestamps as epoch ms). */
function asText(expr: string, c: ColInfo): string {
  return c.storage.kind === "scalar" && c.storage.elem === "timestamptz" ? `${ms(expr)}::text` : `(${expr})::text`;
}

/** Whether a column's storage is summarized here (strings kept as bytea and uint64 as numeric go to core's scan). */
function summarizable(c: ColInfo | undefined): c is ColInfo {
  return c !== undefined && c.storage.kind === "scalar" && ["int2", "int4", "int8", "float4", "float8", "bool", "text", "timestamptz"].includes(c.storage.elem);
}

/**
 * The runs of a table (`id` the track_id column, `ts` the timestamp column if any), with
 * `columns` summarized; undefined when a column is stored in a way this query does not handle.
 */
export async function readRuns(sql: Sql, table: string, info: TableInfo, id: ColInfo, ts: ColInfo | undefined, columns: readonly string[]): Promise<RunSummary[] | undefined> {
  const cols = columns.map((n) => info.byName.get(n));
  if (!cols.every(summarizable)) return undefined;
  const t = ts ? ident(ts.ident) : "NULL::timestamptz";
  const pos = ident(POS);
  const agg: string[] = [`${ident(id.ident)} AS id`, "count(*) AS n", `${ms(`min(${t})`)} AS first`, `${ms(`max(${t})`)} AS last`, `min(${pos}) AS p`];
  const out: string[] = ["g.id", "g.n", "g.first", "g.last"];
  (cols as ColInfo[]).forEach((c, i) => {
    const q = ident(c.ident);
    const isBool = c.storage.kind === "scalar" && c.storage.elem === "bool";
    const v = c.storage.kind === "scalar" && c.storage.elem === "text" ? `${q} COLLATE "C"` : q;
    agg.push(`${isBool ? `bool_and(${q})` : `min(${v})`} AS m${i}`, `${isBool ? `bool_or(${q})` : `max(${v})`} AS x${i}`, `max(${pos}) FILTER (WHERE ${q} IS NOT NULL) AS lp${i}`);
    out.push(`${asText(`g.m${i}`, c)} AS m${i}`, `${asText(`g.x${i}`, c)} AS x${i}`, `${asText(`(SELECT ${q} FROM ${table} WHERE ${pos} = g.lp${i})`, c)} AS l${i}`);
  });
  const rows = await sql.unsafe<Record<string, string | number | null>[]>(
    `WITH g AS (SELECT ${agg.join(", ")} FROM ${table} WHERE ${ident(id.ident)} IS NOT NULL GROUP BY 1) SELECT ${out.join(", ")} FROM g ORDER BY g.p`,
  );
  return rows.map((r) => {
    const first = r.first as number | null;
    const last = r.last as number | null;
    const s: RunSummary = {
      track_id: r.id as string,
      rows: Number(r.n),
      first: first === null ? null : new Date(Math.round(first)),
      last: last === null ? null : new Date(Math.round(last)),
    };
    if (columns.length) {
      const summary: Record<string, ColumnSummary> = {};
      (cols as ColInfo[]).forEach((c, i) => {
        summary[columns[i]!] = { last: decode(r[`l${i}`] as string | null, c), min: decode(r[`m${i}`] as string | null, c), max: decode(r[`x${i}`] as string | null, c) };
      });
      s.columns = summary;
    }
    return s;
  });
}
