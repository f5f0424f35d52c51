/**
 * Charts of many points: the SVG export decimated per pixel column (a 1M-point SVG stays small and
 * keeps a one-point spike), `plot hist COLUMN` (counts checked against numpy's histogram) and
 * `plot scatter X Y` (an occupancy grid past a few thousand points), through the built binary.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import "@quiver/store-duckdb";
import { Tracker } from "@quiver/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chartToSvg } from "../dist/index.js";
import { histogram, histogramText } from "../dist/histogram.js";
import { rowsToSeries, SeriesBuilder } from "../dist/plot.js";
import { CELL, EXACT_POINTS, scatterSvg, scatterText } from "../dist/scatter.js";
import { errorOf, jsonLines, ok, quiver, tempDir } from "./helpers.js";
import { countColour, decodePng } from "./png.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const BIG = `duckdb:${join(tmp.dir, "big.db")}`;
const SMALL = `duckdb:${join(tmp.dir, "small.db")}`;
const N = 1_000_000;
const SPIKE = 654_321;
const BLUE: [number, number, number] = [31, 119, 180];

/** A python3 with numpy (Debian's python3-h5py brings it; a pyenv shim may not have it). */
const python = [process.env.QUIVER_PYTHON, "python3", "/usr/bin/python3"].find((p) => p && spawnSync(p, ["-c", "import numpy"], { stdio: "ignore" }).status === 0);

/** A deterministic pseudo-random stream in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

beforeAll(async () => {
  // One run of 1M steps: a smooth curve with one spike of a single point.
  const t = await Tracker.open(BIG, { params: { model: "mlp" } });
  const rows = [];
  for (let i = 0; i < N; i++) rows.push({ step: i, loss: Math.sin(i / 20_000) + (i === SPIKE ? 40 : 0) });
  await t.logBatch(rows);
  await t.close();
  // Two models, 300 rows each: accuracy ~ lr with noise.
  const r = rng(7);
  for (const model of ["mlp", "cnn"]) {
    const s = await Tracker.open(SMALL, { params: { model } });
    await s.logBatch(Array.from({ length: 300 }, (_, i) => ({ epoch: i % 10, lr: r(), accuracy: model === "mlp" ? r() * 0.5 : 0.5 + r() * 0.5 })));
    await s.close();
  }
}, 120_000);

/** The polyline's points of an SVG line chart: [x, y] in pixels. */
function polyline(svg: string): [number, number][] {
  const m = /<polyline[^>]* points="([^"]+)"/.exec(svg)!;
  return m[1]!.split(" ").map((p) => p.split(",").map(Number) as [number, number]);
}

describe("SVG export of a line chart", () => {
  it("a 1M-point SVG is under 300 kB and keeps the one-point spike (first/min/max/last per pixel column)", () => {
    const out = join(tmp.dir, "loss.svg");
    expect(ok(["plot", BIG, "loss", "--x", "step", "--out", out])).toBe(`wrote ${out} (1 line, ${N} points)\n`);
    const bytes = statSync(out).size;
    expect(bytes).toBeLessThan(300_000);
    const svg = readFileSync(out, "utf8");
    const pts = polyline(svg);
    expect(pts.length).toBeLessThan(4 * 800);
    // The spike is the highest point (smallest y), alone: its neighbours in the line are back down.
    const top = pts.reduce((a, p, i) => (p[1] < pts[a]![1] ? i : a), 0);
    const second = Math.min(...pts.filter((_, i) => i !== top).map((p) => p[1]));
    expect(second - pts[top]![1]).toBeGreaterThan(200); // 40 above a curve of amplitude 1: far above the rest
    // ...at the spike's x: the plot area is 710 px wide from x = 70, over steps 0..N-1.
    expect(Math.abs(pts[top]![0] - (70 + (SPIKE / (N - 1)) * 710))).toBeLessThan(1.5);
  }, 60_000);

  it("keeps spikes of one point up, down and next to the end (in process, 1M points)", () => {
    const xs = Array.from({ length: N }, (_, i) => i);
    const ys = new Array<number>(N).fill(0);
    ys[1] = 5;
    ys[500_000] = -5;
    ys[N - 2] = 3;
    const pts = polyline(chartToSvg([{ name: "y", xs, ys }], {}));
    expect(pts.length).toBeLessThan(4 * 710);
    // y in pixels: 5 → the top of the plot area (16), −5 → its bottom (16 + 370), 3 → 16 + 0.2 × 370.
    const at = (y: number) => pts.filter((p) => Math.abs(p[1] - y) < 0.01).length;
    expect([at(16), at(386), at(90)]).toEqual([1, 1, 1]);
  });
});

