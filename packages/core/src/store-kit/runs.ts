/**
 * Run summaries (Reader.runs): from a store that computes or keeps them, else by scanning
 * `track_id`, `timestamp` and the summarized columns. The scan here is also the reference the
 * stores' accelerators are tested against: per run its rows, first/last timestamp and, per
 * column, the last non-null value in insertion order and the smallest and largest.
 */
import { type Field, type RecordBatch, type Schema, Type } from "apache-arrow";
import { vectorToValues } from "../arrow/decode.js";
import type { ColumnSummary, RunSummary, RunsOptions, Store, SummaryValue } from "../store/contract.js";

/** Whether a column can be summarized: numbers, bigints, booleans, strings, timestamps. */
export function isSummarizable(f: Field): boolean {
  switch (f.type.typeId) {
    case Type.Int:
    case Type.Float:
    case Type.Bool:
    case Type.Utf8:
    case Type.LargeUtf8:
    case Type.Timestamp:
      return true;
    default:
      return false;
  }
}

/** The columns `options` asks to summarize, in schema order: scalar ones the table has. */
export function summaryColumns(schema: Schema, options: RunsOptions | undefined): string[] {
  const want = options?.columns;
  if (want === undefined) return [];
  const named = want === "all" ? undefined : new Set(want);
  return schema.fields.filter((f) => isSummarizable(f) && (named ? named.has(f.name) : f.name !== "track_id" && f.name !== "timestamp")).map((f) => f.name);
}

/**
 * Orders summary values of one column: numbers (NaN above every other number, as SQL sorts
 * it), bigints, false < true, Dates, strings by code point (UTF-8 byte order). Returns < 0, 0, > 0.
 */
export function compareSummaryValues(a: SummaryValue, b: SummaryValue): number {
  if (typeof a === "number" && typeof b === "number") {
    if (a !== a) return b !== b ? 0 : 1;
    if (b !== b) return -1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof a === "string" && typeof b === "string") return compareCodePoints(a, b);
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime();
  // bigint with bigint (or a number: a widened column), booleans.
  const x = typeof a === "boolean" ? Number(a) : (a as number | bigint);
  const y = typeof b === "boolean" ? Number(b) : (b as number | bigint);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Strings by code point: UTF-16 order except that surrogates (astral characters) sort above U+E000–U+FFFF. */
function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Lift surrogates above the rest of the BMP's top range.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** Adds one non-null value to a column summary (rows come in insertion order). */
export function addSummaryValue(c: ColumnSummary, v: SummaryValue): void {
  c.last = v;
  if (c.min === null || compareSummaryValues(v, c.min) < 0) c.min = v;
  if (c.max === null || compareSummaryValues(v, c.max) > 0) c.max = v;
}

/** Merges the summary of later rows into that of earlier rows of the same run (in place). */
export function mergeColumnSummary(earlier: ColumnSummary, later: ColumnSummary): void {
  if (later.last !== null) earlier.last = later.last;
  if (later.min !== null && (earlier.min === null || compareSummaryValues(later.min, earlier.min) < 0)) earlier.min = later.min;
  if (later.max !== null && (earlier.max === null || compareSummaryValues(later.max, earlier.max) > 0)) earlier.max = later.max;
}

export const emptyColumnSummary = (): ColumnSummary => ({ last: null, min: null, max: null });

/**
 * Runs (rows sharing a `track_id`) in order of first appearance, from batches holding
 * `track_id`, optionally `timestamp`, and the `columns` to summarize (by name).
 */
export async function summarizeRuns(batches: AsyncIterable<RecordBatch> | Iterable<RecordBatch>, hasTimestamp: boolean, columns?: readonly string[]): Promise<RunSummary[]> {
  const runs = new Map<string, RunSummary>();
  for await (const b of batches) addBatchToRuns(runs, b, hasTimestamp, columns);
  return [...runs.values()];
}

/** Adds the rows of one batch (columns found by name) to `runs`, in place; without `columns`, runs get no `columns`. */
export function addBatchToRuns(runs: Map<string, RunSummary>, b: RecordBatch, hasTimestamp: boolean, wanted?: readonly string[]): void {
  const columns = wanted ?? [];
  const idVec = b.getChild("track_id");
  if (!idVec) return;
  const ids = vectorToValues(idVec);
  const tsVec = hasTimestamp ? b.getChild("timestamp") : null;
  const ts = tsVec ? vectorToValues(tsVec) : [];
  const cols = columns.map((name) => {
    const i = b.schema.fields.findIndex((f) => f.name === name);
    return i < 0 ? undefined : vectorToValues(b.getChildAt(i)!, b.schema.fields[i]);
  });
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as string | null;
    if (id == null) continue;
    const t = (ts[i] as Date | null | undefined) ?? null;
    let r = runs.get(id);
    if (!r) {
      r = { track_id: id, rows: 0, first: t, last: t };
      if (wanted) r.columns = Object.fromEntries(columns.map((c) => [c, emptyColumnSummary()]));
      runs.set(id, r);
    }
    r.rows++;
    if (t && (!r.first || t < r.first)) r.first = t;
    if (t && (!r.last || t > r.last)) r.last = t;
    for (let c = 0; c < columns.length; c++) {
      const v = cols[c]?.[i];
      if (v != null) addSummaryValue(r.columns![columns[c]!]!, v as SummaryValue);
    }
  }
}

/**
 * The runs of a table of any store: `store.runs` when it has it (and, if columns were asked
 * for, its answer carries them: a plugin written before RunsOptions may not), else a scan.
 */
export async function listRuns(store: Store, table: string, options?: RunsOptions): Promise<RunSummary[]> {
  const want = options?.columns !== undefined;
  if (store.runs) {
    const got = await store.runs(table, options);
    if (!want || got.every((r) => r.columns !== undefined)) return got;
  }
  const schema = await store.schema(table);
  if (!schema) return [];
  const hasTs = schema.fields.some((f) => f.name === "timestamp");
  const cols = summaryColumns(schema, options);
  const read = ["track_id", ...(hasTs ? ["timestamp"] : []), ...cols.filter((c) => c !== "track_id" && c !== "timestamp")];
  return summarizeRuns(store.scan(table, { columns: read }), hasTs, want ? cols : undefined);
}
