/** The JS values Quiver stores: their types, validation, and flattening of nested objects. */
import { QuiverError, describeValue } from "./errors.js";

/** A value Quiver can store. */
export type Value =
  | number
  | bigint
  | boolean
  | string
  | Date
  | Uint8Array
  | null
  | TypedArray
  | NdArray
  | readonly Value[];
export type TypedArray =
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint8ClampedArray
  | Uint16Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;
export interface NdArray {
  data: TypedArray | number[];
  shape: number[];
}
/** A row: column name → value. Nested plain objects are accepted and flattened to "a.b". */
export type Row = Record<string, unknown>;

export const BIGINT_META = "quiver:bigint";


export function isPlainObject(v: object): boolean {
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

export function isNdArray(v: unknown): v is NdArray {
  if (v === null || typeof v !== "object" || !isPlainObject(v)) return false;
  const o = v as Record<string, unknown>;
  if (!("data" in o) || !("shape" in o) || Object.keys(o).length !== 2) return false;
  return Array.isArray(o.shape) && (Array.isArray(o.data) || (ArrayBuffer.isView(o.data) && !(o.data instanceof DataView)));
}

export function invalid(column: string, value: unknown, why: string): QuiverError {
  return new QuiverError("INVALID_VALUE", `column ${JSON.stringify(column)}: ${describeValue(value)} cannot be stored (${why}); store numbers, strings, booleans, bigints, Dates, Uint8Array, typed arrays, arrays or { data, shape }`);
}

/**
 * Validates a row and flattens nested plain objects into "a.b" keys. Returns the row itself
 * when it is already flat (the common case: no copy on the hot path).
 */
export function normalizeRow(row: Row, prefix = "", seen?: object[]): Row {
  if (row === null || typeof row !== "object" || Array.isArray(row)) {
    throw new QuiverError("INVALID_VALUE", `a row must be a plain object, got ${describeValue(row)}`);
  }
  let flat = prefix === "";
  let primitive = true;
  for (const k in row) {
    const v = row[k];
    const t = typeof v;
    if (t === "number" || t === "string" || t === "boolean" || v === null || v === undefined || t === "bigint") continue;
    if (t === "function" || t === "symbol") throw invalid(prefix + k, v, `a ${t}`);
    primitive = false;
    if (t === "object" && !(v instanceof Date) && !ArrayBuffer.isView(v) && !Array.isArray(v) && !isNdArray(v)) {
      if (!isPlainObject(v as object)) throw invalid(prefix + k, v, `an instance of ${(v as object).constructor?.name ?? "a class"}`);
      flat = false;
      break;
    }
  }
  if (flat) {
    // Rows of primitives (the common case) need no deeper look.
    if (!primitive) for (const k in row) checkDeep(row[k], k, []);
    return row;
  }
  const out: Row = {};
  flattenInto(out, row, prefix, seen ?? [row]);
  return out;
}

function flattenInto(out: Row, obj: Row, prefix: string, seen: object[]): void {
  for (const k in obj) {
    const v = obj[k];
    const key = prefix + k;
    if (v !== null && typeof v === "object" && !(v instanceof Date) && !ArrayBuffer.isView(v) && !Array.isArray(v) && !isNdArray(v)) {
      if (!isPlainObject(v)) throw invalid(key, v, `an instance of ${v.constructor?.name ?? "a class"}`);
      if (seen.includes(v)) throw invalid(key, v, "a cyclic reference");
      seen.push(v);
      flattenInto(out, v as Row, key + ".", seen);
      seen.pop();
    } else {
      checkDeep(v, key, seen);
      if (v !== undefined) out[key] = v;
    }
  }
}

/** Rejects functions, symbols, cycles and odd objects inside arrays. */
function checkDeep(v: unknown, key: string, seen: object[]): void {
  const t = typeof v;
  if (t === "function" || t === "symbol") throw invalid(key, v, `a ${t}`);
  if (t !== "object" || v === null) return;
  if (v instanceof Date) {
    if (isNaN(v.getTime())) throw invalid(key, v, "an invalid Date");
    return;
  }
  if (ArrayBuffer.isView(v)) {
    if (v instanceof DataView) throw invalid(key, v, "a DataView");
    return;
  }
  if (Array.isArray(v)) {
    if (seen.includes(v)) throw invalid(key, v, "a cyclic reference");
    seen.push(v);
    for (const e of v) {
      if (e !== null && typeof e === "object" && !(e instanceof Date) && !ArrayBuffer.isView(e) && !Array.isArray(e)) {
        throw invalid(key, e, "an object inside an array; use columns or { data, shape }");
      }
      checkDeep(e, key, seen);
    }
    seen.pop();
    return;
  }
  if (isNdArray(v)) {
    const size = v.shape.reduce((a, b) => a * b, 1);
    if (!v.shape.every((d) => Number.isInteger(d) && d >= 0) || size !== v.data.length) {
      throw new QuiverError("SHAPE_MISMATCH", `column ${JSON.stringify(key)}: shape [${v.shape.join(", ")}] holds ${size} values but data has ${v.data.length}`);
    }
    return;
  }
  throw invalid(key, v, "a nested object here");
}
