// @quiver/cli benchmarks: what the command adds on top of the library it drives, measured in
// one run: a whole `quiver head` process against a plain node script doing the same read with
// Reader, the in-process command against Reader + JSON.stringify, and chart rendering.
import "@quiver/store-duckdb";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Reader, Tracker } from "@quiver/core";
import { measure, printComparisons } from "../../core/dist/bench.js"; // the workspace's bench helpers (not a public export)
import { chartToPng, main, parseFilter, terminalChart } from "../dist/index.js";

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

  printComparisons("@quiver/cli", [
    { case: "quiver head --json (new process)", unit: "runs/s", ours: procOurs, against: "node script with Reader", theirs: procRaw, target: 0.8 },
    { case: "head --limit 1000 --json (in process)", unit: "cmds/s", ours: inOurs, against: "Reader.toRows + JSON.stringify", theirs: inRaw, target: 0.7 },
    { case: "tail --limit 1000 table (in process)", unit: "cmds/s", ours: tailOurs, against: "Reader.toRows({ tail })", theirs: tailRaw, target: 0.5 },
    { case: "terminal chart, 100k points", unit: "points/s", ours: chart, against: "(information)", theirs: chart },
    { case: "PNG chart 800×450, 100k points", unit: "points/s", ours: png, against: "(information)", theirs: png },
    { case: "parseFilter, 4 conditions", unit: "filters/s", ours: filter, against: "(information)", theirs: filter },
  ]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
