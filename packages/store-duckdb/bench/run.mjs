// Benchmarks of @quiver/store-duckdb next to raw @duckdb/node-api, measured in the same run.
// Usage: node bench/run.mjs [rows]   (default 1 000 000)
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { DuckDBDataChunk, DuckDBInstance, DOUBLE, TIMESTAMP, VARCHAR, timestampValue } from "@duckdb/node-api";
import { Tracker } from "@quiver/core";
import { measure, printComparisons } from "../../core/dist/bench.js"; // the workspace's bench helpers (not a public export)
import "../dist/index.js";

const N = Number(process.argv[2] ?? 1_000_000);
const BATCH = 10_000;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-duckdb-bench-"));
let seq = 0;
const fresh = () => path.join(dir, `b${seq++}.db`);
/**
 * Ours and theirs measured in alternating rounds (best of each), after one smaller warm-up
 * round each: on a shared machine the load drifts, and alternating keeps the ratio fair.
 */
async function duel(items, ours, theirs, rounds = 2) {
  const warm = Math.max(1, Math.floor(items / 5));
  await measure(warm, () => ours.run(warm), { repeat: 1, warmup: false, setup: ours.setup, teardown: ours.teardown });
  await measure(warm, () => theirs.run(warm), { repeat: 1, warmup: false, setup: theirs.setup, teardown: theirs.teardown });
  let a = 0;
  let b = 0;
  for (let r = 0; r < rounds; r++) {
    a = Math.max(a, await measure(items, () => ours.run(items), { repeat: 1, warmup: false, setup: ours.setup, teardown: ours.teardown }));
    b = Math.max(b, await measure(items, () => theirs.run(items), { repeat: 1, warmup: false, setup: theirs.setup, teardown: theirs.teardown }));
  }
  return [a, b];
}

const CONFIG = { autoinstall_known_extensions: "false", autoload_known_extensions: "false" };
const CREATE = `CREATE TABLE events (a DOUBLE, b DOUBLE, c DOUBLE, d DOUBLE, "timestamp" TIMESTAMP, track_id VARCHAR)`;

