// Benchmarks of @quiver/store-sqlite next to raw better-sqlite3 (a prepared INSERT in one
// transaction, the same pragmas: WAL, synchronous=FULL) and xetrack's way of logging (its SQLite
// engine mirrored in Python: a commit per row), measured in one run on one disk.
// Usage: node bench/run.mjs [points]   (default 500 000)
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { openStore, Reader, rowsToBatch, Session, Tracker } from "@quiver/core";
import { printComparisons } from "../../core/dist/bench.js"; // the workspace's bench helpers (not a public export)
import "../dist/index.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const N = Number(process.argv[2] ?? 500_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-sqlite-bench-"));
process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
let seq = 0;
const file = () => path.join(dir, `b${seq++}.db`);
const step = (what) => process.stderr.write(`[bench] ${what}\n`);
const secs = async (fn) => {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
};
const best = async (k, fn) => {
  let b = Infinity;
  for (let i = 0; i < k; i++) b = Math.min(b, await secs(fn));
  return b;
};
const rowsOf = (n) => Array.from({ length: n }, (_, k) => ({ i: k, loss: 1 / (k + 1), acc: k / n, tag: "train" }));

function rawDb(f) {
  const db = new Database(f);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  return db;
}

/** Raw better-sqlite3: the rows Tracker writes (with timestamp text and track_id), one prepared INSERT in one transaction. */
function rawInsert(rows, batch) {
  const db = rawDb(file());
  db.exec(`CREATE TABLE events (pos INTEGER PRIMARY KEY, i INTEGER, loss, acc, tag TEXT, model TEXT, timestamp TIMESTAMP, track_id TEXT)`);
  const ins = db.prepare(`INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
  const tx = db.transaction((from, to) => {
    const ts = new Date().toISOString().replace("T", " ").replace("Z", "000");
    for (let k = from; k < to; k++) {
      const r = rows[k];
      ins.run(k, r.i, r.loss, r.acc, r.tag, "m", ts, "run");
    }
  });
  for (let k = 0; k < rows.length; k += batch) tx(k, Math.min(rows.length, k + batch));
  db.close();
}

// --- log() one row at a time, logBatch of 10k rows, vs raw INSERTs in one transaction ---------
step("log() / logBatch / raw INSERT");
const LOGS = Math.min(N, 200_000);
const logRows = rowsOf(LOGS);
const oursLog =
  LOGS /
  (await best(2, async () => {
    const t = await Tracker.open(`sqlite:${file()}`, { params: { model: "m" } });
    for (const r of logRows) await t.log(r);
    await t.close();
  }));
const oursBatch =
  LOGS /
  (await best(2, async () => {
    const t = await Tracker.open(`sqlite:${file()}`, { params: { model: "m" } });
    for (let i = 0; i < LOGS; i += 10_000) await t.logBatch(logRows.slice(i, i + 10_000));
    await t.close();
  }));
const rawOne = LOGS / (await best(2, () => rawInsert(logRows, LOGS)));
const rawBatches = LOGS / (await best(2, () => rawInsert(logRows, 10_000)));
step("xetrack's log() (Python sqlite3, a commit per row)");
const XLOGS = 2000;
const xetrackLog = Number(execFileSync("/usr/bin/python3", [path.join(here, "xetrack_log.py"), file(), String(XLOGS)], { encoding: "utf8" }).trim());

// --- a track of N points: readByTime of 1%, and the whole track to Arrow ---------------------
step(`a track of ${N} points`);
const trackUri = `sqlite:${file()}`;
{
  const s = await Session.open({ prefix: "bench/exp", store: trackUri, flushInterval: 0 });
  const tr = s.track("robot/pose");
  for (let i = 0; i < N; i += 50_000)
    await tr.appendBatch(Array.from({ length: Math.min(50_000, N - i) }, (_, k) => ({ _ts: 1_700_000_000 + (i + k) / 100, x: i + k, y: Math.sin(i + k) })));
  await s.close();
}
const session = await Session.open({ prefix: "bench/exp", store: trackUri });
const track = session.track("robot/pose");
const win = N / 100;
const start = 1_700_000_000 + N / 2 / 100;
const byTimeMs = 1000 * (await best(5, () => track.readByTime({ startTime: start, endTime: start + win / 100, limit: 10_000 })));
const storeByTimeMs =
  1000 *
  (await best(5, async () => {
    for await (const _ of session.store.readByTime("bench/exp/tracks/robot/pose", { start, end: start + win / 100, limit: 10_000, rowIndex: "index" }));
  }));
const raw = new Database(trackUri.slice("sqlite:".length), { readonly: true });
const T = `"bench/exp/tracks/robot/pose"`;
const rawWindow = raw.prepare(`SELECT _ts, x, y, _quiver_pos FROM ${T} WHERE _ts >= ? AND _ts < ? ORDER BY _ts, _quiver_pos LIMIT 10000`).raw(true);
const rawByTimeMs = 1000 * (await best(5, () => rawWindow.all(start, start + win / 100)));
const store = await openStore(trackUri, { readOnly: true });
const fullOurs =
  N /
  (await best(2, async () => {
    let n = 0;
    for await (const b of store.scan("bench/exp/tracks/robot/pose", {})) n += b.numRows;
    if (n !== N) throw new Error(`read ${n} of ${N}`);
  }));
const rawAll = raw.prepare(`SELECT _quiver_pos, _ts, x, y FROM ${T} ORDER BY _quiver_pos`).raw(true);
const fullRaw = N / (await best(2, () => rawAll.all()));
await session.close();
await store.close();

// --- Reader.runs() over 30 000 runs ----------------------------------------------------------
step("30 000 runs");
const runsUri = `sqlite:${file()}`;
{
  const s = await openStore(runsUri);
  for (let r = 0; r < 30_000; r += 5000) {
    const rows = [];
    for (let k = r; k < r + 5000; k++)
      for (let e = 0; e < 3; e++) rows.push({ epoch: e, loss: 1 / (e + 1), model: `m${k % 7}`, timestamp: new Date(1_700_000_000_000 + k * 1000 + e), track_id: `run-${k}` });
    await s.append("events", rowsToBatch(rows));
  }
  await s.close();
}
const runsSecs = await best(3, async () => {
  const reader = await Reader.open(runsUri);
  if ((await reader.runs()).length !== 30_000) throw new Error("runs");
  await reader.close();
});
const rawRuns = new Database(runsUri.slice("sqlite:".length), { readonly: true });
const rawRunsStmt = rawRuns.prepare(`SELECT track_id, count(*), min(timestamp), max(timestamp) FROM events GROUP BY track_id ORDER BY min(_quiver_pos)`).raw(true);
const rawRunsSecs = await best(3, () => rawRunsStmt.all());
raw.close();
rawRuns.close();

const M = `${N / 1e3}k`;
printComparisons("@quiver/store-sqlite", [
  { case: `log() ${LOGS / 1e3}k rows × 4 cols`, unit: "rows/s", ours: oursLog, against: "raw INSERT, 1 transaction", theirs: rawOne },
  { case: `log() ${LOGS / 1e3}k rows × 4 cols`, unit: "rows/s", ours: oursLog, against: "xetrack log() (Python)", theirs: xetrackLog },
  { case: "logBatch 10k-row batches", unit: "rows/s", ours: oursBatch, against: "raw INSERT, 10k per tx", theirs: rawBatches },
  { case: `Track.readByTime 1% of ${M} points`, unit: "ms", ours: byTimeMs, against: "raw SELECT same window", theirs: rawByTimeMs, lowerIsBetter: true },
  { case: `store.readByTime 1% → Arrow`, unit: "ms", ours: storeByTimeMs, against: "raw SELECT same window", theirs: rawByTimeMs, lowerIsBetter: true },
  { case: `full read ${M} points → Arrow`, unit: "points/s", ours: fullOurs, against: "raw SELECT .raw().all()", theirs: fullRaw },
  { case: "Reader.runs() 30k runs", unit: "s", ours: runsSecs, against: "raw GROUP BY", theirs: rawRunsSecs, lowerIsBetter: true },
]);
