/** JS values → Arrow: vectors built straight from typed arrays, and rows gathered into batches. */
import {
  Binary,
  Bool,
  type Data,
  type DataType,
  Field,
  type Float32,
  Float64,
  type Int32,
  Int64,
  type List,
  makeData,
  Null,
  RecordBatch,
  Schema,
  Struct,
  TimeUnit,
  TimestampMicrosecond,
  Type,
  Utf8,
  vectorFromArray,
} from "apache-arrow";
import { QuiverError, describeValue } from "../errors.js";
import { BIGINT_META, INT64_MAX, INT64_MIN, invalid, isWellFormed, normalizeRow, type NdArray, type Row, scalarError, type TypedArray } from "./values.js";
import { TWO32, isInt64Number, isTensorType, typeName, typeOfValue, mismatch, mergeTypes, typedCtorFor, settleLists } from "./types.js";
import { checkNewColumns } from "../names.js";

function validity(values: readonly unknown[], n: number): { bitmap: Uint8Array | undefined; nulls: number } {
  let nulls = 0;
  for (let i = 0; i < n; i++) if (values[i] == null) nulls++;
  if (nulls === 0) return { bitmap: undefined, nulls };
  const bitmap = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) if (values[i] != null) bitmap[i >> 3]! |= 1 << (i & 7);
  return { bitmap, nulls };
}

const utf8 = new TextEncoder();

/** Arrow Data of `type` holding `values` (null/undefined → null). Values must fit the type. */
/** The most bytes one string or binary column of a batch holds (its offsets are 32-bit). */
const MAX_OFFSET = 0x7fffffff;

function tooLong(column: string, bytes: number): QuiverError {
  return new QuiverError(
    "INVALID_VALUE",
    `column ${JSON.stringify(column)}: the batch's values are ${bytes} bytes, over the 2 GiB a string or binary column of one batch holds; append the rows in smaller batches`,
  );
}

