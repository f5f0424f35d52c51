/**
 * Decimation that never hides a spike: the x range is cut into `width` pixel columns and each
 * column keeps its first, minimum, maximum and last point (M4). A line drawn through those
 * points covers exactly the pixels a line through every point would, so a one-point spike
 * survives at any zoom. Each column also reports its mean x, mean y and point count, which the
 * smoothers use as weights (so smoothing a decimated series approximates smoothing the raw one).
 *
 * Used by the server for stores without SQL, by the page to re-cut embedded data (exported
 * reports), and mirrored in SQL for DuckDB (src/server/sql.ts).
 */

export interface Decimated {
  /** The kept points, ascending by x. */
  x: number[];
  y: number[];
  /** Per non-empty column: mean x, mean y, point count. */
  bx: number[];
  by: number[];
  bc: number[];
  /** Points in the range before decimation. */
  n: number;
}

/** One pixel column's summary, as the SQL path returns it too. */
export interface Bin {
  bin: number;
  /** first (by position), min, max, last (by position): [x, y] each. */
  fx: number;
  fy: number;
  minx: number;
  miny: number;
  maxx: number;
  maxy: number;
  lx: number;
  ly: number;
  count: number;
  meanx: number;
  meany: number;
}

/** The column of x in [lo, hi] cut into `width` columns (hi itself goes to the last one). */
export function binOf(x: number, lo: number, hi: number, width: number): number {
  if (hi <= lo) return 0;
  const b = Math.floor(((x - lo) / (hi - lo)) * width);
  return b >= width ? width - 1 : Math.max(b, 0);
}

/**
 * Turns per-column summaries (ascending by bin) into the points to draw: for each column its
 * first, min, max and last, ordered by x and without duplicates.
 */
export function binsToPoints(bins: readonly Bin[], n: number): Decimated {
  const out: Decimated = { x: [], y: [], bx: [], by: [], bc: [], n };
  const px: number[] = [];
  const py: number[] = [];
  for (const b of bins) {
    px.length = 0;
    py.length = 0;
    // The first point opens the column and the last closes it; the extremes go between, in x order.
    const mids: [number, number][] = [
      [b.minx, b.miny],
      [b.maxx, b.maxy],
    ];
    if (b.maxx < b.minx) mids.reverse();
    for (const [x, y] of [[b.fx, b.fy] as [number, number], ...mids, [b.lx, b.ly] as [number, number]]) {
      const k = px.length - 1;
      if (k >= 0 && px[k] === x && py[k] === y) continue;
      px.push(x);
      py.push(y);
    }
    // Within a column, x must not go backwards for the chart (x not monotonic in position).
    if (!isSorted(px)) sortPairs(px, py);
    for (let i = 0; i < px.length; i++) {
      const k = out.x.length - 1;
      if (k >= 0 && out.x[k] === px[i] && out.y[k] === py[i]) continue;
      out.x.push(px[i]!);
      out.y.push(py[i]!);
    }
    out.bx.push(b.meanx);
    out.by.push(b.meany);
    out.bc.push(b.count);
  }
  return out;
}

function isSorted(a: readonly number[]): boolean {
  for (let i = 1; i < a.length; i++) if (a[i]! < a[i - 1]!) return false;
  return true;
}

function sortPairs(x: number[], y: number[]): void {
  const idx = x.map((_, i) => i).sort((a, b) => x[a]! - x[b]! || a - b);
  const nx = idx.map((i) => x[i]!);
  const ny = idx.map((i) => y[i]!);
  x.splice(0, x.length, ...nx);
  y.splice(0, y.length, ...ny);
}

/** The finite x range of the points whose y is finite, or undefined when there are none. */
export function extent(xs: ArrayLike<number>, ys: ArrayLike<number>): { lo: number; hi: number } | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i]!;
    if (!Number.isFinite(x) || !Number.isFinite(ys[i]!)) continue;
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  return lo <= hi ? { lo, hi } : undefined;
}

/**
 * M4 over points given in position order (insertion order). Points outside [lo, hi] or with a
 * non-finite x or y are skipped. When the range holds at most 4 points per column, every point
 * is returned (sorted by x) and the columns are single points, so smoothing is exact.
 */
