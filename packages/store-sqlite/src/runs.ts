/**
 * Reader.runs in one GROUP BY over the (track_id, _quiver_pos) index: per run its rows and
 * first/last timestamp, and per summarized column its smallest and largest (SQLite's min/max:
 * numbers, then the text 'NaN' above them — as core orders NaN —, strings in UTF-8 byte order)
 * and its last non-null value (a lookup on the same index). Foreign tables are core's scan.
 */
import type { ColumnSummary, RunSummary, SummaryValue } from "@quiver/core/store-kit";
import type Database from "better-sqlite3";
import { type Col, ident, POS, type TableInfo } from "./catalog.js";
import { parseTime } from "./codec.js";

/** The Date (ms, floored) of a raw time in `unit`. */
export function toDate(raw: number | bigint, unit: number): Date {
  if (unit === 0) return new Date(Number(raw) * 1000);
  const div = [1, 1, 1000, 1_000_000][unit]!;
  if (typeof raw === "number") return new Date(Math.floor(raw / div));
  const p = BigInt(div);
  let q = raw / p;
  if (raw % p < 0n) q -= 1n;
  return new Date(Number(q));
}

function unitOf(c: Col): number {
  return (c.type as unknown as { unit: number }).unit;
}

/** A value SQLite returned (integers as bigints) as the column reads back. */
function summaryValue(c: Col, v: unknown): SummaryValue | null {
  if (v === null || v === undefined) return null;
  switch (c.storage) {
    case "int":
      return c.bigint ? BigInt(v as bigint) : Number(v);
    case "float":
      return v === "NaN" ? NaN : Number(v);
    case "bool":
      return Number(v) !== 0;
    case "time":
      return toDate(parseTime(String(v), unitOf(c))!, unitOf(c));
    default:
      return String(v);
  }
}

const SUMMARIZED = new Set(["int", "float", "bool", "text", "time"]);

export function runsOf(db: Database.Database, info: TableInfo, columns: readonly string[]): RunSummary[] | undefined {
  if (info.foreign) return undefined;
  const id = info.byName.get("track_id");
  const ts = info.byName.get("timestamp");
  if (id?.storage !== "text" || (ts && ts.storage !== "time")) return undefined;
  const cols = columns.map((n) => info.byName.get(n));
  if (cols.some((c) => !c || !SUMMARIZED.has(c.storage))) return undefined;
  const T = ident(info.ident);
  const I = ident(id.ident);
  const P = ident(POS);
  const t = ts ? ident(ts.ident) : "NULL";
  const extra = (cols as Col[]).map((c) => {
    const C = ident(c.ident);
    return `min(g.${C}), max(g.${C}), (SELECT l.${C} FROM ${T} AS l WHERE l.${I} = g.${I} AND l.${C} IS NOT NULL ORDER BY l.${P} DESC LIMIT 1)`;
  });
  const sql = `SELECT g.${I}, count(*), min(g.${t}), max(g.${t})${extra.map((e) => `, ${e}`).join("")} FROM ${T} AS g WHERE g.${I} IS NOT NULL GROUP BY g.${I} ORDER BY min(g.${P})`;
  const stmt = db.prepare(sql).raw(true);
  stmt.safeIntegers(true);
  const rows = stmt.all() as unknown[][];
  const unit = ts ? unitOf(ts) : 0;
  const date = (s: unknown) => (s === null ? null : toDate(parseTime(String(s), unit)!, unit));
  return rows.map((r) => {
    const out: RunSummary = { track_id: String(r[0]), rows: Number(r[1]), first: date(r[2]), last: date(r[3]) };
    if (columns.length) {
      const summaries: Record<string, ColumnSummary> = {};
      (cols as Col[]).forEach((c, k) => {
        const at = 4 + 3 * k;
        summaries[c.name] = { min: summaryValue(c, r[at]), max: summaryValue(c, r[at + 1]), last: summaryValue(c, r[at + 2]) };
      });
      out.columns = summaries;
    }
    return out;
  });
}