export function buildData(type: DataType, values: readonly unknown[], column = "value"): Data {
  const n = values.length;
  // The validity pass is its own loop over the values; number columns (the hot case) count
  // their nulls in their one loop instead, and build a bitmap only when they have some.
  const base = () => {
    const { bitmap, nulls } = validity(values, n);
    return { type, length: n, nullCount: nulls, nullBitmap: bitmap };
  };
  const fused = (nulls: number) => ({ type, length: n, nullCount: nulls, nullBitmap: nulls ? validity(values, n).bitmap : undefined });
  switch (type.typeId) {
    case Type.Null:
      return makeData({ type: type as Null, length: n, nullCount: n });
    case Type.Float: {
      const arr = (type as Float64).precision === 1 ? new Float32Array(n) : new Float64Array(n);
      let nulls = 0;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v == null) {
          nulls++;
          continue;
        }
        if (typeof v === "number") arr[i] = v;
        else {
          arr[i] = Number(v);
          // A float column holds a bigint or an integer only when it keeps its exact value.
          if ((typeof v === "bigint" && BigInt(arr[i]!) !== v) || typeof v === "string") throw mismatch(column, type, typeOfValue(v, column), v);
        }
      }
      return makeData({ ...fused(nulls), type: type as Float64, data: arr });
    }
    case Type.Int: {
      const it = type as Int64;
      if (it.bitWidth === 64) {
        // Write numbers as two 32-bit halves: no BigInt allocation per value.
        const buf = new ArrayBuffer(n * 8);
        const lo = new Uint32Array(buf);
        const hi = new Int32Array(buf);
        const big = it.isSigned ? new BigInt64Array(buf) : new BigUint64Array(buf);
        let nulls = 0;
        for (let i = 0; i < n; i++) {
          const v = values[i];
          if (v == null) {
            nulls++;
            continue;
          }
          if (typeof v === "number") {
            // Only safe integers: a larger number is not an exact integer (1e19 would wrap).
            if (!Number.isSafeInteger(v)) throw mismatch(column, type, new Float64(), v);
            const h = Math.floor(v / TWO32);
            hi[2 * i + 1] = h;
            lo[2 * i] = v - h * TWO32;
          } else if (typeof v === "bigint") {
            if (it.isSigned ? v < INT64_MIN || v > INT64_MAX : v < 0n || v >= 2n ** 64n) {
              throw new QuiverError(
                "INVALID_VALUE",
                `column ${JSON.stringify(column)}: ${v}n does not fit in ${it.isSigned ? "int64" : "uint64"}; store it as a string or as a float`,
              );
            }
            big[i] = v;
          } else if (typeof v === "boolean") {
            lo[2 * i] = v ? 1 : 0;
          } else throw mismatch(column, type, typeOfValue(v, column), v);
        }
        return makeData({ ...fused(nulls), type: it, data: big as BigInt64Array });
      }
      const Ctor = { 8: it.isSigned ? Int8Array : Uint8Array, 16: it.isSigned ? Int16Array : Uint16Array, 32: it.isSigned ? Int32Array : Uint32Array }[it.bitWidth as 8 | 16 | 32];
      const arr = new Ctor(n);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v == null) continue;
        const x = Number(v);
        arr[i] = x;
        if (arr[i] !== x)
          throw new QuiverError("INVALID_VALUE", `column ${JSON.stringify(column)}: ${describeValue(v)} does not fit in ${it.isSigned ? "int" : "uint"}${it.bitWidth}`);
      }
      return makeData({ ...base(), type: it as unknown as Int32, data: arr as Int32Array });
    }
    case Type.Bool: {
      const bits = new Uint8Array((n + 7) >> 3);
      for (let i = 0; i < n; i++) if (values[i] === true) bits[i >> 3]! |= 1 << (i & 7);
      return makeData({ ...base(), type: type as Bool, data: bits });
    }
    case Type.Utf8: {
      const offsets = new Int32Array(n + 1);
      let buf = new Uint8Array(Math.max(64, n * 8));
      let pos = 0;
      let prev: unknown;
      let prevStart = 0;
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v != null && v === prev) {
          // Repeated value (a run id on every row): copy its bytes instead of encoding again.
          const len = offsets[i]! - prevStart;
          if (pos + len > buf.length) {
            const nb = new Uint8Array(Math.max(pos + len, buf.length * 2));
            nb.set(buf.subarray(0, pos));
            buf = nb;
          }
          buf.copyWithin(pos, prevStart, prevStart + len);
          prevStart = pos;
          pos += len;
        } else if (v != null) {
          prev = v;
          prevStart = pos;
          const s = typeof v === "string" ? v : String(v);
          if (!isWellFormed(s)) throw scalarError(column, s)!;
          const need = pos + s.length * 3;
          if (need > buf.length) {
            const nb = new Uint8Array(Math.max(need, buf.length * 2));
            nb.set(buf.subarray(0, pos));
            buf = nb;
          }
          pos += utf8.encodeInto(s, buf.subarray(pos)).written;
        }
        offsets[i + 1] = pos;
      }
      if (pos > MAX_OFFSET) throw tooLong(column, pos);
      return makeData({ ...base(), type: type as Utf8, valueOffsets: offsets, data: buf.subarray(0, pos) });
    }
    case Type.Binary: {
      const offsets = new Int32Array(n + 1);
      let total = 0;
      for (let i = 0; i < n; i++) {
        const v = values[i] as Uint8Array | null;
        if (v != null) total += v.byteLength;
        offsets[i + 1] = total;
      }
      if (total > MAX_OFFSET) throw tooLong(column, total);
      const data = new Uint8Array(total);
      for (let i = 0; i < n; i++) {
        const v = values[i] as ArrayBufferView | null;
        if (v != null) data.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), offsets[i]!);
      }
      return makeData({ ...base(), type: type as Binary, valueOffsets: offsets, data });
    }
    case Type.Timestamp: {
      const unit = (type as TimestampMicrosecond).unit;
      const scale = unit === TimeUnit.SECOND ? 0.001 : unit === TimeUnit.MILLISECOND ? 1 : unit === TimeUnit.MICROSECOND ? 1000 : 1e6;
      const buf = new ArrayBuffer(n * 8);
      const lo = new Uint32Array(buf);
      const hi = new Int32Array(buf);
      for (let i = 0; i < n; i++) {
        const v = values[i];
        if (v == null) continue;
        const ms = v instanceof Date ? v.getTime() : Number(v);
        const x = Math.round(ms * scale);
        if (!Number.isSafeInteger(x)) {
          // Beyond ±2^53 µs (years before 1685 or after 2255): exact in bigint arithmetic.
          if (!Number.isSafeInteger(ms) || scale < 1) throw invalid(column, v, "a time outside the representable range");
          new BigInt64Array(buf, i * 8, 1)[0] = BigInt(ms) * BigInt(scale);
          continue;
        }
        const h = Math.floor(x / TWO32);
        hi[2 * i + 1] = h;
        lo[2 * i] = x - h * TWO32;
      }
      return makeData({ ...base(), type: type as TimestampMicrosecond, data: new BigInt64Array(buf) });
    }
    case Type.List: {
      const child = type.children[0]!.type as DataType;
      const offsets = new Int32Array(n + 1);
      let total = 0;
      for (let i = 0; i < n; i++) {
        const v = values[i] as ArrayLike<unknown> | null;
        if (v != null) total += v.length;
        offsets[i + 1] = total;
      }
      let childData: Data;
      const TypedCtor = typedCtorFor(child);
      if (TypedCtor && values.every((v) => v == null || v instanceof TypedCtor)) {
        const flat = new TypedCtor(total);
        for (let i = 0; i < n; i++) {
          const v = values[i] as TypedArray | null;
          if (v != null) flat.set(v as never, offsets[i]!);
        }
        childData = makeData({ type: child as Float32, length: total, nullCount: 0, data: flat as Float32Array });
      } else {
        const flat = new Array<unknown>(total);
        for (let i = 0; i < n; i++) {
          const v = values[i] as ArrayLike<unknown> | null;
          if (v == null) continue;
          const o = offsets[i]!;
          for (let j = 0; j < v.length; j++) flat[o + j] = v[j];
        }
        childData = buildData(child, flat, column);
      }
      return makeData({ ...base(), type: type as List, valueOffsets: offsets, child: childData });
    }
    case Type.Struct: {
      if (isTensorType(type)) {
        const datas = values.map((v) => (v == null ? null : (v as NdArray).data));
        const shapes = values.map((v) => (v == null ? null : Int32Array.from((v as NdArray).shape)));
        const children = [buildData(type.children[0]!.type, datas, column), buildData(type.children[1]!.type, shapes, column)];
        return makeData({ ...base(), type: type as Struct, children });
      }
      const children = type.children.map((f: Field) =>
        buildData(
          f.type,
          values.map((v) => (v == null ? null : (v as Record<string, unknown>)[f.name])),
          column,
        ),
      );
      return makeData({ ...base(), type: type as Struct, children });
    }
    default:
      // Arrow's builders take undefined as a value (LargeUtf8 made it ""): absent is null here as everywhere.
      return vectorFromArray(
        (values as unknown[]).map((v) => (v === undefined ? null : v)),
        type,
      ).data[0]!;
  }
}

