/**
 * CSV import with typed inference, and export. Our own parser so that every error names the
 * file and the row (1-based data row, and the line it starts on).
 */
import { readFile, writeFile } from "node:fs/promises";
import { QuiverError } from "@quiver/core";
import type { Columns } from "./duck.js";
import { ioError } from "./storage.js";
import { type FieldType, elementType, isListType } from "./types.js";
import { ZonedDate, zonedOrPlain } from "./zones.js";

interface Parsed {
  header: string[];
  rows: string[][];
  /** Line number where each data row starts. */
  lines: number[];
  /** Cells that were quoted (so "" is an empty string, not null): row → set of column indices. */
  quoted: Set<number>[];
}

function parse(text: string, file: string): Parsed {
  const rows: string[][] = [];
  const lines: number[] = [];
  const quoted: Set<number>[] = [];
  let row: string[] = [];
  let q = new Set<number>();
  let cell = "";
  let i = 0;
  let line = 1;
  let rowLine = 1;
  const n = text.length;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  const endRow = (): void => {
    row.push(cell);
    cell = "";
    if (!(row.length === 1 && row[0] === "" && !q.has(0))) {
      rows.push(row);
      lines.push(rowLine);
      quoted.push(q);
    }
    row = [];
    q = new Set();
  };
  while (i < n) {
    const ch = text[i]!;
    if (ch === '"' && cell === "") {
      // quoted cell
      q.add(row.length);
      i++;
      const start = line;
      for (;;) {
        if (i >= n) {
          const r = rows.length; // header is row 0
          throw new QuiverError("INVALID_VALUE", `${file} ${r === 0 ? "header" : `row ${r}`} (line ${start}): unterminated quoted field; close it with '"'`);
        }
        const c = text[i]!;
        if (c === '"') {
          if (text[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (c === "\n") line++;
        cell += c;
        i++;
      }
      const next = text[i];
      if (next !== undefined && next !== "," && next !== "\n" && next !== "\r") {
        const r = rows.length;
        throw new QuiverError("INVALID_VALUE", `${file} ${r === 0 ? "header" : `row ${r}`} (line ${line}): unexpected character ${JSON.stringify(next)} after a closing quote`);
      }
      continue;
    }
    if (ch === ",") {
      row.push(cell);
      cell = "";
      i++;
    } else if (ch === "\n" || ch === "\r") {
      endRow();
      if (ch === "\r" && text[i + 1] === "\n") i++;
      i++;
      line++;
      rowLine = line;
    } else {
      // Plain run up to the next delimiter.
      let j = i;
      while (j < n) {
        const c = text.charCodeAt(j);
        if (c === 44 || c === 10 || c === 13) break;
        if (c === 34) {
          const r = rows.length;
          throw new QuiverError("INVALID_VALUE", `${file} ${r === 0 ? "header" : `row ${r}`} (line ${line}): a '"' inside an unquoted field; quote the field and double the quote`);
        }
        j++;
      }
      cell += text.slice(i, j);
      i = j;
    }
  }
  if (cell !== "" || row.length) endRow();
  if (rows.length === 0) throw new QuiverError("INVALID_VALUE", `${file}: empty CSV, expected a header row`);
  const header = rows.shift()!;
  lines.shift();
  quoted.shift();
  return { header, rows, lines, quoted };
}

const INT = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|infinity|nan)$/i;
const BOOL = /^(true|false)$/i;
const DATE = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

function parseCell(s: string, t: FieldType): unknown {
  if (isListType(t)) {
    // A multivalue field's cell is a JSON array (what toCSV writes): ["cat","dog"].
    if (t === "int[]") {
      // Digits as written: an int64 beyond 2^53 stays exact (JSON.parse would round it).
      if (!/^\[\s*([+-]?\d+(\s*,\s*[+-]?\d+)*)?\s*\]$/.test(s)) return undefined;
      const items = s
        .slice(1, -1)
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean);
      const out = items.map((x) => parseCell(x, "int"));
      return out.includes(undefined) ? undefined : out;
    }
    let a: unknown;
    try {
      a = JSON.parse(s);
    } catch {
      return undefined;
    }
    if (!Array.isArray(a)) return undefined;
    const e = elementType(t);
    const out = a.map((x) =>
      x === null
        ? undefined
        : e === "datetime"
          ? typeof x === "string"
            ? parseCell(x, e)
            : undefined
          : e === "int" && typeof x === "number" && !Number.isSafeInteger(x)
            ? undefined
            : x,
    );
    return out.includes(undefined) ? undefined : out;
  }
  switch (t) {
    case "int": {
      if (!INT.test(s)) return undefined;
      const v = Number(s);
      if (Number.isSafeInteger(v)) return v;
      // Beyond 2^53 a number would round: exact as a bigint while it fits int64, else refused.
      const b = BigInt(s);
      return b >= -(2n ** 63n) && b < 2n ** 63n ? b : undefined;
    }
    case "float":
      if (!FLOAT.test(s)) return undefined;
      return /^[+-]?inf/i.test(s) ? (s.startsWith("-") ? -Infinity : Infinity) : /nan/i.test(s) ? NaN : Number(s);
    case "bool":
      return BOOL.test(s) ? s.toLowerCase() === "true" : undefined;
    case "datetime": {
      if (!DATE.test(s)) return undefined;
      // Date-only and zone-less values are UTC (what DuckDB writes for TIMESTAMP).
      const iso = s.length === 10 ? `${s}T00:00:00Z` : /(Z|[+-]\d{2}:?\d{2})$/.test(s) ? s.replace(" ", "T") : `${s.replace(" ", "T")}Z`;
      const d = new Date(iso);
      // An explicit offset is kept (zones.ts): "…+05:30" comes back as a ZonedDate in +05:30.
      return isNaN(d.getTime()) ? undefined : zonedOrPlain(d, s);
    }
    case "blob":
      // A 64-hex cell is a blob hash (what toCSV writes); other hex is the bytes themselves.
      if (/^[0-9a-f]{64}$/.test(s)) return s;
      return /^([0-9a-fA-F]{2})*$/.test(s) ? Uint8Array.from(Buffer.from(s, "hex")) : undefined;
    default:
      return s;
  }
}

function infer(values: string[], isQuoted: (r: number) => boolean): FieldType {
  let t: FieldType | undefined;
  for (let r = 0; r < values.length; r++) {
    const s = values[r]!;
    if (s === "" && !isQuoted(r)) continue;
    if (isQuoted(r) && s === "") return "string";
    let k: FieldType;
    // Digits beyond 2^53 infer a float (as a first value in core): int64 only when safe.
    if (INT.test(s)) k = Number.isSafeInteger(Number(s)) ? "int" : "float";
    else if (FLOAT.test(s)) k = "float";
    else if (BOOL.test(s)) k = "bool";
    else if (DATE.test(s) && parseCell(s, "datetime") !== undefined) k = "datetime";
    else return "string";
    if (t === undefined || t === k) t = k;
    else if ((t === "int" && k === "float") || (t === "float" && k === "int")) t = "float";
    else return "string";
  }
  return t ?? "string";
}

/**
 * Reads a CSV file (header row required) into typed columns. Columns whose field already has a
 * type are parsed as that type; a cell that does not parse is SCHEMA_MISMATCH naming file, row
 * and field. Other columns are inferred: int, float, bool, datetime (ISO 8601), else string.
 */
export async function readCsv(file: string, known: ReadonlyMap<string, FieldType>): Promise<Columns> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new QuiverError("NOT_FOUND", `CSV file ${file} does not exist; check the path`, { cause: err });
    throw ioError(err, "cannot read the CSV file", file);
  }
  const { header, rows, lines, quoted } = parse(text, file);
  const width = header.length;
  for (let r = 0; r < rows.length; r++) {
    if (rows[r]!.length !== width) {
      throw new QuiverError("INVALID_VALUE", `${file} row ${r + 1} (line ${lines[r]}): expected ${width} fields like the header, got ${rows[r]!.length}; nothing was uploaded`);
    }
  }
  const seen = new Set<string>();
  for (const h of header) {
    if (h === "" || seen.has(h)) throw new QuiverError("INVALID_VALUE", `${file} header: column names must be non-empty and unique, got ${JSON.stringify(h)}`);
    seen.add(h);
  }
  const types: FieldType[] = [];
  const columns: unknown[][] = [];
  for (let c = 0; c < width; c++) {
    const raw = rows.map((row) => row[c]!);
    const isQuoted = (r: number): boolean => quoted[r]!.has(c);
    const t = known.get(header[c]!) ?? infer(raw, isQuoted);
    const out = new Array<unknown>(raw.length);
    for (let r = 0; r < raw.length; r++) {
      const s = raw[r]!;
      if (s === "" && !isQuoted(r)) {
        out[r] = null;
        continue;
      }
      const v = parseCell(s, t);
      if (v === undefined) {
        throw new QuiverError(
          "SCHEMA_MISMATCH",
          `${file} row ${r + 1} (line ${lines[r]}): field ${JSON.stringify(header[c])} is ${t} but got ${JSON.stringify(s)}; nothing was uploaded`,
        );
      }
      out[r] = v;
    }
    types.push(t);
    columns.push(out);
  }
  return { names: header, types, columns };
}