describe("series from column batches", () => {
  it("SeriesBuilder gives the lines, names and order rowsToSeries gives over the same rows", () => {
    const r = rng(3);
    const runs = ["0f3c2a1e-aaaa-4000-8000-000000000001", "0f3c2a1e-bbbb-4000-8000-000000000002", null];
    const rows = Array.from({ length: 500 }, (_, i) => ({
      track_id: runs[Math.floor(r() * 3)]!,
      model: r() < 0.5 ? "mlp" : "cnn",
      when: new Date(1_700_000_000_000 + i * 1000),
      loss: r() < 0.05 ? null : r(),
      acc: r(),
    }));
    for (const spec of [
      { ys: ["loss"], x: "when", by: "model", run: "track_id" },
      { ys: ["loss", "acc"], run: "track_id" },
      { ys: ["acc"], by: "track_id", run: "track_id" },
    ]) {
      const b = new SeriesBuilder(spec);
      const cols = Object.fromEntries(b.columns.map((c) => [c, rows.map((row) => (row as Record<string, unknown>)[c])]));
      b.add({}, 0); // an empty batch changes nothing
      const half = (lo: number, hi: number) => Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, v.slice(lo, hi)]));
      b.add(half(0, 250), 250);
      b.add(half(250, 500), 250);
      expect(b.finish()).toEqual(rowsToSeries(rows, spec));
    }
  });
});

describe("plot hist COLUMN", () => {
  it("counts every value into equal bins; the counts are numpy.histogram's", () => {
    const rows = jsonLines(ok(["plot", "hist", SMALL, "accuracy", "--bins", "7", "--json"]));
    const summary = rows.pop()!.summary as Record<string, number>;
    expect(rows).toHaveLength(7);
    expect(rows.reduce((a, r) => a + (r.count as number), 0)).toBe(600);
    expect(summary).toMatchObject({ values: 600, skipped: 0, bins: 7 });
    expect(rows[0]!.from).toBe(summary.min);
    expect(rows[6]!.to).toBe(summary.max);
    if (!python) throw new Error("no python3 with numpy (Debian's python3-numpy)");
    const values = jsonLines(ok(["head", SMALL, "--limit", "600", "--json"])).map((r) => r.accuracy as number);
    const np = execFileSync(python, ["-c", "import sys, json, numpy as np\nv = json.load(sys.stdin)\nprint(json.dumps(np.histogram(v, bins=7)[0].tolist()))"], {
      input: JSON.stringify(values),
      encoding: "utf8",
    });
    expect(rows.map((r) => r.count)).toEqual(JSON.parse(np));
  });

  it("bins integers one per value by default, and draws bars with the counts in the terminal", () => {
    const text = ok(["plot", "hist", SMALL, "epoch"]);
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toBe("epoch histogram");
    expect(lines).toHaveLength(12); // title, 10 bins (epochs 0..9), summary
    expect(lines[1]).toMatch(/^-0\.5 … 0\.5 │█+ +60$/);
    expect(lines.at(-1)).toBe("600 values in 10 bins: min 0, mean 4.5, max 9");
  });

  it("a single outlier among a million values keeps a visible bar", () => {
    const v = new Float64Array(N);
    v[SPIKE] = 1000;
    const h = histogram(v, 10);
    expect(h.counts[9]).toBe(1);
    const last = histogramText(h, { columns: 80 }).split("\n")[9]!;
    expect(last).toMatch(/│▏ +1$/);
    expect(histogram([1, Number.NaN, Infinity, 2]).skipped).toBe(2);
  });

  it("writes SVG and PNG with --out", () => {
    const svg = join(tmp.dir, "hist.svg");
    expect(ok(["plot", "hist", BIG, "loss", "--out", svg])).toBe(`wrote ${svg} (21 bins, ${N} values)\n`);
    const doc = readFileSync(svg, "utf8");
    expect(doc).toContain(">loss histogram</text>");
    expect((doc.match(/<rect x=/g) ?? []).length).toBeGreaterThanOrEqual(2); // the curve's bins and the spike's bin
    expect(doc).toMatch(/<title>[^<]*: 1<\/title>/); // the spike's bin, one value, is drawn
    const png = join(tmp.dir, "hist.png");
    ok(["plot", "hist", SMALL, "accuracy", "--out", png, "--width", "400", "--height", "300"]);
    const img = decodePng(readFileSync(png));
    expect([img.width, img.height]).toEqual([400, 300]);
    expect(countColour(img, BLUE, 10)).toBeGreaterThan(2000);
  }, 60_000);

  it("refuses what it cannot count with coded errors", () => {
    const nope = quiver(["plot", "hist", SMALL, "nope"]);
    expect(errorOf(nope).code, nope.stderr).toBe("UNKNOWN_FIELD");
    expect(errorOf(quiver(["plot", "hist", SMALL, "model"]))).toEqual({ code: "NOT_FOUND", message: "nothing to count: model holds no numeric values in 600 rows" });
    expect(errorOf(quiver(["plot", "hist", SMALL, "accuracy", "--bins", "0"])).code).toBe("INVALID_VALUE");
    expect(errorOf(quiver(["plot", "hist", SMALL, "accuracy", "--out", "x.jpg"])).code).toBe("INVALID_VALUE");
    expect(quiver(["plot", "hist"]).code).toBe(2);
    expect(ok(["plot", "hist", "--help"])).toContain("Usage: quiver plot hist [URI] COLUMN");
  });
});