export interface RowsToBatchOptions {
  /** The table's current schema: its column types are kept where values fit them. */
  schema?: Schema;
  /** Rows already went through normalizeRow (flat and validated): skip that pass. */
  normalized?: boolean;
}

/**
 * Builds one RecordBatch from rows. Columns come in the schema's order, then in order of first
 * appearance. A value that fits neither the schema nor the other values of its column throws
 * SCHEMA_MISMATCH naming the column, both types and the value.
 */
export function rowsToBatch(rows: readonly Row[], options: RowsToBatchOptions = {}): RecordBatch {
  const n = rows.length;
  const cols = new Map<string, Gather>();
  let lastKeys: string[] | undefined;
  let lastCols: Gather[] | undefined;
  for (let i = 0; i < n; i++) {
    let row = rows[i]!;
    if (row === null || typeof row !== "object") throw new QuiverError("INVALID_VALUE", `row ${i} is not an object`);
    if (!options.normalized) row = normalizeRow(row);
    // Rows of one shape share the same key order: reuse the column lookups of the previous row.
    let k = 0;
    let same = lastKeys !== undefined;
    for (const key in row) {
      const v = row[key];
      if (same && lastKeys![k] === key) {
        lastCols![k]!.set(i, v);
        k++;
        continue;
      }
      same = false;
      let col = cols.get(key);
      if (!col) {
        col = new Gather(n);
        cols.set(key, col);
      }
      col.set(i, v);
    }
    if (!same || k !== lastKeys!.length) {
      lastKeys = Object.keys(row);
      lastCols = lastKeys.map((key) => cols.get(key)!);
    }
  }
  const schema = options.schema;
  const fields: Field[] = [];
  const datas: Data[] = [];
  const added = schema ? [...cols.keys()].filter((c) => !schema.fields.some((f) => f.name === c)) : [...cols.keys()];
  checkNewColumns(
    added,
    schema?.fields.map((f) => f.name),
  );
  const order = schema ? [...schema.fields.map((f) => f.name).filter((c) => cols.has(c)), ...added] : added;
  for (const name of order) {
    const col = cols.get(name)!;
    const existing = schema?.fields.find((f) => f.name === name);
    const existingBigint = existing !== undefined && isBigintField(existing);
    const fast = col.numericData(name, existing?.type, existingBigint);
    if (fast) {
      fields.push(new Field(name, fast.type, true));
      datas.push(fast);
      continue;
    }
    const values = col.values();
    const { type, bigint } = inferColumnType(values, name, existing?.type, existingBigint);
    const meta = bigint || existingBigint ? new Map([[BIGINT_META, "1"]]) : undefined;
    fields.push(new Field(name, type, true, meta));
    datas.push(buildData(type, values, name));
  }
  const s = new Schema(fields);
  return new RecordBatch(s, makeData({ type: new Struct(fields), length: n, nullCount: 0, children: datas }));
}

