/**
 * Line charts: the data model shared by the terminal (braille), SVG and PNG renderers, and the
 * terminal renderer itself. Each character cell holds a 2×4 braille dot matrix, so a 60×15
 * chart has 120×60 dots of resolution. Every point is drawn: series are decimated to the
 * chart's columns (decimate.ts), never cut.
 */
import { type Band, decimate, meanBand } from "./decimate.js";
import { formatNumber } from "./output.js";
import { width as textWidth } from "./width.js";

export interface Series {
  name: string;
  xs: number[];
  ys: number[];
  /** Series of one group (the runs of one --by value) share a colour and a legend entry. */
  group?: string;
}

export interface ChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** X values are epoch milliseconds: label them as times. */
  xIsTime?: boolean;
  /** Plot area size in characters (terminal) or pixels (images). */
  width?: number;
  height?: number;
  /** ANSI colours in the terminal. */
  color?: boolean;
  /** Per group, the mean over its series with a ±1 standard deviation band. */
  band?: boolean;
}

/** Legend groups in order of appearance, and each series' group index. */
export function groupsOf(series: Series[]): { names: string[]; sizes: number[]; of: number[] } {
  const index = new Map<string, number>();
  const names: string[] = [];
  const sizes: number[] = [];
  const of = series.map((s) => {
    const g = s.group ?? s.name;
    let k = index.get(g);
    if (k === undefined) {
      index.set(g, (k = names.length));
      names.push(g);
      sizes.push(0);
    }
    sizes[k]!++;
    return k;
  });
  return { names, sizes, of };
}

/** The legend text of one group: its name, and how many runs it draws when more than one. */
export function legendName(name: string, size: number, band: boolean): string {
  if (band) return `${name} (mean ± sd of ${size} run${size === 1 ? "" : "s"})`;
  return size > 1 ? `${name} (${size} runs)` : name;
}

/** Per group, its mean band over `cols` columns of the x range. */
export function groupBands(series: Series[], groups: { names: string[]; of: number[] }, b: Bounds, cols: number): Band[] {
  return groups.names.map((_, g) =>
    meanBand(
      series.filter((_, i) => groups.of[i] === g),
      b.xmin,
      b.xmax,
      cols,
    ),
  );
}

/** Bounds widened to hold the bands too (mean + sd may pass the largest value). */
export function withBands(b: Bounds, bands: Band[]): Bounds {
  let { ymin, ymax } = b;
  for (const band of bands)
    for (let i = 0; i < band.lo.length; i++) {
      if (band.lo[i]! < ymin) ymin = band.lo[i]!;
      if (band.hi[i]! > ymax) ymax = band.hi[i]!;
    }
  return { ...b, ymin, ymax };
}

export interface Bounds {
  xmin: number;
  xmax: number;
  ymin: number;
  ymax: number;
}

/** Data bounds of all series, widened when flat so a scale exists. */
export function bounds(series: Series[]): Bounds {
  let xmin = Infinity;
  let xmax = -Infinity;
  let ymin = Infinity;
  let ymax = -Infinity;
  for (const s of series) {
    for (let i = 0; i < s.xs.length; i++) {
      const x = s.xs[i]!;
      const y = s.ys[i]!;
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      if (x < xmin) xmin = x;
      if (x > xmax) xmax = x;
      if (y < ymin) ymin = y;
      if (y > ymax) ymax = y;
    }
  }
  if (xmin === Infinity) return { xmin: 0, xmax: 1, ymin: 0, ymax: 1 };
  if (xmin === xmax) {
    xmin -= 0.5;
    xmax += 0.5;
  }
  if (ymin === ymax) {
    const d = Math.abs(ymin) * 0.1 || 0.5;
    ymin -= d;
    ymax += d;
  }
  return { xmin, xmax, ymin, ymax };
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo;
  if (!(span > 0) || !Number.isFinite(span)) return [lo];
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000, 7776000, 31536000].map((s) => s * 1000);

/** Ticks on round times (whole seconds, minutes, hours, days) for epoch-millisecond axes. */
export function timeTicks(lo: number, hi: number, count = 5): number[] {
  const raw = (hi - lo) / Math.max(1, count);
  if (!(raw >= 1000)) return niceTicks(lo, hi, count);
  const step = TIME_STEPS.find((s) => s >= raw) ?? TIME_STEPS[TIME_STEPS.length - 1]!;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(v);
  return out;
}

/** Ticks for an axis: round times or round numbers. */
export function axisTicks(lo: number, hi: number, count: number, isTime: boolean): number[] {
  return isTime ? timeTicks(lo, hi, count) : niceTicks(lo, hi, count);
}

export function formatTick(v: number, isTime: boolean, span: number): string {
  if (!isTime) return formatNumber(v);
  const iso = new Date(v).toISOString();
  if (span >= 2 * 86_400_000) return iso.slice(0, 10); // 2024-05-01
  if (v % 1000 === 0) return iso.slice(11, 19); // 12:00:02
  return iso.slice(11, 23).replace(/0+$/, ""); // 12:00:02.5
}

