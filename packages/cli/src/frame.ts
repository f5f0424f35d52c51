/**
 * The frame of the histogram and scatter charts, in the terminal and as SVG: plot area, grid, axes
 * with round ticks and their labels, title and axis labels — what the line chart draws around its
 * lines, for charts that put bars or point clouds inside.
 */
import { axisTicks, type Bounds, formatTick, niceTicks, xAxisLines } from "./chart.js";
import { esc, fontStack } from "./image.js";
import { formatNumber } from "./output.js";
import { width as textWidth } from "./width.js";

export interface SvgFrame {
  W: number;
  H: number;
  left: number;
  top: number;
  /** Plot area width and height in pixels. */
  pw: number;
  ph: number;
  sx(x: number): number;
  sy(y: number): number;
  /** The document so far: push shapes, then `close()`. */
  parts: string[];
  close(): string;
}

export interface FrameOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  xIsTime?: boolean;
  width?: number;
  height?: number;
  /** Rows of legend under the x label. */
  legendRows?: number;
}

const r2 = (n: number) => Number(n.toFixed(2));

/** An SVG document with axes over `b`; shapes go into `parts` before `close()`. */
export function svgFrame(b: Bounds, opts: FrameOptions): SvgFrame {
  const W = Math.max(200, opts.width ?? 800);
  const H = Math.max(150, opts.height ?? 450);
  const left = 70;
  const top = opts.title ? 36 : 16;
  const pw = W - left - 20;
  const ph = H - top - (46 + 18 * (opts.legendRows ?? 0));
  const sx = (x: number) => left + ((x - b.xmin) / (b.xmax - b.xmin)) * pw;
  const sy = (y: number) => top + (1 - (y - b.ymin) / (b.ymax - b.ymin)) * ph;
  const xticks = axisTicks(b.xmin, b.xmax, Math.max(2, Math.floor(pw / 110)), opts.xIsTime === true);
  const yticks = niceTicks(b.ymin, b.ymax, Math.max(2, Math.floor(ph / 60)));
  const parts = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="${fontStack()}" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
  ];
  if (opts.title) parts.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(opts.title)}</text>`);
  parts.push(`<g stroke="#e5e5e5" stroke-width="1">`);
  for (const t of yticks) parts.push(`<line x1="${left}" x2="${left + pw}" y1="${r2(sy(t))}" y2="${r2(sy(t))}"/>`);
  for (const t of xticks) parts.push(`<line x1="${r2(sx(t))}" x2="${r2(sx(t))}" y1="${top}" y2="${top + ph}"/>`);
  parts.push(`</g>`, `<g fill="#333333">`);
  for (const t of yticks) parts.push(`<text x="${left - 6}" y="${r2(sy(t) + 4)}" text-anchor="end">${esc(formatNumber(t))}</text>`);
  const span = b.xmax - b.xmin;
  for (const t of xticks) parts.push(`<text x="${r2(sx(t))}" y="${top + ph + 16}" text-anchor="middle">${esc(formatTick(t, opts.xIsTime === true, span))}</text>`);
  if (opts.xLabel) parts.push(`<text x="${left + pw / 2}" y="${top + ph + 32}" text-anchor="middle">${esc(opts.xLabel)}</text>`);
  if (opts.yLabel) parts.push(`<text transform="translate(14 ${top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  parts.push(`</g>`);
  const axes = `<g stroke="#333333" stroke-width="1"><line x1="${left}" y1="${top + ph}" x2="${left + pw}" y2="${top + ph}"/><line x1="${left}" y1="${top}" x2="${left}" y2="${top + ph}"/></g>`;
  return {
    W,
    H,
    left,
    top,
    pw,
    ph,
    sx,
    sy,
    parts,
    close: () => [...parts, axes, "</svg>"].join("\n") + "\n",
  };
}

/** A legend entry under the plot: a colour swatch and its text, four to a row. */
export function svgLegend(f: SvgFrame, i: number, colour: string, text: string): string {
  const lx = f.left + (i % 4) * Math.floor(f.pw / 4);
  const ly = f.top + f.ph + 44 + Math.floor(i / 4) * 18;
  return `<rect x="${lx}" y="${ly - 9}" width="14" height="8" fill="${colour}"/><text x="${lx + 20}" y="${ly}">${esc(text)}</text>`;
}

/**
 * Terminal rows of a `w`×`h` character plot area (`cell(r, c)` gives each character), framed by y
 * labels on the left and an x axis with round ticks below, as the line chart draws them.
 */
export function terminalFrame(b: Bounds, w: number, h: number, cell: (r: number, c: number) => string, opts: FrameOptions): string[] {
  const labelRows = new Map<number, string>();
  for (const t of niceTicks(b.ymin, b.ymax, Math.max(2, Math.floor(h / 3)))) {
    const row = Math.min(h - 1, Math.max(0, Math.round((1 - (t - b.ymin) / (b.ymax - b.ymin)) * (h - 1))));
    if (!labelRows.has(row)) labelRows.set(row, formatNumber(t));
  }
  const lw = Math.max(1, ...[...labelRows.values()].map(textWidth));
  const lines: string[] = [];
  if (opts.title) lines.push(" ".repeat(lw + 2) + opts.title);
  if (opts.yLabel) lines.push(opts.yLabel);
  for (let r = 0; r < h; r++) {
    const label = labelRows.get(r);
    let row = (label ?? "").padStart(lw) + (label !== undefined ? " ┤" : " │");
    for (let c = 0; c < w; c++) row += cell(r, c);
    lines.push(row.trimEnd());
  }
  lines.push(...xAxisLines(b, w, lw, opts));
  return lines;
}