export function decimate(xs: ArrayLike<number>, ys: ArrayLike<number>, lo: number, hi: number, width: number): Decimated {
  width = Math.max(1, Math.floor(width));
  const n = xs.length;
  // Pass 1: how many points fall in the range.
  let inRange = 0;
  for (let i = 0; i < n; i++) {
    const x = xs[i]!;
    const y = ys[i]!;
    if (x >= lo && x <= hi && Number.isFinite(y) && Number.isFinite(x)) inRange++;
  }
  if (inRange <= width * 4) return everyPoint(xs, ys, lo, hi, inRange);
  const first = new Int32Array(width).fill(-1);
  const last = new Int32Array(width);
  const imin = new Int32Array(width);
  const imax = new Int32Array(width);
  const count = new Float64Array(width);
  const sumx = new Float64Array(width);
  const sumy = new Float64Array(width);
  const span = hi - lo;
  for (let i = 0; i < n; i++) {
    const x = xs[i]!;
    const y = ys[i]!;
    if (!(x >= lo && x <= hi) || !Number.isFinite(y)) continue;
    let b = span > 0 ? Math.floor(((x - lo) / span) * width) : 0;
    if (b >= width) b = width - 1;
    if (first[b] === -1) {
      first[b] = i;
      imin[b] = i;
      imax[b] = i;
    } else {
      // Ties keep the earliest point, as arg_min/arg_max do in the SQL path.
      if (y < ys[imin[b]!]!) imin[b] = i;
      if (y > ys[imax[b]!]!) imax[b] = i;
    }
    last[b] = i;
    count[b]++;
    sumx[b] += x;
    sumy[b] += y;
  }
  const bins: Bin[] = [];
  for (let b = 0; b < width; b++) {
    const f = first[b]!;
    if (f < 0) continue;
    const c = count[b]!;
    bins.push({
      bin: b,
      fx: xs[f]!,
      fy: ys[f]!,
      minx: xs[imin[b]!]!,
      miny: ys[imin[b]!]!,
      maxx: xs[imax[b]!]!,
      maxy: ys[imax[b]!]!,
      lx: xs[last[b]!]!,
      ly: ys[last[b]!]!,
      count: c,
      meanx: sumx[b]! / c,
      meany: sumy[b]! / c,
    });
  }
  return binsToPoints(bins, inRange);
}

function everyPoint(xs: ArrayLike<number>, ys: ArrayLike<number>, lo: number, hi: number, inRange: number): Decimated {
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    const xi = xs[i]!;
    const yi = ys[i]!;
    if (xi >= lo && xi <= hi && Number.isFinite(yi) && Number.isFinite(xi)) {
      x.push(xi);
      y.push(yi);
    }
  }
  if (!isSorted(x)) sortPairs(x, y);
  return { x, y, bx: x.slice(), by: y.slice(), bc: x.map(() => 1), n: inRange };
}

export interface GroupBins {
  x: number[];
  mean: number[];
  lo: number[];
  hi: number[];
  count: number[];
}

/** Per pixel column over all points of a group of runs: mean x, mean y, min y, max y, count. */
export function groupBins(parts: readonly { x: ArrayLike<number>; y: ArrayLike<number> }[], lo: number, hi: number, width: number): GroupBins {
  width = Math.max(1, Math.floor(width));
  const c = new Float64Array(width);
  const sx = new Float64Array(width);
  const sy = new Float64Array(width);
  const mn = new Float64Array(width).fill(Infinity);
  const mx = new Float64Array(width).fill(-Infinity);
  for (const p of parts) {
    for (let i = 0; i < p.x.length; i++) {
      const x = p.x[i]!;
      const y = p.y[i]!;
      if (!(x >= lo && x <= hi) || !Number.isFinite(y)) continue;
      const b = binOf(x, lo, hi, width);
      c[b]++;
      sx[b] += x;
      sy[b] += y;
      if (y < mn[b]!) mn[b] = y;
      if (y > mx[b]!) mx[b] = y;
    }
  }
  const out: GroupBins = { x: [], mean: [], lo: [], hi: [], count: [] };
  for (let b = 0; b < width; b++) {
    if (!c[b]) continue;
    out.x.push(sx[b]! / c[b]!);
    out.mean.push(sy[b]! / c[b]!);
    out.lo.push(mn[b]!);
    out.hi.push(mx[b]!);
    out.count.push(c[b]!);
  }
  return out;
}
