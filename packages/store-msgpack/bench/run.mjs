// Benchmarks of @quiver/store-msgpack next to the raw tools, measured in the same run.
// `node bench/run.mjs` (after `npx tsc -b`); N=… to change the number of points (default 1M).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Packr, Unpackr } from "msgpackr";
import { McapIndexedReader, McapWriter } from "@mcap/core";
import { Session } from "@quiver/core";
import { measure, printComparisons } from "../../core/dist/bench.js"; // the workspace's bench helpers (not a public export)
import "../dist/index.js";

const N = Number(process.env.N ?? 1_000_000);
const BATCH = 1000;
const BASE = 1_700_000_000;
const DT = 0.001; // 1M points span 1000 s
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-msgpack-bench-"));
let run = 0;
const fresh = () => path.join(tmp, `r${run++}`);

const points = Array.from({ length: N }, (_, i) => ({ loss: 1 / (i + 1), acc: i / N, step: i }));

// --- 1. append: msgpackr pack into a 64 KiB buffered file vs Session/Track.append -------------
const packr = new Packr({ useRecords: false });
async function msgpackrFile() {
  const fd = fs.openSync(path.join(tmp, `raw-${run++}.msgpack`), "w");
  const buf = Buffer.allocUnsafe(64 * 1024);
  let pos = 0;
  for (let i = 0; i < N; i++) {
    const b = packr.pack(points[i]);
    if (pos + b.length > buf.length) {
      fs.writeSync(fd, buf, 0, pos);
      pos = 0;
    }
    b.copy(buf, pos);
    pos += b.length;
  }
  fs.writeSync(fd, buf, 0, pos);
  fs.closeSync(fd);
}
async function trackAppend() {
  const s = await Session.open({ prefix: "bench/append", root: fresh(), flushInterval: 0 });
  const t = s.track("train");
  for (let i = 0; i < N; i++) t.append(points[i]);
  await s.close();
}
// The machine is shared: alternate ours and theirs, best of each, so both see the same load.
async function duel(items, ours, theirs, rounds = 3) {
  let a = 0;
  let b = 0;
  for (let r = 0; r < rounds; r++) {
    a = Math.max(a, await measure(items, ours, { repeat: 1, warmup: r === 0 }));
    b = Math.max(b, await measure(items, theirs, { repeat: 1, warmup: r === 0 }));
  }
  return [a, b];
}
const [oursAppend, rawAppend] = await duel(N, trackAppend, msgpackrFile);

// --- 2. appendBatch of 1000-point batches ------------------------------------------------------
const batches = [];
for (let i = 0; i < N; i += BATCH) batches.push(points.slice(i, i + BATCH));
async function trackBatches() {
  const s = await Session.open({ prefix: "bench/batch", root: fresh(), flushInterval: 0 });
  const t = s.track("train");
  for (const b of batches) await t.appendBatch(b);
  await s.close();
}
async function msgpackrColumns() {
  const fd = fs.openSync(path.join(tmp, `rawcol-${run++}.msgpack`), "w");
  for (const b of batches) {
    const cols = { loss: [], acc: [], step: [] };
    for (const p of b) {
      cols.loss.push(p.loss);
      cols.acc.push(p.acc);
      cols.step.push(p.step);
    }
    fs.writeSync(fd, packr.pack(cols));
  }
  fs.closeSync(fd);
}
const [oursBatch, rawBatch] = await duel(N, trackBatches, msgpackrColumns);

