import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Session } from "@quiver/core";
import { Unpackr } from "msgpackr";
import { DATA_FILE, MSGPACK_META, openMsgpackStore, SCHEMA_FILE } from "../dist/index.js";
import { cleanup, python, snapshot, tmpRoot } from "./helpers.js";

afterAll(cleanup);

/** Python writing a track exactly as dreamlake does: msgpack.packb(obj) + b"\n" per record. */
function dreamlakeWrite(file: string, records: string, newline = true): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  python(`
import msgpack, json
with open(${JSON.stringify(file)}, 'ab') as f:
    for r in ${records}:
        f.write(msgpack.packb(r)${newline ? ' + b"\\n"' : ""})
print(json.dumps(1))
`);
}

/** Python reading a track as the seed does (msgpack.Unpacker), dropping the newline separators. */
function dreamlakeRead(file: string): unknown[] {
  return python(`
import msgpack, json
out = []
for o in msgpack.Unpacker(open(${JSON.stringify(file)}, 'rb'), raw=False):
    if o == 10: continue
    out.append(o)
print(json.dumps(out))
`) as unknown[];
}

const RECORDS = `[
    {"_ts": 1.0, "loss": 0.5, "pose": {"x": 1.0, "y": {"z": 2}}, "dets": [{"label": "cat", "score": 0.9}, {"label": "dog", "score": 0.25, "box": [1, 2, 3, 4]}]},
    {"_ts": 2.0, "loss": 0.25, "pose": {"x": 3.0, "y": {"z": 4}}, "dets": []},
    {"_ts": [3.0, 4.0], "loss": [0.125, 0.0625], "pose": [{"x": 5.0, "y": {"z": 6}}, {"x": 7.0, "y": {"z": 8}}], "dets": [[{"label": "bird", "score": 1.0}], None]},
    {"_ts": 5.0, "loss": 1.5, "mixed": [1, "two", 3.5]},
]`;

