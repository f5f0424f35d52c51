/** Arrow types of JS values: inference, names, merging (schema evolution) and comparison. */
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
  List,
  Null,
  Struct,
  TimestampMicrosecond,
  Type,
  Uint8,
  Uint16,
  Uint32,
  Uint64,
  Utf8,
} from "apache-arrow";
import { QuiverError, describeValue } from "../errors.js";
import { invalid, isNdArray, type TypedArray } from "./values.js";

export const TWO32 = 4294967296;

export function typedElementType(a: ArrayBufferView): DataType {
  if (a instanceof Float32Array) return new Float32();
  if (a instanceof Float64Array) return new Float64();
  if (a instanceof Int8Array) return new Int8();
  if (a instanceof Int16Array) return new Int16();
  if (a instanceof Int32Array) return new Int32();
  if (a instanceof Uint8Array || a instanceof Uint8ClampedArray) return new Uint8();
  if (a instanceof Uint16Array) return new Uint16();
  if (a instanceof Uint32Array) return new Uint32();
  if (a instanceof BigInt64Array) return new Int64();
  if (a instanceof BigUint64Array) return new Uint64();
  throw new QuiverError("INVALID_VALUE", `unsupported typed array ${a.constructor.name}`);
}

export function listOf(t: DataType): List {
  return new List(new Field("item", t, true));
}

export function tensorType(elem: DataType): Struct {
  return new Struct([new Field("data", listOf(elem), true), new Field("shape", listOf(new Int32()), true)]);
}

export function isTensorType(t: DataType): boolean {
  if (t.typeId !== Type.Struct || t.children.length !== 2) return false;
  const [d, s] = t.children;
  return d!.name === "data" && s!.name === "shape" && d!.type.typeId === Type.List && s!.type.typeId === Type.List;
}

/**
 * Whether a JS number is stored as Int64: a safe integer (|x| ≤ 2^53−1, where every integer is
 * exact) other than -0. Any other number — 1e19, 2**64, -0, NaN — is Float64, which holds it exactly.
 */
export function isInt64Number(v: number): boolean {
  return Number.isSafeInteger(v) && (v !== 0 || 1 / v > 0);
}

/** Arrow type for a single non-null value. */
export function typeOfValue(v: unknown, column = "value"): DataType {
  switch (typeof v) {
    case "number":
      return isInt64Number(v) ? new Int64() : new Float64();
    case "bigint":
      return new Int64();
    case "boolean":
      return new Bool();
    case "string":
      return new Utf8();
  }
  if (v instanceof Date) return new TimestampMicrosecond("UTC");
  if (v instanceof Uint8Array) return new Binary();
  if (ArrayBuffer.isView(v)) return listOf(typedElementType(v));
  if (Array.isArray(v)) {
    let elem: DataType = new Null();
    for (const e of v) {
      if (e === null || e === undefined) continue;
      const et = typeof e === "number" ? new Float64() : typeOfValue(e, column);
      elem = elem.typeId === Type.Null ? et : mergeTypes(elem, et, column, e, true);
    }
    return listOf(elem); // List<Null> for [] until other rows tell the element type
  }
  if (isNdArray(v)) return tensorType(Array.isArray(v.data) ? new Float64() : typedElementType(v.data));
  throw invalid(column, v, "unsupported type");
}

function isNumeric(t: DataType): boolean {
  return t.typeId === Type.Int || t.typeId === Type.Float;
}

