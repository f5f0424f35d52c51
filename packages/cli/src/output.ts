/** Rendering rows: aligned tables for people, JSON lines for machines. */
import { batchToRows, type RecordBatch, type Row, type Table } from "@quiver/core";

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
  return s.length > MAX_CELL ? s.slice(0, MAX_CELL - 1) + "…" : s;
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

/** An aligned text table; numeric columns right-aligned. */
export function renderTable(rows: Row[], columns?: string[]): string {
  const cols = columns ?? columnsOf(rows);
  if (cols.length === 0) return rows.length ? `(${rows.length} empty rows)\n` : "(no rows)\n";
  const cells = rows.map((r) => cols.map((c) => formatCell(r[c])));
  const right = cols.map((c) => isNumericColumn(rows, c));
  const widths = cols.map((c, i) => Math.max(width(c), ...cells.map((r) => width(r[i]!))));
  const pad = (s: string, i: number) => (right[i] ? " ".repeat(widths[i]! - width(s)) + s : s + " ".repeat(widths[i]! - width(s)));
  const lines = [cols.map(pad).join("  ").trimEnd(), widths.map((w) => "─".repeat(w)).join("  ")];
  for (const r of cells) lines.push(r.map(pad).join("  ").trimEnd());
  return lines.join("\n") + "\n";
}

/** Display width (code points; good enough for the box and braille characters we print). */
export function width(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export function columnsOf(rows: Row[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

export function tableRows(table: Table | RecordBatch): Row[] {
  return batchToRows(table);
}

/** Prints rows as a table, or as JSON lines. */
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
