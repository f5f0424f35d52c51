/**
 * The run summary sidecar (`.quiver-runs.json`) of a table with runs (a string `track_id`
 * column): per run its rows, first/last `timestamp` and, per scalar column, the last non-null
 * value and min/max — what Reader.runs, `quiver ls` and the dashboard's run table need —
 * kept up to date by appends, so that reading it costs the runs, not the rows.
 *
 * - **Written by writers only**, under the table's lock, after an append's index entries (so it
 *   never covers more than the index names), through a temp file and a rename. A failure to
 *   write it never fails the append: the rows are committed by then, and the summary is derived.
 * - **It says what it covers**: the data file's inode, the index generation, and the number of
 *   index entries with the byte end and row count after the last one. A reader uses it when it
 *   matches the index it loaded — decoding, in memory only, the blocks after what it covers
 *   (another tool's appends, a writer that died between index and summary) — and otherwise
 *   falls back to core's scan. A writer that finds it missing or stale rebuilds it from the
 *   blocks once; a rewrite (update/delete) rebuilds it at once.
 * - Values are JSON by kind: numbers (NaN, ±Infinity and -0 as strings), bigints as strings,
 *   timestamps as epoch ms, booleans and strings as they are.
 */
import { readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { type Field, type RecordBatch, type Schema, Type } from "apache-arrow";
import {
  addBatchToRuns,
  BIGINT_META,
  type ColumnSummary,
  emptyColumnSummary,
  isSummarizable,
  mergeColumnSummary,
  type RunSummary,
  type SummaryValue,
} from "@quiver/core/store-kit";
import { batches, openData } from "./blocks.js";
import type { Entry } from "./index-file.js";
import { replaceFile } from "./sidecars.js";
import { type Ctx, idOf, statBig, type TableState } from "./state.js";

export const SUMMARY_FILE = ".quiver-runs.json";

type Kind = "num" | "big" | "bool" | "str" | "time";
type Json = number | string | boolean | null;

/** What a summary covers and holds (in memory: runs as RunSummary, columns by name). */
interface Summary {
  ino: string;
  gen: string;
  /** Index entries covered, and the byte end / row count after the last of them. */
  entries: number;
  end: number;
  rows: number;
  cols: Record<string, Kind>;
  runs: Map<string, RunSummary>;
}

interface SummaryJson {
  v: 1;
  ino: string;
  gen: string;
  entries: number;
  end: number;
  rows: number;
  cols: Record<string, Kind>;
  runs: { id: string; n: number; f: number | null; l: number | null; c: Record<string, [Json, Json, Json]> }[];
}

export const summaryPath = (st: TableState): string => join(st.dir, SUMMARY_FILE);

/** What a writer last wrote or read, per table, with the sidecar's file id when it was. */
const kept = new WeakMap<TableState, { id: string | undefined; summary: Summary }>();
/** When this process last wrote a table's sidecar, and how often it may (ms). */
const writtenAt = new WeakMap<TableState, number>();
const SUMMARY_EVERY_MS = 1000;

function kindOf(f: Field): Kind | undefined {
  if (!isSummarizable(f)) return undefined;
  switch (f.type.typeId) {
    case Type.Int:
      return f.metadata.get(BIGINT_META) === "1" ? "big" : "num";
    case Type.Float:
      return "num";
    case Type.Bool:
      return "bool";
    case Type.Timestamp:
      return "time";
    default:
      return "str";
  }
}

/** Whether the table has runs: a string track_id, and a timestamp column (if any) of timestamps. */
function hasRuns(schema: Schema | undefined): schema is Schema {
  const id = schema?.fields.find((f) => f.name === "track_id");
  const ts = schema?.fields.find((f) => f.name === "timestamp");
  return id?.type.typeId === Type.Utf8 && (!ts || ts.type.typeId === Type.Timestamp);
}

/** The columns a summary keeps: every scalar column but track_id and timestamp. */
function columnsOf(schema: Schema): Record<string, Kind> {
  const out: Record<string, Kind> = {};
  for (const f of schema.fields) {
    if (f.name === "track_id" || f.name === "timestamp") continue;
    const k = kindOf(f);
    if (k) out[f.name] = k;
  }
  return out;
}

function encode(v: SummaryValue | null, kind: Kind): Json {
  if (v === null) return null;
  if (kind === "time") return (v as Date).getTime();
  if (kind === "big") return String(v);
  if (typeof v === "bigint") return `${v}n`; // an int64 beyond 2^53 in a number column
  if (typeof v === "number" && (!Number.isFinite(v) || Object.is(v, -0))) return Object.is(v, -0) ? "-0" : String(v);
  return v as Json;
}

function decode(x: Json, kind: Kind): SummaryValue | null {
  if (x === null) return null;
  if (kind === "time") return new Date(x as number);
  if (kind === "big") return BigInt(x as string);
  if (kind === "num" && typeof x === "string") return x === "-0" ? -0 : x.endsWith("n") ? BigInt(x.slice(0, -1)) : Number(x);
  return x;
}

function toJson(s: Summary): string {
  const doc: SummaryJson = {
    v: 1,
    ino: s.ino,
    gen: s.gen,
    entries: s.entries,
    end: s.end,
    rows: s.rows,
    cols: s.cols,
    runs: [...s.runs.values()].map((r) => {
      const c: Record<string, [Json, Json, Json]> = {};
      for (const [name, kind] of Object.entries(s.cols)) {
        const x = r.columns?.[name];
        if (x && (x.last !== null || x.min !== null)) c[name] = [encode(x.last, kind), encode(x.min, kind), encode(x.max, kind)];
      }
      return { id: r.track_id, n: r.rows, f: r.first?.getTime() ?? null, l: r.last?.getTime() ?? null, c };
    }),
  };
  return JSON.stringify(doc);
}

function fromJson(text: string): Summary | undefined {
  const d = JSON.parse(text) as SummaryJson;
  if (d?.v !== 1 || !Array.isArray(d.runs) || typeof d.cols !== "object") return undefined;
  const runs = new Map<string, RunSummary>();
  for (const r of d.runs) {
    const columns: Record<string, ColumnSummary> = {};
    for (const [name, kind] of Object.entries(d.cols)) {
      const x = r.c[name];
      columns[name] = x ? { last: decode(x[0], kind), min: decode(x[1], kind), max: decode(x[2], kind) } : emptyColumnSummary();
    }
    runs.set(r.id, { track_id: r.id, rows: r.n, first: r.f === null ? null : new Date(r.f), last: r.l === null ? null : new Date(r.l), columns });
  }
  return { ino: d.ino, gen: d.gen, entries: d.entries, end: d.end, rows: d.rows, cols: d.cols, runs };
}

/** Whether `s` describes a prefix of the table's blocks as now indexed. */
function covers(s: Summary, st: TableState): boolean {
  if (s.ino !== String(st.dataIno) || s.gen !== st.generation || s.entries > st.entries.length) return false;
  if (s.entries === 0) return s.end === 0 && s.rows === 0;
  const e = st.entries[s.entries - 1]!;
  return e.offset + e.length === s.end && e.firstRow + e.rows === s.rows;
}

function clone(s: Summary): Summary {
  const runs = new Map<string, RunSummary>();
  for (const [id, r] of s.runs) {
    const columns: Record<string, ColumnSummary> = {};
    for (const [k, c] of Object.entries(r.columns ?? {})) columns[k] = { ...c };
    runs.set(id, { ...r, columns });
  }
  return { ...s, cols: { ...s.cols }, runs };
}

/** Brings `s` (covering a prefix) to cover `entries` more blocks of the table, in place. */
function extend(ctx: Ctx, st: TableState, s: Summary, schema: Schema, upTo: number): void {
  const todo: Entry[] = st.entries.slice(s.entries, upTo);
  if (todo.length) {
    const data = openData(ctx, st);
    if (!data) return;
    try {
      for (const b of batches(st, data, todo, schema)) addRows(s, b, schema);
    } finally {
      data.close();
    }
  }
  s.entries = upTo;
  const last = st.entries[upTo - 1];
  s.end = last ? last.offset + last.length : 0;
  s.rows = last ? last.firstRow + last.rows : 0;
}

/** Adds a batch's rows; columns new to the summary start empty for the runs it has. */
function addRows(s: Summary, b: RecordBatch, schema: Schema): void {
  const cols = columnsOf(schema);
  for (const [name, kind] of Object.entries(cols)) {
    if (s.cols[name] === undefined) {
      s.cols[name] = kind;
      for (const r of s.runs.values()) r.columns![name] = emptyColumnSummary();
    }
  }
  // A column that is no longer scalar (msgpack values of mixed kinds) is no longer summarized.
  for (const name of Object.keys(s.cols)) {
    if (cols[name] !== undefined) continue;
    delete s.cols[name];
    for (const r of s.runs.values()) delete r.columns![name];
  }
  const names = Object.keys(s.cols);
  const fresh = new Map<string, RunSummary>();
  addBatchToRuns(
    fresh,
    b,
    schema.fields.some((f) => f.name === "timestamp"),
    names,
  );
  for (const [id, r] of fresh) {
    const old = s.runs.get(id);
    if (!old) {
      s.runs.set(id, r);
      continue;
    }
    old.rows += r.rows;
    if (r.first && (!old.first || r.first < old.first)) old.first = r.first;
    if (r.last && (!old.last || r.last > old.last)) old.last = r.last;
    for (const n of names) mergeColumnSummary(old.columns![n]!, r.columns![n]!);
  }
}

/**
 * The sidecar as on disk (undefined when missing; summary undefined when unreadable or of
 * another format). Not read again when its file id is `known` (what this process last saw).
 */
function readSidecar(st: TableState, known?: string): { id: string; summary: Summary | undefined } | undefined {
  const path = summaryPath(st);
  const s = statBig(path);
  if (!s) return undefined;
  const id = idOf(s);
  if (id === known) return { id, summary: undefined };
  try {
    return { id, summary: fromJson(readFileSync(path, "utf8")) };
  } catch {
    return { id, summary: undefined }; // torn or foreign: treated as missing
  }
}

/**
 * Reader side: the runs from the sidecar when it covers a prefix of the loaded index (the rest
 * decoded in memory); undefined hands the question back to core's scan. Never writes.
 */
export function readRuns(ctx: Ctx, st: TableState, schema: Schema, columns: readonly string[]): RunSummary[] | undefined {
  if (!hasRuns(schema) || st.dataIno === undefined) return undefined;
  const mine = kept.get(st);
  let base: Summary | undefined;
  const disk = readSidecar(st, mine?.id);
  if (mine && disk && mine.id === disk.id && covers(mine.summary, st)) base = mine.summary;
  else if (disk?.summary && covers(disk.summary, st)) {
    base = disk.summary;
    kept.set(st, { id: disk.id, summary: base }); // read again only once it changes
  }
  if (!base) return undefined;
  const s = base.entries < st.entries.length ? clone(base) : base;
  if (s !== base) extend(ctx, st, s, schema, st.entries.length);
  return [...s.runs.values()].map((r) => {
    const out: RunSummary = { track_id: r.track_id, rows: r.rows, first: r.first, last: r.last };
    if (columns.length) out.columns = Object.fromEntries(columns.map((c) => [c, { ...(r.columns?.[c] ?? emptyColumnSummary()) }]));
    return out;
  });
}

/**
 * Writer side, under the lock, right after an append's index entries: the summary brought up to
 * date (from memory, the sidecar, or rebuilt from the blocks) and written. Never throws: a
 * failure leaves an older sidecar (still a valid prefix) or none, which readers handle.
 */
export function keepSummary(ctx: Ctx, st: TableState, schema: Schema, batch: RecordBatch, before: number): void {
  try {
    if (!hasRuns(schema) || st.dataIno === undefined) return;
    const mine = kept.get(st);
    const disk = readSidecar(st, mine?.id);
    let s: Summary | undefined;
    if (mine && disk?.id === mine.id && covers(mine.summary, st) && mine.summary.entries <= before) s = mine.summary;
    else if (disk?.summary && covers(disk.summary, st) && disk.summary.entries <= before) s = disk.summary;
    s ??= { ino: String(st.dataIno), gen: st.generation, entries: 0, end: 0, rows: 0, cols: {}, runs: new Map() };
    if (s.entries < before) extend(ctx, st, s, schema, before); // rows nobody summarized yet
    addRows(s, batch, schema);
    const last = st.entries[st.entries.length - 1];
    s.entries = st.entries.length;
    s.end = last ? last.offset + last.length : 0;
    s.rows = last ? last.firstRow + last.rows : 0;
    // Writing the sidecar costs every run of the table (15 ms an append at 10k runs), so it is
    // written at most once per SUMMARY_EVERY_MS: an older sidecar is still a valid prefix, and a
    // reader decodes the entries past it (this process keeps the whole summary in memory).
    const t = Date.now();
    if (disk !== undefined && t - (writtenAt.get(st) ?? 0) < SUMMARY_EVERY_MS) {
      kept.set(st, { id: disk.id, summary: s });
      return;
    }
    replaceFile(summaryPath(st), toJson(s), "run summary");
    writtenAt.set(st, t);
    const now = statBig(summaryPath(st));
    kept.set(st, { id: now ? idOf(now) : undefined, summary: s });
  } catch {
    kept.delete(st);
  }
}

/** After a rewrite (under the lock): the summary rebuilt from the new blocks, or removed. */
export function rebuildSummary(ctx: Ctx, st: TableState): void {
  kept.delete(st);
  try {
    const schema = st.schema;
    if (!hasRuns(schema) || st.dataIno === undefined) {
      unlinkSync(summaryPath(st));
      return;
    }
    const s: Summary = { ino: String(st.dataIno), gen: st.generation, entries: 0, end: 0, rows: 0, cols: columnsOf(schema), runs: new Map() };
    extend(ctx, st, s, schema, st.entries.length);
    replaceFile(summaryPath(st), toJson(s), "run summary");
    const now = statBig(summaryPath(st));
    kept.set(st, { id: now ? idOf(now) : undefined, summary: s });
  } catch {
    try {
      unlinkSync(summaryPath(st)); // stale now: readers would reject it anyway
    } catch {
      /* missing */
    }
  }
}
