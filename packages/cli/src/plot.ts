/** Turning rows into chart series and writing the chart to the terminal or a file. */
import { writeFileSync } from "node:fs";
import { extname } from "node:path";
import { QuiverError, type Row, type Store, vectorToValues } from "@quiver/core";
import { type ChartOptions, groupsOf, type Series, terminalChart } from "./chart.js";
import type { Context } from "./context.js";
import { chartToPng, chartToSvg } from "./image.js";
import { NO_ROWS } from "./output.js";

/** A value as a plot coordinate (numbers, bigints, booleans and Dates; else NaN). */
export function toNumber(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v instanceof Date) return v.getTime();
  return NaN;
}

export interface SeriesSpec {
  ys: string[];
  /** X column; absent → the row's position within its line. */
  x?: string;
  /** One colour (legend entry) per value of this column. */
  by?: string;
  /** One line per value of this column (the run id), so runs never join into one sawtooth line. */
  run?: string;
}

const ID_LIKE = /^[0-9a-f]{8}-[0-9a-f]{4}-/i;

/**
 * Display names for values: run ids (uuids) cut to the shortest prefix of at least 8 characters
 * that still tells them apart (what `--track-id` accepts back), the rest as they print.
 */
export function shortNames(values: unknown[]): Map<unknown, string> {
  const text = (v: unknown) => (v instanceof Date ? v.toISOString() : v === null || v === undefined ? "null" : String(v));
  const ids = [...new Set(values.map(text).filter((s) => ID_LIKE.test(s)))].sort();
  const len = new Map<string, number>();
  for (let i = 0; i < ids.length; i++) {
    let need = 8;
    for (const j of [i - 1, i + 1]) {
      const other = ids[j];
      if (other === undefined) continue;
      let k = 0;
      while (k < ids[i]!.length && ids[i]![k] === other[k]) k++;
      need = Math.max(need, k + 1);
    }
    len.set(ids[i]!, need);
  }
  const out = new Map<unknown, string>();
  for (const v of values) {
    const s = text(v);
    out.set(v, len.has(s) ? s.slice(0, len.get(s)) : s);
  }
  return out;
}

/** Rows by the value of a column (Dates by their time), in order of first appearance. */
function groupRows(rows: Row[], col: string | undefined): Map<unknown, { value: unknown; rows: Row[] }> {
  const groups = new Map<unknown, { value: unknown; rows: Row[] }>();
  for (const r of rows) {
    const value = col ? (r[col] ?? null) : "";
    const key = value instanceof Date ? value.getTime() : value;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { value, rows: [] }));
    g.rows.push(r);
  }
  return groups;
}

/** Series from rows: one line per run (and Y), one colour per --by value (or per Y); returns whether x holds times. */
export function rowsToSeries(rows: Row[], spec: SeriesSpec): { series: Series[]; xIsTime: boolean } {
  const xIsTime = spec.x !== undefined && rows.some((r) => r[spec.x!] instanceof Date);
  const run = spec.run !== undefined && spec.run !== spec.by && rows.some((r) => r[spec.run!] != null) ? spec.run : undefined;
  const byGroups = groupRows(rows, spec.by);
  const byNames = shortNames([...byGroups.values()].map((g) => g.value));
  const runNames = run ? shortNames(rows.map((r) => r[run])) : new Map<unknown, string>();
  const series: Series[] = [];
  for (const { value, rows: g } of byGroups.values()) {
    const byName = spec.by ? byNames.get(value)! : "";
    const lines = run ? groupRows(g, run) : new Map([["", { value: "", rows: g }]]);
    for (const y of spec.ys) {
      const group = spec.by ? (spec.ys.length > 1 ? `${y} ${byName}` : byName) : y;
      for (const { value: runId, rows: lr } of lines.values()) {
        const xs = lr.map((r, i) => (spec.x ? toNumber(r[spec.x]) : i));
        const ys = lr.map((r) => toNumber(r[y]));
        const runName = run && (lines.size > 1 || !spec.by) ? runNames.get(runId) : undefined;
        series.push({ name: runName ? `${group} ${runName}` : group, group, xs, ys });
      }
    }
  }
  return { series, xIsTime };
}

interface Line {
  value: unknown;
  xs: number[];
  /** One array per Y column. */
  ys: number[][];
}

/**
 * The series of `rowsToSeries`, built from column batches (a store's Arrow scan) without making a
 * row object per row: a million-row plot keeps two numbers per point instead of a million objects.
 * Same lines, names, groups and order as `rowsToSeries` over the same rows.
 */
export class SeriesBuilder {
  private readonly groups = new Map<unknown, { value: unknown; lines: Map<unknown, Line> }>();
  private readonly runValues = new Set<unknown>();
  private anyRun = false;
  private xIsTime = false;
  private readonly run: string | undefined;
  /** Rows added. */
  rows = 0;

  constructor(private readonly spec: SeriesSpec) {
    this.run = spec.run !== undefined && spec.run !== spec.by ? spec.run : undefined;
  }

  /** Columns the builder reads. */
  get columns(): string[] {
    const { x, ys, by } = this.spec;
    return [...new Set([...(x ? [x] : []), ...ys, ...(by ? [by] : []), ...(this.run ? [this.run] : [])])];
  }

