// Freshness: how long until a row logged in one process is seen by a reader in another. A
// writer child logs a row every `period` ms (not saturated); a reader child polls the row count
// every `poll` ms; the latency of row k is (first poll that counted it) − (when log() was
// called). Used by the store benches (store-duckdb, store-msgpack), next to a raw
// better-sqlite3 writer/reader pair in WAL mode (xetrack's engine) measured in the same run.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const CHILD = fileURLToPath(new URL("./fresh-child.mjs", import.meta.url));
const CORE = new URL("../dist/index.js", import.meta.url).href;
/** better-sqlite3 is a dependency of store-sqlite: resolved from there. */
export const SQLITE_FROM = fileURLToPath(new URL("../../store-sqlite/package.json", import.meta.url));

function child(cfg) {
  const p = spawn(process.execPath, [CHILD, JSON.stringify({ core: CORE, ...cfg })], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: p.stdout });
  const queue = [];
  const waiting = [];
  lines.on("line", (l) => (waiting.length ? waiting.shift()(JSON.parse(l)) : queue.push(JSON.parse(l))));
  const exited = new Promise((r) => p.on("exit", r));
  return {
    read: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r))),
    send: (s) => p.stdin.write(s + "\n"),
    exited,
  };
}

const pct = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

/**
 * One writer/reader pair. `kind`: "tracker" (Tracker.log → store.count of events), "track"
 * (Session/Track.append → store.count of the track's table) or "sqlite" (raw better-sqlite3).
 * Returns latencies in ms: p50, p95, max, and rows never seen.
 */
export async function freshness({ kind, uri, store, path, n = 100, period = 20, poll = 20 }) {
  const base = { kind, uri, store, path, sqliteFrom: SQLITE_FROM, n, period, poll };
  const writer = child({ ...base, role: "writer" });
  await writer.read(); // ready: the table exists with one row
  const reader = child({ ...base, role: "reader" });
  await reader.read();
  writer.send("go");
  const { sent } = await writer.read();
  await new Promise((r) => setTimeout(r, 200));
  reader.send("stop");
  const { seen } = await reader.read();
  await Promise.all([writer.exited, reader.exited]);
  const lat = [];
  let missing = 0;
  for (let i = 0; i < sent.length; i++) {
    if (seen[i] === undefined) missing++;
    else lat.push(seen[i] - sent[i]);
  }
  return { p50: pct(lat, 0.5), p95: pct(lat, 0.95), max: Math.max(...lat), missing };
}

export function formatFreshness(label, r) {
  return `${label.padEnd(44)} p50 ${r.p50.toFixed(1).padStart(7)} ms   p95 ${r.p95.toFixed(1).padStart(7)} ms   max ${r.max.toFixed(1).padStart(7)} ms${r.missing ? `   ${r.missing} never seen` : ""}`;
}