/** The terminal x axis under a `w`-column plot area whose y labels are `lw` wide: ticks, labels, and the axis label. */
export function xAxisLines(b: Bounds, w: number, lw: number, opts: { xIsTime?: boolean; xLabel?: string }): string[] {
  const span = b.xmax - b.xmin;
  const axis = Array.from({ length: w }, () => "─");
  const labels = Array.from({ length: w + 12 }, () => " ");
  let lastEnd = -1;
  for (const t of axisTicks(b.xmin, b.xmax, Math.max(2, Math.floor(w / 14)), opts.xIsTime === true)) {
    const c = Math.round(((t - b.xmin) / span) * (w - 1));
    if (c < 0 || c >= w) continue;
    const text = formatTick(t, opts.xIsTime === true, span);
    const start = Math.max(0, Math.min(c - Math.floor(text.length / 2), w + 12 - text.length));
    if (start <= lastEnd) continue;
    axis[c] = "┬";
    for (let k = 0; k < text.length; k++) labels[start + k] = text[k]!;
    lastEnd = start + text.length;
  }
  const lines = [" ".repeat(lw + 1) + "└" + axis.join(""), (" ".repeat(lw + 2) + labels.join("")).trimEnd()];
  if (opts.xLabel) lines.push(" ".repeat(lw + 2) + opts.xLabel.padStart(Math.floor((w + opts.xLabel.length) / 2)));
  return lines;
}

/** Distinct colours, in the order series get them (terminal ANSI code, image RGB). */
export const PALETTE: { ansi: number; rgb: [number, number, number] }[] = [
  { ansi: 34, rgb: [31, 119, 180] },
  { ansi: 33, rgb: [255, 127, 14] },
  { ansi: 32, rgb: [44, 160, 44] },
  { ansi: 31, rgb: [214, 39, 40] },
  { ansi: 35, rgb: [148, 103, 189] },
  { ansi: 36, rgb: [23, 190, 207] },
  { ansi: 93, rgb: [188, 189, 34] },
  { ansi: 95, rgb: [227, 119, 194] },
];

const BRAILLE_BITS = [
  [0x01, 0x08],
  [0x02, 0x10],
  [0x04, 0x20],
  [0x40, 0x80],
];

/** Calls `plot(x, y)` for each point of a line between two integer points (Bresenham). */
export function line(x0: number, y0: number, x1: number, y1: number, plot: (x: number, y: number) => void): void {
  const dx = Math.abs(x1 - x0);
  const dy = -Math.abs(y1 - y0);
  const sx = x0 < x1 ? 1 : -1;
  const sy = y0 < y1 ? 1 : -1;
  let err = dx + dy;
  let x = x0;
  let y = y0;
  for (let guard = 0; guard < 1_000_000; guard++) {
    plot(x, y);
    if (x === x1 && y === y1) return;
    const e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y += sy;
    }
  }
}

/** Sorted-by-x copy of a series without non-finite points. */
export function cleanSeries(s: Series): Series {
  const idx: number[] = [];
  for (let i = 0; i < s.xs.length; i++) if (Number.isFinite(s.xs[i]) && Number.isFinite(s.ys[i])) idx.push(i);
  let sorted = true;
  for (let k = 1; k < idx.length; k++) if (s.xs[idx[k]!]! < s.xs[idx[k - 1]!]!) sorted = false;
  if (!sorted) idx.sort((a, b) => s.xs[a]! - s.xs[b]!);
  return { ...s, xs: idx.map((i) => s.xs[i]!), ys: idx.map((i) => s.ys[i]!) };
}