/** A readable name for a column type, used in errors and by the CLI. */
export function typeName(t: DataType): string {
  switch (t.typeId) {
    case Type.Null:
      return "null";
    case Type.Int: {
      const it = t as Int64;
      return `${it.isSigned ? "int" : "uint"}${it.bitWidth}`;
    }
    case Type.Float:
      return ["float16", "float32", "float64"][(t as Float64).precision] ?? "float";
    case Type.Bool:
      return "bool";
    case Type.Utf8:
    case Type.LargeUtf8:
      return "string";
    case Type.Binary:
    case Type.LargeBinary:
      return "binary";
    case Type.Timestamp:
    case Type.Date:
      return "timestamp";
    case Type.List:
    case Type.FixedSizeList:
      return `list<${typeName(t.children[0]!.type)}>`;
    case Type.Struct:
      if (isTensorType(t)) return `tensor<${typeName(t.children[0]!.type.children[0]!.type)}>`;
      return `struct<${t.children.map((c: Field) => `${c.name}: ${typeName(c.type)}`).join(", ")}>`;
    default:
      return String(t).toLowerCase();
  }
}

export function mismatch(column: string, existing: DataType, incoming: DataType, value?: unknown): QuiverError {
  const val = value === undefined ? "" : ` (value ${describeValue(value)})`;
  return new QuiverError(
    "SCHEMA_MISMATCH",
    `column ${JSON.stringify(column)} holds ${typeName(existing)} but got ${typeName(incoming)}${val}; log this value under another column name or convert it to ${typeName(existing)}`,
  );
}

/** The narrowest numeric type holding every value of both (undefined when none does exactly). */
function mergeNumeric(a: DataType, b: DataType): DataType | undefined {
  if (a.typeId === Type.Float && b.typeId === Type.Float) return (a as Float64).precision >= (b as Float64).precision ? a : b;
  if (a.typeId === Type.Float || b.typeId === Type.Float) {
    const f = (a.typeId === Type.Float ? a : b) as Float64;
    const i = (a.typeId === Type.Float ? b : a) as Int64;
    // Int64 → Float64 is the rule for JS numbers (their Int64 columns hold safe integers only);
    // a float32 column keeps its type only for ints it holds exactly.
    if (f.precision === 2) return f;
    return f.precision === 1 && i.bitWidth <= 16 ? f : new Float64();
  }
  const ai = a as Int64;
  const bi = b as Int64;
  if (ai.isSigned === bi.isSigned) return ai.bitWidth >= bi.bitWidth ? a : b;
  const [s, u] = ai.isSigned ? [ai, bi] : [bi, ai];
  const ub = u.bitWidth as number;
  if ((s.bitWidth as number) > ub) return s;
  if (ub < 64) return ub === 32 ? new Int64() : ub === 16 ? new Int32() : new Int16();
  return undefined; // uint64 with signed values: no integer type holds both
}

/**
 * The type a column has after values of type `b` are added to a column of type `a`.
 * Scalar numbers widen (int64 → float64: a JS number cannot tell 1.0 from 1, and int64 columns of
 * numbers hold safe integers only); anything else must match. Inside lists and tensors the element
 * type must match exactly (only never-seen elements, List<Null>, take any type), so a typed array
 * comes back as the same typed array.
 */
export function mergeTypes(a: DataType, b: DataType, column: string, value?: unknown, inner = false): DataType {
  if (a.typeId === Type.Null) return b;
  if (b.typeId === Type.Null) return a;
  if (isNumeric(a) && isNumeric(b)) {
    if (inner) {
      if (sameType(a, b)) return a;
      throw mismatch(column, a, b, value);
    }
    const t = mergeNumeric(a, b);
    if (t === undefined) throw mismatch(column, a, b, value);
    return t;
  }
  // Strings and bytes with 32- or 64-bit offsets (pyarrow, polars) are the same values: the column keeps its type.
  const text = [Type.Utf8, Type.LargeUtf8] as number[];
  const bytes = [Type.Binary, Type.LargeBinary] as number[];
  if ((text.includes(a.typeId) && text.includes(b.typeId)) || (bytes.includes(a.typeId) && bytes.includes(b.typeId))) return a;
  if (a.typeId === Type.Date && b.typeId === Type.Timestamp) return a;
  if (a.typeId !== b.typeId) throw mismatch(column, a, b, value);
  switch (a.typeId) {
    case Type.List: {
      const ea = a.children[0]!.type as DataType;
      const e = mergeTypes(ea, b.children[0]!.type, column, value, true);
      return e === ea ? a : listOf(e);
    }
    case Type.Struct: {
      if (isTensorType(a) && isTensorType(b)) {
        const ea = a.children[0]!.type.children[0]!.type as DataType;
        const eb = b.children[0]!.type.children[0]!.type as DataType;
        const e = mergeTypes(ea, eb, column, value, true);
        return e === ea ? a : tensorType(e);
      }
      if (isTensorType(a) !== isTensorType(b)) throw mismatch(column, a, b, value);
      return a;
    }
    default:
      return a;
  }
}

