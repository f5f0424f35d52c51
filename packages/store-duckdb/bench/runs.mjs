// Reader.runs() on 1M rows of 100 runs — rows, first/last, and with { columns: "all" } per column
// last/min/max — next to the same GROUP BY in raw @duckdb/node-api, in one run.
// `node bench/runs.mjs [rows]` (default 1 000 000). Also run by bench/run.mjs.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { Reader, Tracker } from "@quiver/core";
import { listRuns } from "@quiver/core/store-kit";
import "../dist/index.js";

export async function runsBench(N = 1_000_000, RUNS = 100) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-duckdb-runs-"));
  const file = path.join(dir, "runs.db");
  try {
    const per = N / RUNS;
    for (let r = 0; r < RUNS; r++) {
      const t = await Tracker.open(`duckdb:${file}?mode=exclusive`, { params: { model: r % 2 ? "mlp" : "cnn", lr: 0.001 * (r + 1) }, flushInterval: 0 });
      await t.logBatch(Array.from({ length: per }, (_, i) => ({ epoch: i, loss: 1 / (i + 1) + r, acc: i / per })));
      await t.close();
    }
    const best = async (fn, n = 5) => {
      let b = Infinity;
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await fn();
        b = Math.min(b, performance.now() - t0);
      }
      return b;
    };
    const reader = await Reader.open(`duckdb:${file}`);
    let got;
    const plain = await best(async () => (got = await reader.runs()));
    if (got.length !== RUNS || got[0].rows !== per) throw new Error("wrong runs");
    const withCols = await best(async () => (got = await reader.runs({ columns: "all" })));
    if (got[1].columns.loss.min !== 1 / per + 1) throw new Error(`wrong summary ${got[1].columns.loss.min}`);
    // Before: core's scan of track_id and timestamp (what a store without the accelerator does).
    const scan = await best(async () => {
      const schema = await reader.store.schema("events");
      const { summarizeRuns } = await import("@quiver/core/store-kit");
      await summarizeRuns(
        reader.store.scan("events", { columns: ["track_id", "timestamp"] }),
        schema.fields.some((f) => f.name === "timestamp"),
      );
    }, 2);
    await reader.close();
    // A new Reader per call (the CLI's `ls`): open + runs + close.
    const opened = await best(async () => {
      const r = await Reader.open(`duckdb:${file}`);
      await r.runs();
      await r.close();
    });
    void listRuns;
    const inst = await DuckDBInstance.create(file, { access_mode: "READ_ONLY" });
    const conn = await inst.connect();
    const raw = await best(async () => {
      const r = await conn.runAndReadAll(`SELECT track_id, count(*), min("timestamp"), max("timestamp") FROM events GROUP BY track_id ORDER BY min(rowid)`);
      if (r.getRows().length !== RUNS) throw new Error("raw");
    });
    const rawCols = await best(async () => {
      await conn.runAndReadAll(
        `SELECT track_id, count(*), min("timestamp"), max("timestamp"), ${["epoch", "loss", "acc", "lr", "model"].map((c) => `arg_max(${c}, rowid), min(${c}), max(${c})`).join(", ")} FROM events GROUP BY track_id ORDER BY min(rowid)`,
      );
    });
    conn.closeSync();
    inst.closeSync();
    return { plain, withCols, scan, opened, raw, rawCols };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function main(N = 1_000_000) {
  const r = await runsBench(N);
  const line = (a, ours, b, theirs, target) =>
    console.log(
      `${a.padEnd(46)} ${ours.toFixed(1).padStart(7)} ms   ${b.padEnd(40)} ${theirs.toFixed(1).padStart(7)} ms   ${(theirs / ours).toFixed(2)}×${target ? `   ${ours <= target ? "ok" : "MISSED"} (≤ ${target} ms)` : ""}`,
    );
  console.log(`\n@quiver/store-duckdb run summaries (${N / 1e6}M rows, 100 runs; best of 5)`);
  line("Reader.runs()", r.plain, "raw GROUP BY (count, min/max ts)", r.raw, 50);
  line('Reader.runs({ columns: "all" })', r.withCols, "raw GROUP BY + arg_max/min/max ×5", r.rawCols);
  line("Reader.open + runs() + close", r.opened, "raw GROUP BY", r.raw);
  line("(before) core's scan of track_id, timestamp", r.scan, "raw GROUP BY", r.raw);
  return r.plain <= 50;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = (await main(Number(process.argv[2] ?? 1_000_000))) ? 0 : 1;
