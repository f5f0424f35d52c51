import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Field, makeData, RecordBatch, Schema, Struct, Uint64 } from "apache-arrow";
import { BIGINT_META, batchToRows, isQuiverError, openStore, rowsToBatch, Session, type Store, Tracker } from "@quiver/core";
import { plain } from "@quiver/core/testing";
import plugin, { H5Logger } from "../dist/index.js";
import { py, tmpDir, tool } from "./helpers.js";

const dir = tmpDir("store");
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("h5: store layout", () => {
  it("is the default export, registered for h5: URIs; a path without extension gets .h5", async () => {
    expect(plugin.scheme).toBe("h5");
    const store = await openStore(`h5:${path.join(dir, "noext")}`);
    await store.append("t", rowsToBatch([{ a: 1 }]));
    await store.close();
    expect(fs.existsSync(path.join(dir, "noext.h5"))).toBe(true);
    const err = await openStore(`h5:${path.join(dir, "x.csv")}`).catch((e: unknown) => e);
    expect(isQuiverError(err, "INVALID_PATH")).toBe(true);
    expect(store.capabilities).toMatchObject({ sql: false, pushdown: false, concurrentWriters: false, persistent: true, update: true, delete: true });
  });

  it("stores tables as groups of column datasets that h5py and h5dump read", async () => {
    const p = path.join(dir, "layout.h5");
    const store = await openStore(`h5:${p}`);
    const t0 = Date.UTC(2024, 0, 1);
    await store.append(
      "runs/a",
      rowsToBatch([
        { step: 1, loss: 0.5, name: "héllo", ok: true, at: new Date(t0) },
        { step: 2, loss: null, name: "b/c", ok: false, at: new Date(t0 + 1000) },
      ]),
    );
    await store.append("runs/a", rowsToBatch([{ step: 3, loss: 0.25, extra: "late" }]));
    await store.close();
    expect(tool("h5ls", "-r", p)).toMatch(/\/runs\/a\/loss\s+Dataset \{3\/Inf\}/);
    expect(tool("h5dump", "-d", "/runs/a/step", p).replace(/\s+/g, " ")).toContain("(0): 1, 2, 3");
    const out = py(
      [
        "import h5py,sys,json",
        "g=h5py.File(sys.argv[1],'r')['runs/a']",
        "meta=json.loads(g.attrs['quiver_table'])",
        "names=[c['name'] for c in meta['columns']]",
        "b=g['name'][:].tobytes(); o=[0]+list(g['name.offsets'][:])",
        "strs=[b[o[i]:o[i+1]].decode() for i in range(3)]",
        "print(meta['rows'], names, list(g['loss'][:]), list(g['loss.valid'][:]), strs, list(g['name.valid'][:]), int(g['at'][1]))",
      ].join("\n"),
      p,
    );
    expect(out.trim()).toBe(`3 ['step', 'loss', 'name', 'ok', 'at', 'extra'] [0.5, 0.0, 0.25] [1, 0, 1] ['héllo', 'b/c', ''] [1, 1, 0] ${(t0 + 1000) * 1000}`);
  });

  it("round-trips lists and tensors of every element type exactly as the memory store does", async () => {
    const row = {
      strs: ["a", "b"],
      bools: [true, false],
      odd: [NaN, -Infinity, 1],
      f32: new Float32Array([Infinity, 0.5]),
      ints: new Int32Array([1, -2]),
      big: new BigInt64Array([5n, 2n ** 62n]),
      dates: [new Date(1000)],
      t: { data: new Int16Array([1, 2, 3, 4]), shape: [2, 2] },
      f: { data: [0.5, 1.5], shape: [2] },
      u8: new Uint8Array([1, 2]),
      nested: { a: 1, b: "x" },
      bl: new BigUint64Array([5n, 2n ** 64n - 1n]),
      neg0: [-0, 0, -0.5],
      bins: [new Uint8Array(0), new Uint8Array([7])],
      when: new Date(Date.UTC(2020, 1, 2, 3, 4, 5, 6)),
    };
    const rows = async (store: Store) => {
      await store.append("l", rowsToBatch([row, { strs: null, u8: null }, row]));
      const out: unknown[] = [];
      for await (const b of store.scan("l")) out.push(...batchToRows(b));
      return out;
    };
    const h5 = await openStore(`h5:${path.join(dir, "lists.h5")}`);
    const got = await rows(h5);
    await h5.close();
    expect(plain(got)).toEqual(plain(await rows(await openStore("memory:"))));
    const first = got[0] as Record<string, unknown>;
    expect(first.big).toEqual(new BigInt64Array([5n, 2n ** 62n]));
    // Exact: -0 stays -0, an empty binary stays empty (not null), 2^64−1 stays a uint64.
    expect(Object.is((first.neg0 as number[])[0], -0)).toBe(true);
    expect(Object.is((first.neg0 as number[])[1], 0)).toBe(true);
    expect(first.bins).toEqual([new Uint8Array(0), new Uint8Array([7])]);
    expect(first.bl).toEqual(new BigUint64Array([5n, 2n ** 64n - 1n]));
    expect(py("import h5py,sys\nprint(h5py.File(sys.argv[1],'r')['l'].attrs['quiver_table'][:9])", path.join(dir, "lists.h5")).trim()).toBe('{"version');
  });

  it("stores a uint64 column as uint64: 2^64−1 comes back exactly and h5py reads it", async () => {
    const p = path.join(dir, "u64.h5");
    const f = new Field("u", new Uint64(), true, new Map([[BIGINT_META, "1"]]));
    const data = makeData({ type: new Uint64(), length: 2, nullCount: 0, data: new BigUint64Array([2n ** 64n - 1n, 5n]) });
    const batch = new RecordBatch(new Schema([f]), makeData({ type: new Struct([f]), length: 2, nullCount: 0, children: [data] }));
    const store = await openStore(`h5:${p}`);
    await store.append("t", batch);
    const out: unknown[] = [];
    for await (const b of store.scan("t")) out.push(...batchToRows(b));
    await store.close();
    expect(out).toEqual([{ u: 2n ** 64n - 1n }, { u: 5n }]);
    expect(py("import h5py,sys\nd=h5py.File(sys.argv[1],'r')['t/u']\nprint(d.dtype, int(d[0]))", p).trim()).toBe(`uint64 ${2n ** 64n - 1n}`);
  });

  it("carries a Session's tracks and a Tracker's events", async () => {
    const p = path.join(dir, "session.h5");
    const session = await Session.open({ prefix: "proj/exp", store: `h5:${p}` });
    session.track("train").append({ loss: 0.5, _ts: 1 }).append({ loss: 0.25, _ts: 2 });
    await session.track("train").flush();
    const r = await session.track("train").read();
    expect(r.data.map((d: { data: Record<string, unknown> }) => d.data.loss)).toEqual([0.5, 0.25]);
    await session.close();
    const tracker = await Tracker.open(`h5:${p}`, { params: { model: "m" } });
    await tracker.log({ accuracy: 0.9 });
    expect(await tracker.count()).toBe(1);
    await tracker.close();
    const ls = tool("h5ls", "-r", p);
    expect(ls).toMatch(/\/proj\/exp\/tracks\/train\/loss\s+Dataset/);
    expect(ls).toMatch(/\/events\/accuracy\s+Dataset/);
  });

  it("H5Logger with concurrentReaders refuses new names after SWMR started, naming the fix", async () => {
    const p = path.join(dir, "swmr-names.h5");
    const l = await H5Logger.open(p, { replaceIfExists: true, concurrentReaders: true });
    l.log("a", 1);
    await l.flush();
    let err: unknown;
    try {
      l.log("b", 2);
    } catch (e) {
      err = e;
    }
    expect(isQuiverError(err, "UNSUPPORTED")).toBe(true);
    expect((err as Error).message).toContain("datasets");
    l.log("a", 2);
    await l.close();
    const r = await H5Logger.read(p);
    expect(r.get("a").toArray()).toEqual([1, 2]);
    r.close();
  });
});
