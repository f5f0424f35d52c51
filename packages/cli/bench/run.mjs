// @quiver/cli benchmarks: what the command adds on top of the library it drives, measured in
// one run: a whole `quiver head` process against a plain node script doing the same read with
// Reader, the in-process command against Reader + JSON.stringify, and chart rendering.
import "@quiver/store-duckdb";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openStore, Reader, readRows, Tracker } from "@quiver/core";
import { measure, printComparisons } from "../../core/dist/bench.js"; // the workspace's bench helpers (not a public export)
import { histogram } from "../dist/histogram.js";
import { chartToPng, main, parseFilter, terminalChart } from "../dist/index.js";
import { rowsToSeries, SeriesBuilder, scanColumns } from "../dist/plot.js";
import { scatterSvg } from "../dist/scatter.js";

const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "quiver-cli-bench-"));
const uri = `duckdb:${join(dir, "runs.db")}`;
const ROWS = Number(process.env.QUIVER_BENCH_ROWS ?? 20_000);

try {
  const t = await Tracker.open(uri, { params: { model: "mlp", lr: 0.01 } });
  await t.logBatch(Array.from({ length: ROWS }, (_, i) => ({ epoch: i, loss: 1 / (i + 1), accuracy: i / ROWS })));
  await t.close();

  // 1. A whole process: `quiver head --json` vs `node script.mjs` that opens a Reader and prints.
  // (written next to this file so that it resolves @quiver/* from this package)
  const raw = fileURLToPath(new URL("./.raw-head.mjs", import.meta.url));
  writeFileSync(
    raw,
    `import "@quiver/store-duckdb";\nimport { Reader } from "@quiver/core";\nconst r = await Reader.open(${JSON.stringify(uri)});\nfor (const row of await r.toRows({ head: 5 })) console.log(JSON.stringify(row));\nawait r.close();\n`,
  );
  const procOurs = await measure(1, () => execFileSync(process.execPath, [BIN, "head", uri, "--json"]), { repeat: 3 });
  const procRaw = await measure(1, () => execFileSync(process.execPath, [raw]), { repeat: 3 });
  rmSync(raw);

  // 2. In process: the head command (parse, open, read, render JSON lines) vs Reader + JSON.stringify.
  const sink = { write() {} };
  const ctx = { out: sink, err: sink, color: false, columns: 80 };
  const N = 20;
  const inOurs = await measure(N, async () => {
    for (let i = 0; i < N; i++) await main(["head", uri, "--limit", "1000", "--json"], ctx);
  });
  const inRaw = await measure(N, async () => {
    for (let i = 0; i < N; i++) {
      const r = await Reader.open(uri);
      let _s = "";
      for (const row of await r.toRows({ head: 1000 })) _s += JSON.stringify(row) + "\n";
      await r.close();
    }
  });

  // 3. Whole-table scan into a people table: `tail` reads count + window.
  const tailOurs = await measure(N, async () => {
    for (let i = 0; i < N; i++) await main(["tail", uri, "--limit", "1000"], ctx);
  });
  const tailRaw = await measure(N, async () => {
    for (let i = 0; i < N; i++) {
      const r = await Reader.open(uri);
      await r.toRows({ tail: 1000 });
      await r.close();
    }
  });

  // 4. Charts and the filter language (information: no baseline library to compare with).
  const P = 100_000;
  const series = [{ name: "loss", xs: Array.from({ length: P }, (_, i) => i), ys: Array.from({ length: P }, (_, i) => Math.sin(i / 1000) + 1 / (i + 1)) }];
  const chart = await measure(P, () => terminalChart(series, { width: 80, height: 20 }));
  const png = await measure(P, () => chartToPng(series, {}));
  const F = 20_000;
  const filter = await measure(F, () => {
    for (let i = 0; i < F; i++) parseFilter("episode > 5 and (label in ('cat', 'dog') or score is null)");
  });

  // 5. A 1M-point chart written by a whole `quiver plot` process: time, file size and peak RSS,
  // SVG next to PNG (the path that always decimated). Issue 16 measured the SVG before it was
  // decimated: 11–14 MB, 3.6 s, 446 MB RSS.
  const M = 1_000_000;
  const big = `duckdb:${join(dir, "big.db")}`;
  const bt = await Tracker.open(big, { params: { model: "mlp" } });
  await bt.logBatch(Array.from({ length: M }, (_, i) => ({ step: i, loss: Math.sin(i / 20_000) + (i === 654_321 ? 40 : 0) })));
  await bt.close();
  const driver = fileURLToPath(new URL("./.plot-rss.mjs", import.meta.url));
  writeFileSync(
    driver,
    `import { main } from "../dist/index.js";\nconst t0 = performance.now();\nconst code = await main(process.argv.slice(2), { out: { write() {} }, err: { write: (s) => process.stderr.write(s) }, color: false, columns: 80 });\nconsole.log(JSON.stringify({ code, s: (performance.now() - t0) / 1000, rssMB: process.resourceUsage().maxRSS / 1024 }));\n`,
  );
  const plotProc = (out) => {
    let best;
    for (let k = 0; k < 2; k++) {
      const r = spawnSync(process.execPath, [driver, "plot", big, "loss", "--x", "step", "--out", out], { encoding: "utf8" });
      const m = JSON.parse(r.stdout.trim().split("\n").pop());
      if (m.code !== 0) throw new Error(r.stderr);
      if (!best || m.s < best.s) best = { ...m, kB: statSync(out).size / 1000 };
    }
    return best;
  };
  const svg = plotProc(join(dir, "big.svg"));
  const pngProc = plotProc(join(dir, "big.png"));
  rmSync(driver);

  // 5b. What plot does with the 1M rows before drawing: column batches into lines (now) vs row objects then lines (before).
  const bigStore = await openStore(big, { readOnly: true });
  const spec = { ys: ["loss"], x: "step", run: "track_id" };
  const cols = ["step", "loss", "track_id"];
  const seriesNow = await measure(
    M,
    async () => {
      const b = new SeriesBuilder(spec);
      await scanColumns(bigStore.scan("events", { columns: cols }), (c, n) => b.add(c, n));
      b.finish();
    },
    { repeat: 2 },
  );
  const seriesRows = await measure(M, async () => rowsToSeries(await readRows(bigStore, "events", { columns: cols }), spec), { repeat: 2 });
  await bigStore.close();

  // 6. Histogram of 1M values: our counting next to numpy.histogram (Debian's python3-numpy), each timing only the binning.
  const values = Float64Array.from({ length: M }, (_, i) => Math.sin(i) * Math.sqrt(i));
  const hist = await measure(M, () => histogram(values, 50));
  const py = ["/usr/bin/python3", "python3"].find((p) => spawnSync(p, ["-c", "import numpy"], { stdio: "ignore" }).status === 0);
  const npHist = py
    ? Number(
        execFileSync(py, [
          "-c",
          "import numpy as np, time\nv = np.sin(np.arange(1_000_000)) * np.sqrt(np.arange(1_000_000))\nbest = 1e9\nfor _ in range(4):\n    t = time.perf_counter(); np.histogram(v, bins=50); best = min(best, time.perf_counter() - t)\nprint(1_000_000 / best)",
        ]).toString(),
      )
    : NaN;
  // 7. Scatter of 1M points to SVG (occupancy grid): rate and size.
  const sx = Array.from({ length: M }, (_, i) => (i * 7919) % 1000);
  const sy = sx.map((x, i) => x + ((i * 104729) % 200));
  let scatterBytes = 0;
  const scatter = await measure(M, () => {
    scatterBytes = scatterSvg([{ name: "cloud", xs: sx, ys: sy }]).length;
  });

  printComparisons("@quiver/cli", [
    { case: "quiver head --json (new process)", unit: "runs/s", ours: procOurs, against: "node script with Reader", theirs: procRaw, target: 0.8 },
    { case: "quiver head --json (new process)", unit: "ms", ours: 1000 / procOurs, against: "target 250 ms (issue 16)", theirs: 250, target: 1, lowerIsBetter: true },
    { case: "head --limit 1000 --json (in process)", unit: "cmds/s", ours: inOurs, against: "Reader.toRows + JSON.stringify", theirs: inRaw, target: 0.7 },
    { case: "tail --limit 1000 table (in process)", unit: "cmds/s", ours: tailOurs, against: "Reader.toRows({ tail })", theirs: tailRaw, target: 0.5 },
    { case: "terminal chart, 100k points", unit: "points/s", ours: chart, against: "(information)", theirs: chart },
    { case: "PNG chart 800×450, 100k points", unit: "points/s", ours: png, against: "(information)", theirs: png },
    { case: "parseFilter, 4 conditions", unit: "filters/s", ours: filter, against: "(information)", theirs: filter },
    { case: "plot --out .svg, 1M points (process)", unit: "s", ours: svg.s, against: "the same plot --out .png", theirs: pngProc.s, lowerIsBetter: true, target: 0.8 },
    { case: "plot --out .svg, 1M points: file", unit: "kB", ours: svg.kB, against: "issue 16's ceiling", theirs: 300, lowerIsBetter: true, target: 1 },
    { case: "plot --out .svg, 1M points: peak RSS", unit: "MB", ours: svg.rssMB, against: "the same plot --out .png", theirs: pngProc.rssMB, lowerIsBetter: true, target: 0.8 },
    { case: "plot's 1M rows → lines (column batches)", unit: "rows/s", ours: seriesNow, against: "readRows + rowsToSeries (before)", theirs: seriesRows, target: 1 },
    { case: "histogram of 1M values, 50 bins", unit: "values/s", ours: hist, against: "numpy.histogram", theirs: npHist, target: 0.3 },
    { case: `scatter SVG, 1M points (${(scatterBytes / 1000).toFixed(0)} kB)`, unit: "points/s", ours: scatter, against: "(information)", theirs: scatter },
  ]);
  console.log(
    `\n1M-point SVG: ${svg.kB.toFixed(1)} kB, ${svg.s.toFixed(2)} s, ${svg.rssMB.toFixed(0)} MB peak RSS (PNG: ${pngProc.kB.toFixed(1)} kB, ${pngProc.s.toFixed(2)} s, ${pngProc.rssMB.toFixed(0)} MB); before the SVG was decimated (issue 16): 11–14 MB, 3.6 s, 446 MB`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
