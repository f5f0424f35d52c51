/**
 * How a value that is not a column becomes bytes (assets, cached function results), and back:
 * exactly, or refused with INVALID_VALUE before anything is stored.
 *
 * - `bytes`: a Uint8Array (or Buffer) is stored as it is; it comes back as a Uint8Array.
 * - `json`: JSON-safe values (plain objects and arrays of strings, booleans, null and finite
 *   numbers other than -0) are stored as UTF-8 JSON, readable by any tool.
 * - `v8`: everything else Node's structured clone holds exactly — Map, Set, Date, RegExp, bigint,
 *   typed arrays, ArrayBuffer, NaN/±Infinity/-0, undefined, sparse arrays, shared and cyclic
 *   references — through `v8.serialize`.
 * Refused: functions, symbols, objects with symbol keys or accessors, and class instances
 * (v8 would bring them back as plain objects, without their class), Errors, WeakMaps, Promises.
 */
import { createHash } from "node:crypto";
import { deserialize, serialize } from "node:v8";
import { describeValue, QuiverError } from "../errors.js";

export type Encoding = "bytes" | "json" | "v8";
export const ENCODINGS: readonly Encoding[] = ["bytes", "json", "v8"];

export interface Encoded {
  encoding: Encoding;
  bytes: Uint8Array;
}

const CLONE_PROTOS: ReadonlySet<unknown> = new Set([
  Object.prototype,
  null,
  Array.prototype,
  Map.prototype,
  Set.prototype,
  Date.prototype,
  RegExp.prototype,
  ArrayBuffer.prototype,
  DataView.prototype,
]);

function isTypedArrayProto(p: unknown): boolean {
  return p !== null && typeof p === "object" && Object.getPrototypeOf(p) === Object.getPrototypeOf(Int8Array.prototype);
}

/** Throws INVALID_VALUE naming the path of the first part that would not come back as it is. */
function checkClonable(v: unknown, path: string, seen: Set<object>): void {
  const t = typeof v;
  if (t === "function") throw refuse(path, v, "functions cannot be stored");
  if (t === "symbol") throw refuse(path, v, "symbols cannot be stored");
  if (t !== "object" || v === null) return;
  const o = v as object;
  if (seen.has(o)) return; // a shared or cyclic reference: v8 keeps it as such
  seen.add(o);
  const proto = Object.getPrototypeOf(o);
  if (Buffer.isBuffer(o) || isTypedArrayProto(proto) || proto === DataView.prototype || proto === ArrayBuffer.prototype) return;
  if (!CLONE_PROTOS.has(proto)) {
    const name = (o as { constructor?: { name?: string } }).constructor?.name ?? "object";
    throw refuse(path, v, `a ${name} instance would come back as a plain object without its class; store its data (a plain object, or bytes you encode yourself)`);
  }
  if (Object.getOwnPropertySymbols(o).length) throw refuse(path, v, "symbol keys are not stored");
  if (o instanceof Map) {
    let i = 0;
    for (const [k, x] of o) {
      checkClonable(k, `${path}.<key ${i}>`, seen);
      checkClonable(x, `${path}.<value ${i++}>`, seen);
    }
    return;
  }
  if (o instanceof Set) {
    let i = 0;
    for (const x of o) checkClonable(x, `${path}.<item ${i++}>`, seen);
    return;
  }
  if (o instanceof Date || o instanceof RegExp) return;
  for (const k of Object.keys(o)) {
    const d = Object.getOwnPropertyDescriptor(o, k);
    if (d && (d.get || d.set)) throw refuse(`${path}.${k}`, undefined, "accessor properties (getters) are not stored; store the value");
    checkClonable((o as Record<string, unknown>)[k], `${path}.${k}`, seen);
  }
}

function refuse(path: string, v: unknown, why: string): QuiverError {
  return new QuiverError("INVALID_VALUE", `cannot store ${path}${v === undefined ? "" : ` (${describeValue(v)})`}: ${why}`);
}

/** Whether JSON.parse(JSON.stringify(v)) gives v back, deeply (no cycles, no -0, no undefined). */
function isJsonSafe(v: unknown, depth = 0, seen = new Set<object>()): boolean {
  if (v === null || typeof v === "string" || typeof v === "boolean") return true;
  if (typeof v === "number") return Number.isFinite(v) && !Object.is(v, -0);
  if (typeof v !== "object" || depth > 200) return false;
  if (seen.has(v)) return false; // shared references would be duplicated
  seen.add(v);
  const proto = Object.getPrototypeOf(v);
  if (Array.isArray(v)) {
    if (proto !== Array.prototype) return false;
    for (let i = 0; i < v.length; i++) if (!(i in v) || !isJsonSafe(v[i], depth + 1, seen)) return false;
    return true;
  }
  if (proto !== Object.prototype) return false;
  for (const k of Object.keys(v)) {
    if (k === "__proto__") return false;
    const d = Object.getOwnPropertyDescriptor(v, k);
    if (!d || d.get || d.set || !isJsonSafe(d.value, depth + 1, seen)) return false;
  }
  return Object.getOwnPropertySymbols(v).length === 0;
}

/** The bytes of a value and how they were made; INVALID_VALUE for what cannot round-trip. `what` names it in errors. */
export function encodeValue(value: unknown, what = "the value"): Encoded {
  if (value instanceof Uint8Array && (Buffer.isBuffer(value) || Object.getPrototypeOf(value) === Uint8Array.prototype)) {
    return { encoding: "bytes", bytes: new Uint8Array(value.buffer, value.byteOffset, value.byteLength) };
  }
  if (isJsonSafe(value)) return { encoding: "json", bytes: Buffer.from(JSON.stringify(value), "utf8") };
  checkClonable(value, what, new Set());
  try {
    return { encoding: "v8", bytes: serialize(value) };
  } catch (err) {
    throw new QuiverError("INVALID_VALUE", `cannot store ${what}: ${(err as Error).message}`, { cause: err });
  }
}

export function decodeValue(encoding: string, bytes: Uint8Array): unknown {
  switch (encoding) {
    case "bytes":
      return new Uint8Array(bytes);
    case "json":
      return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8"));
    case "v8":
      return deserialize(bytes);
    default:
      throw new QuiverError("INVALID_VALUE", `unknown asset encoding ${JSON.stringify(encoding)} (known: ${ENCODINGS.join(", ")}); written by a newer Quiver?`);
  }
}

/**
 * The content hash: sha256 of the encoding name, a NUL and the bytes, in hex. The encoding is
 * part of it so that a Uint8Array and a JSON text with the same bytes stay two assets.
 */
export function contentHash(e: Encoded): string {
  return createHash("sha256").update(e.encoding).update("\0").update(e.bytes).digest("hex");
}
