/**
 * readByTime and runs answer from indexes and one aggregate query, and give exactly what core's
 * general path gives (the memory: store, which has no accelerator): random windows over floats
 * (NaN and -0 included), timestamps and ints, after updates and deletes too.
 */
import { batchToRows, field, openStore, type Row, rowsToBatch, type Store, type TimeRange } from "@quiver/core";
import { plain } from "@quiver/core/testing";
import { describe, expect, it } from "vitest";
import "../dist/index.js";
import { tmpDb } from "./helpers.js";

async function all(it: AsyncIterable<import("apache-arrow").RecordBatch>): Promise<Row[]> {
  const out: Row[] = [];
  for await (const b of it) out.push(...batchToRows(b));
  return out;
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

const T0 = Date.UTC(2024, 0, 1);

function data(n: number, r: () => number): Row[] {
  return Array.from({ length: n }, (_, i) => {
    const x = r();
    return {
      i,
      _ts: Math.floor(x * 50) / 4, // ties on purpose
      f: x < 0.05 ? NaN : x < 0.1 ? -0 : x < 0.15 ? null : Math.round(x * 20) - 10,
      at: new Date(T0 + Math.floor(r() * 40) * 1000),
      track_id: `run-${Math.floor(r() * 4)}`,
      timestamp: new Date(T0 + i * 10),
    };
  });
}

describe("sqlite: accelerators give what the general path gives", () => {
  it("readByTime over _ts, a float column with NaN/-0/null, a timestamp column: random windows, before and after rewrites", async () => {
    const r = rng(7);
    const rows = data(3000, r);
    const lite = await openStore(`sqlite:${tmpDb()}`);
    const mem = await openStore("memory:");
    try {
      for (const s of [lite, mem]) for (let k = 0; k < rows.length; k += 700) await s.append("t", rowsToBatch(rows.slice(k, k + 700)));
      const check = async (label: string) => {
        for (let q = 0; q < 60; q++) {
          const column = ["_ts", "f", "at"][q % 3]!;
          const num = (x: number) => (column === "at" ? new Date(T0 + Math.floor(x * 40) * 1000) : column === "f" ? Math.round(x * 20) - 10 : Math.floor(x * 50) / 4);
          const range: TimeRange = { column };
          if (r() < 0.8) range.start = num(r());
          if (r() < 0.8) range.end = num(r());
          if (r() < 0.5) range.reverse = true;
          if (r() < 0.3) range.offset = Math.floor(r() * 50);
          if (r() < 0.5) range.limit = Math.floor(r() * 300);
          if (r() < 0.4) range.columns = ["i", column];
          if (r() < 0.5) range.rowIndex = "idx";
          const got = plain(await all(lite.readByTime!("t", range)));
          const want = plain(await all(mem.readByTime!("t", range)));
          expect(got, `${label}: ${JSON.stringify(range)}`).toEqual(want);
        }
      };
      await check("as appended");
      for (const s of [lite, mem]) {
        await s.delete("t", field("i").lt(500).node);
        await s.update("t", field("i").gt(2500).node, { _ts: 3.25, f: 1.5 });
      }
      await check("after delete + update");
      // The window is served by the (column, position) index, not a scan.
      const plan = await lite.sql!(`EXPLAIN QUERY PLAN SELECT i FROM t WHERE _ts >= ? AND _ts < ? ORDER BY _ts, _quiver_pos LIMIT 10`, [1, 2]);
      expect(String(plan.getChild("detail")!.toArray().join("\n"))).toMatch(/USING (COVERING )?INDEX _quiver_idx_t__ts/);
    } finally {
      await lite.close();
      await mem.close();
    }
  });

  it("runs: one GROUP BY, the same summaries as a scan (order of first appearance, first/last, rows, column last/min/max)", async () => {
    const rows = data(2000, rng(3));
    const lite = await openStore(`sqlite:${tmpDb()}`);
    const mem = await openStore("memory:");
    try {
      for (const s of [lite, mem]) {
        await s.append("events", rowsToBatch(rows));
        await s.append("events", rowsToBatch([{ i: -1, track_id: "late", timestamp: null }]));
        await s.delete("events", field("track_id").eq("run-2").node);
      }
      expect(await lite.runs!("events")).toEqual(await mem.runs!("events"));
      // Per-column last/min/max too (NaN, -0, null among the floats).
      expect(plain(await lite.runs!("events", { columns: "all" }))).toEqual(plain(await mem.runs!("events", { columns: "all" })));
      expect((await lite.runs!("events")).map((x) => x.track_id)).toContain("late");
    } finally {
      await lite.close();
      await mem.close();
    }
  });

  it("count and scan push random queries down to SQL and match core's evaluator (NaN, -0, null, times, strings)", async () => {
    const r = rng(11);
    const rows = data(1500, r).map((x, k) => ({ ...x, ok: k % 3 === 0 ? null : k % 2 === 0, s: k % 5 === 0 ? null : `s${k % 7}` }));
    const lite = await openStore(`sqlite:${tmpDb()}`);
    const mem = await openStore("memory:");
    const leaf = (): import("@quiver/core").Query => {
      const k = Math.floor(r() * 9);
      const ops = ["eq", "ne", "gt", "ge", "lt", "le"] as const;
      const op = ops[Math.floor(r() * ops.length)]!;
      if (k === 0) return field("f")[op](Math.round(r() * 20) - 10);
      if (k === 1) return field("f")[op](-0);
      if (k === 2) return field("at")[op](new Date(T0 + Math.floor(r() * 40) * 1000));
      if (k === 3) return field("i")[op](Math.floor(r() * 1500));
      if (k === 4) return field("s")[r() < 0.5 ? "eq" : "ne"](`s${Math.floor(r() * 7)}`);
      if (k === 5) return field("ok").eq(r() < 0.5);
      if (k === 6) return field("track_id").in(["run-1", "run-3"]);
      if (k === 7) return r() < 0.5 ? field("f").isNull() : field("s").isNotNull();
      return field("s").in([]);
    };
    const tree = (d: number): import("@quiver/core").Query => {
      if (d === 0 || r() < 0.3) return leaf();
      const x = r();
      if (x < 0.2) return tree(d - 1).not();
      return x < 0.6 ? tree(d - 1).and(tree(d - 1)) : tree(d - 1).or(tree(d - 1));
    };
    try {
      for (const s of [lite, mem]) await s.append("q", rowsToBatch(rows));
      for (let k = 0; k < 150; k++) {
        const q = tree(3).node;
        expect(await lite.count("q", q), JSON.stringify(q)).toBe(await mem.count("q", q));
        if (k % 5 === 0) {
          const opts = { where: q, columns: ["i", "f"], offset: Math.floor(r() * 20), limit: Math.floor(r() * 100) };
          expect(plain(await all(lite.scan("q", opts))), JSON.stringify(q)).toEqual(plain(await all(mem.scan("q", opts))));
        }
      }
    } finally {
      await lite.close();
      await mem.close();
    }
  });

  it("counts without reading rows, and positions stay the dense insertion index after deletes", async () => {
    const s: Store = await openStore(`sqlite:${tmpDb()}`);
    try {
      await s.append("p", rowsToBatch(Array.from({ length: 100 }, (_, i) => ({ i }))));
      await s.delete("p", field("i").lt(50).node);
      expect(await s.count("p")).toBe(50);
      const t = await s.sql!(`SELECT min(_quiver_pos) AS lo, max(_quiver_pos) AS hi, min(i) AS first FROM p`);
      expect(Object.values(t.get(0)!.toJSON()).map(Number)).toEqual([0, 49, 50]);
      await s.append("p", rowsToBatch([{ i: 100 }]));
      const last = await s.sql!(`SELECT _quiver_pos AS pos FROM p WHERE i = 100`);
      expect(Number(last.get(0)!.toJSON().pos)).toBe(50);
    } finally {
      await s.close();
    }
  });
});
