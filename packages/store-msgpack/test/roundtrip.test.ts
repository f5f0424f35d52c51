import { afterAll, describe, expect, it } from "vitest";
import { batchToRows, readRows, rowsToBatch } from "@quiver/core";
import { openMsgpackStore } from "../dist/index.js";
import { cleanup, tmpRoot } from "./helpers.js";

afterAll(cleanup);

/** Deterministic PRNG (mulberry32) so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPECIAL = [0, -0, NaN, Infinity, -Infinity, Number.MIN_VALUE, -Number.MIN_VALUE, Number.MAX_VALUE, 2 ** 53, 2 ** 64, 1e19, 1.23e100, 0.1, -2.5e-308, 1 / 3];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function float(r: () => number): number {
  return r() < 0.4 ? pick(r, SPECIAL) : (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20);
}

const GEN: Record<string, (r: () => number) => unknown> = {
  f: float,
  int: (r) => Math.floor((r() - 0.5) * 2 ** Math.floor(r() * 54)),
  big: (r) => pick(r, [2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n, -(2n ** 60n) - 7n, 0n, 123n]),
  ok: (r) => r() < 0.5,
  s: (r) => pick(r, ["", "a", "héllo ✓ 🚀", "\u0000x", "x".repeat(300), String(r())]),
  when: (r) => new Date(Math.floor((r() - 0.3) * 2 * 10 ** 13)),
  bin: (r) => Uint8Array.from({ length: pick(r, [0, 1, 10, 300]) }, () => Math.floor(r() * 256)),
  list: (r) => Array.from({ length: Math.floor(r() * 5) }, () => (r() < 0.15 ? null : float(r))),
  f32: (r) => Float32Array.from({ length: Math.floor(r() * 4) }, () => Math.fround(float(r))),
  i16: (r) => Int16Array.from({ length: Math.floor(r() * 4) }, () => Math.floor((r() - 0.5) * 65535)),
  u64: (r) => BigUint64Array.from({ length: Math.floor(r() * 3) }, () => pick(r, [0n, 2n ** 64n - 1n, 2n ** 63n, 5n])),
  f64: (r) => Float64Array.from({ length: Math.floor(r() * 4) }, () => float(r)),
  img: (r) => ({ data: Uint8Array.from({ length: 6 }, () => Math.floor(r() * 256)), shape: [2, 3] }),
};

function same(a: unknown, b: unknown): boolean {
  if (typeof a === "number" || typeof b === "number") return Object.is(a, b);
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && Object.is(a.getTime(), b.getTime());
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.constructor !== b.constructor) return false;
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    return x.length === y.length && Array.from(x).every((v, i) => same(v, y[i]));
  }
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((v, i) => same(v, b[i]));
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] != null);
    const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] != null);
    return ka.length === kb.length && ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return a === b || (a == null && b == null);
}

describe("values round-trip exactly (seeded fuzz, both layouts, reopened)", () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}`, async () => {
      const r = rng(seed);
      const root = tmpRoot("fuzz");
      const store = openMsgpackStore(root, { blockRows: 7 });
      const expected: Record<string, unknown>[] = [];
      for (let b = 0; b < 6; b++) {
        const rows = Array.from({ length: 1 + Math.floor(r() * 30) }, (_, i) => {
          const row: Record<string, unknown> = { _ts: b * 100 + i + 0.5 };
          for (const [k, g] of Object.entries(GEN)) if (r() < 0.85) row[k] = g(r);
          return row;
        });
        // The first batch fixes the types: float columns start with a fraction, as a logger would see.
        if (b === 0) Object.assign(rows[0]!, { f: 0.5, list: [0.5], f64: new Float64Array([0.5]) });
        const batch = rowsToBatch(rows, { schema: await store.schema("t") });
        await store.append("t", batch, { layout: r() < 0.5 ? "rows" : "columns" });
        expected.push(...batchToRows(batch));
      }
      const check = (got: Record<string, unknown>[]) => {
        expect(got).toHaveLength(expected.length);
        got.forEach((g, i) => {
          for (const k of new Set([...Object.keys(g), ...Object.keys(expected[i]!)])) {
            if (!same(g[k] ?? null, expected[i]![k] ?? null)) expect({ seed, row: i, column: k, got: g[k] }).toEqual({ seed, row: i, column: k, got: expected[i]![k] });
          }
        });
      };
      check(await readRows(store, "t"));
      await store.close();
      const again = openMsgpackStore(root, { readOnly: true });
      check(await readRows(again, "t"));
      check(await readRows(again, "t", { orderBy: [{ column: "_ts" }] }));
      await again.close();
    });
  }
});

describe("the write buffer", () => {
  it("a batch that grows it past 16 MiB, then more batches: every value after it is exact", async () => {
    const root = tmpRoot("big");
    const store = openMsgpackStore(root);
    const n = 1_200_000; // one columnar record of ~21 MiB
    await store.append("t", rowsToBatch(Array.from({ length: n }, (_, i) => ({ _ts: i + 0.5, v: i * 0.25 }))), { layout: "columns" });
    await store.append(
      "t",
      rowsToBatch([
        { _ts: 0.125, v: 3.75 },
        { _ts: 0.375, v: 1.5 },
      ]),
    );
    await store.append("t", rowsToBatch([{ _ts: 0.625, v: -2.5 }]), { layout: "columns" });
    expect(await readRows(store, "t", { offset: n })).toEqual([
      { _ts: 0.125, v: 3.75 },
      { _ts: 0.375, v: 1.5 },
      { _ts: 0.625, v: -2.5 },
    ]);
    await store.close();
  }, 60_000);
});
