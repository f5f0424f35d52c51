/** Turning rows into chart series and writing the chart to the terminal or a file. */
import { writeFileSync } from "node:fs";
import { extname } from "node:path";
import { QuiverError, type Row } from "@quiver/core";
import { type ChartOptions, type Series, terminalChart } from "./chart.js";
import type { Context } from "./context.js";
import { chartToPng, chartToSvg } from "./image.js";

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
  /** X column; absent → the row's position within its series. */
  x?: string;
  /** Split into one series per value of this column. */
  by?: string;
}

function shortName(v: unknown): string {
  const s = v instanceof Date ? v.toISOString() : String(v);
  return /^[0-9a-f]{8}-[0-9a-f]{4}-/.test(s) ? s.slice(0, 8) : s;
}

/** Series from rows; returns whether x holds times. */
export function rowsToSeries(rows: Row[], spec: SeriesSpec): { series: Series[]; xIsTime: boolean } {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const key = spec.by ? shortName(r[spec.by] ?? "null") : "";
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(r);
  }
  const xIsTime = spec.x !== undefined && rows.some((r) => r[spec.x!] instanceof Date);
  const series: Series[] = [];
  for (const [key, g] of groups) {
    for (const y of spec.ys) {
      const name = spec.by ? (spec.ys.length > 1 ? `${y} ${key}` : key) : y;
      const xs = g.map((r, i) => (spec.x ? toNumber(r[spec.x]) : i));
      const ys = g.map((r) => toNumber(r[y]));
      series.push({ name, xs, ys });
    }
  }
  return { series, xIsTime };
}

/** Prints the chart, or writes it as .svg/.png when `out` is given. */
export function emitChart(ctx: Context, series: Series[], opts: ChartOptions & { out?: string }): void {
  const points = series.reduce((a, s) => a + s.ys.filter((y, i) => Number.isFinite(y) && Number.isFinite(s.xs[i])).length, 0);
  if (points === 0) {
    throw new QuiverError("NOT_FOUND", `nothing to plot: ${series.map((s) => s.name).join(", ") || "the columns"} hold no numeric values`);
  }
  if (opts.out) {
    const ext = extname(opts.out).toLowerCase();
    if (ext === ".svg") writeFileSync(opts.out, chartToSvg(series, { ...opts, width: opts.width, height: opts.height }));
    else if (ext === ".png") writeFileSync(opts.out, chartToPng(series, opts));
    else throw new QuiverError("INVALID_VALUE", `--out must end in .svg or .png, got ${JSON.stringify(opts.out)}`);
    ctx.out.write(`wrote ${opts.out} (${series.length} series, ${points} points)\n`);
    return;
  }
  const width = opts.width ?? Math.max(20, Math.min(100, ctx.columns - 14));
  ctx.out.write(terminalChart(series, { ...opts, width, height: opts.height ?? 15, color: ctx.color }));
}
