// Benchmarks of @quiver/store-postgres next to the raw driver (porsager's postgres), measured in
// one run against one server: QUIVER_PG_URL, or a throw-away cluster started here.
// Usage: node bench/run.mjs [points]   (default 1 000 000)
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { field, openStore, Reader, rowsToBatch, Session, Tracker } from "@quiver/core";
import { printComparisons } from "../../core/dist/bench.js"; // the workspace's bench helpers (not a public export)
import "../dist/index.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const N = Number(process.argv[2] ?? 1_000_000);
let base = process.env.QUIVER_PG_URL;
let dir;
if (!base) {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-pg-bench-"));
  base = execFileSync("bash", [path.join(here, "..", "scripts", "pg-server.sh"), "start", dir], { encoding: "utf8" }).trim();
  // However the bench ends, the server it started goes with it.
  process.on("exit", () => {
    try {
      execFileSync("bash", [path.join(here, "..", "scripts", "pg-server.sh"), "stop", dir]);
    } catch {}
    fs.rmSync(dir, { recursive: true, force: true });
  });
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(130));
}
let seq = 0;
const url = () => {
  const u = new URL(base);
  u.searchParams.set("schema", `bench_${process.pid}_${seq++}`);
  return u.toString();
};
const raw = postgres(base, { max: 4, onnotice: () => {} });
const secs = async (fn) => {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
};
const step = (what) => process.stderr.write(`[bench] ${what}\n`);
const best = async (k, fn) => {
  let b = Infinity;
  for (let i = 0; i < k; i++) b = Math.min(b, await secs(fn));
  return b;
};
const rowsOf = (n, off = 0) => Array.from({ length: n }, (_, k) => ({ i: off + k, loss: 1 / (off + k + 1), acc: (off + k) / n, tag: "train" }));
async function rawTable(name) {
  await raw.unsafe(`DROP TABLE IF EXISTS ${name}`);
  await raw.unsafe(`CREATE TABLE ${name} (i bigint, loss double precision, acc double precision, tag text, "timestamp" timestamptz, track_id text)`);
}
async function rawCopy(name, rows) {
  const w = await raw.unsafe(`COPY ${name} (i, loss, acc, tag, "timestamp", track_id) FROM STDIN`).writable();
  const ts = new Date().toISOString();
  for (let i = 0; i < rows.length; i += 10_000) {
    const text = rows
      .slice(i, i + 10_000)
      .map((r) => `${r.i}\t${r.loss}\t${r.acc}\t${r.tag}\t${ts}\trun\n`)
      .join("");
    if (!w.write(text)) await new Promise((r) => w.once("drain", r));
  }
  await new Promise((res, rej) => (w.on("error", rej), w.end(res)));
}

// --- log() one row at a time, logBatch of 10k rows, vs one raw COPY stream -------------------
step("log() / logBatch / raw COPY");
const LOGS = Math.min(N, 300_000);
const logRows = rowsOf(LOGS);
const oursLog =
  LOGS /
  (await best(2, async () => {
    const t = await Tracker.open(url(), { params: { model: "m" } });
    for (const r of logRows) await t.log(r);
    await t.close();
  }));
const oursBatch =
  LOGS /
  (await best(2, async () => {
    const t = await Tracker.open(url(), { params: { model: "m" } });
    for (let i = 0; i < LOGS; i += 10_000) await t.logBatch(logRows.slice(i, i + 10_000));
    await t.close();
  }));
const theirsCopy =
  LOGS /
  (await best(2, async () => {
    await rawTable("raw_copy");
    await rawCopy("raw_copy", logRows);
  }));

