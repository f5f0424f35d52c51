import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { binOf, decimate, groupBins } from "../dist/shared/decimate.js";

/** The reference: per pixel column, the indices of its first, min, max and last point, by plain loops. */
function reference(xs: number[], ys: number[], lo: number, hi: number, width: number): { x: number[]; y: number[] } {
  const cols = new Map<number, number[]>();
  xs.forEach((x, i) => {
    if (x < lo || x > hi || !Number.isFinite(ys[i]!)) return;
    const b = hi > lo ? Math.min(width - 1, Math.floor(((x - lo) / (hi - lo)) * width)) : 0;
    cols.set(b, [...(cols.get(b) ?? []), i]);
  });
  const total = [...cols.values()].reduce((a, c) => a + c.length, 0);
  const keep = new Set<number>();
  if (total <= 4 * width) for (const c of cols.values()) for (const i of c) keep.add(i);
  else {
    for (const c of cols.values()) {
      let mn = c[0]!;
      let mx = c[0]!;
      for (const i of c) {
        if (ys[i]! < ys[mn]!) mn = i;
        if (ys[i]! > ys[mx]!) mx = i;
      }
      keep
        .add(c[0]!)
        .add(mn)
        .add(mx)
        .add(c[c.length - 1]!);
    }
  }
  const idx = [...keep].sort((a, b) => xs[a]! - xs[b]! || a - b);
  return { x: idx.map((i) => xs[i]!), y: idx.map((i) => ys[i]!) };
}

describe("decimate (first/min/max/last per pixel column)", () => {
  it("equals the reference on random monotonic series", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 3000 }), fc.integer({ min: 1, max: 300 }), (ys, width) => {
        const xs = ys.map((_, i) => i);
        const got = decimate(xs, ys, 0, xs.length - 1, width);
        const want = reference(xs, ys, 0, xs.length - 1, width);
        expect(got.x).toEqual(want.x);
        expect(got.y).toEqual(want.y);
        expect(got.n).toBe(ys.length);
        expect(got.bc.reduce((a, b) => a + b, 0)).toBe(ys.length);
      }),
      { numRuns: 200 },
    );
  });

  it("keeps every column's extremes: each pixel column's min and max are drawn, at any zoom", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 50, maxLength: 5000 }),
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (ys, width, a, b) => {
          const xs = ys.map((_, i) => i * 0.5);
          const lo = Math.min(a, b) * xs[xs.length - 1]!;
          const hi = Math.max(a, b) * xs[xs.length - 1]!;
          const got = decimate(xs, ys, lo, hi, width);
          const raw = new Map<number, number[]>();
          xs.forEach((x, i) => x >= lo && x <= hi && raw.set(binOf(x, lo, hi, width), [...(raw.get(binOf(x, lo, hi, width)) ?? []), ys[i]!]));
          const drawn = new Map<number, number[]>();
          got.x.forEach((x, i) => drawn.set(binOf(x, lo, hi, width), [...(drawn.get(binOf(x, lo, hi, width)) ?? []), got.y[i]!]));
          for (const [col, vals] of raw) {
            expect(Math.max(...drawn.get(col)!)).toBe(Math.max(...vals));
            expect(Math.min(...drawn.get(col)!)).toBe(Math.min(...vals));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("keeps all 11 spikes of a 1M-point series in 1,000 columns where every-k-th sampling keeps almost none", () => {
    const n = 1_000_000;
    const xs = new Float64Array(n);
    const ys = new Float64Array(n);
    const spikes = [3, 91_234, 200_001, 333_333, 450_017, 500_000, 612_345, 777_777, 850_003, 912_211, 999_998];
    for (let i = 0; i < n; i++) {
      xs[i] = i;
      ys[i] = Math.exp(-i / 2e5) + 0.01 * Math.sin(i);
    }
    for (const s of spikes) ys[s] = 100;
    const t0 = performance.now();
    const d = decimate(xs, ys, 0, n - 1, 1000);
    const ms = performance.now() - t0;
    expect(d.x.length).toBeLessThanOrEqual(4000);
    const at = new Set(d.x.filter((_, i) => d.y[i] === 100));
    for (const s of spikes) expect(at.has(s), `spike at ${s}`).toBe(true);
    expect(d.y.filter((y) => y === 100)).toHaveLength(11);
    const kth = Array.from({ length: 500 }, (_, i) => ys[i * (n / 500)]!);
    expect(kth.filter((y) => y === 100).length).toBeLessThan(3);
    expect(ms).toBeLessThan(1000);
  });

  it("skips non-finite values and points outside the range; sorts a non-monotonic x", () => {
    const d = decimate([3, 1, 2, 9, 5], [1, NaN, 2, 4, Infinity], 0, 5, 10);
    expect(d.x).toEqual([2, 3]);
    expect(d.y).toEqual([2, 1]);
  });

  it("groupBins gives the mean and the min–max band over the runs of a group", () => {
    const g = groupBins(
      [
        { x: [0, 1, 2, 3], y: [1, 2, 3, 4] },
        { x: [0, 1, 2, 3], y: [3, 4, 5, 10] },
      ],
      0,
      3,
      2,
    );
    expect(g.x).toEqual([0.5, 2.5]);
    expect(g.mean).toEqual([2.5, 5.5]);
    expect(g.lo).toEqual([1, 3]);
    expect(g.hi).toEqual([4, 10]);
    expect(g.count).toEqual([4, 4]);
  });
});
