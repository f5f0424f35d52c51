/**
 * The SQL accelerators core reads through — time windows (readByTime) and run summaries
 * (runs) — answer exactly what core's own fallbacks answer over the same rows (the memory
 * store, which has neither), whichever SQL they pick: rowid for the index in a dense table,
 * the row number after deletes and in-order rewrites, a user column named rowid.
 */
import { field, MemoryStore, openStore, type RecordBatch, rowsToBatch, Session, type Store, type TimeRange, vectorToValues } from "@quiver/core";
import type { StoreDriver } from "@quiver/core/store-kit";
import { describe, expect, it } from "vitest";
import "../dist/index.js";
import { tmpDb } from "./helpers.js";

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function rows(batches: AsyncIterable<RecordBatch>): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const b of batches) {
    const cols = b.schema.fields.map((f, c) => vectorToValues(b.getChildAt(c)!, f));
    for (let i = 0; i < b.numRows; i++) out.push(Object.fromEntries(b.schema.fields.map((f, c) => [f.name, typeof cols[c]![i] === "bigint" ? Number(cols[c]![i]) : cols[c]![i]])));
  }
  return out;
}

/** Both stores get the same appends (and changes). */
async function both(f: (s: Store) => Promise<unknown>, duck: Store, mem: Store): Promise<void> {
  await f(duck);
  await f(mem);
}

function ranges(r: () => number, tsMax: number): TimeRange[] {
  const out: TimeRange[] = [{}, { reverse: true }, { rowIndex: "i" }, { rowIndex: "i", reverse: true, limit: 7 }];
  for (let k = 0; k < 40; k++) {
    const a = Math.floor(r() * tsMax);
    const range: TimeRange = {};
    if (r() < 0.7) range.start = a;
    if (r() < 0.7) range.end = a + Math.floor(r() * tsMax * 0.3);
    if (r() < 0.5) range.reverse = true;
    if (r() < 0.5) range.limit = Math.floor(r() * 20);
    if (r() < 0.3) range.offset = Math.floor(r() * 10);
    if (r() < 0.6) range.rowIndex = "i";
    if (r() < 0.3) range.columns = ["v"];
    out.push(range);
  }
  return out;
}

async function expectSameWindows(duck: Store, mem: Store, table: string, list: TimeRange[], what: string): Promise<void> {
  for (const range of list) {
    expect(await rows(duck.readByTime!(table, range)), `${what}: ${JSON.stringify(range)}`).toEqual(await rows(mem.readByTime!(table, range)));
  }
}

describe("duckdb: time windows through SQL", () => {
  it("declares a time index and answers every window as core's scan does, dense or not", async () => {
    const duck = await openStore(`duckdb:${tmpDb()}`);
    const mem = new MemoryStore();
    expect(duck.capabilities.timeIndex).toBe(true);
    expect(mem.capabilities.timeIndex).toBe(false);
    const r = rng(7);
    // _ts mostly increasing, with ties, stragglers out of order and nulls; several appends.
    for (let k = 0; k < 6; k++) {
      const batch = rowsToBatch(
        Array.from({ length: 50 }, (_, j) => {
          const n = k * 50 + j;
          return { _ts: r() < 0.05 ? null : r() < 0.1 ? Math.floor(r() * 300) : Math.floor(n / 3), v: n, tag: [`t${n % 4}`] };
        }),
      );
      await both((s) => s.append("t", batch), duck, mem);
    }
    await expectSameWindows(duck, mem, "t", ranges(r, 100), "dense");
    // Deletes leave gaps in rowid: the index must then be the row number.
    await both((s) => s.delete("t", field("v").lt(10).or(field("v").eq(77)).node), duck, mem);
    await expectSameWindows(duck, mem, "t", ranges(r, 100), "after deletes");
    await both(
      (s) =>
        s.append(
          "t",
          rowsToBatch([
            { _ts: 5, v: 1000 },
            { _ts: 5, v: 1001 },
          ]),
        ),
      duck,
      mem,
    );
    // A list update rewrites the table in order (delete + insert of every row).
    await both((s) => s.update("t", field("v").eq(20).node, { tag: ["x", "y"] }), duck, mem);
    await expectSameWindows(duck, mem, "t", ranges(r, 100), "after a list update");
    // A Date bound against a float column matches nothing, as in core's evaluator.
    expect(await rows(duck.readByTime!("t", { start: new Date(0) }))).toEqual([]);
    expect(await rows(duck.readByTime!("missing", {}))).toEqual([]);
    await duck.close();
  });

  it("a user column named rowid, and a timestamp column as the time column", async () => {
    const duck = await openStore(`duckdb:${tmpDb()}`);
    const mem = new MemoryStore();
    const r = rng(11);
    const batch = rowsToBatch(
      Array.from({ length: 120 }, (_, n) => ({ _ts: Math.floor(r() * 40), rowid: 500 - n, v: n, at: new Date(1_700_000_000_000 + Math.floor(r() * 40) * 1000) })),
    );
    await both((s) => s.append("t", batch), duck, mem);
    await expectSameWindows(duck, mem, "t", ranges(r, 40), "rowid column");
    const at = new Date(1_700_000_000_000 + 10_000);
    for (const range of [
      { column: "at", start: at },
      { column: "at", end: at, reverse: true, rowIndex: "i", limit: 9 },
    ] as TimeRange[]) {
      expect(await rows(duck.readByTime!("t", range))).toEqual(await rows(mem.readByTime!("t", range)));
    }
    await duck.close();
  });

  it("Track.readByTime reads through it: points, indexes, total and hasMore", async () => {
    const store = await openStore(`duckdb:${tmpDb()}`);
    const s = await Session.open({ prefix: "p/e", store, flushInterval: 0 });
    const tr = s.track("loss");
    for (let i = 0; i < 300; i++) tr.append({ _ts: 1000 + i, v: i });
    await s.flush();
    const w = await tr.readByTime({ startTime: 1100, endTime: 1150, limit: 20, reverse: true });
    expect(w.data.map((p) => [p.index, p.data.v])).toEqual(Array.from({ length: 20 }, (_, k) => [149 - k, 149 - k]));
    expect([w.total, w.hasMore]).toEqual([50, true]);
    await s.close();
    await store.close();
  });
});