/**
 * One column's values while rows are gathered. Numbers go straight into a Float64Array (no
 * JS array, no second pass) until a value of another kind shows up; then the column falls back
 * to a plain array and the generic inference.
 */
class Gather {
  private num: Float64Array | undefined;
  /** 1 where a number was stored (rows without the key or with null stay 0). */
  private present: Uint8Array | undefined;
  private generic: unknown[] | undefined;
  private count = 0;
  private ints = true;

  constructor(private readonly n: number) {}

  set(i: number, v: unknown): void {
    if (this.generic !== undefined) {
      this.generic[i] = v;
      return;
    }
    if (typeof v === "number") {
      if (this.num === undefined) {
        this.num = new Float64Array(this.n);
        this.present = new Uint8Array(this.n);
      }
      this.num[i] = v;
      this.present![i] = 1;
      this.count++;
      if (this.ints && !isInt64Number(v)) this.ints = false;
      return;
    }
    if (v == null) return;
    this.generic = this.values();
    this.generic[i] = v;
  }

  /** The values as a plain array (null where a row had none). */
  values(): unknown[] {
    if (this.generic) return this.generic;
    const out = new Array<unknown>(this.n).fill(null);
    const num = this.num;
    const present = this.present;
    if (num && present) for (let i = 0; i < this.n; i++) if (present[i]) out[i] = num[i];
    return out;
  }

  /**
   * Arrow data built straight from the gathered numbers when the column is all numbers (or
   * null) and the type inference would give Int64 or Float64 (or keep an existing one of those);
   * undefined otherwise, and the caller takes the generic path.
   */
  numericData(name: string, existing: DataType | undefined, existingBigint: boolean): Data | undefined {
    const num = this.num;
    if (this.generic !== undefined || num === undefined || existingBigint) return undefined;
    const inferred: DataType = this.ints ? new Int64() : new Float64();
    let type: DataType;
    try {
      type = existing && existing.typeId !== Type.Null ? mergeTypes(existing, inferred, name) : inferred;
    } catch {
      return undefined; // the generic path names the offending value
    }
    const isF64 = type.typeId === Type.Float && (type as Float64).precision === 2;
    const isI64 = type.typeId === Type.Int && (type as Int64).bitWidth === 64 && (type as Int64).isSigned;
    if (!isF64 && !isI64) return undefined;
    if (isI64 && !this.ints) return undefined;
    const nulls = this.n - this.count;
    let bitmap: Uint8Array | undefined;
    if (nulls > 0) {
      bitmap = new Uint8Array((this.n + 7) >> 3);
      const present = this.present!;
      for (let i = 0; i < this.n; i++) if (present[i]) bitmap[i >> 3]! |= 1 << (i & 7);
    }
    if (isF64) return makeData({ type: type as Float64, length: this.n, nullCount: nulls, nullBitmap: bitmap, data: num });
    const buf = new ArrayBuffer(this.n * 8);
    const lo = new Uint32Array(buf);
    const hi = new Int32Array(buf);
    for (let i = 0; i < this.n; i++) {
      const v = num[i]!;
      const h = Math.floor(v / TWO32);
      hi[2 * i + 1] = h;
      lo[2 * i] = v - h * TWO32;
    }
    return makeData({ type: type as Int64, length: this.n, nullCount: nulls, nullBitmap: bitmap, data: new BigInt64Array(buf) });
  }
}