// --- 3. readByTime of 1% windows vs MCAP's indexed time-range read -----------------------------
const readRoot = fresh();
{
  const s = await Session.open({ prefix: "bench/read", root: readRoot, flushInterval: 0 });
  const t = s.track("train");
  for (let i = 0; i < N; i++) t.append({ ...points[i], _ts: BASE + i * DT });
  await s.close();
}
const mcapPath = path.join(tmp, "points.mcap");
{
  const fh = await fs.promises.open(mcapPath, "w");
  let pos = 0n;
  const writable = {
    write: async (b) => {
      await fh.write(b);
      pos += BigInt(b.byteLength);
    },
    position: () => pos,
  };
  const w = new McapWriter({ writable, useChunks: true, useChunkIndex: true, useMessageIndex: true, useStatistics: true, useSummaryOffsets: true });
  await w.start({ profile: "", library: "bench" });
  const schemaId = await w.registerSchema({ name: "point", encoding: "", data: new Uint8Array() });
  const channelId = await w.registerChannel({ schemaId, topic: "train", messageEncoding: "msgpack", metadata: new Map() });
  for (let i = 0; i < N; i++) {
    const ns = BigInt(Math.round((BASE + i * DT) * 1e9));
    await w.addMessage({ channelId, sequence: i, logTime: ns, publishTime: ns, data: packr.pack({ ...points[i], _ts: BASE + i * DT }) });
  }
  await w.end();
  await fh.close();
}
const WINDOWS = 20;
const span = N * DT;
const starts = Array.from({ length: WINDOWS }, (_, k) => BASE + ((k * 0.37) % 0.98) * span);
const unpackr = new Unpackr({ useRecords: false });
let checkOurs = 0;
let checkMcap = 0;
const readSession = await Session.open({ prefix: "bench/read", root: readRoot, flushInterval: 0 });
const readTrack = readSession.track("train");
async function oursWindows() {
  for (const a of starts) {
    const r = await readTrack.readByTime({ startTime: a, endTime: a + span / 100, limit: 10_000 });
    checkOurs += r.data.length;
  }
}
const mh = await fs.promises.open(mcapPath, "r");
const readable = {
  size: async () => BigInt((await mh.stat()).size),
  read: async (offset, size) => {
    const buf = Buffer.allocUnsafe(Number(size));
    await mh.read(buf, 0, Number(size), Number(offset));
    return buf;
  },
};
const mcap = await McapIndexedReader.Initialize({ readable });
async function mcapWindows() {
  for (const a of starts) {
    const startTime = BigInt(Math.round(a * 1e9));
    const endTime = BigInt(Math.round((a + span / 100) * 1e9)) - 1n; // MCAP's end is inclusive
    const out = [];
    for await (const m of mcap.readMessages({ startTime, endTime })) out.push(unpackr.unpack(m.data));
    checkMcap += out.length;
  }
}
const [oursWin, mcapWin] = await duel(WINDOWS, oursWindows, mcapWindows, 4);
if (Math.abs(checkOurs - checkMcap) > WINDOWS * 4 * 2) console.warn(`window sizes differ: ours ${checkOurs}, mcap ${checkMcap}`);
await mh.close();

// --- 4. full read of the 1M-point track ---------------------------------------------------------
let fullRows = 0;
async function fullRead() {
  const table = await readTrack.toTable();
  fullRows = table.numRows;
}
async function rawFull() {
  const buf = fs.readFileSync(path.join(readRoot, "bench/read/tracks/train/data.msgpack"));
  // msgpack-lines: every record is followed by "\n", which a stream decoder reads as 10.
  let rows = 0;
  unpackr.unpackMultiple(buf, (v) => {
    if (v !== 10) rows++;
  });
  if (rows !== N) throw new Error("raw read size");
}
const [oursFull, rawFullRate] = await duel(N, fullRead, rawFull);
if (fullRows !== N) throw new Error(`full read returned ${fullRows} rows, expected ${N}`);
await readSession.close();

const ms = (rate) => 1000 / rate; // per window
const ok = printComparisons("@quiver/store-msgpack", [
  { case: `Track.append {loss,acc,step} ×${N / 1e6}M`, unit: "rows/s", ours: oursAppend, against: "msgpackr pack → 64 KiB buffered file", theirs: rawAppend, target: 0.6 },
  { case: `Track.appendBatch ${BATCH}-point batches`, unit: "points/s", ours: oursBatch, against: "target 3M points/s", theirs: 3e6, target: 1 },
  { case: `  (info) same batches, msgpackr columnar`, unit: "points/s", ours: oursBatch, against: "msgpackr pack {col: []} per batch", theirs: rawBatch },
  {
    case: `readByTime 1% window (10k of ${N / 1e6}M)`,
    unit: "ms",
    ours: ms(oursWin),
    against: "@mcap/core McapIndexedReader.readMessages",
    theirs: ms(mcapWin),
    target: 3,
    lowerIsBetter: true,
  },
  { case: `full read (Track.toTable) ${N / 1e6}M points`, unit: "points/s", ours: oursFull, against: "target 1.5M points/s", theirs: 1.5e6, target: 1 },
  { case: `  (info) same file, msgpackr unpackMultiple`, unit: "points/s", ours: oursFull, against: "msgpackr unpackMultiple (no Arrow)", theirs: rawFullRate },
]);
fs.rmSync(tmp, { recursive: true, force: true });

// Issue 16's cases, each next to its peer: run summaries and freshness across processes.
const { main: runs } = await import("./runs.mjs");
const { main: freshness } = await import("./freshness.mjs");
const more = [await runs(N), await freshness()];
process.exitCode = ok && more.every(Boolean) ? 0 : 1;
