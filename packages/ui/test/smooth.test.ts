import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { emaDebiased, gaussian, runningMean, smooth } from "../dist/shared/smooth.js";

/** TensorBoard's scalar-card smoothing, as written in its source (classic debiased EMA). */
function tensorboardEma(values: number[], weight: number): number[] {
  let last = values.length > 0 ? 0 : NaN;
  let numAccum = 0;
  const isConstant = values.every((v) => v === values[0]);
  return values.map((nextVal) => {
    if (isConstant || !Number.isFinite(nextVal)) return nextVal;
    last = last * weight + (1 - weight) * nextVal;
    numAccum++;
    let debiasWeight = 1;
    if (weight !== 1) debiasWeight = 1 - weight ** numAccum;
    return last / debiasWeight;
  });
}

function refMean(y: number[], k: number): number[] {
  return y.map((_, i) => {
    const w = y.slice(Math.max(0, i - k + 1), i + 1);
    return w.reduce((a, b) => a + b, 0) / w.length;
  });
}

function refGauss(y: number[], sigma: number): number[] {
  return y.map((_, i) => {
    let s = 0;
    let sw = 0;
    for (let j = 0; j < y.length; j++) {
      if (Math.abs(i - j) > 3 * sigma) continue;
      const w = Math.exp(-((i - j) ** 2) / (2 * sigma * sigma));
      s += w * y[j]!;
      sw += w;
    }
    return s / sw;
  });
}

const series = fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 400 });

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-9): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(tol * (1 + Math.abs(b[i]!)));
}

describe("smoothing against reference implementations", () => {
  it("EMA equals TensorBoard's debiased EMA, non-finite values passed through", () => {
    fc.assert(
      fc.property(series, fc.double({ min: 0, max: 0.99, noNaN: true }), (y, w) => close(emaDebiased(y, w), tensorboardEma(y, w))),
      { numRuns: 200 },
    );
    const y = [1, 2, NaN, 4, Infinity, 6];
    const got = emaDebiased(y, 0.6);
    const want = tensorboardEma(y, 0.6);
    expect(Number.isNaN(got[2])).toBe(true);
    expect(got[4]).toBe(Infinity);
    close([got[0]!, got[1]!, got[3]!, got[5]!], [want[0]!, want[1]!, want[3]!, want[5]!]);
    expect(Array.from(emaDebiased([3, 3, 3], 0.9))).toEqual([3, 3, 3]);
    expect(emaDebiased([5, 1], 0.5)[0]).toBe(5); // debiased: the first point is itself
  });

  it("running mean and Gaussian equal their textbook definitions", () => {
    fc.assert(
      fc.property(series, fc.integer({ min: 1, max: 50 }), (y, k) => close(runningMean(y, k), refMean(y, k), 1e-9)),
      { numRuns: 150 },
    );
    fc.assert(
      fc.property(series, fc.double({ min: 0.3, max: 20, noNaN: true }), (y, s) => close(gaussian(y, s), refGauss(y, s), 1e-9)),
      { numRuns: 150 },
    );
  });

  it("a weighted point stands for `count` raw points of its value (decimated series smooth like raw ones)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: -100, max: 100, noNaN: true }), fc.integer({ min: 1, max: 20 })), { minLength: 1, maxLength: 60 }),
        fc.double({ min: 0, max: 0.99, noNaN: true }),
        fc.integer({ min: 1, max: 40 }),
        (bins, w, k) => {
          const raw: number[] = [];
          const ends: number[] = [];
          for (const [v, c] of bins) {
            for (let i = 0; i < c; i++) raw.push(v);
            ends.push(raw.length - 1);
          }
          const by = bins.map((b) => b[0]);
          const bc = bins.map((b) => b[1]);
          // EMA and the trailing mean of a column equal the raw ones at the column's last point.
          close(
            emaDebiased(by, w, bc),
            ends.map((e) => tensorboardEma(raw, w)[e]!),
            1e-7,
          );
          close(
            runningMean(by, k, bc),
            ends.map((e) => refMean(raw, k)[e]!),
            1e-9,
          );
        },
      ),
      { numRuns: 150 },
    );
  });

  it("smooth() dispatches by kind and copies for none", () => {
    const y = [1, 5, 2];
    expect(Array.from(smooth(y, { kind: "none", value: 0 }))).toEqual(y);
    expect(Array.from(smooth(y, { kind: "mean", value: 2 }))).toEqual([1, 3, 3.5]);
  });
});
