import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openStore, Session } from "@quiver/core";
import plugin, { DATA_FILE, INDEX_FILE, SCHEMA_FILE } from "../dist/index.js";
import { cleanup, PYTHON, python, pythonObjects, tmpRoot } from "./helpers.js";

afterAll(cleanup);

describe("msgpack layout", () => {
  it("default export is the plugin and importing registers msgpack:", async () => {
    expect(plugin.scheme).toBe("msgpack");
    const root = tmpRoot("reg");
    const store = await openStore(`msgpack:${root}`);
    expect(store.scheme).toBe("msgpack");
    expect(store.capabilities.timeIndex).toBe(true);
    await store.close();
  });

  it("writes the seed's layout: tracks, params and logs as data.msgpack files under the prefix", async () => {
    const root = tmpRoot("layout");
    const s = await Session.open({ prefix: "project/my-experiment", root });
    s.track("train").append({ loss: 0.5, epoch: 1, _ts: 1.0 });
    s.track("train").append({ loss: 0.4, epoch: 2, _ts: 2.0 });
    await s.track("train_loss").appendBatch([
      { value: 0.5, step: 1, epoch: 1, _ts: 10.0 },
      { value: 0.45, step: 2, epoch: 1, _ts: 11.0 },
    ]);
    s.track("robot/position/left-camera").append({ x: 1.0, y: 2.0, _ts: 1.0 });
    await s.params.set({ learning_rate: 0.001, batch_size: 32 });
    s.log("Starting training");
    await s.close();
    const base = path.join(root, "project/my-experiment");
    for (const t of ["tracks/train", "tracks/train_loss", "tracks/robot/position/left-camera", "params", "logs"]) {
      expect(fs.existsSync(path.join(base, t, DATA_FILE)), t).toBe(true);
      expect(fs.existsSync(path.join(base, t, SCHEMA_FILE)), t).toBe(true);
      expect(fs.existsSync(path.join(base, t, INDEX_FILE)), t).toBe(true);
    }
    // Rows: one map per append, floats stay floats, ints stay ints (as the seed shows).
    expect(pythonObjects(path.join(base, "tracks/train", DATA_FILE))).toEqual([
      { _ts: { float: 1.0 }, loss: { float: 0.5 }, epoch: 1 },
      { _ts: { float: 2.0 }, loss: { float: 0.4 }, epoch: 2 },
    ]);
    // appendBatch: ONE columnar map.
    expect(pythonObjects(path.join(base, "tracks/train_loss", DATA_FILE))).toEqual([
      { _ts: [{ float: 10.0 }, { float: 11.0 }], value: [{ float: 0.5 }, { float: 0.45 }], step: [1, 2], epoch: [1, 1] },
    ]);
    const params = pythonObjects(path.join(base, "params", DATA_FILE)) as Record<string, unknown>[];
    // Params are core's key-value records; whatever their shape, Python reads them.
    expect(JSON.stringify(params)).toContain("learning_rate");
    const logs = pythonObjects(path.join(base, "logs", DATA_FILE)) as Record<string, unknown>[];
    expect(logs[0]).toMatchObject({ level: "info", message: "Starting training" });
  });

  it("the seed's one-liner reads a track in Python", async () => {
    const root = tmpRoot("oneliner");
    const s = await Session.open({ prefix: "project/my-experiment", root });
    await s.track("train_loss").appendBatch([{ value: 0.5 }, { value: 0.45 }]);
    await s.close();
    const file = path.join(root, "project/my-experiment/tracks/train_loss/data.msgpack");
    const { execFileSync } = await import("node:child_process");
    const out = execFileSync(PYTHON, ["-c", `import msgpack; [print(obj) for obj in msgpack.Unpacker(open('${file}', 'rb'), raw=False)]`], { encoding: "utf8" });
    // msgpack-lines: the record, then the "\n" after it, which a stream decoder reads as 10.
    expect(out).toMatch(/^\{'_ts': \[[0-9.]+, [0-9.]+\], 'value': \[0\.5, 0\.45\]\}\n10\n$/);
  });

  it("rows omit nulls, row and columnar records mix in one track and read back in order", async () => {
    const root = tmpRoot("mixed");
    const s = await Session.open({ prefix: "p", root });
    const t = s.track("m");
    t.append({ a: 1, _ts: 1 });
    t.append({ b: "x", _ts: 2 });
    await t.appendBatch([
      { a: 3, _ts: 3 },
      { b: "y", _ts: 4 },
    ]);
    t.append({ a: 5, b: "z", _ts: 5 });
    const r = await t.read();
    expect(r.data.map((p) => p.data)).toEqual([
      { _ts: 1, a: 1 },
      { _ts: 2, b: "x" },
      { _ts: 3, a: 3 },
      { _ts: 4, b: "y" },
      { _ts: 5, a: 5, b: "z" },
    ]);
    expect(r.data.map((p) => p.index)).toEqual([0, 1, 2, 3, 4]);
    await s.close();
    expect(pythonObjects(path.join(root, "p/tracks/m", DATA_FILE))).toEqual([
      { _ts: { float: 1 }, a: 1 },
      { _ts: { float: 2 }, b: "x" },
      { _ts: [{ float: 3 }, { float: 4 }], a: [3, null], b: [null, "y"] },
      { _ts: { float: 5 }, a: 5, b: "z" },
    ]);
  });

  it("types survive through the schema sidecar while Python sees plain values", async () => {
    const root = tmpRoot("types");
    const when = new Date("2024-05-06T07:08:09.123Z");
    const s = await Session.open({ prefix: "p", root });
    s.track("t").append({
      _ts: 1.5,
      big: 2n ** 62n,
      when,
      f32: new Float32Array([1.5, -2.25]),
      i16: new Int16Array([1, -2]),
      list: [1, 2.5],
      img: { data: new Uint8Array([1, 2, 3, 4, 5, 6]), shape: [2, 3] },
      bin: new Uint8Array([0, 255]),
      ok: false,
      name: "héllo",
    });
    await s.close();
    const s2 = await Session.open({ prefix: "p", root });
    const [p] = (await s2.track("t").read()).data;
    expect(p!.data).toEqual({
      _ts: 1.5,
      big: 2n ** 62n,
      when,
      f32: new Float32Array([1.5, -2.25]),
      i16: new Int16Array([1, -2]),
      list: [1, 2.5],
      img: { data: new Uint8Array([1, 2, 3, 4, 5, 6]), shape: [2, 3] },
      bin: new Uint8Array([0, 255]),
      ok: false,
      name: "héllo",
    });
    await s2.close();
    const [o] = pythonObjects(path.join(root, "p/tracks/t", DATA_FILE)) as Record<string, unknown>[];
    expect(o).toEqual({
      _ts: { float: 1.5 },
      big: 2 ** 62,
      when: { timestamp: when.getTime() / 1000 },
      f32: [{ float: 1.5 }, { float: -2.25 }],
      i16: [1, -2],
      list: [{ float: 1 }, { float: 2.5 }],
      img: { data: [1, 2, 3, 4, 5, 6], shape: [2, 3] },
      bin: { bytes: [0, 255] },
      ok: false,
      name: "héllo",
    });
    const schema = JSON.parse(fs.readFileSync(path.join(root, "p/tracks/t", SCHEMA_FILE), "utf8"));
    expect(Object.fromEntries(schema.fields.map((f: { name: string; type: string }) => [f.name, f.type]))).toMatchObject({
      _ts: "float64",
      big: "int64",
      when: "timestamp[us, UTC]",
      f32: "list<float32>",
      i16: "list<int16>",
      img: "tensor<uint8>",
      bin: "binary",
    });
  });

  it("reads files written by other tools (no sidecars): schema inferred, index built", async () => {
    const root = tmpRoot("foreign");
    const dir = path.join(root, "proj/exp/tracks/train_loss");
    fs.mkdirSync(dir, { recursive: true });
    python(`
import msgpack, json
with open(${JSON.stringify(path.join(dir, DATA_FILE))}, 'wb') as f:
    f.write(msgpack.packb({"value": 0.5, "epoch": 1, "_ts": 1.0}))
    f.write(msgpack.packb({"_ts": [2.0, 3.0], "value": [0.45, 0.4], "epoch": [2, 3]}))
    f.write(msgpack.packb({"value": 0.38, "epoch": 4, "_ts": 4.0}))
print(json.dumps(1))
`);
    const s = await Session.open({ prefix: "proj/exp", root });
    expect(await s.tracks.list()).toEqual(["train_loss"]);
    const r = await s.track("train_loss").read();
    expect(r.data.map((p) => p.data)).toEqual([
      { _ts: 1, value: 0.5, epoch: 1 },
      { _ts: 2, value: 0.45, epoch: 2 },
      { _ts: 3, value: 0.4, epoch: 3 },
      { _ts: 4, value: 0.38, epoch: 4 },
    ]);
    const w = await s.track("train_loss").readByTime({ startTime: 2, endTime: 4 });
    expect(w.data.map((p) => p.index)).toEqual([1, 2]);
    s.track("train_loss").append({ value: 0.3, epoch: 5, _ts: 5 });
    await s.close();
    expect(fs.existsSync(path.join(dir, SCHEMA_FILE))).toBe(true);
    expect(pythonObjects(path.join(dir, DATA_FILE))).toHaveLength(4);
  });
});
