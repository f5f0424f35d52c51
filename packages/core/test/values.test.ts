import { describe, expect, it } from "vitest";
import { batchToRows, MemoryStore, QuiverError, rowsToBatch, Session, Tracker, typeName } from "../dist/index.js";
import { plain } from "../dist/testing/index.js";

const code = async (fn: () => unknown): Promise<string | undefined> => {
  try {
    await fn();
  } catch (e) {
    expect(e).toBeInstanceOf(QuiverError);
    return (e as QuiverError).code;
  }
  return undefined;
};
const back = (v: unknown): unknown => batchToRows(rowsToBatch([{ v }]))[0]!.v;

describe("values round-trip exactly or are refused", () => {
  it("numbers: int64 only for safe integers; 1e19, 2**64, 1.23e100 and -0 are float64 and exact", () => {
    for (const v of [1e19, 2 ** 64, 1.23e100, -0, 2 ** 53, NaN, -Infinity, 5e-324]) {
      expect(typeName(rowsToBatch([{ v }]).schema.fields[0]!.type)).toBe("float64");
      expect(Object.is(back(v), v)).toBe(true);
    }
    expect(typeName(rowsToBatch([{ v: 2 ** 53 - 1 }]).schema.fields[0]!.type)).toBe("int64");
    // An int64 column that later receives an unsafe whole number widens to float64.
    const s = rowsToBatch([{ v: 1 }]).schema;
    const b = rowsToBatch([{ v: 1e19 }], { schema: s });
    expect(typeName(b.schema.fields[0]!.type)).toBe("float64");
    expect(batchToRows(b)[0]!.v).toBe(1e19);
  });

  it("Dates of years 1-9999 come back exactly (beyond 2^53 µs too); others are refused", async () => {
    for (const ms of [-62135596800000, 253402300799999, Date.UTC(2300, 0, 1, 0, 0, 0, 1), Date.UTC(1500, 0, 1, 0, 0, 0, 999)]) {
      expect((back(new Date(ms)) as Date).getTime()).toBe(ms);
    }
    expect(await code(() => rowsToBatch([{ d: new Date(253402300800000) }]))).toBe("INVALID_VALUE");
    expect(await code(() => rowsToBatch([{ d: new Date(-62135596800001) }]))).toBe("INVALID_VALUE");
  });

  it("refuses bigints beyond int64, lone surrogates, non-numeric tensor data and bigints in arrays", async () => {
    for (const v of [2n ** 63n, -(2n ** 63n) - 1n, "a\uD800", { data: ["a", "b"], shape: [2] }, { data: [1, null], shape: [2] }, [1n]]) {
      expect(await code(() => rowsToBatch([{ v }]))).toBe("INVALID_VALUE");
    }
    expect(plain(back(new BigUint64Array([2n ** 64n - 1n])))).toEqual(plain(new BigUint64Array([2n ** 64n - 1n])));
    expect(await code(() => rowsToBatch([{ v: new Float32Array([1]) }, { v: new Int32Array([1]) }]))).toBe("SCHEMA_MISMATCH");
    expect(await code(() => rowsToBatch([{ v: 1 }, { v: 2n }]))).toBe("SCHEMA_MISMATCH");
  });

  it("Tracker.log refuses bad names, case clashes and bad values at the door; later rows are stored", async () => {
    const store = new MemoryStore();
    const t = await Tracker.open(store, { flushInterval: 0 });
    await t.log({ loss: 1, tag: "a" });
    await t.log({ loss: 2, tag: "b" });
    expect(await code(() => t.log({ "": 1 }))).toBe("INVALID_NAME");
    expect(await code(() => t.log({ "a\u0000b": 1 }))).toBe("INVALID_NAME");
    expect(await code(() => t.log({ ["x".repeat(256)]: 1 }))).toBe("INVALID_NAME");
    expect(await code(() => t.log({ Loss: 1 }))).toBe("INVALID_NAME");
    expect(await code(() => t.log({ loss: 3, big: 2n ** 64n }))).toBe("INVALID_VALUE");
    expect(await code(() => t.log({ when: new Date(Date.UTC(10000, 0, 1)) }))).toBe("INVALID_VALUE");
    await t.log({ loss: 4, tag: "c" });
    await t.close();
    const names = (await store.schema("events"))!.fields.map((f) => f.name);
    // The table was created on open (timestamp, track_id), the logged columns came after.
    expect(names).toEqual(["timestamp", "track_id", "loss", "tag"]);
    // The stored schema teaches a new Tracker the names: "LOSS" clashes with the stored "loss".
    const t2 = await Tracker.open(store, { flushInterval: 0 });
    expect(await code(() => t2.log({ LOSS: 1 }))).toBe("INVALID_NAME");
    await t2.close();
  });

  it("Track.append refuses a lone surrogate even on the same-shape fast path", async () => {
    const s = await Session.open({ prefix: "p", store: new MemoryStore(), flushInterval: 0 });
    const tr = s.track("t");
    tr.append({ s: "a" }).append({ s: "b" });
    expect(await code(() => tr.append({ s: "\uDC00" }))).toBe("INVALID_VALUE");
    tr.append({ s: "c", n: 1e19 });
    const r = await tr.read();
    expect(r.data.map((p) => [p.data.s, p.data.n ?? null])).toEqual([
      ["a", null],
      ["b", null],
      ["c", 1e19],
    ]);
    await s.close();
  });
});