  /** Adds `n` rows given as one value array per column (missing columns read as null). */
  add(cols: Record<string, ArrayLike<unknown> | undefined>, n: number): void {
    const { x, ys, by } = this.spec;
    const xc = x ? cols[x] : undefined;
    const yc = ys.map((y) => cols[y]);
    const bc = by ? cols[by] : undefined;
    const rc = this.run ? cols[this.run] : undefined;
    const key = (v: unknown) => (v instanceof Date ? v.getTime() : v);
    // Rows of one run come together: the previous row's line is reused without a lookup.
    let lastB: unknown = Symbol();
    let lastR: unknown = Symbol();
    let line: Line | undefined;
    for (let i = 0; i < n; i++) {
      const bv = by ? (bc?.[i] ?? null) : "";
      const rv = rc ? (rc[i] ?? null) : "";
      if (line === undefined || bv !== lastB || rv !== lastR) {
        let g = this.groups.get(key(bv));
        if (!g) this.groups.set(key(bv), (g = { value: bv, lines: new Map() }));
        if (rc && rv !== null) this.anyRun = true;
        if (rc) this.runValues.add(rv);
        line = g.lines.get(key(rv));
        if (!line) g.lines.set(key(rv), (line = { value: rv, xs: [], ys: ys.map(() => []) }));
        lastB = bv;
        lastR = rv;
      }
      const xv = xc?.[i];
      if (xv instanceof Date) this.xIsTime = true;
      line.xs.push(x ? toNumber(xv) : line.xs.length);
      for (let k = 0; k < ys.length; k++) line.ys[k]!.push(toNumber(yc[k]?.[i]));
    }
    this.rows += n;
  }

  finish(): { series: Series[]; xIsTime: boolean } {
    const { by, ys } = this.spec;
    const run = this.anyRun;
    const byNames = shortNames([...this.groups.values()].map((g) => g.value));
    const runNames = run ? shortNames([...this.runValues]) : new Map<unknown, string>();
    const series: Series[] = [];
    for (const { value, lines } of this.groups.values()) {
      const byName = by ? byNames.get(value)! : "";
      for (let k = 0; k < ys.length; k++) {
        const y = ys[k]!;
        const group = by ? (ys.length > 1 ? `${y} ${byName}` : byName) : y;
        for (const line of lines.values()) {
          const runName = run && (lines.size > 1 || !by) ? runNames.get(line.value) : undefined;
          series.push({ name: runName ? `${group} ${runName}` : group, group, xs: line.xs, ys: line.ys[k]! });
        }
      }
    }
    return { series, xIsTime: this.xIsTime };
  }
}

/** Feeds every batch of a store scan to `add` as JS values per column (Dates for timestamps, as rows hold them). */
export async function scanColumns(batches: ReturnType<Store["scan"]>, add: (cols: Record<string, ArrayLike<unknown> | undefined>, n: number) => void): Promise<number> {
  let rows = 0;
  for await (const b of batches) {
    const cols: Record<string, unknown[]> = {};
    b.schema.fields.forEach((f, i) => {
      cols[f.name] = vectorToValues(b.getChildAt(i)!, f);
    });
    add(cols, b.numRows);
    rows += b.numRows;
  }
  return rows;
}

function countPoints(series: Series[]): number {
  let n = 0;
  for (const s of series) for (let i = 0; i < s.ys.length; i++) if (Number.isFinite(s.ys[i]) && Number.isFinite(s.xs[i])) n++;
  return n;
}

/** Prints the chart, or writes it as .svg/.png when `out` is given; `rows` is how many rows were read. */
export function emitChart(ctx: Context, series: Series[], opts: ChartOptions & { out?: string; rows: number }): void {
  if (opts.rows === 0) {
    ctx.out.write(opts.out ? `${NO_ROWS.trimEnd()}: ${opts.out} not written\n` : NO_ROWS);
    return;
  }
  const points = countPoints(series);
  if (points === 0) {
    const names = [...new Set(series.map((s) => s.group ?? s.name))];
    throw new QuiverError(
      "NOT_FOUND",
      `nothing to plot: ${names.join(", ") || "the columns"} hold${names.length === 1 ? "s" : ""} no numeric values in ${opts.rows} row${opts.rows === 1 ? "" : "s"}`,
    );
  }
  if (opts.out) {
    const ext = extname(opts.out).toLowerCase();
    if (ext === ".svg") writeFileSync(opts.out, chartToSvg(series, opts));
    else if (ext === ".png") writeFileSync(opts.out, chartToPng(series, opts));
    else throw new QuiverError("INVALID_VALUE", `--out must end in .svg or .png, got ${JSON.stringify(opts.out)}`);
    const lines = series.filter((s) => s.xs.length > 0).length;
    const groups = groupsOf(series).names.length;
    ctx.out.write(`wrote ${opts.out} (${lines} line${lines === 1 ? "" : "s"}${groups !== lines ? ` in ${groups} groups` : ""}, ${points} points)\n`);
    return;
  }
  const width = opts.width ?? Math.max(20, Math.min(100, ctx.columns - 14));
  ctx.out.write(terminalChart(series, { ...opts, width, height: opts.height ?? 15, color: ctx.color }));
}