async function raw(fn) {
  const inst = await DuckDBInstance.create(fresh(), CONFIG);
  const conn = await inst.connect();
  await conn.run(CREATE);
  try {
    return await fn(conn);
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

const rowsOf = (n) => Array.from({ length: n }, (_, i) => ({ a: i * 0.5, b: Math.random(), c: i, d: 1 / (i + 1) }));

// --- single log() vs raw Appender row by row -------------------------------------------------
let tracker;
let appenderConn;
let appenderInst;
const trackerSide = { setup: async () => (tracker = await Tracker.open("duckdb:" + fresh())), teardown: () => tracker.close() };
const appenderSide = {
  setup: async () => {
    appenderInst = await DuckDBInstance.create(fresh(), CONFIG);
    appenderConn = await appenderInst.connect();
    await appenderConn.run(CREATE);
  },
  teardown: () => {
    appenderConn.closeSync();
    appenderInst.closeSync();
  },
};
const [ours1, theirs1] = await duel(
  N,
  {
    ...trackerSide,
    run: async (n) => {
      for (let i = 0; i < n; i++) await tracker.log({ a: i * 0.5, b: Math.random(), c: i + 0.25, d: 1 / (i + 1) });
      await tracker.flush();
    },
  },
  {
    ...appenderSide,
    run: async (n) => {
      const ap = await appenderConn.createAppender("events");
      const id = randomUUID();
      for (let i = 0; i < n; i++) {
        ap.appendDouble(i * 0.5);
        ap.appendDouble(Math.random());
        ap.appendDouble(i + 0.25);
        ap.appendDouble(1 / (i + 1));
        ap.appendTimestamp(timestampValue(BigInt(Date.now()) * 1000n));
        ap.appendVarchar(id);
        ap.endRow();
      }
      ap.flushSync();
      ap.closeSync();
    },
  },
);

// --- prepared INSERT committed per row (xetrack's way), on 2 000 rows ---------------------------
const INS = 2000;
const theirsInsert = await raw(async (conn) => {
  const st = await conn.prepare(`INSERT INTO events VALUES ($1, $2, $3, $4, $5, $6)`);
  const id = randomUUID();
  const t0 = performance.now();
  for (let i = 0; i < INS; i++) {
    st.bindDouble(1, i * 0.5);
    st.bindDouble(2, Math.random());
    st.bindDouble(3, i + 0.25);
    st.bindDouble(4, 1 / (i + 1));
    st.bindTimestamp(5, timestampValue(BigInt(Date.now()) * 1000n));
    st.bindVarchar(6, id);
    await st.run();
  }
  return INS / ((performance.now() - t0) / 1000);
});

// --- logBatch of 10k rows vs raw appendDataChunk ---------------------------------------------
let batches = Array.from({ length: N / BATCH }, () => rowsOf(BATCH));
const [ours2, theirs2] = await duel(
  N,
  {
    ...trackerSide,
    run: async (n) => {
      for (const b of batches.slice(0, n / BATCH)) await tracker.logBatch(b);
      await tracker.flush();
    },
  },
  {
    ...appenderSide,
    run: async (n) => {
      const ap = await appenderConn.createAppender("events");
      const id = randomUUID();
      const types = [DOUBLE, DOUBLE, DOUBLE, DOUBLE, TIMESTAMP, VARCHAR];
      for (const rows of batches.slice(0, n / BATCH)) {
        for (let s = 0; s < rows.length; s += 2048) {
          const part = rows.slice(s, s + 2048);
          const now = timestampValue(BigInt(Date.now()) * 1000n);
          const chunk = DuckDBDataChunk.create(types, part.length);
          chunk.setColumns([part.map((r) => r.a), part.map((r) => r.b), part.map((r) => r.c), part.map((r) => r.d), part.map(() => now), part.map(() => id)]);
          ap.appendDataChunk(chunk);
        }
      }
      ap.flushSync();
      ap.closeSync();
    },
  },
);

// --- toTable({ all: true }) of N rows ----------------------------------------------------------
const readFile = fresh();
{
  const t = await Tracker.open("duckdb:" + readFile);
  for (const b of batches) await t.logBatch(b);
  await t.close();
}
batches = undefined; // the read cases should not trace a million unrelated row objects in every GC
let reader;
const ours3 = await measure(
  N,
  async () => {
    const table = await reader.toTable({ all: true });
    if (table.numRows !== N) throw new Error(`read ${table.numRows} rows`);
  },
  { repeat: 3, setup: async () => (reader = await Tracker.open("duckdb:" + readFile)), teardown: () => reader.close() },
);
let rawRead;
const theirs3 = await measure(
  N,
  async () => {
    const r = await rawRead.conn.runAndReadAll("SELECT * FROM events");
    const cols = r.getColumnsJS();
    if (cols[0].length !== N) throw new Error("short read");
  },
  {
    repeat: 2,
    setup: async () => {
      const inst = await DuckDBInstance.create(readFile, CONFIG);
      rawRead = { inst, conn: await inst.connect() };
    },
    teardown: () => {
      rawRead.conn.closeSync();
      rawRead.inst.closeSync();
    },
  },
);

const ok = printComparisons("@quiver/store-duckdb", [
  { case: `log() ${N / 1e6}M rows × 4 cols`, unit: "rows/s", ours: ours1, against: "Appender row by row", theirs: theirs1, target: 0.6 },
  { case: `log() ${N / 1e6}M rows × 4 cols`, unit: "rows/s", ours: ours1, against: `prepared INSERT/row (${INS} rows)`, theirs: theirsInsert, target: 100 },
  { case: `logBatch 10k-row batches`, unit: "rows/s", ours: ours2, against: "appendDataChunk", theirs: theirs2, target: 0.8 },
  { case: `toTable({all}) ${N / 1e6}M rows`, unit: "rows/s", ours: ours3, against: "1M rows/s (target)", theirs: 1e6, target: 1 },
  { case: `toTable({all}) ${N / 1e6}M rows`, unit: "rows/s", ours: ours3, against: "runAndReadAll+getColumnsJS", theirs: theirs3 },
]);
fs.rmSync(dir, { recursive: true, force: true });

// Issue 16's cases, each next to its peer: run summaries, freshness across processes, startup.
const { main: runs } = await import("./runs.mjs");
const { main: freshness } = await import("./freshness.mjs");
const { main: startup } = await import("./startup.mjs");
const more = [await runs(N), await freshness(), await startup()];
process.exitCode = ok && more.every(Boolean) ? 0 : 1;
