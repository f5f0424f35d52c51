/**
 * PostgreSQL text results → Arrow columns. Rows arrive raw (one Buffer per value, text format);
 * each column is decoded straight into Arrow buffers where it can be (numbers, times, strings,
 * bytes), and through JS values only for lists and JSON.
 */
import {
  Binary,
  Bool,
  type Data,
  type DataType,
  Field,
  Float32,
  Float64,
  Int16,
  Int32,
  Int64,
  List,
  makeData,
  Null,
  TimestampMicrosecond,
  TimeUnit,
  Type,
  Utf8,
} from "apache-arrow";
import { buildData } from "@quiver/core";
import { decodeValueJson } from "@quiver/core/store-kit";
import type { Elem, Storage } from "./types.js";

export type RawValue = Buffer | null;
const TWO32 = 4294967296;

function validity(col: readonly RawValue[]): { bitmap: Uint8Array | undefined; nulls: number } {
  let nulls = 0;
  for (const v of col) if (v === null) nulls++;
  if (nulls === 0) return { bitmap: undefined, nulls };
  const bitmap = new Uint8Array((col.length + 7) >> 3);
  for (let i = 0; i < col.length; i++) if (col[i] !== null) bitmap[i >> 3]! |= 1 << (i & 7);
  return { bitmap, nulls };
}

/** Parses a decimal integer from ASCII bytes without making a string (safe range only). */
function smallInt(b: Buffer): number {
  let i = 0;
  let neg = false;
  if (b[0] === 45) {
    neg = true;
    i = 1;
  }
  let x = 0;
  for (; i < b.length; i++) x = x * 10 + (b[i]! - 48);
  return neg ? -x : x;
}

/** µs since 1970 of timestamptz / timestamp output text (ISO DateStyle, TimeZone UTC). */
export function parseTime(s: string): number | bigint {
  const m = /^(\d{4,})-(\d\d)-(\d\d)(?:[ T](\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?)?([+-]\d\d(?::?\d\d)?(?::?\d\d)?)?( BC)?$/.exec(s);
  if (!m) {
    if (s === "infinity" || s === "-infinity") throw new Error(`timestamp ${s} has no Arrow value`);
    throw new Error(`unexpected timestamp text ${JSON.stringify(s)}`);
  }
  let year = Number(m[1]);
  if (m[9]) year = 1 - year;
  const d = new Date(0);
  d.setUTCFullYear(year, Number(m[2]) - 1, Number(m[3]));
  d.setUTCHours(Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), 0);
  let ms = d.getTime();
  if (m[8]) {
    const [, sign, hh, mm = "0", ss = "0"] = /^([+-])(\d\d):?(\d\d)?:?(\d\d)?$/.exec(m[8])!;
    const off = (Number(hh) * 3600 + Number(mm) * 60 + Number(ss)) * 1000;
    ms -= sign === "-" ? -off : off;
  }
  const micro = m[7] ? Number(m[7].padEnd(6, "0")) : 0;
  const us = ms * 1000 + micro;
  return Number.isSafeInteger(us) ? us : BigInt(ms) * 1000n + BigInt(micro);
}

function hexBytes(b: Buffer): Buffer {
  // bytea output: "\x" then hex digits.
  return Buffer.from(b.toString("latin1", 2), "hex");
}

/** One element (or scalar) of `e` from its text as a JS value core's buildData takes. */
function scalarValue(e: Elem, s: string, t: DataType, bigint: boolean): unknown {
  switch (e) {
    case "int2":
    case "int4":
      return Number(s);
    case "int8":
      return bigint || s.length > 15 ? BigInt(s) : Number(s);
    case "numeric":
      return t.typeId === Type.Float ? Number(s) : BigInt(s);
    case "float4":
    case "float8":
      return Number(s);
    case "bool":
      return s === "t";
    case "text":
      return s;
    case "bytea": {
      const bytes = Buffer.from(s.slice(2), "hex");
      return t.typeId === Type.Utf8 || t.typeId === Type.LargeUtf8 ? bytes.toString("utf8") : new Uint8Array(bytes);
    }
    case "timestamptz": {
      const us = parseTime(s);
      if (typeof us === "number") return new Date(Math.floor(us / 1000));
      const q = us / 1000n;
      return new Date(Number(us % 1000n < 0n ? q - 1n : q));
    }
  }
}

/** Elements of one-dimensional array output text ("{a,"b c",NULL}"), unescaped; null for NULL. */
export function parseArray(s: string): (string | null)[] {
  let i = s.indexOf("{");
  if (i < 0) throw new Error(`unexpected array text ${JSON.stringify(s.slice(0, 40))}`);
  i++;
  const out: (string | null)[] = [];
  if (s[i] === "}") return out;
  while (i < s.length) {
    if (s[i] === '"') {
      let v = "";
      i++;
      while (s[i] !== '"') {
        if (s[i] === "\\") i++;
        v += s[i++];
      }
      out.push(v);
      i++;
    } else {
      let j = i;
      while (s[j] !== "," && s[j] !== "}") j++;
      const v = s.slice(i, j);
      out.push(v === "NULL" ? null : v);
      i = j;
    }
    if (s[i] === ",") i++;
    else if (s[i] === "}") break;
  }
  return out;
}

