/** Turning rows into chart series and writing the chart to the terminal or a file. */
import { writeFileSync } from "node:fs";
import { extname } from "node:path";
import { QuiverError, type Row } from "@quiver/core";
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
