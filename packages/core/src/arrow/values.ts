/** The JS values Quiver stores: their types, validation, and flattening of nested objects. */
import { QuiverError, describeValue } from "../errors.js";

/** A value Quiver can store. */
export type Value = number | bigint | boolean | string | Date | Uint8Array | null | TypedArray | NdArray | readonly Value[];
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

/** The range of a bigint column (Int64). */
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
/** Dates every store and Python's datetime hold: 0001-01-01 … 9999-12-31T23:59:59.999Z (ms since the epoch). */
export const DATE_MIN_MS = -62135596800000;
export const DATE_MAX_MS = 253402300799999;

/** Whether a string has no lone surrogate: UTF-8 (every store's text encoding) cannot hold one, its encoder writes U+FFFD. */
export function isWellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** The INVALID_VALUE error for a string, bigint or Date that cannot be stored exactly, or undefined when it can. */
export function scalarError(column: string, v: string | bigint | Date): QuiverError | undefined {
  if (typeof v === "string") {
    return isWellFormed(v)
      ? undefined
      : invalid(column, v, "a string with a lone UTF-16 surrogate, which UTF-8 cannot hold", "fix the string (e.g. s.toWellFormed()) or store its bytes as a Uint8Array");
  }
  if (typeof v === "bigint")
    return v >= INT64_MIN && v <= INT64_MAX
      ? undefined
      : invalid(column, v, "a bigint outside int64 (-2^63 … 2^63-1)", "store it as a string, or as a number if a float is precise enough");
  const ms = v.getTime();
  if (isNaN(ms)) return invalid(column, v, "an invalid Date");
  return ms >= DATE_MIN_MS && ms <= DATE_MAX_MS
    ? undefined
    : invalid(column, v, "a Date outside the years 1-9999 that every store and Python's datetime hold", "store it as a string or a number");
}

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

const STORABLE = "store numbers, strings, booleans, bigints, Dates, Uint8Array, typed arrays, arrays or { data, shape }";

export function invalid(column: string, value: unknown, why: string, fix = STORABLE): QuiverError {
  return new QuiverError("INVALID_VALUE", `column ${JSON.stringify(column)}: ${describeValue(value)} cannot be stored (${why}); ${fix}`);
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
    if (t === "number" || t === "boolean" || v === null || v === undefined) continue;
    if (t === "string") {
      if (!isWellFormed(v as string)) throw scalarError(prefix + k, v as string)!;
      continue;
    }
    if (t === "bigint") {
      if ((v as bigint) < INT64_MIN || (v as bigint) > INT64_MAX) throw scalarError(prefix + k, v as bigint)!;
      continue;
    }
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

/**
 * Rejects what cannot be stored exactly: functions, symbols, cycles, odd objects inside arrays,
 * strings with lone surrogates, bigints beyond int64, Dates beyond years 1-9999, bigints in plain
 * arrays, tensors with non-numeric data.
 */
function checkDeep(v: unknown, key: string, seen: object[], inArray = false): void {
  const t = typeof v;
  if (t === "function" || t === "symbol") throw invalid(key, v, `a ${t}`);
  if (t === "string" || t === "bigint") {
    if (t === "bigint" && inArray) throw invalid(key, v, "a bigint inside an array, which would come back as a number or a typed array", "use a BigInt64Array");
    const err = scalarError(key, v as string | bigint);
    if (err) throw err;
    return;
  }
  if (t !== "object" || v === null) return;
  if (v instanceof Date) {
    const err = scalarError(key, v);
    if (err) throw err;
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
      checkDeep(e, key, seen, true);
    }
    seen.pop();
    return;
  }
  if (isNdArray(v)) {
    checkTensor(v, key);
    return;
  }
  throw invalid(key, v, "a nested object here");
}

/** Shape: non-negative int32 sizes whose product is the data length; data: a typed array or numbers (no nulls). */
function checkTensor(v: NdArray, key: string): void {
  const size = v.shape.reduce((a, b) => a * b, 1);
  if (!v.shape.every((d) => Number.isInteger(d) && d >= 0 && d <= 2147483647) || size !== v.data.length) {
    throw new QuiverError(
      "SHAPE_MISMATCH",
      `column ${JSON.stringify(key)}: shape [${v.shape.join(", ")}] holds ${size} values but data has ${v.data.length}; give one non-negative integer size per dimension whose product is the data length`,
    );
  }
  if (ArrayBuffer.isView(v.data)) {
    if (v.data instanceof DataView) throw invalid(key, v.data, "a DataView as tensor data");
    return;
  }
  for (const e of v.data as unknown[]) {
    if (typeof e !== "number") {
      throw invalid(key, e, "a non-number in the data of { data, shape }", "tensor data must be numbers or a typed array; store other values as an array column");
    }
  }
}
