/**
 * Charts draw every point, cheaply: a series sorted by x is cut into the chart's pixel (or
 * braille-dot) columns and each column keeps its first, minimum, maximum and last point (M4).
 * A line through the kept points covers the same pixels as a line through all of them, so a
 * one-point spike among a million points still shows, and nothing is capped.
 */
import type { Series } from "./chart.js";

/** The column of x in [lo, hi] cut into `cols` columns (hi itself goes to the last one). */
export function columnOf(x: number, lo: number, hi: number, cols: number): number {
  if (!(hi > lo)) return 0;
  const c = Math.floor(((x - lo) / (hi - lo)) * cols);
  return c >= cols ? cols - 1 : Math.max(c, 0);
}

/**
 * First, min, max and last point of each of `cols` columns of a series sorted by x (a series
 * with at most 4 points per column is returned as it is).
 */
export function decimate(s: Series, lo: number, hi: number, cols: number): Series {
  const n = s.xs.length;
  if (n <= 4 * cols) return s;
  const xs: number[] = [];
  const ys: number[] = [];
  const keep = (i: number) => {
    const k = xs.length - 1;
    if (k >= 0 && xs[k] === s.xs[i] && ys[k] === s.ys[i]) return;
    xs.push(s.xs[i]!);
    ys.push(s.ys[i]!);
  };
  let i = 0;
  while (i < n) {
    const col = columnOf(s.xs[i]!, lo, hi, cols);
    const first = i;
    let min = i;
    let max = i;
    let j = i + 1;
    for (; j < n && columnOf(s.xs[j]!, lo, hi, cols) === col; j++) {
      const y = s.ys[j]!;
      if (y < s.ys[min]!) min = j;
      if (y > s.ys[max]!) max = j;
    }
    const last = j - 1;
    keep(first);
    // Sorted by x, so position order is x order: the extremes go between first and last as they came.
    if (min < max) {
      keep(min);
      keep(max);
    } else {
      keep(max);
      keep(min);
    }
    keep(last);
    i = j;
  }
  return { ...s, xs, ys };
}

export interface Band {
  /** Mean x of the column's points, the mean over runs, and mean ± one standard deviation. */
  xs: number[];
  mean: number[];
  lo: number[];
  hi: number[];
  /** Runs that had points in the column. */
  runs: number[];
}

/**
 * The mean of several runs and a ±1 standard deviation band, per column: each run contributes
 * the mean of its points in the column, so runs logged at different x still average.
 */
export function meanBand(runs: Series[], lo: number, hi: number, cols: number): Band {
  const sumY = new Float64Array(cols);
  const sumY2 = new Float64Array(cols);
  const sumX = new Float64Array(cols);
  const count = new Float64Array(cols);
  const perRun = new Float64Array(cols);
  const perRunX = new Float64Array(cols);
  const perRunN = new Float64Array(cols);
  for (const s of runs) {
    perRun.fill(0);
    perRunX.fill(0);
    perRunN.fill(0);
    for (let i = 0; i < s.xs.length; i++) {
      const c = columnOf(s.xs[i]!, lo, hi, cols);
      perRun[c] += s.ys[i]!;
      perRunX[c] += s.xs[i]!;
      perRunN[c]++;
    }
    for (let c = 0; c < cols; c++) {
      if (perRunN[c] === 0) continue;
      const y = perRun[c]! / perRunN[c]!;
      sumY[c] += y;
      sumY2[c] += y * y;
      sumX[c] += perRunX[c]! / perRunN[c]!;
      count[c]++;
    }
  }
  const band: Band = { xs: [], mean: [], lo: [], hi: [], runs: [] };
  for (let c = 0; c < cols; c++) {
    const k = count[c]!;
    if (k === 0) continue;
    const mean = sumY[c]! / k;
    const sd = k > 1 ? Math.sqrt(Math.max(0, (sumY2[c]! - k * mean * mean) / (k - 1))) : 0;
    band.xs.push(sumX[c]! / k);
    band.mean.push(mean);
    band.lo.push(mean - sd);
    band.hi.push(mean + sd);
    band.runs.push(k);
  }
  return band;
}