// --- 64 writers: 8 processes × 8 connections ------------------------------------------------
// Measured as pgbench reports tps, "without initial connection time": each writer process opens
// its 8 Trackers (the raw side its 8 connections) before it says "ready", and the clock starts
// at "go". 16 000 rows per connection (1M rows in all, as the other cases). The figure including
// connection setup (the slowest process's open time added: connect, catalog, table, JIT warm-up
// in 8 cold processes) is printed too, as an information row without a target.
const PER_CONN = Math.max(500, Math.ceil(N / 64 / 500) * 500);
async function writers(mode, uri) {
  const procs = Array.from({ length: 8 }, (_, w) => {
    const c = spawn(process.execPath, [path.join(here, "writer.mjs"), mode, uri, String(PER_CONN), "8", `w${w}`], { stdio: ["pipe", "pipe", "inherit"] });
    const lines = [];
    c.stdout.on("data", (d) => lines.push(...d.toString().split("\n").filter(Boolean)));
    return { c, lines, done: new Promise((r) => c.on("exit", r)) };
  });
  while (!procs.every((p) => p.lines.includes("ready"))) await new Promise((r) => setTimeout(r, 20));
  const t0 = performance.now();
  for (const p of procs) p.c.stdin.end("go\n");
  const codes = await Promise.all(procs.map((p) => p.done));
  const secs = (performance.now() - t0) / 1000;
  if (codes.some((c) => c !== 0)) throw new Error(`a ${mode} writer failed: exit codes ${codes}`);
  const openSecs = Math.max(...procs.map((p) => JSON.parse(p.lines.at(-1)).openMs)) / 1000;
  const rows = 8 * 8 * PER_CONN;
  return { rate: rows / secs, withOpen: rows / (secs + openSecs) };
}
step("8 processes × 8 connections");
const many = await writers("quiver", url());
await rawTable("raw_events");
await raw`ALTER TABLE raw_events ADD COLUMN conn int`;
const rawMany = await writers("raw", base);
const oursMany = many.rate;
const theirsMany = rawMany.rate;

// --- a track of N points: readByTime of 1%, and the whole track to Arrow ---------------------
step(`a track of ${N} points`);
const trackUrl = url();
{
  const s = await Session.open({ prefix: "bench/exp", store: trackUrl, flushInterval: 0 });
  const tr = s.track("robot/pose");
  for (let i = 0; i < N; i += 50_000)
    await tr.appendBatch(Array.from({ length: Math.min(50_000, N - i) }, (_, k) => ({ _ts: 1_700_000_000 + (i + k) / 100, x: i + k, y: Math.sin(i + k) })));
  await s.close();
}
const session = await Session.open({ prefix: "bench/exp", store: trackUrl });
const track = session.track("robot/pose");
const win = N / 100;
const start = 1_700_000_000 + N / 2 / 100;
const byTimeMs = 1000 * (await best(5, () => track.readByTime({ startTime: start, endTime: start + win / 100, limit: 10_000 })));
const store = await openStore(trackUrl, { readOnly: true });
const [{ ident }] = await raw.unsafe(`SELECT ident FROM "${new URL(trackUrl).searchParams.get("schema")}"._quiver_tables WHERE name = 'bench/exp/tracks/robot/pose'`);
const T = `"${new URL(trackUrl).searchParams.get("schema")}"."${ident}"`;
const rawByTimeMs =
  1000 *
  (await best(5, () =>
    raw.unsafe(`SELECT _ts, x, y, _quiver_pos FROM ${T} WHERE _ts >= $1 AND _ts < $2 ORDER BY _ts, _quiver_pos LIMIT 10000`, [start, start + win / 100]).values(),
  ));
const fullOurs =
  N /
  (await best(2, async () => {
    let n = 0;
    for await (const b of store.scan("bench/exp/tracks/robot/pose", {})) n += b.numRows;
    if (n !== N) throw new Error(`read ${n} of ${N}`);
  }));
const fullRaw = N / (await best(2, () => raw.unsafe(`SELECT _quiver_pos, _ts, x, y FROM ${T} ORDER BY _quiver_pos`).values()));
await session.close();
await store.close();

// --- one run's rows among 100 runs written interleaved (spans, no per-row index) ------------
// 1M rows of 100 runs appended round robin in 100-row batches, so each run is 100 spans spread
// over the table; next to a raw table holding the same rows with a (track_id, position) btree.
step("one run of 100 interleaved");
const runUrl = url();
const RUN_ROWS = N / 100;
{
  const s = await openStore(runUrl);
  const ts = new Date(1_700_000_000_000);
  for (let i = 0; i < N; i += 100 * 100)
    for (let r = 0; r < 100; r++) await s.append("events", rowsToBatch(Array.from({ length: 100 }, (_, k) => ({ timestamp: ts, track_id: `run-${r}`, x: i + k, y: k / 100 }))));
  await s.close();
}
const runSchema = new URL(runUrl).searchParams.get("schema");
await raw.unsafe(`DROP TABLE IF EXISTS raw_runs`);
await raw.unsafe(`CREATE TABLE raw_runs AS SELECT * FROM "${runSchema}".events`);
await raw.unsafe(`CREATE INDEX ON raw_runs (track_id, _quiver_pos)`);
await raw.unsafe(`ANALYZE raw_runs`);
const runStore = await openStore(runUrl, { readOnly: true });
let pick = 0;
const oneRunMs =
  1000 *
  (await best(5, async () => {
    let n = 0;
    for await (const b of runStore.scan("events", { where: field("track_id").eq(`run-${(pick++ * 37) % 100}`).node })) n += b.numRows;
    if (n !== RUN_ROWS) throw new Error(`one run: ${n} rows`);
  }));
