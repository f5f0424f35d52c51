/** Rendering rows: aligned tables for people, JSON lines for machines. */
import { batchToRows, type RecordBatch, type Row, type Table } from "@quiver/core";
import { pad as padCells, truncate, width } from "./width.js";

export { width } from "./width.js";

export interface Out {
  write(text: string): void;
}

/** JSON-safe form of a value: Dates as ISO strings, bigints as numbers when exact, arrays as arrays. */
export function jsonValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (v instanceof Uint8Array) return { base64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<number | bigint>, jsonValue);
  if (Array.isArray(v)) return v.map(jsonValue);
  if (typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) o[k] = jsonValue(x);
    return o;
  }
  return v;
}

export function jsonLine(row: Row): string {
  return JSON.stringify(jsonValue(row));
}

/** A number as a person reads it: integers in full, floats to 6 significant digits. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n) && Math.abs(n) < 1e15) return String(n);
  const a = Math.abs(n);
  if (a !== 0 && (a < 1e-4 || a >= 1e9)) return n.toExponential(3);
  return String(Number(n.toPrecision(6)));
}

/** A time as tables print it: UTC, to the millisecond (the column header says "(UTC)"). */
function formatDate(d: Date): string {
  if (Number.isNaN(d.getTime())) return "Invalid Date";
  return d.toISOString().replace("T", " ").replace("Z", "");
}

const MAX_CELL = 40;

/** One cell of a people table. */
export function formatCell(v: unknown): string {
  let s: string;
  if (v === null || v === undefined) s = "";
  else if (typeof v === "number") s = formatNumber(v);
  else if (typeof v === "bigint") s = v.toString();
  else if (typeof v === "boolean") s = v ? "true" : "false";
  else if (v instanceof Date) s = formatDate(v);
  else if (v instanceof Uint8Array) s = `<${v.length} bytes>`;
  else if (ArrayBuffer.isView(v) || Array.isArray(v)) {
    const a = Array.from(v as unknown as ArrayLike<unknown>);
    s = `[${a.slice(0, 6).map(formatCell).join(", ")}${a.length > 6 ? `, … ${a.length} values` : ""}]`;
  } else if (typeof v === "object") {
    const o = v as { data?: ArrayLike<unknown>; shape?: number[] };
    if (o.shape && o.data) s = `<tensor ${o.shape.join("×")}>`;
    else s = JSON.stringify(jsonValue(v));
  } else s = String(v);
  s = s.replace(/[\r\n\t]/g, " ");
  return truncate(s, MAX_CELL);
}

function isNumericColumn(rows: Row[], col: string): boolean {
  let any = false;
  for (const r of rows) {
    const v = r[col];
    if (v === null || v === undefined) continue;
    if (typeof v !== "number" && typeof v !== "bigint") return false;
    any = true;
  }
  return any;
}

/** The one way an empty result prints as a table. */
export const NO_ROWS = "(no rows)\n";

/**
 * An aligned text table; numeric columns right-aligned, widths in terminal cells (CJK and emoji
 * count two). Columns of times are UTC and their header says so.
 */
export function renderTable(rows: Row[], columns?: string[]): string {
  const cols = columns ?? columnsOf(rows);
  if (rows.length === 0) return NO_ROWS;
  if (cols.length === 0) return `(${rows.length} empty rows)\n`;
  const cells = rows.map((r) => cols.map((c) => formatCell(r[c])));
  const right = cols.map((c) => isNumericColumn(rows, c));
  const heads = cols.map((c) => (rows.some((r) => r[c] instanceof Date) ? `${c} (UTC)` : c));
  const widths = heads.map((c, i) => Math.max(width(c), ...cells.map((r) => width(r[i]!))));
  const pad = (s: string, i: number) => padCells(s, widths[i]!, right[i] ? "end" : "start");
  const lines = [heads.map(pad).join("  ").trimEnd(), widths.map((w) => "─".repeat(w)).join("  ")];
  for (const r of cells) lines.push(r.map(pad).join("  ").trimEnd());
  return lines.join("\n") + "\n";
}

export function columnsOf(rows: Row[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

export function tableRows(table: Table | RecordBatch): Row[] {
  return batchToRows(table);
}

/**
 * Counts a table prints after its rows ("3 of 200 points"): in JSON mode they are one more
 * line, `{"summary": {...}}`, so scripts get the same counts.
 */
export function printSummary(out: Out, json: boolean, text: string, summary: Record<string, unknown>): void {
  out.write(json ? JSON.stringify({ summary: jsonValue(summary) }) + "\n" : text + "\n");
}

/** Prints rows as a table, or as JSON lines (nothing for no rows). */
export function printRows(out: Out, rows: Row[], opts: { json?: boolean; columns?: string[] } = {}): void {
  if (opts.json) {
    const cols = opts.columns;
    for (const r of rows) {
      if (!cols) out.write(jsonLine(r) + "\n");
      else {
        const o: Row = {};
        for (const c of cols) o[c] = r[c] ?? null;
        out.write(jsonLine(o) + "\n");
      }
    }
    return;
  }
  out.write(renderTable(rows, opts.columns));
}
