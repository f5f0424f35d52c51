/**
 * Python's sqlite3 (Debian's python3, a real child process) reads a database Quiver wrote: the
 * tables carry Quiver's names, numbers are numbers, TIMESTAMP columns parse as datetimes, lists
 * are JSON, and a closed file has no -wal/-shm beside it.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Session, Tracker } from "@quiver/core";
import { describe, expect, it } from "vitest";
import "../dist/index.js";
import { tmpDir } from "./helpers.js";

const READ = `
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], detect_types=sqlite3.PARSE_DECLTYPES)
conn.row_factory = sqlite3.Row
out = {"tables": sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")),
       "decl": {r["name"]: r["type"] for r in conn.execute('PRAGMA table_info("events")')}, "rows": []}
for r in conn.execute('SELECT * FROM "events" ORDER BY _quiver_pos'):
    out["rows"].append({k: (type(r[k]).__name__, r[k].isoformat() if hasattr(r[k], "isoformat") else r[k].hex() if isinstance(r[k], bytes) else json.loads(r[k]) if k == "hist" else r[k]) for k in r.keys()})
out["points"] = [list(r) for r in conn.execute('SELECT _ts, loss FROM "exp/tracks/train/loss" ORDER BY _ts')]
print(json.dumps(out))
`;

describe("sqlite: Python reads what Quiver wrote", () => {
  it("sqlite3 (detect_types) reads runs and tracks with their names, types and values", async () => {
    const dir = tmpDir();
    const file = path.join(dir, "quiver.db");
    const t = await Tracker.open(`sqlite:${file}`, { params: { model: "resnet18" }, trackId: "run-1" });
    await t.log({ epoch: 1, loss: 0.5, ok: true, note: "a\u0000b", bytes: new Uint8Array([0, 255]), hist: [1, 2, 3], big: 2n ** 60n });
    await t.log({ epoch: 2, loss: -0, ok: false, note: "é", bytes: null, hist: [4], big: -1n });
    await t.close();
    const s = await Session.open({ prefix: "exp", store: `sqlite:${file}` });
    await s.track("train/loss").appendBatch([
      { _ts: 1.5, loss: 0.9 },
      { _ts: 2.25, loss: 0.7 },
    ]);
    await s.close();
    expect(fs.readdirSync(dir)).toEqual(["quiver.db"]); // closed: no -wal, no -shm

    const out = JSON.parse(execFileSync("/usr/bin/python3", ["-c", READ, file], { encoding: "utf8" }));
    expect(out.tables).toContain("events");
    expect(out.tables).toContain("exp/tracks/train/loss");
    expect(out.decl).toMatchObject({
      _quiver_pos: "INTEGER",
      epoch: "INTEGER",
      loss: "",
      ok: "INTEGER",
      note: "TEXT",
      bytes: "BLOB",
      hist: "TEXT",
      timestamp: "TIMESTAMP",
      track_id: "TEXT",
    });
    const [a, b] = out.rows;
    expect(a).toMatchObject({
      _quiver_pos: ["int", 0],
      epoch: ["int", 1],
      loss: ["float", 0.5],
      ok: ["int", 1],
      note: ["str", "a\u0000b"],
      bytes: ["bytes", "00ff"],
      hist: ["str", [1, 2, 3]],
      big: ["int", 2 ** 60],
      model: ["str", "resnet18"],
      track_id: ["str", "run-1"],
    });
    expect(a.timestamp[0]).toBe("datetime"); // Python's TIMESTAMP converter parses Quiver's text
    expect(Date.parse(`${a.timestamp[1]}Z`)).toBeGreaterThan(Date.now() - 60_000);
    expect(b).toMatchObject({ _quiver_pos: ["int", 1], loss: ["float", -0], ok: ["int", 0], note: ["str", "é"], bytes: ["NoneType", null], big: ["int", -1] });
    expect(out.points).toEqual([
      [1.5, 0.9],
      [2.25, 0.7],
    ]);
  });
});
