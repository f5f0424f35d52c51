import { describe, expect, it } from "vitest";
import { Binary, LargeBinary, LargeUtf8, makeVector, tableFromJSON } from "apache-arrow";
import { batchToRows, batchesToTable, buildData, conformBatch, mergeSchemas, normalizeRow, QuiverError, rowsToBatch, typeName } from "../dist/index.js";
import { plain } from "../dist/testing/index.js";

const code = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(QuiverError);
    return (e as QuiverError).code;
  }
  return undefined;
};

describe("rows ⇄ RecordBatch", () => {
  it("infers a type per value kind and round-trips exactly", () => {
    const rows = [
      {
        i: 3,
        f: 0.5,
        b: false,
        s: "ünïcode ✓",
        big: 9007199254740993n,
        d: new Date("2024-05-06T07:08:09.123Z"),
        bin: new Uint8Array([9, 8]),
        arr: [1, 2.5],
        strs: ["a", "b"],
        f32: new Float32Array([0.5]),
        i16: new Int16Array([-3, 4]),
        u64: new BigUint64Array([2n ** 64n - 1n]),
        img: { data: new Uint8Array(4).fill(7), shape: [2, 2] },
        nested: [[1, 2], [3]],
      },
      {
        i: -9007199254740991,
        f: NaN,
        b: true,
        s: "",
        big: -5n,
        d: new Date(0),
        bin: new Uint8Array(),
        arr: [],
        strs: [],
        f32: new Float32Array(),
        i16: new Int16Array(),
        u64: new BigUint64Array(),
        img: { data: new Uint8Array([1, 2]), shape: [2] },
        nested: [],
      },
      { i: null, f: null, b: null, s: null, big: null, d: null, bin: null, arr: null, strs: null, f32: null, i16: null, u64: null, img: null, nested: null },
    ];
    const batch = rowsToBatch(rows);
    expect(batch.schema.fields.map((f) => `${f.name}:${typeName(f.type)}`)).toEqual([
      "i:int64",
      "f:float64",
      "b:bool",
      "s:string",
      "big:int64",
      "d:timestamp",
      "bin:binary",
      "arr:list<float64>",
      "strs:list<string>",
      "f32:list<float32>",
      "i16:list<int16>",
      "u64:list<uint64>",
      "img:tensor<uint8>",
      "nested:list<list<float64>>",
    ]);
    const back = batchToRows(batch);
    expect(plain(back)).toEqual(plain(rows));
    expect(typeof back[0]!.big).toBe("bigint");
    expect(typeof back[1]!.big).toBe("bigint");
    expect(back[0]!.img).toEqual({ data: new Uint8Array([7, 7, 7, 7]), shape: [2, 2] });
    // n-d arrays of plain numbers are float64 tensors and come back typed.
    expect(batchToRows(rowsToBatch([{ t: { data: [1, 2.5, 3, 4], shape: [2, 2] } }]))[0]!.t).toEqual({ data: new Float64Array([1, 2.5, 3, 4]), shape: [2, 2] });
  });

  it("round-trips batch → rows → batch for 100k rows", () => {
    const rows = Array.from({ length: 100_000 }, (_, i) => ({ step: i, loss: 1 / (i + 1), tag: i % 7 ? `t${i % 7}` : null, ok: i % 2 === 0 }));
    const b1 = rowsToBatch(rows);
    const b2 = rowsToBatch(batchToRows(b1));
    expect(batchToRows(b2)).toEqual(batchToRows(b1));
    expect(batchToRows(b1)[99_999]).toEqual(rows[99_999]);
    // Same values as apache-arrow's own inference.
    const theirs = tableFromJSON(rows.slice(0, 100));
    expect(batchToRows(rowsToBatch(rows.slice(0, 100))).map((r) => r.loss)).toEqual(Array.from(theirs.getChild("loss")!.toArray() as Float64Array));
  });

  it("flattens nested objects into a.b columns", () => {
    const b = rowsToBatch([{ cfg: { opt: { name: "adam", lr: 0.1 } }, x: 1 }]);
    expect(batchToRows(b)).toEqual([{ "cfg.opt.name": "adam", "cfg.opt.lr": 0.1, x: 1 }]);
  });

  it("evolves schemas: new columns appear and old rows read null; ints widen to float", () => {
    const a = rowsToBatch([{ x: 1 }]);
    const b = rowsToBatch([{ x: 1.5, y: "n" }]);
    const s = mergeSchemas(a.schema, b.schema);
    expect(s.fields.map((f) => `${f.name}:${typeName(f.type)}`)).toEqual(["x:float64", "y:string"]);
    expect(batchToRows(conformBatch(a, s))).toEqual([{ x: 1, y: null }]);
    expect(batchToRows(batchesToTable([a, b]))).toEqual([
      { x: 1, y: null },
      { x: 1.5, y: "n" },
    ]);
    // An integer into a float column keeps the column float.
    expect(typeName(rowsToBatch([{ x: 2 }], { schema: s }).schema.fields[0]!.type)).toBe("float64");
  });

  it("names the column, both types and the value on SCHEMA_MISMATCH", () => {
    const s = rowsToBatch([{ epoch: 1 }]).schema;
    let msg = "";
    try {
      rowsToBatch([{ epoch: 2 }, { epoch: "three" }], { schema: s });
    } catch (e) {
      msg = (e as Error).message;
      expect((e as QuiverError).code).toBe("SCHEMA_MISMATCH");
    }
    expect(msg).toContain('"epoch"');
    expect(msg).toContain("int64");
    expect(msg).toContain("string");
    expect(msg).toContain('"three"');
    expect(code(() => rowsToBatch([{ a: 1 }, { a: true }]))).toBe("SCHEMA_MISMATCH");
    expect(code(() => mergeSchemas(s, rowsToBatch([{ epoch: new Date() }]).schema))).toBe("SCHEMA_MISMATCH");
  });

  it("rejects functions, symbols, cycles, class instances, bad shapes and out-of-range bigints", () => {
    const cyc: Record<string, unknown> = {};
    cyc.me = cyc;
    expect(code(() => rowsToBatch([{ f: () => 1 }]))).toBe("INVALID_VALUE");
    expect(code(() => rowsToBatch([{ s: Symbol("x") }]))).toBe("INVALID_VALUE");
    expect(code(() => rowsToBatch([{ c: cyc }]))).toBe("INVALID_VALUE");
    expect(code(() => rowsToBatch([{ arr: [1, [2, [3]], cyc] }]))).toBe("INVALID_VALUE");
    expect(code(() => rowsToBatch([{ m: new Map() }]))).toBe("INVALID_VALUE");
    expect(code(() => rowsToBatch([{ d: new Date("nope") }]))).toBe("INVALID_VALUE");
    expect(code(() => rowsToBatch([{ t: { data: [1, 2, 3], shape: [2, 2] } }]))).toBe("SHAPE_MISMATCH");
    expect(code(() => rowsToBatch([{ b: 2n ** 64n }]))).toBe("INVALID_VALUE");
    expect(code(() => normalizeRow([] as unknown as Record<string, unknown>))).toBe("INVALID_VALUE");
  });
});

describe("buildData of 64-bit-offset strings and bytes", () => {
  it("refuses a batch whose bytes overflow 32-bit offsets (a LargeBinary batch into a binary column) instead of wrapping them", () => {
    const gib = new Uint8Array(2 ** 30); // untouched pages: nothing is resident
    expect(() => buildData(new Binary(), [gib, gib], "b")).toThrow(/2 GiB.*smaller batches/);
  });

  it("takes undefined (a key a row lacks) as null, like every other type", () => {
    // Arrow's own builder made it "" for LargeUtf8 (a msgpack row without the key read back as "").
    expect(makeVector(buildData(new LargeUtf8(), ["x", undefined, null], "s")).toArray()).toEqual(["x", null, null]);
    expect(makeVector(buildData(new LargeBinary(), [new Uint8Array([1]), undefined], "b")).toArray()).toEqual([new Uint8Array([1]), null]);
  });
});
