// One bench writer process: `conns` connections, each logging `rows` rows in 500-row batches,
// through Quiver (logBatch) or raw (postgres.js COPY in a transaction, the same rows).
// argv: mode uri rows conns name
//
// Measured as pgbench reports tps "without initial connection time": the Trackers (and the raw
// side's connections) are opened BEFORE "ready" is printed, so the clock, started by the parent
// at "go", times the writes alone. `openMs` (this process's open time) and `ms` (its writes)
// are printed at the end, so the parent can also show the figure including connection setup.
import postgres from "postgres";
import { Tracker } from "@quiver/core";
import "../dist/index.js";

const [mode, uri, rows, conns, name] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5]), process.argv[6]];
const batch = (i, n, c) => Array.from({ length: n }, (_, k) => ({ i: i + k, loss: 1 / (i + k + 1), acc: (i + k) / rows, conn: c }));
const o0 = performance.now();
let trackers;
let sql;
if (mode === "quiver") {
  const sep = uri.includes("?") ? "&" : "?";
  trackers = await Promise.all(Array.from({ length: conns }, (_, c) => Tracker.open(`${uri}${sep}max=1`, { trackId: `${name}-${c}`, flushInterval: 0 })));
} else {
  sql = postgres(uri, { max: conns, onnotice: () => {} });
  const held = await Promise.all(Array.from({ length: conns }, () => sql.reserve())); // every connection open
  for (const r of held) r.release();
}
const openMs = performance.now() - o0;
process.stdout.write("ready\n");
await new Promise((r) => process.stdin.once("data", r));
process.stdin.destroy();
const t0 = performance.now();
if (mode === "quiver") {
  await Promise.all(
    trackers.map(async (t, c) => {
      for (let i = 0; i < rows; i += 500) await t.logBatch(batch(i, Math.min(500, rows - i), c));
      await t.close();
    }),
  );
} else {
  await Promise.all(
    Array.from({ length: conns }, async (_, c) => {
      for (let i = 0; i < rows; i += 500) {
        const lines = batch(i, Math.min(500, rows - i), c)
          .map((r) => `${r.i}\t${r.loss}\t${r.acc}\t${r.conn}\t${new Date().toISOString()}\t${name}-${c}\n`)
          .join("");
        await sql.begin(async (tx) => {
          const w = await tx`COPY raw_events (i, loss, acc, conn, "timestamp", track_id) FROM STDIN`.writable();
          await new Promise((res, rej) => (w.on("error", rej), w.end(lines, res)));
        });
      }
    }),
  );
  await sql.end();
}
process.stdout.write(`${JSON.stringify({ openMs, ms: performance.now() - t0 })}\n`);