describe("dreamlake's msgpack-lines", () => {
  it("reads a dreamlake track (packb + newline, nested dicts, lists of dicts, columnar) without changing a byte", async () => {
    const root = tmpRoot("dl");
    const file = path.join(root, "proj/exp/tracks/robot", DATA_FILE);
    dreamlakeWrite(file, RECORDS);
    const before = snapshot(root);
    const s = await Session.open({ prefix: "proj/exp", root });
    const r = await s.track("robot").read({ limit: 100 });
    const unpack = new Unpackr({ useRecords: false, mapsAsObjects: true });
    const rows = r.data.map((p) => {
      const d = { ...p.data };
      for (const k of ["dets", "mixed"]) if (d[k] instanceof Uint8Array) d[k] = unpack.unpack(d[k] as Uint8Array);
      return d;
    });
    // Nested dicts become "a.b" columns (as core logs nested objects); lists of dicts and mixed
    // lists keep their exact msgpack bytes (decoded here to compare).
    expect(rows).toEqual([
      {
        _ts: 1,
        loss: 0.5,
        "pose.x": 1,
        "pose.y.z": 2,
        dets: [
          { label: "cat", score: 0.9 },
          { label: "dog", score: 0.25, box: [1, 2, 3, 4] },
        ],
      },
      { _ts: 2, loss: 0.25, "pose.x": 3, "pose.y.z": 4, dets: [] },
      { _ts: 3, loss: 0.125, "pose.x": 5, "pose.y.z": 6, dets: [{ label: "bird", score: 1 }] },
      { _ts: 4, loss: 0.0625, "pose.x": 7, "pose.y.z": 8 },
      { _ts: 5, loss: 1.5, mixed: [1, "two", 3.5] },
    ]);
    const w = await s.track("robot").readByTime({ startTime: 2, endTime: 4 });
    expect(w.data.map((p) => p.index)).toEqual([1, 2]);
    await s.close();
    // Reading created no sidecar, no lock, no cut in the track (the session's own record is new).
    const tracks = (snap: Record<string, string>) => Object.fromEntries(Object.entries(snap).filter(([f]) => f.startsWith("proj/exp/tracks/")));
    expect(Object.keys(tracks(before))).toEqual(["proj/exp/tracks/robot/data.msgpack"]);
    expect(tracks(snapshot(root))).toEqual(tracks(before));
  });

  it("appending to it keeps dreamlake's records as they were and Python reads every record", async () => {
    const root = tmpRoot("dl-append");
    const file = path.join(root, "proj/exp/tracks/robot", DATA_FILE);
    dreamlakeWrite(file, RECORDS);
    const original = fs.readFileSync(file);
    const s = await Session.open({ prefix: "proj/exp", root, flushInterval: 0 });
    s.track("robot").append({ _ts: 6, loss: 0.75, pose: { x: 9, y: { z: 10 } } });
    await s.track("robot").appendBatch([
      { _ts: 7, loss: 0.5 },
      { _ts: 8, loss: 0.25 },
    ]);
    await s.close();
    // Our bytes only follow dreamlake's; the sidecars mark "dets" and "mixed" as msgpack-valued.
    expect(fs.readFileSync(file).subarray(0, original.length).equals(original)).toBe(true);
    const schema = JSON.parse(fs.readFileSync(path.join(path.dirname(file), SCHEMA_FILE), "utf8")) as { fields: { name: string; metadata?: Record<string, string> }[] };
    expect(
      schema.fields
        .filter((f) => f.metadata?.[MSGPACK_META] === "1")
        .map((f) => f.name)
        .sort(),
    ).toEqual(["dets", "mixed"]);
    const py = dreamlakeRead(file) as Record<string, unknown>[];
    expect(py).toHaveLength(6);
    expect(py[0]!.dets).toEqual([
      { label: "cat", score: 0.9 },
      { label: "dog", score: 0.25, box: [1, 2, 3, 4] },
    ]);
    expect(py[4]).toEqual({ _ts: 6, loss: 0.75, "pose.x": 9, "pose.y.z": 10 });
    expect(py[5]).toEqual({ _ts: [7, 8], loss: [0.5, 0.25] });
    // An update rewrites changed blocks from the stored values: dreamlake's lists of dicts come back byte for byte.
    const store = openMsgpackStore(root);
    expect(await store.update("proj/exp/tracks/robot", { op: "eq", field: "_ts", value: 1 }, { flag: true })).toBe(1);
    await store.close();
    const py2 = dreamlakeRead(file) as Record<string, unknown>[];
    expect(py2[0]).toEqual({ _ts: 1, loss: 0.5, "pose.x": 1, "pose.y.z": 2, flag: true, dets: py[0]!.dets });
    // The changed block is re-encoded: its nested dicts come back as "a.b" keys, values unchanged.
    expect(py2[1]).toEqual({ _ts: 2, loss: 0.25, "pose.x": 3, "pose.y.z": 4, dets: [] });
    expect(py2.slice(2)).toEqual(py.slice(2)); // untouched blocks are copied byte for byte
  });

  it("files with and without the newline read the same; what Quiver writes Python's Unpacker reads with the newline after every record", async () => {
    const root = tmpRoot("dl-nl");
    const recs = `[{"_ts": float(i), "v": i, "b": bytes([10, 10, i])} for i in range(5)]`;
    dreamlakeWrite(path.join(root, "with", DATA_FILE), recs, true);
    dreamlakeWrite(path.join(root, "without", DATA_FILE), recs, false);
    const store = openMsgpackStore(root);
    const a = await (await import("@quiver/core")).readRows(store, "with");
    const b = await (await import("@quiver/core")).readRows(store, "without");
    expect(a).toEqual(b);
    expect(a.map((r) => r.v)).toEqual([0, 1, 2, 3, 4]);
    expect(a[2]!.b).toEqual(new Uint8Array([10, 10, 2]));
    await store.append(
      "mine",
      (await import("@quiver/core")).rowsToBatch([
        { _ts: 1, v: 10 },
        { _ts: 2, v: 10 },
      ]),
    );
    await store.append("mine", (await import("@quiver/core")).rowsToBatch([{ _ts: 3, v: 10 }]), { layout: "columns" });
    await store.close();
    const raw = python(`
import msgpack, json
print(json.dumps(list(msgpack.Unpacker(open(${JSON.stringify(path.join(root, "mine", DATA_FILE))}, 'rb'), raw=False))))
`);
    expect(raw).toEqual([{ _ts: 1, v: 10 }, 10, { _ts: 2, v: 10 }, 10, { _ts: [3], v: [10] }, 10]);
    expect(fs.readFileSync(path.join(root, "mine", DATA_FILE)).at(-1)).toBe(0x0a);
  });

  it("a column whose kind changes between dreamlake records keeps every value as msgpack bytes instead of making the track unreadable", async () => {
    const root = tmpRoot("dl-clash");
    const file = path.join(root, "t", DATA_FILE);
    dreamlakeWrite(file, `[{"_ts": 1.0, "v": 0.5, "ok": 1}, {"_ts": 2.0, "v": "n/a", "ok": 2}, {"_ts": 3.0, "v": [1, 2], "ok": 3}]`);
    const before = snapshot(root);
    const store = openMsgpackStore(root);
    const rows = await (await import("@quiver/core")).readRows(store, "t");
    const unpack = new Unpackr({ useRecords: false, mapsAsObjects: true });
    expect(rows.map((r) => [r.ok, unpack.unpack(r.v as Uint8Array)])).toEqual([
      [1, 0.5],
      [2, "n/a"],
      [3, [1, 2]],
    ]);
    expect(snapshot(root)).toEqual(before);
    await store.close();
  });
});