/** An Int64 column of bigints (read back as bigint): what the "quiver:bigint" field tag says. */
export function isBigintField(f: Field): boolean {
  return f.type.typeId === Type.Int && f.metadata.get(BIGINT_META) === "1";
}

/** A column holds bigints or numbers, never both: one kind would come back as the other. */
function bigintClash(name: string, columnIsBigint: boolean, v: unknown): QuiverError {
  const got = typeof v === "bigint" ? `bigint ${v}n` : `${typeName(typeOfValue(v, name))} ${describeValue(v)}`;
  return new QuiverError(
    "SCHEMA_MISMATCH",
    `column ${JSON.stringify(name)} holds ${columnIsBigint ? "bigints" : "numbers"} but got ${got}; a column keeps bigints or numbers, not both (one would come back as the other) — ${columnIsBigint ? "log BigInt(x)" : "log Number(x) if it is within ±2^53, else use another column name"}`,
  );
}

/**
 * Type of a column of JS values, starting from the existing column type if any (`existingBigint`:
 * that column is tagged "quiver:bigint").
 */
export function inferColumnType(values: readonly unknown[], name: string, existing?: DataType, existingBigint = false): { type: DataType; bigint: boolean } {
  // Fast scalar scan: classify by typeof without allocating types per value.
  let kind = K.Null;
  let complex: DataType | undefined;
  let firstOf: unknown;
  let bigint = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v == null) continue;
    let k: K;
    switch (typeof v) {
      case "number":
        k = kind === K.Float || !isInt64Number(v) ? K.Float : K.Int;
        break;
      case "string":
        k = K.Str;
        break;
      case "boolean":
        k = K.Bool;
        break;
      case "bigint":
        k = K.BigInt;
        bigint = true;
        break;
      default:
        if (v instanceof Date) k = K.Time;
        else if (v instanceof Uint8Array) k = K.Bin;
        else {
          k = K.Other;
          const t = typeOfValue(v, name);
          complex = complex ? mergeTypes(complex, t, name, v) : t;
        }
    }
    if (kind === K.Null) {
      kind = k;
      firstOf = v;
    } else if (k !== kind) {
      if ((k === K.Int && kind === K.Float) || (k === K.Float && kind === K.Int)) kind = K.Float;
      else if (k === K.BigInt || kind === K.BigInt) {
        if (k === K.Int || k === K.Float || kind === K.Int || kind === K.Float) throw bigintClash(name, kind === K.BigInt, v);
        throw mismatch(name, typeOfValue(firstOf, name), typeOfValue(v, name), v);
      } else throw mismatch(name, typeOfValue(firstOf, name), typeOfValue(v, name), v);
    }
  }
  let t: DataType;
  switch (kind) {
    case K.Null:
      t = new Null();
      break;
    case K.Int:
    case K.BigInt:
      t = new Int64();
      break;
    case K.Float:
      t = new Float64();
      break;
    case K.Bool:
      t = new Bool();
      break;
    case K.Str:
      t = new Utf8();
      break;
    case K.Time:
      t = new TimestampMicrosecond("UTC");
      break;
    case K.Bin:
      t = new Binary();
      break;
    default:
      t = complex!;
  }
  // A column of nulls so far says nothing: the values decide (and a bigint column is tagged).
  if (!existing || existing.typeId === Type.Null) return { type: settleLists(t), bigint };
  if (t.typeId === Type.Null) return { type: existing, bigint: false };
  if (existing.typeId === Type.Int || existing.typeId === Type.Float) {
    // A stored bigint column takes only bigints; a stored column of numbers takes no bigints.
    const numbers = kind === K.Int || kind === K.Float;
    if ((existingBigint && numbers) || (!existingBigint && kind === K.BigInt)) {
      throw bigintClash(
        name,
        existingBigint,
        values.find((v) => v != null && typeof v === (existingBigint ? "number" : "bigint")),
      );
    }
  }
  try {
    return { type: settleLists(mergeTypes(existing, t, name)), bigint: false };
  } catch (err) {
    // Name the first offending value.
    const bad = values.find((v) => {
      if (v == null) return false;
      try {
        mergeTypes(existing, typeOfValue(v, name), name);
        return false;
      } catch {
        return true;
      }
    });
    throw bad === undefined ? err : mismatch(name, existing, typeOfValue(bad, name), bad);
  }
}

enum K {
  Null,
  Int,
  Float,
  BigInt,
  Bool,
  Str,
  Time,
  Bin,
  Other, // lists, tensors: typed by inferComplex
}
