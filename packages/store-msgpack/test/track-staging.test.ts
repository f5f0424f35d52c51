import { afterAll, describe, expect, it } from "vitest";
import { isQuiverError, Session } from "@quiver/core";
import "../dist/index.js";
import { cleanup, tmpRoot } from "./helpers.js";

afterAll(cleanup);

function code(fn: () => unknown): string {
  try {
    fn();
    return "none";
  } catch (err) {
    return isQuiverError(err) ? err.code : String(err);
  }
}

// Track.append stages points column by column (core's PointColumns); these pin the behaviour
// it must keep: shape changes, rejected points leaving nothing behind, merging of equal _ts.
describe("Track staging over msgpack:", () => {
  it("keeps shape changes, rejected points and merges exact", async () => {
    const s = await Session.open({ prefix: "p", root: tmpRoot("staging"), flushInterval: 0 });
    const t = s.track("t");
    t.append({ a: 1, _ts: 1 });
    t.append({ a: 2, _ts: 2 });
    expect(code(() => t.append({ a: 3, _ts: NaN }))).toBe("INVALID_TIMESTAMP"); // same shape, bad _ts
    expect(code(() => t.append({ a: "three", _ts: 3 }))).toBe("SCHEMA_MISMATCH");
    expect(code(() => t.append({ a: () => 3, _ts: 3 }))).toBe("INVALID_VALUE");
    t.append({ a: 3, b: "x", _ts: 3 }); // new column
    t.append({ b: "y", a: 4, _ts: 4 }); // other key order
    t.append({ a: 5, _ts: 5 }); // fewer keys
    t.append({ a: null, b: "z", _ts: 6 });
    t.append({ q: [1, 2], _ts: 7 });
    t.append({ v: 2, _ts: 7 }); // merged with the previous point
    t.append({ a: 8 }); // auto _ts
    t.append({ a: 9, _ts: -1 }); // same _ts as the previous point: merged
    expect(t.pending).toBe(10);
    const r = await t.read();
    const data = r.data.map((p) => p.data);
    expect(data.slice(0, 7)).toEqual([
      { _ts: 1, a: 1 },
      { _ts: 2, a: 2 },
      { _ts: 3, a: 3, b: "x" },
      { _ts: 4, a: 4, b: "y" },
      { _ts: 5, a: 5 },
      { _ts: 6, b: "z" },
      { _ts: 7, q: [1, 2], v: 2 },
    ]);
    expect(data).toHaveLength(8);
    expect(data[7]!.a).toBe(9);
    expect(data[7]!._ts).toBeGreaterThan(1e9);
    // appendBatch: one bad point rejects the batch, nothing of it is stored
    expect(
      await t
        .appendBatch([
          { a: 10, _ts: 10 },
          { a: 11, _ts: Infinity },
        ])
        .then(
          () => "none",
          (e) => e.code,
        ),
    ).toBe("INVALID_TIMESTAMP");
    expect((await t.read()).total).toBe(8);
    expect(
      await t.appendBatch([
        { a: 10, _ts: 100 },
        { a: 11, _ts: 101 },
        { a: 12, b: "w", _ts: 101 },
      ]),
    ).toEqual({ count: 3, startIndex: 8, endIndex: 10 });
    // appendBatch writes the points as given, as dreamlake's append_batch (only a flush merges).
    const after = (await t.read()).data.map((p) => p.data);
    expect(after.slice(8)).toEqual([
      { _ts: 100, a: 10 },
      { _ts: 101, a: 11 },
      { _ts: 101, a: 12, b: "w" },
    ]);
    await s.close();
  });

  it("column types follow the points that were kept (a refused point does not widen ints to floats)", async () => {
    const s = await Session.open({ prefix: "p", root: tmpRoot("types"), flushInterval: 0 });
    const a = s.track("a");
    a.append({ n: 1, _ts: 1 }).append({ n: 2, _ts: 2 });
    expect(code(() => a.append({ n: 2.5, _ts: NaN }))).toBe("INVALID_TIMESTAMP");
    a.append({ n: 3, _ts: 3 });
    await a.flush();
    const b = s.track("b");
    b.append({ n: 1, _ts: 1 }).append({ n: 2.5, _ts: 2 }).append({ n: null, _ts: 3 });
    await b.flush();
    const typeOf = async (t: string) => String((await s.store.schema(`p/tracks/${t}`))!.fields.find((f) => f.name === "n")!.type);
    expect(await typeOf("a")).toBe("Int64");
    expect(await typeOf("b")).toBe("Float64");
    expect((await b.read()).data.map((p) => p.data.n ?? null)).toEqual([1, 2.5, null]);
    await s.close();
  });
});