/** The coarse kind of a column or value: what a type check or a query comparison needs to know. */
export type ValueClass = "num" | "bool" | "str" | "time" | "bin" | "list" | "tensor" | "other";

export function classOfType(t: DataType): ValueClass {
  switch (t.typeId) {
    case Type.Int:
    case Type.Float:
      return "num";
    case Type.Bool:
      return "bool";
    case Type.Utf8:
    case Type.LargeUtf8:
      return "str";
    case Type.Timestamp:
    case Type.Date:
      return "time";
    case Type.Binary:
    case Type.LargeBinary:
      return "bin";
    case Type.List:
      return "list";
    case Type.Struct:
      return "tensor";
    default:
      return "other";
  }
}

export function classOfValue(v: unknown): ValueClass {
  switch (typeof v) {
    case "number":
    case "bigint":
      return "num";
    case "boolean":
      return "bool";
    case "string":
      return "str";
  }
  if (v instanceof Date) return "time";
  if (v instanceof Uint8Array) return "bin";
  if (Array.isArray(v) || ArrayBuffer.isView(v)) return "list";
  if (isNdArray(v)) return "tensor";
  return "other";
}

/** Structural type equality (ignoring child field names of lists). */
export function sameType(a: DataType, b: DataType): boolean {
  if (a === b) return true;
  if (a.typeId !== b.typeId) return false;
  switch (a.typeId) {
    case Type.Int:
      return (a as Int64).bitWidth === (b as Int64).bitWidth && (a as Int64).isSigned === (b as Int64).isSigned;
    case Type.Float:
      return (a as Float64).precision === (b as Float64).precision;
    case Type.Timestamp:
      return (a as TimestampMicrosecond).unit === (b as TimestampMicrosecond).unit;
    case Type.List:
      return sameType(a.children[0]!.type, b.children[0]!.type);
    case Type.Struct:
      return a.children.length === b.children.length && a.children.every((f: Field, i: number) => f.name === b.children[i]!.name && sameType(f.type, b.children[i]!.type));
    default:
      return String(a) === String(b);
  }
}

export type TypedCtor = { new (n: number): TypedArray };
export function typedCtorFor(t: DataType): TypedCtor | undefined {
  if (t.typeId === Type.Float) return ((t as Float64).precision === 1 ? Float32Array : (t as Float64).precision === 2 ? Float64Array : undefined) as TypedCtor | undefined;
  if (t.typeId !== Type.Int) return undefined;
  const it = t as Int64;
  const m: Record<number, [TypedCtor, TypedCtor]> = {
    8: [Int8Array, Uint8Array],
    16: [Int16Array, Uint16Array],
    32: [Int32Array, Uint32Array],
    64: [BigInt64Array as unknown as TypedCtor, BigUint64Array as unknown as TypedCtor],
  };
  return m[it.bitWidth]?.[it.isSigned ? 0 : 1];
}

/** Lists whose elements were never seen (only empty arrays) become List<Float64>. */
export function settleLists(t: DataType): DataType {
  if (t.typeId !== Type.List) return t;
  const child = t.children[0]!.type as DataType;
  if (child.typeId === Type.Null) return listOf(new Float64());
  const settled = settleLists(child);
  return settled === child ? t : listOf(settled);
}
