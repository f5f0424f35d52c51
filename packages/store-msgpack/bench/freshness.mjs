// Freshness on msgpack: a row (Tracker.log) or a point (Track.append) logged in one process,
// seen by a reader in another; next to a raw better-sqlite3 writer/reader pair (xetrack's
// engine), in one run. `node bench/freshness.mjs [rows]`.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freshness, formatFreshness } from "../../core/bench/freshness.mjs";

const store = new URL("../dist/index.js", import.meta.url).href;
export async function main(n = 100) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-msgpack-fresh-"));
  try {
    const tracker = await freshness({ kind: "tracker", uri: `msgpack:${path.join(dir, "runs")}`, store, n });
    const track = await freshness({ kind: "track", uri: `msgpack:${path.join(dir, "tracks")}`, store, n });
    const peer = await freshness({ kind: "sqlite", path: path.join(dir, "peer.sqlite"), n });
    console.log(`\n@quiver/store-msgpack freshness (${n} rows, one every 20 ms; reader polls every 20 ms; target p95 ≤ 100 ms)`);
    console.log(formatFreshness("msgpack: Tracker.log → Reader in another process", tracker));
    console.log(formatFreshness("msgpack: Track.append → reader in another process", track));
    console.log(formatFreshness("raw better-sqlite3 (WAL) insert → select", peer));
    const ok = tracker.p95 <= 100 && track.p95 <= 100 && !tracker.missing && !track.missing;
    console.log(
      `p95 ratio to the sqlite pair: Tracker ${(tracker.p95 / peer.p95).toFixed(2)}×, Track ${(track.p95 / peer.p95).toFixed(2)}×  ${ok ? "target ok" : "target MISSED"}`,
    );
    return ok;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = (await main(Number(process.argv[2] ?? 100))) ? 0 : 1;
