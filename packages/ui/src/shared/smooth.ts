/**
 * Smoothing of a series, with optional per-point weights: a decimated series passes one point
 * per pixel column with the column's mean and its count of raw points, and each smoother
 * treats that point as `count` raw points of the mean value. With all counts 1 (or none) the
 * results are exactly those of the classic definitions (test/smooth.test.ts checks them
 * against straightforward reference implementations), so the smoothed line looks the same at
 * every zoom level and a weight means "raw points", as in TensorBoard.
 */

export type SmoothKind = "none" | "ema" | "mean" | "gaussian";

export interface SmoothSpec {
  kind: SmoothKind;
  /** ema: weight in [0, 1); mean: window in points; gaussian: sigma in points. */
  value: number;
}

/** Applies a smoother; `counts` are the raw points each value stands for (default 1 each). */
export function smooth(y: ArrayLike<number>, spec: SmoothSpec, counts?: ArrayLike<number>): Float64Array {
  switch (spec.kind) {
    case "ema":
      return emaDebiased(y, spec.value, counts);
    case "mean":
      return runningMean(y, spec.value, counts);
    case "gaussian":
      return gaussian(y, spec.value, counts);
    default:
      return Float64Array.from(y as ArrayLike<number>);
  }
}

/**
 * TensorBoard's scalar smoothing: an exponential moving average started at 0 and divided by
 * the debias factor 1 − w^n (n = finite points seen), so the first points are not pulled
 * toward 0. Non-finite values pass through unsmoothed and do not advance the average; a
 * constant series is returned as is (TensorBoard's special case, which avoids rounding drift).
 */
export function emaDebiased(y: ArrayLike<number>, weight: number, counts?: ArrayLike<number>): Float64Array {
  const n = y.length;
  const out = new Float64Array(n);
  const w = Math.min(Math.max(weight, 0), 0.999999);
  let constant = true;
  for (let i = 1; i < n; i++) if (y[i] !== y[0]) constant = false;
  let last = 0;
  let seen = 0;
  for (let i = 0; i < n; i++) {
    const v = y[i]!;
    if (constant || !Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    const c = counts ? Math.max(1, counts[i]!) : 1;
    // c steps of the average with the same value v: last·w^c + (1 − w^c)·v.
    const wc = c === 1 ? w : w ** c;
    last = last * wc + (1 - wc) * v;
    seen += c;
    const debias = w === 0 ? 1 : 1 - w ** seen;
    out[i] = last / debias;
  }
  return out;
}

/**
 * Trailing running mean over the last `window` raw points (fewer at the start). A weighted
 * point older than the window contributes the part of its count still inside it.
 */
export function runningMean(y: ArrayLike<number>, window: number, counts?: ArrayLike<number>): Float64Array {
  const n = y.length;
  const out = new Float64Array(n);
  const k = Math.max(1, window);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(y[i]!)) {
      out[i] = y[i]!;
      continue;
    }
    let need = k;
    let sum = 0;
    let got = 0;
    for (let j = i; j >= 0 && need > 0; j--) {
      const v = y[j]!;
      if (!Number.isFinite(v)) continue;
      const c = counts ? Math.max(1, counts[j]!) : 1;
      const take = Math.min(c, need);
      sum += v * take;
      got += take;
      need -= take;
    }
    out[i] = sum / got;
  }
  return out;
}

/**
 * Gaussian kernel smoothing with standard deviation `sigma` in raw points, truncated at 3σ
 * and renormalised at the edges. A weighted point sits at the centre of the raw points it
 * stands for and weighs its count.
 */
export function gaussian(y: ArrayLike<number>, sigma: number, counts?: ArrayLike<number>): Float64Array {
  const n = y.length;
  const out = new Float64Array(n);
  if (!(sigma > 0)) return Float64Array.from(y as ArrayLike<number>);
  // Position of each point in raw-point units.
  const pos = new Float64Array(n);
  let acc = 0;
  for (let i = 0; i < n; i++) {
    const c = counts ? Math.max(1, counts[i]!) : 1;
    pos[i] = acc + (c - 1) / 2;
    acc += c;
  }
  const reach = 3 * sigma;
  const inv = 1 / (2 * sigma * sigma);
  let lo = 0;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(y[i]!)) {
      out[i] = y[i]!;
      continue;
    }
    while (pos[lo]! < pos[i]! - reach) lo++;
    let sw = 0;
    let s = 0;
    for (let j = lo; j < n && pos[j]! <= pos[i]! + reach; j++) {
      const v = y[j]!;
      if (!Number.isFinite(v)) continue;
      const d = pos[j]! - pos[i]!;
      const wgt = (counts ? Math.max(1, counts[j]!) : 1) * Math.exp(-d * d * inv);
      sw += wgt;
      s += wgt * v;
    }
    out[i] = s / sw;
  }
  return out;
}
