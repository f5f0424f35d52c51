/**
 * Every Arrow type the catalog holds, appended as Arrow (not through JS values) and read back
 * with the same type and the same values, across a reopen — including what JS values never
 * produce: int8…uint64 scalars, float32, timestamps in s/ms/ns, a time zone or none, microseconds
 * beyond a Date's milliseconds.
 */
import {
  Binary,
  Bool,
  type DataType,
  Field,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Int64,
  LargeUtf8,
  List,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  TimestampMicrosecond,
  TimestampMillisecond,
  TimestampNanosecond,
  TimestampSecond,
  Uint8,
  Uint16,
  Uint32,
  Uint64,
  Utf8,
  vectorFromArray,
} from "apache-arrow";
import { openStore, typeToJSON } from "@quiver/core";
import { describe, expect, it } from "vitest";
import "../dist/index.js";
import { tmpDb } from "./helpers.js";

const COLS: [string, DataType, unknown[]][] = [
  ["i8", new Int8(), [-128, 127, null]],
  ["i16", new Int16(), [-32768, 32767, 0]],
  ["i32", new Int32(), [-(2 ** 31), 2 ** 31 - 1, null]],
  ["i64", new Int64(), [-(2n ** 63n), 2n ** 63n - 1n, 2n ** 53n + 1n]],
  ["u8", new Uint8(), [0, 255, null]],
  ["u16", new Uint16(), [0, 65535, 1]],
  ["u32", new Uint32(), [0, 2 ** 32 - 1, null]],
  ["u64", new Uint64(), [0n, 2n ** 64n - 1n, 2n ** 63n]],
  ["f32", new Float32(), [1.5, -0, Number.NaN]],
  ["f64", new Float64(), [5e-324, Number.NEGATIVE_INFINITY, -0]],
  ["b", new Bool(), [true, false, null]],
  ["s", new Utf8(), ["a\u0000b", "", null]],
  ["ls", new LargeUtf8(), ["large", "é🎉", null]],
  ["bin", new Binary(), [new Uint8Array([0, 1, 255]), new Uint8Array(0), null]],
  ["ts_s", new TimestampSecond("UTC"), [0, -62135596800, 253402300799]],
  ["ts_ms", new TimestampMillisecond(), [1, -1, null]],
  ["ts_us", new TimestampMicrosecond("UTC"), [1_700_000_000_123_456, -1, 0]],
  ["ts_ns", new TimestampNanosecond("Europe/Paris"), [1_700_000_000_123_456_789n, -1n, null]],
  ["lf", new List(new Field("item", new Float32(), true)), [new Float32Array([1, -0, Number.NaN]), new Float32Array(0), null]],
  ["lu64", new List(new Field("item", new Uint64(), true)), [new BigUint64Array([2n ** 64n - 1n]), null, new BigUint64Array([0n])]],
];

/** Raw values of a column: bigints of the buffer for 64-bit and time types, else get(i). */
function raw(batch: RecordBatch, name: string): unknown[] {
  const v = batch.getChild(name)!;
  return Array.from({ length: v.length }, (_, i) => {
    const x = v.get(i);
    if (x === null) return null;
    const tid = v.type.typeId;
    if (tid === 10) {
      // Timestamp: the raw count of its unit.
      const d = v.data[0]!;
      return String((d.values as BigInt64Array)[d.offset + i]);
    }
    if (typeof x === "bigint") return String(x);
    if (x instanceof Uint8Array) return Array.from(x);
    if (typeof x === "number") return Object.is(x, -0) ? "-0" : Number.isNaN(x) ? "NaN" : x;
    if (x && typeof x === "object" && "toArray" in (x as object))
      return Array.from((x as { toArray(): ArrayLike<unknown> }).toArray(), (e) => (typeof e === "bigint" ? String(e) : Object.is(e, -0) ? "-0" : Number.isNaN(e) ? "NaN" : e));
    return x;
  });
}

function batchOf(cols: typeof COLS): RecordBatch {
  const fields = cols.map(([n, t]) => new Field(n, t, true));
  const children = cols.map(([, t, vals]) => {
    if (t.typeId === 10) {
      const data = new BigInt64Array(vals.map((x) => BigInt((x as number | bigint | null) ?? 0)));
      const valid = new Uint8Array([vals.reduce<number>((m, x, i) => (x === null ? m : m | (1 << i)), 0)]);
      return makeData({ type: t as TimestampSecond, length: vals.length, nullCount: vals.filter((x) => x === null).length, nullBitmap: valid, data });
    }
    return vectorFromArray(vals, t).data[0]!;
  });
  return new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: 3, nullCount: 0, children }));
}

describe("sqlite: every Arrow type of the catalog round-trips as Arrow", () => {
  it("keeps each type (LargeUtf8 as string, as the type JSON has it) and value exactly, across a reopen", async () => {
    const uri = `sqlite:${tmpDb()}`;
    const batch = batchOf(COLS);
    let store = await openStore(uri);
    await store.append("types", batch);
    await store.close();
    store = await openStore(uri, { readOnly: true });
    try {
      const schema = (await store.schema("types"))!;
      expect(schema.fields.map((f) => [f.name, typeToJSON(f.type)])).toEqual(COLS.map(([n, t]) => [n, typeToJSON(t)]));
      const out: RecordBatch[] = [];
      for await (const b of store.scan("types")) out.push(b);
      expect(out).toHaveLength(1);
      for (const [n] of COLS) expect(raw(out[0]!, n), n).toEqual(raw(batch, n));
      expect(raw(out[0]!, "ts_us")).toEqual(["1700000000123456", "-1", "0"]);
      expect(raw(out[0]!, "u64")).toEqual(["0", "18446744073709551615", "9223372036854775808"]);
      expect(raw(out[0]!, "lf")).toEqual([[1, "-0", "NaN"], [], null]);
    } finally {
      await store.close();
    }
  });
});