function cellText(v: unknown): string {
  if (v === null || v === undefined) return "";
  let s: string;
  if (Array.isArray(v)) s = `[${v.map((x) => (typeof x === "bigint" ? x.toString() : JSON.stringify(x instanceof Date ? x.toISOString() : x))).join(",")}]`;
  else if (v instanceof ZonedDate) s = v.toZonedISOString();
  else if (v instanceof Date) s = v.toISOString();
  else if (v instanceof Uint8Array) s = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex");
  else s = String(v);
  if (s === "" || /[",\r\n]/.test(s) || s.trim() !== s) return `"${s.replace(/"/g, '""')}"`;
  return s;
}

/** Writes columns as RFC 4180 CSV: header, ISO 8601 datetimes, hex blobs, null as an empty cell. */
export async function writeCsv(file: string, data: Columns): Promise<void> {
  const n = data.columns[0]?.length ?? 0;
  const parts: string[] = [data.names.map(cellText).join(",")];
  for (let r = 0; r < n; r++) {
    let line = "";
    for (let c = 0; c < data.columns.length; c++) line += (c ? "," : "") + cellText(data.columns[c]![r]);
    parts.push(line);
  }
  try {
    await writeFile(file, parts.join("\n") + "\n");
  } catch (err) {
    throw ioError(err, "cannot write the CSV file", file);
  }
}
