// @quiver/core benchmarks: the Arrow interchange against apache-arrow's own converters, and
// the memory store's log rate, measured in one run.
import { tableFromJSON } from "apache-arrow";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { batchToRows, MemoryStore, rowsToBatch, Tracker } from "../dist/index.js";
import { measure, printComparisons } from "../dist/bench.js";

const N = Number(process.env.QUIVER_BENCH_ROWS ?? 1_000_000);
const rows = Array.from({ length: N }, (_, i) => ({ step: i, loss: 1 / (i + 1), acc: i / N, lr: 0.001, tag: "run-a" }));

const toOurs = await measure(N, () => rowsToBatch(rows), { repeat: 2 });
const toTheirs = await measure(N, () => tableFromJSON(rows), { repeat: 2 });
const batch = rowsToBatch(rows);
const table = tableFromJSON(rows);
const backOurs = await measure(N, () => batchToRows(batch), { repeat: 2 });
const backTheirs = await measure(N, () => table.toArray().map((r) => r.toJSON()), { repeat: 2 });

// Tracker.log() one row at a time on the memory store, vs building and appending the batch directly.
const logOurs = await measure(
  N,
  async () => {
    const t = await Tracker.open(new MemoryStore(), { flushInterval: 0 });
    for (let i = 0; i < N; i++) await t.log({ step: i, loss: 1 / (i + 1), acc: i / N, lr: 0.001 });
    await t.close();
  },
  { repeat: 2 },
);
const logRaw = await measure(
  N,
  async () => {
    const s = new MemoryStore();
    const buf = [];
    for (let i = 0; i < N; i++) {
      buf.push({ step: i, loss: 1 / (i + 1), acc: i / N, lr: 0.001 });
      if (buf.length === 10_000) await s.append("events", rowsToBatch(buf.splice(0)));
    }
  },
  { repeat: 2 },
);

// The function-result cache: a hit (key of the name + a config object, one file read, the row
// logged) against calling a function that does ~1 ms of work, and against a trivial one.
const HITS = Number(process.env.QUIVER_BENCH_HITS ?? 3000);
const cacheDir = mkdtempSync(join(tmpdir(), "quiver-bench-cache-"));
function work(config, seed) {
  let x = seed;
  for (let i = 0; i < config.iters; i++) x = (x * 1103515245 + 12345) % 2147483648;
  return { score: x / 2147483648, lr: config.lr };
}
const trivial = (config, seed) => ({ score: seed + config.lr });
const config = { lr: 0.01, layers: [64, 32], optimizer: "adam", iters: 30_000 };
const cached = await Tracker.open(new MemoryStore(), { cache: cacheDir });
cached.track(work, config, 1); // fills the entry
const hitRate = await measure(HITS, () => {
  for (let i = 0; i < HITS; i++) cached.track(work, config, 1);
});
const plain = await Tracker.open(new MemoryStore());
const callRate = await measure(200, () => {
  for (let i = 0; i < 200; i++) plain.track(work, config, 1);
});
const trivialRate = await measure(HITS, () => {
  for (let i = 0; i < HITS; i++) plain.track(trivial, config, 1);
});
await cached.close();
await plain.close();
rmSync(cacheDir, { recursive: true, force: true });

printComparisons("@quiver/core", [
  { case: `rows → RecordBatch (${N / 1e6}M rows × 5 cols)`, unit: "rows/s", ours: toOurs, against: "arrow tableFromJSON", theirs: toTheirs, target: 0.8 },
  { case: `RecordBatch → rows (${N / 1e6}M rows × 5 cols)`, unit: "rows/s", ours: backOurs, against: "arrow toArray().toJSON()", theirs: backTheirs, target: 0.8 },
  { case: "memory: Tracker.log() one row per call", unit: "rows/s", ours: logOurs, against: "rowsToBatch+append, no Tracker", theirs: logRaw },
  { case: "track() cache hit (config arg, file read)", unit: "calls/s", ours: hitRate, against: "track() calling fn (~1 ms of work)", theirs: callRate, target: 1 },
  { case: "track() cache hit (config arg, file read)", unit: "calls/s", ours: hitRate, against: "track() calling a trivial fn", theirs: trivialRate },
]);