describe("plot scatter X Y", () => {
  it("draws points in the terminal, one colour per --by value", () => {
    const text = ok(["plot", "scatter", SMALL, "lr", "accuracy", "--by", "model"]);
    expect(text).toMatch(/[\u2801-\u28ff]/);
    expect(text).toContain("accuracy against lr by model");
    expect(text).toMatch(/⣿ mlp {3}⣿ cnn {3}600 points/);
    // cnn's accuracies are all ≥ 0.5, mlp's < 0.5: the top half of the plot holds dots.
    const rows = text.split("\n").filter((l) => /[│┤]/.test(l));
    expect(rows.slice(0, 5).some((l) => /[\u2801-\u28ff]/.test(l))).toBe(true);
  });

  it("SVG: every point as a circle when there are few", () => {
    const out = join(tmp.dir, "few.svg");
    expect(ok(["plot", "scatter", SMALL, "lr", "accuracy", "--by", "model", "--out", out])).toBe(`wrote ${out} (600 points in 2 groups)\n`);
    expect((readFileSync(out, "utf8").match(/<circle /g) ?? []).length).toBe(600);
  });

  it("SVG of 1M points: an occupancy grid under 300 kB that still shows a lone outlier", () => {
    const r = rng(11);
    const xs = Array.from({ length: N }, () => r());
    const ys = xs.map((x) => x + (r() - 0.5) * 0.1);
    xs.push(0.99);
    ys.push(-3); // one point far below the cloud
    const svg = scatterSvg([{ name: "cloud", xs, ys }], { title: "t" });
    expect(svg.length).toBeLessThan(300_000);
    expect(svg).not.toContain("<circle");
    // The outlier is alone in the bottom row of cells at the right: y = top + ph - CELL.
    const cells = [...svg.matchAll(/M([\d.]+) ([\d.]+)h/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    const lowest = Math.max(...cells.map((c) => c[1]));
    const bottom = cells.filter((c) => c[1] === lowest);
    expect(bottom).toHaveLength(1);
    expect(bottom[0]![0]).toBeGreaterThan(700);
    expect(EXACT_POINTS).toBeLessThan(N);
    expect(CELL).toBe(3);
    expect(scatterText([{ name: "cloud", xs, ys }], { width: 40, height: 10 })).toContain(`${N + 1} points`);
  });

  it("writes PNG, and refuses bad input with coded errors", () => {
    const png = join(tmp.dir, "scatter.png");
    ok(["plot", "scatter", BIG, "step", "loss", "--out", png]);
    const img = decodePng(readFileSync(png));
    expect(countColour(img, BLUE, 40)).toBeGreaterThan(500);
    expect(errorOf(quiver(["plot", "scatter", SMALL, "lr", "model"])).code).toBe("NOT_FOUND");
    expect(quiver(["plot", "scatter", SMALL, "lr"]).code).toBe(2);
    expect(ok(["plot", "scatter", "--help"])).toContain("Usage: quiver plot scatter [URI] X Y");
    expect(ok(["plot", "--help"])).toContain("quiver plot hist COLUMN");
  }, 60_000);
});
