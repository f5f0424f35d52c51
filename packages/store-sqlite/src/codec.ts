/**
 * Arrow ⇄ SQLite values, one codec per column storage. Each Quiver column keeps its exact Arrow
 * type in the catalog and is stored in the SQLite form that holds it exactly and reads
 * naturally from Python's sqlite3:
 *
 *   int8…int64, uint8…uint32, bool → INTEGER (bool as 0/1)    uint64 → TEXT (decimal)
 *   float16/32/64 → a column of no declared type (REAL values; NaN as the text 'NaN')
 *   string → TEXT (NUL kept)   binary → BLOB   timestamp → TIMESTAMP, text 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC)
 *   lists, tensors, structs → TEXT holding exact JSON (json.ts)   only nulls so far → no declared type
 *
 * A REAL-affinity column would store -0.0 as the integer 0 and NaN as NULL, hence floats have
 * no declared type. Timestamps are text as xetrack writes them (and as Python's sqlite3 parses
 * TIMESTAMP columns), with as many fraction digits as the unit has.
 */
import { type Data, type DataType, type Float64, type Int64, makeData, type Timestamp, type TimeUnit, Type } from "apache-arrow";
import { buildData, vectorToValues } from "@quiver/core/store-kit";
import type { Vector } from "apache-arrow";
import { decodeValueJson, encodeValueJson } from "@quiver/core/store-kit";

export type Storage = "int" | "uint64" | "float" | "bool" | "text" | "blob" | "time" | "json" | "null";

/** The storage of an Arrow type (types typeToJSON refuses never get here). */
export function storageOf(t: DataType): Storage {
  switch (t.typeId) {
    case Type.Null:
      return "null";
    case Type.Int: {
      const it = t as Int64;
      return !it.isSigned && it.bitWidth === 64 ? "uint64" : "int";
    }
    case Type.Float:
      return "float";
    case Type.Bool:
      return "bool";
    case Type.Utf8:
    case Type.LargeUtf8:
      return "text";
    case Type.Binary:
    case Type.LargeBinary:
      return "blob";
    case Type.Timestamp:
      return "time";
    default:
      return "json";
  }
}

/** The declared SQLite type of a storage (its affinity keeps values as bound). */
export function declaredType(s: Storage): string {
  switch (s) {
    case "int":
    case "bool":
      return "INTEGER";
    case "uint64":
    case "text":
    case "json":
      return "TEXT";
    case "blob":
      return "BLOB";
    case "time":
      return "TIMESTAMP";
    default:
      return "";
  }
}

export type SqliteValue = number | bigint | string | Uint8Array | null;

// ---- timestamps as text -------------------------------------------------------------------

const TWO32 = 4294967296;
const PER_SECOND = [1, 1000, 1_000_000, 1_000_000_000];
const DIGITS = [0, 3, 6, 9];

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

let lastSec = Number.NaN;
let lastText = "";

