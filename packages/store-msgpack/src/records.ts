/**
 * msgpack-lines framing and the records Quiver cannot type as they come.
 *
 * dreamlake writes `msgpack.packb(obj) + b"\n"`: a record, then the byte 0x0a (which a stream
 * decoder reads as the integer 10). Records are maps and a map never starts with 0x0a, so a
 * lone 0x0a between records is a separator, never data; files without separators (older Quiver
 * files) read the same way.
 *
 * Records written by other tools may hold what a Quiver row cannot: a nested map (flattened to
 * "a.b" columns, as core flattens nested objects at log()) and lists holding maps or values of
 * different kinds (kept as the exact msgpack bytes of the value, in a binary column marked
 * `quiver:msgpack`, so nothing is lost and a rewrite puts back the very same bytes).
 */
import { classOfValue, isNdArray, type Row } from "@quiver/core";
import { Unpackr } from "msgpackr";

/** Plain msgpack maps as JS objects; 64-bit ints as numbers when safe. */
export const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "auto" as "number" });

export const NL = 0x0a;
/** Field metadata of a column holding msgpack-encoded values. */
export const MSGPACK_META = "quiver:msgpack";

/** A decoded msgpack map (msgpackr gives plain objects; garbage bytes decode to other things). */
export function isPlainMap(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

/** Whether the byte can start a map (every record is one). */
export function isMapStart(b: number): boolean {
  return (b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf;
}

const INCOMPLETE = -1;
const INVALID = -2;

function u16(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}
function u32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) >>> 0) + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}

/**
 * End of the msgpack value starting at `p`: -1 when the bytes end inside it (a torn write),
 * -2 when they are not msgpack (the reserved byte 0xc1).
 */
export function skipValue(buf: Uint8Array, p: number, end = buf.length): number {
  let pending = 1;
  while (pending > 0) {
    if (p >= end) return INCOMPLETE;
    const b = buf[p++]!;
    pending--;
    if (b <= 0x7f || b >= 0xe0) continue;
    if (b <= 0x8f) {
      pending += 2 * (b & 0x0f);
      continue;
    }
    if (b <= 0x9f) {
      pending += b & 0x0f;
      continue;
    }
    if (b <= 0xbf) {
      p += b & 0x1f;
      continue;
    }
    let head = 0;
    let len = 0;
    switch (b) {
      case 0xc0:
      case 0xc2:
      case 0xc3:
        continue;
      case 0xc1:
        return INVALID;
      case 0xc4:
      case 0xd9:
        head = 1;
        break;
      case 0xc5:
      case 0xda:
        head = 2;
        break;
      case 0xc6:
      case 0xdb:
        head = 4;
        break;
      case 0xc7:
        head = 1;
        len = 1;
        break;
      case 0xc8:
        head = 2;
        len = 1;
        break;
      case 0xc9:
        head = 4;
        len = 1;
        break;
      case 0xcc:
      case 0xd0:
        p += 1;
        continue;
      case 0xcd:
      case 0xd1:
        p += 2;
        continue;
      case 0xca:
      case 0xce:
      case 0xd2:
        p += 4;
        continue;
      case 0xcb:
      case 0xcf:
      case 0xd3:
        p += 8;
        continue;
      case 0xd4:
        p += 2;
        continue;
      case 0xd5:
        p += 3;
        continue;
      case 0xd6:
        p += 5;
        continue;
      case 0xd7:
        p += 9;
        continue;
      case 0xd8:
        p += 17;
        continue;
      case 0xdc:
      case 0xde:
        if (p + 2 > end) return INCOMPLETE;
        pending += (b === 0xde ? 2 : 1) * u16(buf, p);
        p += 2;
        continue;
      case 0xdd:
      case 0xdf:
        if (p + 4 > end) return INCOMPLETE;
        pending += (b === 0xdf ? 2 : 1) * u32(buf, p);
        p += 4;
        continue;
    }
    if (p + head > end) return INCOMPLETE;
    const n = head === 1 ? buf[p]! : head === 2 ? u16(buf, p) : u32(buf, p);
    p += head + len + n;
  }
  return p <= end ? p : INCOMPLETE;
}

/** Records found in a byte range: each [start, end), its trailing separator included. */
export interface Framed {
  starts: number[];
  /** End of each record's msgpack value (before its separator). */
  values: number[];
  ends: number[];
  /** End of the last complete record (and its separator). */
  good: number;
  /** What follows `good`: nothing, the start of a record the bytes end inside, or bytes that are no record. */
  tail: "none" | "torn" | "garbage";
}

/** Frames the records of `buf` from `from` on; stops at a torn or foreign tail. */
export function frameRecords(buf: Uint8Array, from = 0): Framed {
  const starts: number[] = [];
  const values: number[] = [];
  const ends: number[] = [];
  let p = from;
  const len = buf.length;
  while (p < len && buf[p] === NL) p++; // separators of a record indexed before `from`
  let good = p;
  while (p < len) {
    if (!isMapStart(buf[p]!)) return { starts, values, ends, good, tail: "garbage" };
    const e = skipValue(buf, p, len);
    if (e === INCOMPLETE) return { starts, values, ends, good, tail: "torn" };
    if (e < 0) return { starts, values, ends, good, tail: "garbage" };
    let q = e;
    while (q < len && buf[q] === NL) q++;
    starts.push(p);
    values.push(e);
    ends.push(q);
    good = p = q;
  }
  return { starts, values, ends, good, tail: "none" };
}

/** Whether msgpackr's value at [start, end) is a lone separator byte. */
export function isSeparator(buf: Uint8Array, start: number, end: number): boolean {
  return end === start + 1 && buf[start] === NL;
}

