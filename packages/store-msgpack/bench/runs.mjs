// Reader.runs() on 1M rows of 100 runs, from the run summary appends keep (.quiver-runs.json),
// next to core's scan of the same table (what runs() cost before) and to the same GROUP BY in
// raw DuckDB over the same rows, in one run. `node bench/runs.mjs [rows]`. Also run by bench/run.mjs.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { Reader, Tracker } from "@quiver/core";
import { summarizeRuns } from "@quiver/core/store-kit";
import "../dist/index.js";

/** Raw DuckDB for the peer's GROUP BY (a dependency of store-duckdb, resolved from there). */
const duckdb = createRequire(new URL("../../store-duckdb/package.json", import.meta.url))("@duckdb/node-api");

export async function runsBench(N = 1_000_000, RUNS = 100) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-msgpack-runs-"));
  try {
    const per = N / RUNS;
    const rows = (r) => Array.from({ length: per }, (_, i) => ({ epoch: i, loss: 1 / (i + 1) + r, acc: i / per }));
    for (let r = 0; r < RUNS; r++) {
      const t = await Tracker.open(`msgpack:${dir}`, { params: { model: r % 2 ? "mlp" : "cnn", lr: 0.001 * (r + 1) }, flushInterval: 0 });
      await t.logBatch(rows(r));
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
    const reader = await Reader.open(`msgpack:${dir}`);
    let got;
    const plain = await best(async () => (got = await reader.runs()));
    if (got.length !== RUNS || got[0].rows !== per) throw new Error("wrong runs");
    const withCols = await best(async () => (got = await reader.runs({ columns: "all" })));
    if (got[1].columns.loss.min !== 1 / per + 1) throw new Error("wrong summary");
    const scan = await best(() => summarizeRuns(reader.store.scan("events", { columns: ["track_id", "timestamp"] }), true), 2);
    await reader.close();
    const opened = await best(async () => {
      const r = await Reader.open(`msgpack:${dir}`);
      await r.runs();
      await r.close();
    });
    // The peer: the same GROUP BY in raw DuckDB over a table of the same rows.
    const inst = await duckdb.DuckDBInstance.create(":memory:");
    const conn = await inst.connect();
    await conn.run(
      `CREATE TABLE events AS SELECT (i % ${per})::BIGINT AS epoch, 1.0 / (i % ${per} + 1) AS loss, (i % ${per}) / ${per} AS acc, 'run-' || (i // ${per}) AS track_id, now()::TIMESTAMP AS "timestamp" FROM range(${N}) t(i)`,
    );
    const raw = await best(() => conn.runAndReadAll(`SELECT track_id, count(*), min("timestamp"), max("timestamp") FROM events GROUP BY track_id ORDER BY min(rowid)`));
    conn.closeSync();
    inst.closeSync();
    return { plain, withCols, scan, opened, raw };
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
  console.log(`\n@quiver/store-msgpack run summaries (${N / 1e6}M rows, 100 runs; best of 5)`);
  line("Reader.runs()", r.plain, "raw DuckDB GROUP BY (in memory)", r.raw, 150);
  line('Reader.runs({ columns: "all" })', r.withCols, "raw DuckDB GROUP BY (in memory)", r.raw);
  line("Reader.open + runs() + close", r.opened, "raw DuckDB GROUP BY (in memory)", r.raw);
  line("(before) core's scan of track_id, timestamp", r.scan, "raw DuckDB GROUP BY (in memory)", r.raw);
  return r.plain <= 150;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = (await main(Number(process.argv[2] ?? 1_000_000))) ? 0 : 1;