/** An Arrow column of type `t` from the raw text values of a column stored as `storage`. */
export function decodeColumn(col: readonly RawValue[], t: DataType, storage: Storage, bigint = false): Data {
  const n = col.length;
  if (storage.kind === "null" || t.typeId === Type.Null) return makeData({ type: new Null(), length: n, nullCount: n });
  if (storage.kind === "json")
    return buildData(
      t,
      col.map((v) => (v === null ? null : decodeValueJson(v.toString("utf8"), t))),
    );
  if (storage.kind === "array") {
    const child = t.children[0]!.type as DataType;
    const vals = col.map((v) => (v === null ? null : parseArray(v.toString("utf8")).map((e) => (e === null ? null : scalarValue(storage.elem, e, child, false)))));
    return buildData(t, vals);
  }
  const { bitmap, nulls } = validity(col);
  const base = { length: n, nullCount: nulls, nullBitmap: bitmap };
  const e = storage.elem;
  switch (e) {
    case "float4":
    case "float8": {
      if (t.typeId !== Type.Float) break;
      const arr = (t as Float64).precision === 2 ? new Float64Array(n) : new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const v = col[i];
        if (v !== null) arr[i] = Number(v.toString("latin1"));
      }
      return makeData({ ...base, type: t as Float64, data: arr });
    }
    case "int8":
    case "timestamptz": {
      if (e === "int8" && !(t.typeId === Type.Int && (t as Int64).bitWidth === 64 && (t as Int64).isSigned)) break;
      if (e === "timestamptz" && !(t.typeId === Type.Timestamp && (t as TimestampMicrosecond).unit === TimeUnit.MICROSECOND)) break;
      const buf = new ArrayBuffer(n * 8);
      const lo = new Uint32Array(buf);
      const hi = new Int32Array(buf);
      const big = new BigInt64Array(buf);
      for (let i = 0; i < n; i++) {
        const v = col[i];
        if (v === null) continue;
        const x = e === "int8" ? (v.length <= 15 ? smallInt(v) : BigInt(v.toString("latin1"))) : parseTime(v.toString("latin1"));
        if (typeof x === "bigint") big[i] = x;
        else {
          const h = Math.floor(x / TWO32);
          hi[2 * i + 1] = h;
          lo[2 * i] = x - h * TWO32;
        }
      }
      return makeData({ ...base, type: t as Int64, data: big });
    }
    case "text":
    case "bytea": {
      const isStr = t.typeId === Type.Utf8;
      if (!isStr && t.typeId !== Type.Binary) break;
      const offsets = new Int32Array(n + 1);
      let total = 0;
      const parts: Buffer[] = [];
      for (let i = 0; i < n; i++) {
        const v = col[i];
        if (v !== null) {
          const b = e === "bytea" ? hexBytes(v) : v;
          parts.push(b);
          total += b.length;
        }
        offsets[i + 1] = total;
      }
      const data = new Uint8Array(Buffer.concat(parts, total));
      return makeData({ ...base, type: t as Utf8, valueOffsets: offsets, data });
    }
    case "bool": {
      const bits = new Uint8Array((n + 7) >> 3);
      for (let i = 0; i < n; i++) if (col[i]?.[0] === 116) bits[i >> 3]! |= 1 << (i & 7);
      return makeData({ ...base, type: new Bool(), data: bits });
    }
  }
  return buildData(
    t,
    col.map((v) => (v === null ? null : scalarValue(e, v.toString("utf8"), t, bigint))),
  );
}

/** Arrow types of result columns of user SQL, by type OID (anything else reads as text). */
export function resultColumn(oid: number): { type: DataType; storage: Storage } {
  const scalar = (elem: Elem, type: DataType): { type: DataType; storage: Storage } => ({ type, storage: { kind: "scalar", elem } });
  const array = (elem: Elem, type: DataType): { type: DataType; storage: Storage } => ({ type: new List(new Field("item", type, true)), storage: { kind: "array", elem } });
  switch (oid) {
    case 16:
      return scalar("bool", new Bool());
    case 17:
      return scalar("bytea", new Binary());
    case 20:
      return scalar("int8", new Int64());
    case 21:
      return scalar("int2", new Int16());
    case 23:
    case 26:
      return scalar("int4", new Int32());
    case 700:
      return scalar("float4", new Float32());
    case 701:
      return scalar("float8", new Float64());
    case 1700:
      return scalar("numeric", new Float64());
    case 1082:
    case 1114:
    case 1184:
      return scalar("timestamptz", new TimestampMicrosecond("UTC"));
    case 1000:
      return array("bool", new Bool());
    case 1001:
      return array("bytea", new Binary());
    case 1005:
      return array("int2", new Int16());
    case 1007:
      return array("int4", new Int32());
    case 1016:
      return array("int8", new Int64());
    case 1021:
      return array("float4", new Float32());
    case 1022:
      return array("float8", new Float64());
    case 1231:
      return array("numeric", new Float64());
    case 1009:
    case 1015:
      return array("text", new Utf8());
    case 1115:
    case 1182:
    case 1185:
      return array("timestamptz", new TimestampMicrosecond("UTC"));
    default:
      return scalar("text", new Utf8());
  }
}
