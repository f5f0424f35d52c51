// Logs three runs (one with loss spikes, one still training) into a DuckDB file, then serves the
// dashboard on 127.0.0.1 and writes a self-contained report next to it.
//   node examples/dashboard.mjs [DIR] [--once]     (--once: write the report and stop)
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Tracker } from "@quiver/core";
import "@quiver/store-duckdb"; // registers duckdb:
import { exportReport, startServer } from "@quiver/ui";

const dir = process.argv[2] && !process.argv[2].startsWith("--") ? process.argv[2] : ".quiver-ui-demo";
mkdirSync(dir, { recursive: true });
const file = join(dir, `runs-${Date.now()}.db`);

for (const lr of [0.1, 0.03]) {
  const t = await Tracker.open(`duckdb:${file}`, { params: { lr, model: "mlp" } });
  const rows = [];
  for (let step = 0; step < 100_000; step++) {
    const loss = Math.exp(-step / 20_000) * (1 + lr) + 0.02 * Math.random();
    rows.push({ step, loss: step % 33_333 === 7 ? 25 : loss, accuracy: 1 - loss / 2 }); // a few spikes
  }
  await t.logBatch(rows);
  await t.close();
}

const report = await exportReport(`duckdb:${file}`, join(dir, "report.html"));
console.log(`report: ${report.file} (${(report.bytes / 1024).toFixed(0)} KB) — opens from disk, no server`);
if (process.argv.includes("--once")) process.exit(0);

const server = await startServer({ store: `duckdb:${file}`, port: 0 });
console.log(`dashboard: ${server.url}  (Ctrl+C to stop; a third run is logging live)`);
const live = await Tracker.open(`duckdb:${file}`, { params: { lr: 0.01, model: "live" } });
let step = 0;
const timer = setInterval(() => {
  for (let i = 0; i < 50; i++, step++) live.log({ step, loss: 1 / (1 + step / 100), accuracy: step / (step + 500) });
}, 200);
process.once("SIGINT", async () => {
  clearInterval(timer);
  await live.close();
  await server.close();
  process.exit(0);
});
