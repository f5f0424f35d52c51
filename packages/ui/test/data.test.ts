import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { copy, openStore, Session, type Store } from "@quiver/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunsData } from "../dist/index.js";
import { makeRuns, tempDir } from "./helpers.js";

const tmp = tempDir();
const file = join(tmp.dir, "runs.db");
let duck: Store;
let mem: Store;
let ids: string[];

function snapshot(dir: string): string {
  return readdirSync(dir)
    .sort()
    .map((f) => {
      const s = statSync(join(dir, f));
      return `${f}:${s.size}:${s.mtimeMs}`;
    })
    .join("|");
}

beforeAll(async () => {
  ids = await makeRuns(file, [
    { lr: 0.1, points: 20_000, spikes: [7_777, 15_001], model: "a" },
    { lr: 0.01, points: 3_000, model: "a" },
    { lr: 0.03, points: 500, model: "b" },
  ]);
  duck = await openStore(`duckdb:${file}`, { readOnly: true });
  mem = await openStore("memory:");
  await copy({ source: duck, target: mem });
});

afterAll(async () => {
  await duck?.close();
  await mem?.close();
  tmp.cleanup();
});

describe("RunsData: DuckDB SQL and the generic scan path agree", () => {
  it("uses SQL on DuckDB and scans elsewhere", () => {
    expect(new RunsData(duck).engine).toBe("sql");
    expect(new RunsData(mem).engine).toBe("scan");
  });

  it("summarises runs the same way: params, metrics' last/min/max, rows, start", async () => {
    const [a, b] = await Promise.all([new RunsData(duck).page({ table: "events", limit: 10 }), new RunsData(mem).page({ table: "events", limit: 10 })]);
    expect(a.ids).toEqual(ids);
    expect(b.ids).toEqual(ids);
    expect(a.columns).toEqual(b.columns);
    expect(a.rows).toEqual(b.rows);
    const key = (k: string) => a.columns.findIndex((c) => c.key === k);
    expect(a.rows.map((r) => r[key("lr")])).toEqual([0.1, 0.01, 0.03]);
    expect(a.rows.map((r) => r[key("rows")])).toEqual([20_000, 3_000, 500]);
    expect(a.rows[0]![key("loss:max")]).toBe(50);
    expect(a.rows[0]![key("step")]).toBe(19_999); // last
    const meta = await new RunsData(duck).meta();
    expect(Object.fromEntries(meta.columns.map((c) => [c.name, c.role]))).toEqual({ lr: "param", model: "param", step: "axis", loss: "metric", acc: "metric" });
  });

  it("filters with the CLI's language (metrics by last value, name:min/max) and sorts, nulls last", async () => {
    const d = new RunsData(duck);
    expect((await d.page({ table: "events", filter: "lr > 0.02" })).ids).toEqual([ids[0], ids[2]]);
    expect((await d.page({ table: "events", filter: "loss:max >= 50 or model = 'b'" })).ids).toEqual([ids[0], ids[2]]);
    expect((await d.page({ table: "events", sort: "lr" })).ids).toEqual([ids[1], ids[2], ids[0]]);
    expect((await d.page({ table: "events", sort: "rows", desc: true, limit: 1 })).ids).toEqual([ids[0]]);
    await expect(d.page({ table: "events", filter: "nope > 1" })).rejects.toMatchObject({ code: "UNKNOWN_FIELD" });
    await expect(d.page({ table: "events", filter: "lr >" })).rejects.toMatchObject({ code: "INVALID_QUERY" });
  });

  it("decimates the same points in SQL as in JS, spikes included", async () => {
    for (const width of [100, 1000, 300]) {
      const req = { table: "events", runs: ids, y: "loss", x: "step", width };
      const [a, b] = await Promise.all([new RunsData(duck).series(req), new RunsData(mem).series(req)]);
      expect(a.x0).toBe(0);
      expect(a.x1).toBe(19_999);
      expect(a.series.map((s) => s.key)).toEqual(ids);
      for (let i = 0; i < ids.length; i++) {
        expect(a.series[i]!.x).toEqual(b.series[i]!.x);
        expect(a.series[i]!.y).toEqual(b.series[i]!.y);
        expect(a.series[i]!.bc).toEqual(b.series[i]!.bc);
        expect(a.series[i]!.n).toBe(b.series[i]!.n);
      }
      const spikes = a.series[0]!.x.filter((_, i) => a.series[0]!.y[i] === 50);
      expect(spikes).toEqual([7_777, 15_001]);
      expect(a.series[0]!.x.length).toBeLessThanOrEqual(4 * width);
    }
    // Zoomed: the range is cut at the new resolution.
    const z = await new RunsData(duck).series({ table: "events", runs: [ids[0]!], y: "loss", x: "step", x0: 7_000, x1: 8_000, width: 2000 });
    expect(z.series[0]!.n).toBe(1001);
    expect(z.series[0]!.x.length).toBe(1001); // few points: all of them
    expect(z.series[0]!.y[777]).toBe(50);
  });

  it("serves zooms from the raw columns it read once, with the same points as SQL", async () => {
    const d = new RunsData(duck);
    const req = { table: "events", runs: [ids[0]!, ids[1]!], y: "loss", x: "step", width: 400 };
    const first = await d.series(req);
    expect(d.served).toEqual({ sql: 1, cache: 0, scan: 0 });
    const zoom = { ...req, x0: 5_000, x1: 16_000 };
    const viaSql = await new RunsData(duck).series(zoom);
    for (let k = 0; k < 100 && d.served.cache === 0; k++) {
      await new Promise((r) => setTimeout(r, 50));
      await d.series(req);
    }
    expect(d.served.cache).toBeGreaterThan(0);
    const again = await d.series(req);
    expect(again.series.map((s) => [s.x, s.y, s.bc])).toEqual(first.series.map((s) => [s.x, s.y, s.bc]));
    const viaCache = await d.series(zoom);
    expect(viaCache.series.map((s) => [s.x, s.y, s.bc, s.n])).toEqual(viaSql.series.map((s) => [s.x, s.y, s.bc, s.n]));
    expect(viaCache.series[0]!.x.filter((_, i) => viaCache.series[0]!.y[i] === 50)).toEqual([7_777, 15_001]);
  });

  it("relative time, a numeric column as x, and groups agree too", async () => {
    const rel = { table: "events", runs: ids, y: "acc", x: "relative", width: 200 };
    const [a, b] = await Promise.all([new RunsData(duck).series(rel), new RunsData(mem).series(rel)]);
    expect(a.series[0]!.x[0]).toBeCloseTo(0, 2);
    expect(a.series.map((s) => s.n)).toEqual(b.series.map((s) => s.n));
    const g = { table: "events", runs: ids, y: "loss", x: "step", width: 50, group: "model" };
    const [ga, gb] = await Promise.all([new RunsData(duck).series(g), new RunsData(mem).series(g)]);
    expect(ga.series.map((s) => [s.key, s.runs])).toEqual([
      ["a", 2],
      ["b", 1],
    ]);
    expect(gb.series.map((s) => [s.key, s.runs])).toEqual([
      ["a", 2],
      ["b", 1],
    ]);
    for (let i = 0; i < 2; i++) {
      expect(ga.series[i]!.hi).toEqual(gb.series[i]!.hi);
      expect(ga.series[i]!.lo).toEqual(gb.series[i]!.lo);
      ga.series[i]!.y.forEach((v, j) => expect(v).toBeCloseTo(gb.series[i]!.y[j]!, 9));
    }
    expect(Math.max(...ga.series[0]!.hi!)).toBe(50);
    const byAcc = await new RunsData(duck).series({ table: "events", runs: [ids[2]!], y: "loss", x: "acc", width: 100 });
    expect(byAcc.series[0]!.n).toBe(500);
  });

  it("charts system metrics of tracks (SystemSampler.recordTo) against their _ts", async () => {
    const store = await openStore("memory:");
    await using session = await Session.open({ prefix: "train/run-1", store });
    const t0 = 1_700_000_000;
    await session.track("system").appendBatch(Array.from({ length: 30 }, (_, i) => ({ _ts: t0 + i, cpu: 10 + (i % 5), memory_percent: 40 + i / 10 })));
    const d = new RunsData(store);
    const meta = await d.meta("train/run-1/tracks/system");
    expect(meta.hasRuns).toBe(false);
    expect(meta.columns.filter((c) => c.role === "system").map((c) => c.name)).toEqual(["cpu", "memory_percent"]);
    expect(meta.xColumns).toContain("_ts");
    const res = await d.series({ table: "train/run-1/tracks/system", runs: [""], y: "cpu", x: "_ts", width: 100 });
    expect(res.series[0]!.x[0]).toBe(t0);
    expect(res.series[0]!.n).toBe(30);
    expect(Math.max(...res.series[0]!.y)).toBe(14);
  });

  it("refuses unknown columns with what to do", async () => {
    const d = new RunsData(duck);
    await expect(d.series({ table: "events", runs: ids, y: "nope", x: "step", width: 10 })).rejects.toMatchObject({ code: "UNKNOWN_FIELD" });
    await expect(d.series({ table: "events", runs: ids, y: "loss", x: "nope", width: 10 })).rejects.toMatchObject({ code: "UNKNOWN_FIELD" });
    await expect(d.page({ table: "missing" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("never writes to the store: the DuckDB folder is byte-for-byte the same after reading", async () => {
    await duck.close();
    const before = snapshot(tmp.dir);
    duck = await openStore(`duckdb:${file}`, { readOnly: true });
    const d = new RunsData(duck);
    await d.meta();
    await d.page({ table: "events", filter: "lr > 0", sort: "loss" });
    await d.series({ table: "events", runs: ids, y: "loss", x: "wall", width: 500 });
    await duck.close();
    expect(snapshot(tmp.dir).replace(/runs\.db\.quiver-wait:\d+:[\d.]+\|?/, "")).toBe(before.replace(/runs\.db\.quiver-wait:\d+:[\d.]+\|?/, ""));
    duck = await openStore(`duckdb:${file}`, { readOnly: true });
  });
});
