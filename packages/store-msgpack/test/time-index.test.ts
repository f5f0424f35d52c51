import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { and, batchToRows, field, openStore, readRows, rowsToBatch, Session } from "@quiver/core";
import { DATA_FILE, openMsgpackStore } from "../dist/index.js";
import { cleanup, tmpRoot } from "./helpers.js";

afterAll(cleanup);

/** A small deterministic PRNG (tests must fail the same way twice). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 4294967296;
  };
}

describe("time index", () => {
  it("readByTime and read match the memory store with out-of-order _ts across flushes", async () => {
    const rand = rng(42);
    const root = tmpRoot("ooo");
    const store = await openStore(`msgpack:${root}`, { blockRows: 16 });
    const mp = await Session.open({ prefix: "p", store, flushInterval: 0 });
    const mem = await Session.open({ prefix: "p", store: "memory:", flushInterval: 0 });
    for (let flush = 0; flush < 30; flush++) {
      const base = Math.floor(rand() * 100); // flushes overlap in time and go backwards
      const n = 5 + Math.floor(rand() * 60);
      const pts = Array.from({ length: n }, () => ({ _ts: base + Math.floor(rand() * 200) / 4, v: Math.floor(rand() * 1000), tag: rand() < 0.5 ? "a" : "b" }));
      for (const s of [mp, mem]) {
        if (flush % 3 === 0) await s.track("t").appendBatch(pts);
        else {
          for (const p of pts) s.track("t").append(p);
          await s.track("t").flush();
        }
      }
    }
    expect((await mp.track("t").read({ limit: 10_000 })).data).toEqual((await mem.track("t").read({ limit: 10_000 })).data);
    for (let q = 0; q < 150; q++) {
      const a = rand() < 0.1 ? undefined : Math.floor(rand() * 160) / 2;
      const b = rand() < 0.1 ? undefined : (a ?? 0) + Math.floor(rand() * 80) / 2;
      const opts = { startTime: a, endTime: b, limit: 1 + Math.floor(rand() * 80), reverse: rand() < 0.4 };
      const got = await mp.track("t").readByTime(opts);
      const want = await mem.track("t").readByTime(opts);
      expect(got, JSON.stringify(opts)).toEqual(want);
    }
    for (let q = 0; q < 20; q++) {
      const start = Math.floor(rand() * 1200);
      const limit = Math.floor(rand() * 100);
      expect(await mp.track("t").read({ startIndex: start, limit })).toEqual(await mem.track("t").read({ startIndex: start, limit }));
    }
    // Queries beyond the time path agree too (range plus another predicate, or, not, projections).
    const table = mp.track("t").table;
    const queries = [
      and(field("_ts").ge(20), field("_ts").lt(40), field("tag").eq("a")).node,
      field("_ts").gt(90).or(field("_ts").le(5)).node,
      field("_ts").ge(30).not().node,
      field("_ts").in([10, 20.25, 33.5]).node,
      field("_ts").eq(50).node,
    ];
    for (const where of queries) {
      expect(await mp.store.count(table, where)).toBe(await mem.store.count(table, where));
      expect(await readRows(mp.store, table, { where, rowIndex: "i" })).toEqual(await readRows(mem.store, table, { where, rowIndex: "i" }));
      expect(await readRows(mp.store, table, { where, orderBy: [{ column: "_ts", direction: "desc" }], limit: 7, offset: 2, columns: ["v"] })).toEqual(
        await readRows(mem.store, table, { where, orderBy: [{ column: "_ts", direction: "desc" }], limit: 7, offset: 2, columns: ["v"] }),
      );
    }
    // The row index may also be asked for among the columns, at any position.
    const opts = {
      where: field("_ts").ge(40).node,
      orderBy: [
        { column: "_ts", direction: "desc" as const },
        { column: "i", direction: "desc" as const },
      ],
      rowIndex: "i",
      columns: ["i", "v"],
      limit: 9,
    };
    expect(await readRows(mp.store, table, opts)).toEqual(await readRows(mem.store, table, opts));
    await mp.close();
    await mem.close();
    await store.close();
  }, 60_000);

  it("readByTime seeks: blocks outside the window are never decoded", async () => {
    const root = tmpRoot("seek");
    const store = openMsgpackStore(root, { blockRows: 100 });
    const s = await Session.open({ prefix: "p", store, flushInterval: 0 });
    const t = s.track("t");
    for (let i = 0; i < 5000; i++) t.append({ _ts: 1000 + i, v: i });
    await t.flush();
    const file = path.join(root, "p/tracks/t", DATA_FILE);
    // Corrupt the first 40% of the file: a full read must fail, a window after it must not.
    const fd = fs.openSync(file, "r+");
    const size = fs.fstatSync(fd).size;
    fs.writeSync(fd, Buffer.alloc(Math.floor(size * 0.4), 0xc1), 0, Math.floor(size * 0.4), 0);
    fs.closeSync(fd);
    const r = await t.readByTime({ startTime: 4000, endTime: 4100 });
    expect(r.total).toBe(100);
    expect(r.data.map((p) => p.data.v)).toEqual(Array.from({ length: 100 }, (_, i) => 3000 + i));
    expect(r.data[0]!.index).toBe(3000);
    const latest = await t.readByTime({ reverse: true, limit: 3 });
    expect(latest.data.map((p) => p.data.v)).toEqual([4999, 4998, 4997]);
    expect(latest.total).toBe(5000);
    expect((await t.read({ startIndex: 4990, limit: 5 })).data.map((p) => p.data.v)).toEqual([4990, 4991, 4992, 4993, 4994]);
    await expect(t.toTable()).rejects.toMatchObject({ code: "IO" });
    await s.close();
  });

  it("store.readByTime is served by the driver's index walk: corrupt blocks outside the window are never read", async () => {
    const root = tmpRoot("window");
    const store = openMsgpackStore(root, { blockRows: 50 });
    const mem = await openStore("memory:");
    // Four appends out of time order (1000…, 0…, 1500…, 500…): the file is not sorted by _ts.
    const batches = [1000, 0, 1500, 500].map((t0) => Array.from({ length: 500 }, (_, i) => ({ _ts: t0 + i, v: t0 + i })));
    for (const s of [store, mem]) for (const b of batches) await s.append("t", rowsToBatch(b));
    expect(store.capabilities.timeIndex).toBe(true);
    const file = path.join(root, "t", DATA_FILE);
    const window = async (s: typeof mem, range: Parameters<NonNullable<typeof mem.readByTime>>[1]) => {
      const out: unknown[] = [];
      for await (const b of s.readByTime!("t", range)) out.push(...batchToRows(b));
      return out;
    };
    const ranges = [
      { start: 100, end: 140 },
      { start: 1800, end: 1900, reverse: true, limit: 7 },
      { start: 900, limit: 5, offset: 3 },
      { end: 30, columns: ["v"], rowIndex: "i" },
    ];
    const want = await Promise.all(ranges.map((r) => window(mem, r)));
    // The middle fifth of the file (_ts 300–499 and 1500–1699) is garbage now: no window needs it.
    const fd = fs.openSync(file, "r+");
    const size = fs.fstatSync(fd).size;
    fs.writeSync(fd, Buffer.alloc(Math.floor(size * 0.2), 0xc1), 0, Math.floor(size * 0.2), Math.floor(size * 0.4));
    fs.closeSync(fd);
    await expect(readRows(store, "t")).rejects.toMatchObject({ code: "IO" });
    for (let k = 0; k < ranges.length; k++) expect(await window(store, ranges[k]!), JSON.stringify(ranges[k])).toEqual(want[k]);
    expect(want.map((w) => w.length)).toEqual([40, 7, 5, 30]);
    expect(want[1]).toEqual(Array.from({ length: 7 }, (_, k) => ({ _ts: 1899 - k, v: 1899 - k })));
    expect(want[3]![0]).toEqual({ v: 0, i: 500 });
    await store.close();
  });

  it("count of a pure time range is answered from the index for blocks wholly inside it", async () => {
    const root = tmpRoot("count");
    const store = openMsgpackStore(root, { blockRows: 10 });
    await store.append("t", rowsToBatch(Array.from({ length: 1000 }, (_, i) => ({ _ts: i * 0.5, v: i }))));
    const file = path.join(root, "t", DATA_FILE);
    const size = fs.statSync(file).size;
    // Corrupt the middle; a range whose inner blocks are corrupt still counts (they are not read).
    const fd = fs.openSync(file, "r+");
    fs.writeSync(fd, Buffer.alloc(Math.floor(size / 5), 0xc1), 0, Math.floor(size / 5), Math.floor(size * 0.4));
    fs.closeSync(fd);
    expect(await store.count("t", and(field("_ts").ge(2.5), field("_ts").lt(497.5)).node)).toBe(990);
    await store.close();
  });
});