const rawRunMs = 1000 * (await best(5, () => raw.unsafe(`SELECT * FROM raw_runs WHERE track_id = $1 ORDER BY _quiver_pos`, [`run-${(pick++ * 37) % 100}`]).values()));
await runStore.close();

// --- Reader.runs() over 30 000 runs with params ----------------------------------------------
step("30 000 runs");
const runsUrl = url();
{
  const s = await openStore(runsUrl);
  const RUNS = 30_000;
  for (let r = 0; r < RUNS; r += 5000) {
    const rows = [];
    for (let k = r; k < r + 5000; k++)
      for (let e = 0; e < 3; e++)
        rows.push({
          epoch: e,
          loss: 1 / (e + 1),
          model: `m${k % 7}`,
          lr: 0.001 * (k % 10),
          batch_size: 32,
          timestamp: new Date(1_700_000_000_000 + k * 1000 + e),
          track_id: `run-${k}`,
        });
    await s.append("events", rowsToBatch(rows));
  }
  await s.close();
}
const runsSecs = await best(3, async () => {
  const reader = await Reader.open(runsUrl);
  const runs = await reader.runs();
  if (runs.length !== 30_000) throw new Error(`runs: ${runs.length}`);
  await reader.close();
});
const rawRunsSecs = await best(3, () =>
  raw.unsafe(`SELECT track_id, count(*), min("timestamp"), max("timestamp") FROM "${new URL(runsUrl).searchParams.get("schema")}".events GROUP BY track_id`).values(),
);

await raw.end();

const M = `${N / 1e6}M`;
const ok = printComparisons("@quiver/store-postgres", [
  { case: `log() ${LOGS / 1e3}k rows × 4 cols`, unit: "rows/s", ours: oursLog, against: "100k rows/s (target)", theirs: 100_000, target: 1 },
  { case: `log() ${LOGS / 1e3}k rows × 4 cols`, unit: "rows/s", ours: oursLog, against: "raw COPY, one stream", theirs: theirsCopy },
  { case: "logBatch 10k-row batches", unit: "rows/s", ours: oursBatch, against: "300k rows/s (target)", theirs: 300_000, target: 1 },
  { case: "logBatch 10k-row batches", unit: "rows/s", ours: oursBatch, against: "raw COPY, one stream", theirs: theirsCopy },
  { case: "8 procs × 8 conns, 500-row batches", unit: "rows/s", ours: oursMany, against: "100k rows/s (target)", theirs: 100_000, target: 1 },
  { case: "8 procs × 8 conns, 500-row batches", unit: "rows/s", ours: oursMany, against: "raw COPY per batch, 64 conns", theirs: theirsMany },
  { case: "8 × 8, incl. connection setup (info)", unit: "rows/s", ours: many.withOpen, against: "raw, incl. connection setup", theirs: rawMany.withOpen },
  { case: `readByTime 1% of ${M} points`, unit: "ms", ours: byTimeMs, against: "20 ms (target)", theirs: 20, target: 1, lowerIsBetter: true },
  { case: `readByTime 1% of ${M} points`, unit: "ms", ours: byTimeMs, against: "raw SELECT same window", theirs: rawByTimeMs, lowerIsBetter: true },
  { case: `full read ${M} points → Arrow`, unit: "points/s", ours: fullOurs, against: "1M points/s (target)", theirs: 1e6, target: 1 },
  { case: `full read ${M} points → Arrow`, unit: "points/s", ours: fullOurs, against: "raw SELECT .values()", theirs: fullRaw },
  { case: `one run's ${RUN_ROWS / 1e3}k rows of 100 interleaved`, unit: "ms", ours: oneRunMs, against: "raw SELECT, (track_id, pos) btree", theirs: rawRunMs, lowerIsBetter: true },
  { case: "Reader.runs() 30k runs + params", unit: "s", ours: runsSecs, against: "1 s (target)", theirs: 1, target: 1, lowerIsBetter: true },
  { case: "Reader.runs() 30k runs + params", unit: "s", ours: runsSecs, against: "raw GROUP BY", theirs: rawRunsSecs, lowerIsBetter: true },
]);
process.exitCode = ok ? 0 : 1;