/** A line chart drawn with braille dots and box characters, with axes and a legend. */
export function terminalChart(input: Series[], opts: ChartOptions = {}): string {
  const series = input.map(cleanSeries).filter((s) => s.xs.length > 0);
  const w = Math.max(10, opts.width ?? 60);
  const h = Math.max(4, opts.height ?? 15);
  const color = opts.color === true;
  if (series.length === 0) return "(no rows)\n";
  const groups = groupsOf(series);
  const dotsW = w * 2;
  const dotsH = h * 4;
  let b = bounds(series);
  const bands = opts.band ? groupBands(series, groups, b, dotsW) : [];
  b = withBands(b, bands);
  const cells = new Uint8Array(w * h);
  const owner = new Int16Array(w * h).fill(-1);
  const shade = new Int16Array(w * h).fill(-1);
  const set = (px: number, py: number, gi: number) => {
    if (px < 0 || py < 0 || px >= dotsW || py >= dotsH) return;
    const cx = px >> 1;
    const cy = py >> 2;
    cells[cy * w + cx]! |= BRAILLE_BITS[py & 3]![px & 1]!;
    owner[cy * w + cx] = gi;
  };
  const toPx = (x: number) => Math.round(((x - b.xmin) / (b.xmax - b.xmin)) * (dotsW - 1));
  const toPy = (y: number) => Math.round((1 - (y - b.ymin) / (b.ymax - b.ymin)) * (dotsH - 1));
  const draw = (xs: number[], ys: number[], gi: number) => {
    let px = toPx(xs[0]!);
    let py = toPy(ys[0]!);
    set(px, py, gi);
    for (let i = 1; i < xs.length; i++) {
      const nx = toPx(xs[i]!);
      const ny = toPy(ys[i]!);
      line(px, py, nx, ny, (x, y) => set(x, y, gi));
      px = nx;
      py = ny;
    }
  };
  // Line ends, for the letters right of the plot: [group, last y].
  const ends: [number, number][] = [];
  if (opts.band) {
    // The band is shaded cells under the mean line; the runs themselves are summarised by it.
    const fill = (px: number, hi: number, lo: number, gi: number) => {
      const cx = px >> 1;
      for (let cy = Math.max(0, toPy(hi) >> 2); cy <= Math.min(h - 1, toPy(lo) >> 2); cy++) shade[cy * w + cx] = gi;
    };
    bands.forEach((band, gi) => {
      // Shade every dot column, between the band's points too (linearly, as the lines are drawn).
      for (let i = 0; i < band.xs.length; i++) {
        const a = toPx(band.xs[i]!);
        fill(a, band.hi[i]!, band.lo[i]!, gi);
        if (i + 1 === band.xs.length) continue;
        const z = toPx(band.xs[i + 1]!);
        for (let px = a + 1; px < z; px++) {
          const t = (px - a) / (z - a);
          fill(px, band.hi[i]! + t * (band.hi[i + 1]! - band.hi[i]!), band.lo[i]! + t * (band.lo[i + 1]! - band.lo[i]!), gi);
        }
      }
      if (band.xs.length) draw(band.xs, band.mean, gi);
      if (band.xs.length) ends.push([gi, band.mean[band.mean.length - 1]!]);
    });
  } else {
    series.forEach((s, si) => {
      const d = decimate(s, b.xmin, b.xmax, dotsW);
      draw(d.xs, d.ys, groups.of[si]!);
      ends.push([groups.of[si]!, s.ys[s.ys.length - 1]!]);
    });
  }
  // Y labels: top, middle, bottom rows and the nice ticks between.
  const yAt = (row: number) => b.ymax - ((row * 4 + 1.5) / (dotsH - 1)) * (b.ymax - b.ymin);
  const labelRows = new Map<number, string>();
  for (const t of niceTicks(b.ymin, b.ymax, Math.max(2, Math.floor(h / 3)))) {
    const row = Math.min(h - 1, Math.max(0, Math.floor(((1 - (t - b.ymin) / (b.ymax - b.ymin)) * (dotsH - 1)) / 4)));
    if (!labelRows.has(row)) labelRows.set(row, formatNumber(t));
  }
  const near = (row: number) => [...labelRows.keys()].some((r) => Math.abs(r - row) <= 2);
  if (!near(0)) labelRows.set(0, formatNumber(Number(yAt(0).toPrecision(4))));
  if (!near(h - 1)) labelRows.set(h - 1, formatNumber(Number(yAt(h - 1).toPrecision(4))));
  // With several groups, a letter right of the plot marks where each line ends (colour may be off).
  const marks = new Map<number, number>();
  if (groups.names.length > 1) {
    for (const [gi, y] of ends) {
      let row = toPy(y) >> 2;
      if (marks.get(row) === gi) continue;
      for (let k = 0; k < h && marks.has(row); k++) row = (row + 1) % h;
      if (!marks.has(row)) marks.set(row, gi);
    }
  }
  const letter = (gi: number) => String.fromCharCode(97 + (gi % 26));
  const lw = Math.max(...[...labelRows.values()].map(textWidth));
  const paint = (s: string, gi: number) => (color && gi >= 0 ? `\x1b[${PALETTE[gi % PALETTE.length]!.ansi}m${s}\x1b[0m` : s);
  const lines: string[] = [];
  if (opts.title) lines.push(" ".repeat(lw + 2) + opts.title);
  if (opts.yLabel) lines.push(opts.yLabel);
  for (let r = 0; r < h; r++) {
    const label = labelRows.get(r);
    let row = (label ?? "").padStart(lw) + (label !== undefined ? " ┤" : " │");
    for (let c = 0; c < w; c++) {
      const bits = cells[r * w + c]!;
      row += bits ? paint(String.fromCharCode(0x2800 + bits), owner[r * w + c]!) : shade[r * w + c]! >= 0 ? paint("░", shade[r * w + c]!) : " ";
    }
    const m = marks.get(r);
    if (m !== undefined) row += " " + paint(letter(m), m);
    lines.push(row.trimEnd());
  }
  lines.push(...xAxisLines(b, w, lw, opts));
  // Legend.
  const many = groups.names.length > 1;
  const legend = groups.names.map((g, gi) => `${paint("━━", gi)} ${many ? `${letter(gi)}: ` : ""}${legendName(g, groups.sizes[gi]!, opts.band === true)}`).join("   ");
  lines.push(" ".repeat(lw + 2) + legend);
  return lines.join("\n") + "\n";
}
