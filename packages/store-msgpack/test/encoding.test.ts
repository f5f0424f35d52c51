import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { readRows, rowsToBatch } from "@quiver/core";
import { DATA_FILE, openMsgpackStore } from "../dist/index.js";
import { cleanup, python, tmpRoot } from "./helpers.js";

afterAll(cleanup);

const ints = [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, -1, -32, -33, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 53 - 1)];
const strs = ["", "a", "x".repeat(31), "y".repeat(32), "z".repeat(255), "w".repeat(256), "v".repeat(70_000), "héllo wörld ✓ 🚀"];
const dates = [new Date(0), new Date("1969-07-20T20:17:40.5Z"), new Date("2024-02-29T12:00:00.123Z"), new Date("2200-01-01T00:00:00.001Z")];
const bins = [new Uint8Array(0), new Uint8Array(300).fill(7), new Uint8Array(70_000).fill(9)];

describe("the msgpack encoder", () => {
  it("scalar rows (the fast decoding path) round-trip every int and string width", async () => {
    const store = openMsgpackStore(tmpRoot("scalar"));
    const n = Math.max(ints.length, strs.length);
    const rows = Array.from({ length: n }, (_, i) => ({ _ts: i, int: ints[i] ?? null, str: strs[i] ?? null, ok: i % 2 === 0, f: i / 3, big: i === 2 ? 2n ** 62n : BigInt(i) }));
    await store.append("s", rowsToBatch(rows));
    expect(await readRows(store, "s")).toEqual(rows);
    await store.close();
  });

  for (const layout of ["rows", "columns"] as const) {
    it(`round-trips edge values through JS and Python (${layout})`, async () => {
      const root = tmpRoot("enc");
      const store = openMsgpackStore(root);
      const n = Math.max(ints.length, strs.length, dates.length, bins.length);
      const rows = Array.from({ length: n }, (_, i) => ({
        _ts: i + 0.5,
        int: ints[i] ?? null,
        str: strs[i] ?? null,
        date: dates[i] ?? null,
        bin: bins[i] ?? null,
        big: i === 0 ? 2n ** 63n - 1n : i === 1 ? -(2n ** 63n) : BigInt(i),
        f: i % 2 ? -1.5e-300 : 1e300,
        f32: new Float32Array([i + 0.25, -i]),
        list: i % 3 ? [i, null, 2.5] : [],
      }));
      await store.append("t", rowsToBatch(rows), { layout });
      const back = await readRows(store, "t");
      expect(back).toEqual(rows.map((r) => ({ ...r, list: r.list.map((x) => x) })));
      await store.close();
      const py = python(`
import json, msgpack
out = []
for o in msgpack.Unpacker(open(${JSON.stringify(path.join(root, "t", DATA_FILE))}, 'rb'), raw=False):
    if o == 10: continue  # msgpack-lines separator
    cols = o if isinstance(o.get("_ts"), list) else {k: [v] for k, v in o.items()}
    n = len(cols["_ts"])
    for i in range(n):
        r = {}
        for k, v in cols.items():
            x = v[i] if i < len(v) else None
            if isinstance(x, bytes): x = {"len": len(x)}
            elif isinstance(x, msgpack.Timestamp): x = {"ns": x.to_unix_nano()}
            elif isinstance(x, int) and abs(x) > 2**53: x = str(x)
            if x is not None: r[k] = x
        out.append(r)
print(json.dumps(out))
`) as Record<string, unknown>[];
      expect(py).toHaveLength(n);
      py.forEach((r, i) => {
        expect(r.int ?? null).toBe(ints[i] ?? null);
        expect(r.str ?? null).toBe(strs[i] ?? null);
        expect(r.date ?? null).toEqual(dates[i] ? { ns: dates[i]!.getTime() * 1e6 } : null);
        expect(r.bin ?? null).toEqual(bins[i] ? { len: bins[i]!.length } : null);
        expect(r.big).toEqual(i === 0 ? String(2n ** 63n - 1n) : i === 1 ? String(-(2n ** 63n)) : i);
        expect(r.f).toBe(i % 2 ? -1.5e-300 : 1e300);
        expect(r.f32).toEqual([i + 0.25, -i]);
      });
    });
  }
});