describe("duckdb: run summaries by GROUP BY", () => {
  it("equal core's summary of a scan: first appearance order, null ids skipped, null timestamps counted", async () => {
    const duck = await openStore(`duckdb:${tmpDb()}`);
    const mem = new MemoryStore();
    const r = rng(3);
    const ids = ["zeta", "alpha", "mid", null];
    for (let k = 0; k < 4; k++) {
      const batch = rowsToBatch(
        Array.from({ length: 40 }, () => ({
          track_id: ids[Math.floor(r() * ids.length)]!,
          timestamp: r() < 0.2 ? null : new Date(1_700_000_000_000 + Math.floor(r() * 1e6)),
          v: r(),
        })),
      );
      await both((s) => s.append("events", batch), duck, mem);
    }
    const want = await mem.runs!("events");
    expect(want.length).toBe(3);
    expect(await duck.runs!("events")).toEqual(want);
    await both((s) => s.delete("events", field("track_id").eq("zeta").node), duck, mem);
    expect(await duck.runs!("events")).toEqual(await mem.runs!("events"));
    // No timestamp column; a user column named rowid.
    const plain = rowsToBatch([
      { track_id: "b", rowid: 9 },
      { track_id: "a", rowid: 8 },
      { track_id: "b", rowid: 7 },
    ]);
    await both((s) => s.append("plain", plain), duck, mem);
    expect(await duck.runs!("plain")).toEqual([
      { track_id: "b", rows: 2, first: null, last: null },
      { track_id: "a", rows: 1, first: null, last: null },
    ]);
    expect(await duck.runs!("plain")).toEqual(await mem.runs!("plain"));
    // A track_id that is not a string is left to core, which answers as for any store.
    await both((s) => s.append("odd", rowsToBatch([{ track_id: 1 }, { track_id: 2 }])), duck, mem);
    expect(await duck.runs!("odd")).toEqual(await mem.runs!("odd"));
    expect(await duck.runs!("missing")).toEqual([]);
    await duck.close();
  });
});

describe("duckdb: the driver's plain read (core's source when it has no accelerator)", () => {
  it("gives every row in insertion order, the columns asked for or all of them", async () => {
    const duck = await openStore(`duckdb:${tmpDb()}`);
    await duck.append(
      "t",
      rowsToBatch([
        { a: 1, b: "x" },
        { a: 2, b: "y" },
      ]),
    );
    await duck.append("t", rowsToBatch([{ a: 3, c: true }]));
    const driver = (duck as unknown as { driver: StoreDriver }).driver;
    const read = async (table: string, cols: string[] | undefined) => {
      const batches = await driver.read(table, cols);
      return rows(
        (async function* () {
          yield* batches;
        })(),
      );
    };
    expect(await read("t", ["a"])).toEqual([{ a: 1 }, { a: 2 }, { a: 3 }]);
    expect(await read("t", undefined)).toEqual([
      { a: 1, b: "x", c: null },
      { a: 2, b: "y", c: null },
      { a: 3, b: null, c: true },
    ]);
    expect(await read("t", [])).toHaveLength(3);
    expect(await read("missing", undefined)).toEqual([]);
    await duck.close();
  });
});
