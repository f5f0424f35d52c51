/**
 * Histograms (`quiver plot hist`): equal-width bins over a column's finite values, counted in one
 * pass, drawn as bars in the terminal, as SVG and (rasterised) PNG. Every value is counted, so the
 * picture costs the same for ten values and for ten million.
 */
import { QuiverError } from "@quiver/core";
import { PALETTE } from "./chart.js";
import { svgFrame, svgLegend } from "./frame.js";
import { esc } from "./image.js";
import { formatNumber } from "./output.js";

export interface Histogram {
  /** bins + 1 edges: bin i holds edges[i] ≤ v < edges[i+1] (the last bin includes its right edge). */
  edges: number[];
  counts: number[];
  /** Finite values counted. */
  values: number;
  /** Values that were null, NaN, ±Infinity or not numbers: not counted. */
  skipped: number;
  min: number;
  max: number;
  mean: number;
}

/** Most bins a histogram takes (past it bars are thinner than a pixel column of an 800-px chart). */
export const MAX_BINS = 1000;

/**
 * Counts `values` into `bins` equal-width bins over [min, max]. Without `bins`: one bin per
 * integer when the values are integers spanning at most 50 (epochs, labels), else Sturges' rule
 * (⌈log2 n⌉ + 1, at most 50).
 */
export function histogram(values: ArrayLike<number>, bins?: number): Histogram {
  if (bins !== undefined && !(Number.isInteger(bins) && bins >= 1 && bins <= MAX_BINS)) {
    throw new QuiverError("INVALID_VALUE", `--bins must be a whole number from 1 to ${MAX_BINS}, got ${bins}`);
  }
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  let ints = true;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    n++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
    if (ints && !Number.isInteger(v)) ints = false;
  }
  const skipped = values.length - n;
  if (n === 0) return { edges: [], counts: [], values: 0, skipped, min: NaN, max: NaN, mean: NaN };
  let lo = min;
  let hi = max;
  let k = bins;
  if (k === undefined && ints && max - min <= 50) {
    k = max - min + 1;
    lo = min - 0.5;
    hi = max + 0.5;
  }
  k ??= Math.min(50, Math.ceil(Math.log2(n)) + 1);
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  const counts = new Array<number>(k).fill(0);
  const scale = k / (hi - lo);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    const b = Math.floor((v - lo) * scale);
    counts[Math.max(0, Math.min(k - 1, b))]!++;
  }
  const edges = Array.from({ length: k + 1 }, (_, i) => (i === k ? hi : lo + (i * (hi - lo)) / k));
  return { edges, counts, values: n, skipped, min, max, mean: sum / n };
}

const EIGHTHS = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

/** One line: min, mean, max and how many values were counted (and skipped). */
export function histogramSummary(h: Histogram): string {
  if (h.values === 0) return `no numeric values${h.skipped ? ` (${h.skipped} skipped: null, NaN or not numbers)` : ""}`;
  return `${h.values} values in ${h.counts.length} bins: min ${formatNumber(h.min)}, mean ${formatNumber(Number(h.mean.toPrecision(6)))}, max ${formatNumber(h.max)}${h.skipped ? `; ${h.skipped} skipped (null, NaN, ±Infinity or not numbers)` : ""}`;
}

/** Horizontal bars, one line per bin: its range, a bar in eighths of a character, its count. */
export function histogramText(h: Histogram, opts: { title?: string; columns?: number; color?: boolean } = {}): string {
  const lines: string[] = [];
  if (opts.title) lines.push(opts.title);
  const labels = h.counts.map((_, i) => `${formatNumber(Number(h.edges[i]!.toPrecision(6)))} … ${formatNumber(Number(h.edges[i + 1]!.toPrecision(6)))}`);
  const lw = Math.max(0, ...labels.map((l) => l.length));
  const cw = Math.max(1, ...h.counts.map((c) => String(c).length));
  const barW = Math.max(10, Math.min(60, (opts.columns ?? 80) - lw - cw - 5));
  const top = Math.max(1, ...h.counts);
  const paint = (s: string) => (opts.color && s ? `\x1b[${PALETTE[0]!.ansi}m${s}\x1b[0m` : s);
  h.counts.forEach((c, i) => {
    const eighths = Math.round((c / top) * barW * 8);
    // A bin that holds anything shows at least a sliver: a single outlier stays visible.
    const e = c > 0 ? Math.max(1, eighths) : 0;
    const bar = "█".repeat(e >> 3) + EIGHTHS[e & 7]!;
    lines.push(`${labels[i]!.padStart(lw)} │${paint(bar)}${" ".repeat(Math.max(0, barW - Math.ceil(e / 8)))} ${String(c).padStart(cw)}`);
  });
  lines.push(histogramSummary(h));
  return lines.join("\n") + "\n";
}

/** The histogram as an SVG document: one bar per bin, the x axis in the column's units, counts up. */
export function histogramSvg(h: Histogram, opts: { title?: string; xLabel?: string; width?: number; height?: number } = {}): string {
  const top = Math.max(1, ...h.counts);
  const lo = h.edges[0] ?? 0;
  const hi = h.edges[h.edges.length - 1] ?? 1;
  const f = svgFrame({ xmin: lo, xmax: hi, ymin: 0, ymax: top * 1.05 }, { ...opts, yLabel: "count", legendRows: 1 });
  const colour = `rgb(${PALETTE[0]!.rgb.join(",")})`;
  f.parts.push(`<g fill="${colour}" stroke="#ffffff" stroke-width="0.5">`);
  const r = (n: number) => Number(n.toFixed(2));
  h.counts.forEach((c, i) => {
    if (c === 0) return;
    const x0 = f.sx(h.edges[i]!);
    const x1 = f.sx(h.edges[i + 1]!);
    const y = f.sy(c);
    // At least a pixel high: a bin holding one value among millions is still drawn.
    const hgt = Math.max(1, f.top + f.ph - y);
    f.parts.push(
      `<rect x="${r(x0)}" y="${r(f.top + f.ph - hgt)}" width="${r(Math.max(0.5, x1 - x0))}" height="${r(hgt)}"><title>${esc(`${formatNumber(h.edges[i]!)} … ${formatNumber(h.edges[i + 1]!)}: ${c}`)}</title></rect>`,
    );
  });
  f.parts.push(`</g>`, svgLegend(f, 0, colour, histogramSummary(h)));
  return f.close();
}
