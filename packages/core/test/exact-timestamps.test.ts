// Timestamps below the millisecond (µs/ns columns from Arrow tables, SQLite or DuckDB files)
// must survive every path that moves Arrow data: copy, the kit's rewrite, filtered and sorted
// scans. A JS Date holds only milliseconds, so any detour through rows would cut them.
import { Field, makeData, RecordBatch, Schema, Struct, TimestampMicrosecond, TimestampNanosecond, Utf8, vectorFromArray } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { concatBatches, conformBatch, copy, field, MemoryStore, type Query, takeRows } from "../src/index.js";

const US = [1_700_000_000_123_456n, null, 1_700_000_000_123_457n, 1_700_000_000_999_999n];
const NAMES = ["a", "b", "c", "d"];

function usBatch(values: (bigint | null)[] = US, names: string[] = NAMES): RecordBatch {
  const type = new TimestampMicrosecond("UTC");
  const valid = new Uint8Array(1);
  values.forEach((v, i) => {
    if (v !== null) valid[0]! |= 1 << i;
  });
  const nulls = values.filter((v) => v === null).length;
  const ts = makeData({ type, length: values.length, nullCount: nulls, nullBitmap: valid, data: BigInt64Array.from(values, (v) => v ?? 0n) });
  const name = vectorFromArray(names, new Utf8()).data[0]!;
  const fields = [new Field("at", type, true), new Field("name", new Utf8(), true)];
  return new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: values.length, nullCount: 0, children: [ts, name] }));
}

async function stored(store: MemoryStore, table = "events", query?: Query): Promise<(bigint | null)[]> {
  const out: (bigint | null)[] = [];
  for await (const b of store.scan(table, query ? { where: query.node } : {})) {
    const d = b.getChild("at")!.data;
    for (const chunk of d) {
      for (let j = 0; j < chunk.length; j++) out.push(chunk.getValid(j) ? (chunk.values as BigInt64Array)[chunk.offset + j]! : null);
    }
  }
  return out;
}

describe("timestamps below the millisecond", () => {
  it("takeRows, concatBatches and conformBatch copy the stored integers", () => {
    const b = usBatch();
    const picked = takeRows(b, [3, 1, 0]);
    expect(Array.from({ length: 3 }, (_, i) => picked.getChild("at")!.data[0]!.getValid(i))).toEqual([true, false, true]);
    expect((picked.getChild("at")!.data[0]!.values as BigInt64Array)[0]).toBe(US[3]);
    expect((picked.getChild("at")!.data[0]!.values as BigInt64Array)[2]).toBe(US[0]);
    const both = concatBatches([b, usBatch([5n, 6n], ["x", "y"])], b.schema);
    expect(Array.from(both.getChild("at")!.data[0]!.values as BigInt64Array).slice(-3)).toEqual([US[3], 5n, 6n]);
    const ns = new Schema([new Field("name", new Utf8(), true), new Field("at", new TimestampMicrosecond("UTC"), true)]);
    expect((conformBatch(b, ns).getChild("at")!.data[0]!.values as BigInt64Array)[2]).toBe(US[2]);
    // A nanosecond column keeps its nanoseconds too.
    const nsType = new TimestampNanosecond("UTC");
    const nsData = makeData({ type: nsType, length: 2, nullCount: 0, data: BigInt64Array.from([1_700_000_000_123_456_789n, 1n]) });
    const nsBatch = new RecordBatch(new Schema([new Field("t", nsType)]), makeData({ type: new Struct([new Field("t", nsType)]), length: 2, nullCount: 0, children: [nsData] }));
    expect((takeRows(nsBatch, [0]).getChild("t")!.data[0]!.values as BigInt64Array)[0]).toBe(1_700_000_000_123_456_789n);
  });

  it("copy brings µs timestamps over exactly, tells apart rows one µs apart, and adds nothing the second time", async () => {
    const src = new MemoryStore("memory:us-src");
    const dst = new MemoryStore("memory:us-dst");
    await src.append("events", usBatch());
    expect(await copy({ source: src, target: dst, assets: false })).toBe(4);
    expect(await stored(dst)).toEqual(US);
    expect(await copy({ source: src, target: dst, assets: false })).toBe(0);
    // A target holding the first row only: the others (one of them 1 µs later) are added.
    const part = new MemoryStore("memory:us-part");
    await part.append("events", usBatch([US[0]!], ["a"]));
    expect(await copy({ source: src, target: part, assets: false })).toBe(3);
    expect(await stored(part)).toEqual([US[0], US[1], US[2], US[3]]);
  });

  it("an update or delete through the kit's rewrite leaves the other rows' µs as they were", async () => {
    const s = new MemoryStore("memory:us-rewrite");
    await s.append("events", usBatch());
    expect(await s.update("events", field("name").eq("b").node, { name: "B" })).toBe(1);
    expect(await stored(s)).toEqual(US);
    expect(await s.delete("events", field("name").eq("a").node)).toBe(1);
    expect(await stored(s)).toEqual(US.slice(1));
    // A filtered scan serves the stored integers too.
    expect(await stored(s, "events", field("name").eq("d"))).toEqual([US[3]]);
  });
});
