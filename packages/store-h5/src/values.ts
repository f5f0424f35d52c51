/** What H5Logger.log accepts, and how a value becomes flat elements + shape + dtype. */
import { describeValue, QuiverError, validateName } from "@quiver/core";
import { type DType, DTYPES, dtypeOfArray, type NumericArray, parseDType } from "./h5.js";

/** What values of one name look like: the shape of one value and its element type. */
export interface DatasetSpec {
  /** Shape of one logged value: [] for scalars, [64, 64] for a 64×64 image. */
  shape: readonly number[];
  /**
   * Element type: float64, float32, int8…int64, uint8…uint64, bool, or "bigint" (int64 logged and read as
   * bigints; "int64" takes JS numbers). numpy-style "<f4", "int", "float" work too.
   */
  dtype: DType | string;
  /** Rows per HDF5 chunk (default: about 256 KiB per chunk). */
  chunkRows?: number;
}

/** Values `log` accepts. */
export type LogValue = number | bigint | boolean | ArrayBufferView | readonly unknown[] | { data: ArrayLike<number | bigint | boolean>; shape: readonly number[] };

export type Kind = "number" | "bigint" | "bool";

export const KIND_ATTR = "quiver_kind";
export const TARGET_CHUNK_BYTES = 256 * 1024;
export const TARGET_BLOCK_BYTES = 1024 * 1024;

export function shapeStr(s: readonly number[]): string {
  return `[${s.join(", ")}]`;
}

export function product(s: readonly number[]): number {
  let p = 1;
  for (const d of s) p *= d;
  return p;
}

/** A value broken into flat elements + shape + natural dtype. */
export interface Parsed {
  shape: number[];
  data: ArrayLike<number | bigint | boolean>;
  dtype: DType;
  kind: Kind;
  /** JS numbers (not a typed array): fit any numeric dtype. */
  loose: boolean;
}

function nestedShape(a: readonly unknown[]): number[] {
  const shape = [a.length];
  let cur: unknown = a[0];
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

function flatten(a: readonly unknown[], shape: number[], depth: number, out: unknown[], name: string): void {
  if (a.length !== shape[depth]) throw new QuiverError("SHAPE_MISMATCH", `${name}: nested arrays are ragged (expected length ${shape[depth]} at depth ${depth}, got ${a.length})`);
  if (depth === shape.length - 1) {
    for (const v of a) {
      if (Array.isArray(v)) throw new QuiverError("SHAPE_MISMATCH", `${name}: nested arrays are ragged`);
      out.push(v);
    }
    return;
  }
  for (const v of a) {
    if (!Array.isArray(v)) throw new QuiverError("SHAPE_MISMATCH", `${name}: nested arrays are ragged`);
    flatten(v, shape, depth + 1, out, name);
  }
}

function elementsKind(data: ArrayLike<unknown>, name: string): { dtype: DType; kind: Kind } {
  let kind: Kind | undefined;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    const t = typeof v;
    const k: Kind | undefined = t === "number" ? "number" : t === "bigint" ? "bigint" : t === "boolean" ? "bool" : undefined;
    if (k === undefined) throw new QuiverError("INVALID_VALUE", `${name}: ${describeValue(v)} cannot be logged; arrays hold numbers, bigints or booleans`);
    if (kind && k !== kind) throw new QuiverError("INVALID_VALUE", `${name}: an array mixes ${kind} and ${k} values`);
    kind = k;
  }
  kind ??= "number";
  return { kind, dtype: kind === "bool" ? "bool" : kind === "bigint" ? "int64" : "float64" };
}

export function parseValue(value: unknown, name: string): Parsed {
  switch (typeof value) {
    case "number":
      // A JS number is a double: float64, so a stream whose first value happens to be whole (a loss
      // of 0) still takes 0.25 later. Integer datasets come from bigints, integer typed arrays or `datasets`.
      return { shape: [], data: [value], dtype: "float64", kind: "number", loose: true };
    case "bigint":
      return { shape: [], data: [value], dtype: "int64", kind: "bigint", loose: false };
    case "boolean":
      return { shape: [], data: [value], dtype: "bool", kind: "bool", loose: false };
  }
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const dtype = dtypeOfArray(value);
    if (!dtype) throw new QuiverError("INVALID_VALUE", `${name}: ${describeValue(value)} cannot be logged`);
    const a = value as unknown as NumericArray;
    return { shape: [a.length], data: a, dtype, kind: DTYPES[dtype].big ? "bigint" : "number", loose: false };
  }
  if (Array.isArray(value)) {
    const shape = nestedShape(value);
    const flat: unknown[] = [];
    flatten(value, shape, 0, flat, name);
    const { dtype, kind } = elementsKind(flat, name);
    return { shape, data: flat as ArrayLike<number>, dtype, kind, loose: kind === "number" };
  }
  if (value !== null && typeof value === "object" && "data" in value && "shape" in value) {
    const { data, shape } = value as { data: unknown; shape: unknown };
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new QuiverError("SHAPE_MISMATCH", `${name}: shape must be an array of non-negative integers, got ${describeValue(shape)}`);
    }
    const inner = ArrayBuffer.isView(data) || Array.isArray(data) ? parseValue(Array.isArray(data) ? data.flat(Infinity) : data, name) : undefined;
    if (!inner) throw new QuiverError("INVALID_VALUE", `${name}: { data, shape } needs data to be a typed array or an array`);
    if (inner.data.length !== product(shape)) {
      throw new QuiverError("SHAPE_MISMATCH", `${name}: shape ${shapeStr(shape)} holds ${product(shape)} values but data has ${inner.data.length}`);
    }
    return { ...inner, shape: [...shape] };
  }
  throw new QuiverError("INVALID_VALUE", `${name}: ${describeValue(value)} cannot be logged; log numbers, booleans, bigints, typed arrays, arrays or { data, shape }`);
}

export function checkSpec(name: string, spec: DatasetSpec): void {
  validateName(name, "dataset name");
  if (!spec || !Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new QuiverError("SHAPE_MISMATCH", `datasets["${name}"].shape must be an array of non-negative integers ([] for scalars), got ${describeValue(spec?.shape)}`);
  }
  parseDType(spec.dtype, `datasets["${name}"]`);
  if (spec.chunkRows !== undefined && (!Number.isInteger(spec.chunkRows) || spec.chunkRows < 1)) {
    throw new QuiverError("INVALID_VALUE", `datasets["${name}"].chunkRows must be a positive integer`);
  }
}
