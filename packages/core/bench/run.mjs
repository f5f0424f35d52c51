// @quiver/core benchmarks: the Arrow interchange against apache-arrow's own converters, and
// the memory store's log rate, measured in one run.
import { tableFromJSON } from "apache-arrow";
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

printComparisons("@quiver/core", [
  { case: `rows → RecordBatch (${N / 1e6}M rows × 5 cols)`, unit: "rows/s", ours: toOurs, against: "arrow tableFromJSON", theirs: toTheirs, target: 0.8 },
  { case: `RecordBatch → rows (${N / 1e6}M rows × 5 cols)`, unit: "rows/s", ours: backOurs, against: "arrow toArray().toJSON()", theirs: backTheirs, target: 0.8 },
  { case: "memory: Tracker.log() one row per call", unit: "rows/s", ours: logOurs, against: "rowsToBatch+append, no Tracker", theirs: logRaw },
]);
