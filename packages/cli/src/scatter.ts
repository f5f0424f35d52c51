/**
 * Scatter plots (`quiver plot scatter X Y`). Few points are drawn where they are. Many points are
 * decimated to a pixel-occupancy grid: the plot area is cut into cells (a braille dot in the
 * terminal, 3×3 pixels in SVG/PNG), each group counts its points per cell, and every cell that
 * holds a point is drawn, darker the more it holds (log scale). An outlier alone in its cell is as
 * visible as a dense cluster's edge, and the file stays small however many points there are.
 */
import { bounds, type Bounds, cleanSeries, groupsOf, PALETTE, type Series } from "./chart.js";
import { type FrameOptions, svgFrame, svgLegend, terminalFrame } from "./frame.js";
import { esc } from "./image.js";

/** Up to this many points an SVG draws every point as a circle; past it, the occupancy grid. */
export const EXACT_POINTS = 5000;
/** Side of an SVG occupancy cell in pixels. */
export const CELL = 3;
/** Opacity steps of the SVG grid (counts on a log scale). */
const LEVELS = 4;

export interface Occupancy {
  cols: number;
  rows: number;
  /** Per group, points per cell (row-major, row 0 at the top). */
  counts: Uint32Array[];
  /** Largest count of any cell. */
  max: number;
}

/** Counts each group's points into a `cols`×`rows` grid over `b`. */
export function occupancy(series: Series[], groupOf: number[], groups: number, b: Bounds, cols: number, rows: number): Occupancy {
  const counts = Array.from({ length: groups }, () => new Uint32Array(cols * rows));
  const kx = cols / (b.xmax - b.xmin);
  const ky = rows / (b.ymax - b.ymin);
  let max = 0;
  series.forEach((s, si) => {
    const grid = counts[groupOf[si]!]!;
    for (let i = 0; i < s.xs.length; i++) {
      let c = Math.floor((s.xs[i]! - b.xmin) * kx);
      let r = Math.floor((b.ymax - s.ys[i]!) * ky);
      if (c >= cols) c = cols - 1;
      if (r >= rows) r = rows - 1;
      if (c < 0) c = 0;
      if (r < 0) r = 0;
      const v = ++grid[r * cols + c]!;
      if (v > max) max = v;
    }
  });
  return { cols, rows, counts, max };
}

function prepare(input: Series[]): { series: Series[]; groups: ReturnType<typeof groupsOf>; b: Bounds; points: number } {
  const series = input.map(cleanSeries).filter((s) => s.xs.length > 0);
  const groups = groupsOf(series);
  let points = 0;
  for (const s of series) points += s.xs.length;
  return { series, groups, b: bounds(series), points };
}

const BRAILLE_BITS = [
  [0x01, 0x08],
  [0x02, 0x10],
  [0x04, 0x20],
  [0x40, 0x80],
];

/** The scatter plot in the terminal: a braille dot for every occupied dot cell, a colour per group. */
export function scatterText(input: Series[], opts: FrameOptions & { color?: boolean } = {}): string {
  const { series, groups, b, points } = prepare(input);
  if (points === 0) return "(no rows)\n";
  const w = Math.max(10, opts.width ?? 60);
  const h = Math.max(4, opts.height ?? 15);
  const grid = occupancy(series, groups.of, groups.names.length, b, w * 2, h * 4);
  const bits = new Uint8Array(w * h);
  const owner = new Int16Array(w * h).fill(-1);
  const most = new Uint32Array(w * h);
  grid.counts.forEach((g, gi) => {
    for (let r = 0; r < grid.rows; r++) {
      for (let c = 0; c < grid.cols; c++) {
        const n = g[r * grid.cols + c]!;
        if (n === 0) continue;
        const cell = (r >> 2) * w + (c >> 1);
        bits[cell]! |= BRAILLE_BITS[r & 3]![c & 1]!;
        if (n > most[cell]!) {
          most[cell] = n;
          owner[cell] = gi;
        }
      }
    }
  });
  const paint = (s: string, gi: number) => (opts.color && gi >= 0 ? `\x1b[${PALETTE[gi % PALETTE.length]!.ansi}m${s}\x1b[0m` : s);
  const lines = terminalFrame(b, w, h, (r, c) => (bits[r * w + c] ? paint(String.fromCharCode(0x2800 + bits[r * w + c]!), owner[r * w + c]!) : " "), opts);
  const legend = groups.names.map((g, gi) => `${paint("⣿", gi)} ${g}${groups.sizes[gi]! > 1 ? ` (${groups.sizes[gi]} series)` : ""}`);
  lines.push(`${" ".repeat(2)}${legend.join("   ")}   ${points} points`);
  return lines.join("\n") + "\n";
}

/**
 * The scatter plot as SVG: every point as a circle up to EXACT_POINTS, else the occupancy grid
 * (one path per group and opacity step, CELL×CELL squares), so 10 million points make a file of
 * the same size as 10 thousand.
 */
export function scatterSvg(input: Series[], opts: FrameOptions = {}): string {
  const { series, groups, b, points } = prepare(input);
  const f = svgFrame(b, { ...opts, legendRows: Math.ceil(groups.names.length / 4) });
  const colour = (gi: number) => `rgb(${PALETTE[gi % PALETTE.length]!.rgb.join(",")})`;
  const r = (n: number) => Number(n.toFixed(1));
  if (points <= EXACT_POINTS) {
    series.forEach((s, si) => {
      const gi = groups.of[si]!;
      f.parts.push(`<g fill="${colour(gi)}" fill-opacity="0.7"><title>${esc(s.name)}</title>`);
      for (let i = 0; i < s.xs.length; i++) f.parts.push(`<circle cx="${r(f.sx(s.xs[i]!))}" cy="${r(f.sy(s.ys[i]!))}" r="2.5"/>`);
      f.parts.push(`</g>`);
    });
  } else {
    const cols = Math.max(1, Math.floor(f.pw / CELL));
    const rows = Math.max(1, Math.floor(f.ph / CELL));
    const grid = occupancy(series, groups.of, groups.names.length, b, cols, rows);
    const cw = f.pw / cols;
    const ch = f.ph / rows;
    const scale = Math.log1p(grid.max);
    grid.counts.forEach((g, gi) => {
      const paths: string[][] = Array.from({ length: LEVELS }, () => []);
      for (let i = 0; i < g.length; i++) {
        const n = g[i]!;
        if (n === 0) continue;
        const level = Math.max(0, Math.min(LEVELS - 1, Math.ceil((Math.log1p(n) / scale) * LEVELS) - 1));
        const x = f.left + (i % cols) * cw;
        const y = f.top + Math.floor(i / cols) * ch;
        paths[level]!.push(`M${r(x)} ${r(y)}h${r(cw)}v${r(ch)}h-${r(cw)}z`);
      }
      paths.forEach((d, level) => {
        if (d.length) f.parts.push(`<path fill="${colour(gi)}" fill-opacity="${((level + 1) / LEVELS).toFixed(2)}" d="${d.join("")}"/>`);
      });
    });
  }
  groups.names.forEach((g, gi) => f.parts.push(svgLegend(f, gi, colour(gi), g)));
  return f.close();
}