/** 'YYYY-MM-DD HH:MM:SS' of whole seconds since the epoch (years 1…9999); rows logged together share it. */
function secondsText(sec: number): string {
  if (sec === lastSec) return lastText;
  const d = new Date(sec * 1000);
  const y = d.getUTCFullYear();
  const ys = y >= 1000 ? String(y) : String(y).padStart(4, "0");
  lastText = `${ys}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  lastSec = sec;
  return lastText;
}

/** Text of a raw timestamp (a count of `unit` since the epoch). */
export function timeText(raw: number | bigint, unit: TimeUnit): string {
  const per = PER_SECOND[unit]!;
  let sec: number;
  let frac: number;
  if (typeof raw === "number") {
    sec = Math.floor(raw / per);
    frac = raw - sec * per;
  } else {
    const p = BigInt(per);
    let s = raw / p;
    if (raw % p < 0n) s -= 1n;
    sec = Number(s);
    frac = Number(raw - s * p);
  }
  const digits = DIGITS[unit]!;
  return digits === 0 ? secondsText(sec) : `${secondsText(sec)}.${String(frac).padStart(digits, "0")}`;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?$/;
/** xetrack before 0.1 wrote day-month-year ('18-08-2023 11:02:35.162360'). */
const DMY = /^(\d{2})-(\d{2})-(\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;

/** The raw count of `unit` of a timestamp text, or undefined when it is not one. */
export function parseTime(text: string, unit: TimeUnit): number | bigint | undefined {
  let m = ISO.exec(text);
  let y: number;
  let mo: number;
  let d: number;
  if (m) [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  else {
    m = DMY.exec(text);
    if (!m) return undefined;
    [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  }
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), 0);
  const sec = date.getTime() / 1000;
  const digits = DIGITS[unit]!;
  const f = (m[7] ?? "").padEnd(9, "0").slice(0, digits);
  const frac = digits ? Number(f) : 0;
  const per = PER_SECOND[unit]!;
  const x = sec * per + frac;
  return Number.isSafeInteger(x) ? x : BigInt(sec) * BigInt(per) + BigInt(frac);
}

// ---- encoding: Arrow column → values to bind -----------------------------------------------

/** A raw time in `from` units as `to` units (floored when coarser). */
function rescale(raw: number | bigint, from: TimeUnit, to: TimeUnit): number | bigint {
  if (from === to) return raw;
  const f = PER_SECOND[from]!;
  const t = PER_SECOND[to]!;
  const b = BigInt(raw);
  const r = t > f ? b * BigInt(t / f) : b / BigInt(f / t) - (b % BigInt(f / t) < 0n ? 1n : 0n);
  return r >= -9007199254740991n && r <= 9007199254740991n ? Number(r) : r;
}

/** Raw int64 values of a timestamp column (numbers where safe, bigints beyond). */
function rawTimes(v: Vector): (number | bigint | null)[] {
  const out: (number | bigint | null)[] = [];
  for (const data of v.data) {
    const vals = data.values as BigInt64Array;
    const lo = new Uint32Array(vals.buffer, vals.byteOffset, vals.length * 2);
    const hi = new Int32Array(vals.buffer, vals.byteOffset, vals.length * 2);
    for (let i = 0; i < data.length; i++) {
      if (!data.getValid(i)) {
        out.push(null);
        continue;
      }
      const j = i; // values come sliced (Arrow JS): data.offset counts only in the validity
      const h = hi[2 * j + 1]!;
      out.push(h < 2097152 && h >= -2097152 ? h * TWO32 + lo[2 * j]! : vals[j]!);
    }
  }
  return out;
}

/** The column's values as SQLite binds them, for `storage`. */
export function encodeColumn(v: Vector, storage: Storage, type: DataType): SqliteValue[] {
  if (v.type.typeId === Type.Null) return new Array<SqliteValue>(v.length).fill(null);
  if (storage === "time") {
    const unit = (type as Timestamp).unit;
    const from = (v.type as Timestamp).unit;
    return rawTimes(v).map((r) => (r === null ? null : timeText(rescale(r, from, unit), unit)));
  }
  const vals = vectorToValues(v) as unknown[];
  switch (storage) {
    case "int":
    case "text":
    case "blob":
      return vals as SqliteValue[];
    case "float":
      for (let i = 0; i < vals.length; i++) if (vals[i] !== vals[i]) vals[i] = "NaN";
      return vals as SqliteValue[];
    case "bool":
      return vals.map((x) => (x === null ? null : x ? 1 : 0));
    case "uint64":
      return vals.map((x) => (x === null ? null : String(x)));
    case "json":
      return vals.map((x) => (x == null ? null : encodeValueJson(x, type)));
    default:
      return vals.map(() => null);
  }
}

// ---- decoding: SQLite values → Arrow data --------------------------------------------------

function utf8(v: unknown): string {
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("utf8");
  return String(v);
}

function timeData(type: Timestamp, vals: readonly unknown[], column: string): Data {
  const n = vals.length;
  const buf = new ArrayBuffer(n * 8);
  const lo = new Uint32Array(buf);
  const hi = new Int32Array(buf);
  const big = new BigInt64Array(buf);
  const bitmap = new Uint8Array((n + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const v = vals[i];
    if (v === null || v === undefined) {
      nulls++;
      continue;
    }
    const raw = typeof v === "string" ? parseTime(v, type.unit) : undefined;
    if (raw === undefined) throw new Error(`column ${JSON.stringify(column)} holds ${JSON.stringify(v)}, which is not a time ('YYYY-MM-DD HH:MM:SS[.ffffff]')`);
    bitmap[i >> 3]! |= 1 << (i & 7);
    if (typeof raw === "bigint") big[i] = raw;
    else {
      const h = Math.floor(raw / TWO32);
      hi[2 * i + 1] = h;
      lo[2 * i] = raw - h * TWO32;
    }
  }
  return makeData({ type, length: n, nullCount: nulls, nullBitmap: nulls ? bitmap : undefined, data: big });
}

/** Arrow data of `type` from the values SQLite returned for a column of `storage`. */
export function decodeColumn(type: DataType, storage: Storage, vals: unknown[], column: string): Data {
  switch (storage) {
    case "null":
      return makeData({ type, length: vals.length, nullCount: vals.length } as never);
    case "time":
      return timeData(type as Timestamp, vals, column);
    case "int": {
      const narrow = (type as Int64).bitWidth < 64;
      if (narrow) for (let i = 0; i < vals.length; i++) if (typeof vals[i] === "bigint") vals[i] = Number(vals[i]);
      return buildData(type, vals, column);
    }
    case "uint64":
      return buildData(
        type,
        vals.map((x) => (x === null ? null : BigInt(x as string | number | bigint))),
        column,
      );
    case "float":
      for (let i = 0; i < vals.length; i++) {
        const x = vals[i];
        if (typeof x !== "number" && x !== null) vals[i] = x === "NaN" ? NaN : Number(x);
      }
      return buildData(type, vals, column);
    case "bool":
      return buildData(
        type,
        vals.map((x) => (x === null ? null : Number(x) !== 0)),
        column,
      );
    case "text":
      for (let i = 0; i < vals.length; i++) if (vals[i] !== null && typeof vals[i] !== "string") vals[i] = utf8(vals[i]);
      return buildData(type, vals, column);
    case "blob":
      for (let i = 0; i < vals.length; i++) {
        const x = vals[i];
        if (x !== null && !(x instanceof Uint8Array)) vals[i] = Buffer.from(String(x), "utf8");
      }
      return buildData(type, vals, column);
    default:
      return buildData(
        type,
        vals.map((x) => (x === null ? null : decodeValueJson(utf8(x), type))),
        column,
      );
  }
}

export function isFloat64(t: DataType): boolean {
  return t.typeId === Type.Float && (t as Float64).precision === 2;
}