/** Values Quiver's columns cannot hold as they are: lists holding maps, or values of different kinds. */
export function untypable(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  let cls: string | undefined;
  for (const e of v) {
    if (e == null) continue;
    if (isPlainMap(e) || untypable(e)) return true;
    const c = classOfValue(e);
    if (cls === undefined) cls = c;
    else if (c !== cls) return true;
  }
  return false;
}

/** msgpackr renames a "__proto__" key to this: such records are rebuilt from their bytes. */
const RENAMED = "__proto_";

/** A value that must go through `walkRow`: a nested map, or an untypable list. */
function needsCare(v: unknown): boolean {
  return (isPlainMap(v) && !isNdArray(v)) || untypable(v);
}

/** Whether a decoded row record needs flattening or raw columns. */
export function rowNeedsCare(rec: Record<string, unknown>, raw: ReadonlySet<string>): boolean {
  if (raw.size || Object.hasOwn(rec, RENAMED)) return true;
  for (const k in rec) if (needsCare(rec[k])) return true;
  return false;
}

/** Whether a decoded columnar record needs flattening or raw columns. */
export function columnsNeedCare(rec: Record<string, unknown>, raw: ReadonlySet<string>): boolean {
  if (raw.size || Object.hasOwn(rec, RENAMED)) return true;
  for (const k in rec) {
    const c = rec[k];
    if (Array.isArray(c)) for (const v of c) if (needsCare(v)) return true;
  }
  return false;
}

function readKey(buf: Uint8Array, p: number, e: number): string {
  const k = unpackr.unpack(buf.subarray(p, e) as Buffer) as unknown;
  return typeof k === "string" ? k : String(k);
}

function mapHeader(buf: Uint8Array, p: number): [count: number, next: number] {
  const b = buf[p]!;
  if (b >= 0x80 && b <= 0x8f) return [b & 0x0f, p + 1];
  if (b === 0xde) return [u16(buf, p + 1), p + 3];
  return [u32(buf, p + 1), p + 5];
}

function arrayHeader(buf: Uint8Array, p: number): [count: number, next: number] | undefined {
  const b = buf[p]!;
  if (b >= 0x90 && b <= 0x9f) return [b & 0x0f, p + 1];
  if (b === 0xdc) return [u16(buf, p + 1), p + 3];
  if (b === 0xdd) return [u32(buf, p + 1), p + 5];
  return undefined;
}

/**
 * Puts the value at [p, e) into `out[name]`: nested maps flattened ("a.b"), untypable values
 * and values of raw columns as their msgpack bytes (the names of those land in `rawOut`).
 */
function putValue(buf: Uint8Array, p: number, e: number, name: string, out: Row, raw: ReadonlySet<string>, rawOut: Set<string>): void {
  if (raw.has(name)) {
    out[name] = buf.slice(p, e);
    return;
  }
  if (isMapStart(buf[p]!)) {
    const v = unpackr.unpack(buf.subarray(p, e) as Buffer) as unknown;
    if (isNdArray(v)) out[name] = v;
    else walkMap(buf, p, name + ".", out, raw, rawOut);
    return;
  }
  const v = unpackr.unpack(buf.subarray(p, e) as Buffer) as unknown;
  if (untypable(v)) {
    out[name] = buf.slice(p, e);
    rawOut.add(name);
  } else out[name] = v;
}

function walkMap(buf: Uint8Array, p: number, prefix: string, out: Row, raw: ReadonlySet<string>, rawOut: Set<string>): number {
  let [n, q] = mapHeader(buf, p);
  for (let j = 0; j < n; j++) {
    const ke = skipValue(buf, q);
    const key = readKey(buf, q, ke);
    const ve = skipValue(buf, ke);
    putValue(buf, ke, ve, prefix + key, out, raw, rawOut);
    q = ve;
  }
  return q;
}

/** One row record at `p` as a flat row (see putValue). */
export function walkRow(buf: Uint8Array, p: number, raw: ReadonlySet<string>, rawOut: Set<string>): Row {
  const out = Object.create(null) as Row; // keys exactly as stored, "__proto__" included
  walkMap(buf, p, "", out, raw, rawOut);
  return out;
}

/**
 * One columnar record at `p` ({ col: [v, …] }) as flat columns of `n` rows: a column of maps
 * becomes one column per key ("col.key"), untypable elements their msgpack bytes.
 */
export function walkColumns(buf: Uint8Array, p: number, n: number, raw: ReadonlySet<string>, rawOut: Set<string>): Record<string, unknown[]> {
  const cols = Object.create(null) as Record<string, unknown[]>;
  let [m, q] = mapHeader(buf, p);
  const row = Object.create(null) as Row;
  for (let j = 0; j < m; j++) {
    const ke = skipValue(buf, q);
    const key = readKey(buf, q, ke);
    const ve = skipValue(buf, ke);
    const ah = arrayHeader(buf, ke);
    if (ah) {
      let [len, r] = ah;
      for (let i = 0; i < len && i < n; i++) {
        const ee = skipValue(buf, r);
        for (const k in row) delete row[k];
        if (buf[r] !== 0xc0) putValue(buf, r, ee, key, row, raw, rawOut);
        for (const k in row) (cols[k] ??= new Array(n).fill(null))[i] = row[k];
        r = ee;
      }
    }
    cols[key] ??= new Array(n).fill(null);
    q = ve;
  }
  // A column of maps left only its flattened children.
  for (const k of Object.keys(cols)) if (cols[k]!.every((v) => v === null) && Object.keys(cols).some((x) => x.startsWith(k + "."))) delete cols[k];
  return cols;
}
