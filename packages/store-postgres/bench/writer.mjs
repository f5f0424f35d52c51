// One bench writer process: `conns` connections, each logging `rows` rows in 500-row batches,
// through Quiver (logBatch) or raw (postgres.js COPY in a transaction, the same rows).
// argv: mode uri rows conns name
import postgres from "postgres";
import { Tracker } from "@quiver/core";
import "../dist/index.js";

const [mode, uri, rows, conns, name] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5]), process.argv[6]];
const batch = (i, n, c) => Array.from({ length: n }, (_, k) => ({ i: i + k, loss: 1 / (i + k + 1), acc: (i + k) / rows, conn: c }));
process.stdout.write("ready\n");
await new Promise((r) => process.stdin.once("data", r));
process.stdin.destroy();
const t0 = performance.now();
if (mode === "quiver") {
  const sep = uri.includes("?") ? "&" : "?";
  await Promise.all(
    Array.from({ length: conns }, async (_, c) => {
      const t = await Tracker.open(`${uri}${sep}max=1`, { trackId: `${name}-${c}`, flushInterval: 0 });
      for (let i = 0; i < rows; i += 500) await t.logBatch(batch(i, Math.min(500, rows - i), c));
      await t.close();
    }),
  );
} else {
  const sql = postgres(uri, { max: conns, onnotice: () => {} });
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
process.stdout.write(`${JSON.stringify({ ms: performance.now() - t0 })}\n`);
