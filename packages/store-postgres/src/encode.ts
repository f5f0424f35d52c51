/**
 * Arrow batch → PostgreSQL binary COPY stream. Binary COPY is exact (doubles as IEEE bits: -0,
 * NaN and ±Infinity survive; int64 as 8 bytes) and the fastest way in: no text formatting or
 * parsing on either side.
 */
import { type Data, type DataType, type Field, type Int64, type RecordBatch, type TimestampMicrosecond, TimeUnit, Type, type Vector } from "apache-arrow";
import { QuiverError, vectorToValues } from "@quiver/core";
import { encodeValueJson } from "@quiver/core/store-kit";
import { type Elem, OID, type Storage } from "./types.js";

const TWO32 = 4294967296;
/** µs between 1970-01-01 and PostgreSQL's epoch 2000-01-01. */
const PG_EPOCH_US = 946684800000000;
const PG_EPOCH_US_BIG = 946684800000000n;
const HEADER = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);

/** A growable byte buffer with the big-endian writes COPY needs. */
export class Out {
  buf: Buffer;
  view: DataView;
  pos = 0;
  constructor(size = 1 << 16) {
    this.buf = Buffer.allocUnsafe(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }
  need(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const nb = Buffer.allocUnsafe(Math.max(this.pos + n, this.buf.length * 2));
    this.buf.copy(nb, 0, 0, this.pos);
    this.buf = nb;
    this.view = new DataView(nb.buffer, nb.byteOffset, nb.byteLength);
  }
  /** A null value (its length -1); the caller made room. */
  null(): void {
    this.view.setInt32(this.pos, -1);
    this.pos += 4;
  }
  i16(v: number): void {
    this.need(2);
    this.pos = this.buf.writeInt16BE(v, this.pos);
  }
  i32(v: number): void {
    this.need(4);
    this.pos = this.buf.writeInt32BE(v, this.pos);
  }
  /** An int64 from a safe-integer number or a bigint. */
  i64(v: number | bigint): void {
    this.need(8);
    if (typeof v === "bigint") this.pos = this.buf.writeBigInt64BE(v, this.pos);
    else {
      const hi = Math.floor(v / TWO32);
      this.buf.writeInt32BE(hi, this.pos);
      this.buf.writeUInt32BE(v - hi * TWO32, this.pos + 4);
      this.pos += 8;
    }
  }
  bytes(b: Uint8Array): void {
    this.need(b.byteLength);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }
  /** Writes `s` as UTF-8 behind a length prefix. */
  text(s: string): void {
    this.need(4 + s.length * 3);
    const n = this.buf.write(s, this.pos + 4, "utf8");
    this.buf.writeInt32BE(n, this.pos);
    this.pos += 4 + n;
  }
  take(): Buffer {
    const b = this.buf.subarray(0, this.pos);
    this.buf = Buffer.alloc(0);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, 0);
    this.pos = 0;
    return b;
  }
}

function usToPg(us: number | bigint): number | bigint {
  if (typeof us === "number") {
    const x = us - PG_EPOCH_US;
    return Number.isSafeInteger(x) ? x : BigInt(us) - PG_EPOCH_US_BIG;
  }
  return us - PG_EPOCH_US_BIG;
}

/** µs since 1970 of a Date (a bigint beyond 2^53 µs: before 1685, after 2255). */
function dateMicros(d: Date): number | bigint {
  const ms = d.getTime();
  const us = ms * 1000;
  return Number.isSafeInteger(us) ? us : BigInt(ms) * 1000n;
}

/** A non-negative or negative integer as PostgreSQL's binary numeric (base 10000 digits). */
function numeric(out: Out, v: bigint): void {
  const neg = v < 0n;
  let s = (neg ? -v : v).toString();
  if (s === "0") {
    out.i32(8);
    out.i16(0), out.i16(0), out.i16(0), out.i16(0);
    return;
  }
  s = s.padStart(Math.ceil(s.length / 4) * 4, "0");
  const groups: number[] = [];
  for (let i = 0; i < s.length; i += 4) groups.push(Number(s.slice(i, i + 4)));
  const weight = groups.length - 1;
  while (groups.length && groups[groups.length - 1] === 0) groups.pop();
  out.i32(8 + groups.length * 2);
  out.i16(groups.length);
  out.i16(weight);
  out.i16(neg ? 0x4000 : 0);
  out.i16(0);
  for (const g of groups) out.i16(g);
}

/** One value (not null) of a scalar storage, with its length prefix. */
function scalar(out: Out, e: Elem, v: unknown): void {
  switch (e) {
    case "int2":
      out.i32(2);
      out.i16(Number(v));
      return;
    case "int4":
      out.i32(4);
      out.i32(Number(v));
      return;
    case "int8":
      out.i32(8);
      out.i64(typeof v === "boolean" ? Number(v) : (v as number | bigint));
      return;
    case "numeric":
      numeric(out, BigInt(v as number | bigint));
      return;
    case "float4":
      out.i32(4);
      out.need(4);
      out.pos = out.buf.writeFloatBE(Number(v), out.pos);
      return;
    case "float8":
      out.i32(8);
      out.need(8);
      out.pos = out.buf.writeDoubleBE(Number(v), out.pos);
      return;
    case "bool":
      out.i32(1);
      out.need(1);
      out.buf[out.pos++] = v ? 1 : 0;
      return;
    case "text":
      if (typeof v === "string") out.text(v);
      else {
        out.i32((v as Uint8Array).byteLength);
        out.bytes(v as Uint8Array);
      }
      return;
    case "bytea": {
      if (typeof v === "string") {
        out.text(v); // a string column stored as its UTF-8 bytes
        return;
      }
      const b = v as Uint8Array;
      out.i32(b.byteLength);
      out.bytes(b);
      return;
    }
    case "timestamptz":
      out.i32(8);
      out.i64(usToPg(v instanceof Date ? dateMicros(v) : (v as number | bigint)));
      return;
  }
}

/** A one-dimensional array (lower bound 1) of a scalar storage. */
function array(out: Out, e: Elem, v: ArrayLike<unknown>): void {
  const start = out.pos;
  out.i32(0); // length, patched below
  const n = v.length;
  let hasNull = 0;
  for (let i = 0; i < n; i++) if (v[i] == null) hasNull = 1;
  out.i32(n === 0 ? 0 : 1);
  out.i32(hasNull);
  out.i32(OID[e]);
  if (n > 0) {
    out.i32(n);
    out.i32(1);
  }
  for (let i = 0; i < n; i++) {
    const x = v[i];
    if (x == null) out.i32(-1);
    else scalar(out, e, x);
  }
  out.buf.writeInt32BE(out.pos - start - 4, start);
}

/** Microseconds since 1970 of each value of a timestamp column (number when safe, else bigint). */
export function timestampMicros(vec: Vector): (number | bigint | null)[] {
  const out: (number | bigint | null)[] = [];
  for (const d of vec.data) {
    const unit = (d.type as TimestampMicrosecond).unit;
    const vals = d.values as BigInt64Array;
    const i32 = new Int32Array(vals.buffer, vals.byteOffset, vals.length * 2);
    const u32 = new Uint32Array(vals.buffer, vals.byteOffset, vals.length * 2);
    for (let i = 0; i < d.length; i++) {
      if (!d.getValid(i)) {
        out.push(null);
        continue;
      }
      const j = i; // values are sliced with the Data (only the validity bitmap goes by offset)
      const hi = i32[2 * j + 1]!;
      let x: number | bigint = hi >= -2097152 && hi < 2097152 ? hi * TWO32 + u32[2 * j]! : vals[j]!;
      if (unit === TimeUnit.MICROSECOND) out.push(x);
      else if (unit === TimeUnit.MILLISECOND || unit === TimeUnit.SECOND) {
        const m = unit === TimeUnit.SECOND ? 1000000 : 1000;
        const y = typeof x === "number" ? x * m : 0;
        out.push(typeof x === "number" && Number.isSafeInteger(y) ? y : BigInt(x) * BigInt(m));
      } else {
        const b = BigInt(x);
        if (b % 1000n !== 0n)
          throw new QuiverError("INVALID_VALUE", `a nanosecond timestamp (${b} ns) cannot be stored exactly: PostgreSQL keeps microseconds; round it to µs first`);
        x = b / 1000n;
        out.push(Number.isSafeInteger(Number(x)) ? Number(x) : x);
      }
    }
  }
  return out;
}

/** A column to write: where its values come from in the batch and how the table stores it. */
export interface CopyColumn {
  /** Index of the column in the batch. */
  index: number;
  storage: Storage;
  /** The table's Arrow type of the column (what JSON and timestamps are written as). */
  type: DataType;
}

/** The UTF-8 bytes of each string of a Utf8 Data (views, no decoding: every byte kept, a BOM too). */
function utf8Views(d: Data): (Uint8Array | null)[] {
  const offs = d.valueOffsets as Int32Array;
  const bytes = d.values as Uint8Array;
  const out = new Array<Uint8Array | null>(d.length);
  for (let i = 0; i < d.length; i++) out[i] = d.getValid(i) ? bytes.subarray(offs[i]!, offs[i + 1]!) : null;
  return out;
}

function isUtf8(t: DataType): boolean {
  return t.typeId === Type.Utf8;
}

/** The values of a batch column as the encoder takes them: strings as their bytes, times in µs. */
function columnValues(batch: RecordBatch, c: CopyColumn, field: Field): unknown[] {
  const vec = batch.getChildAt(c.index)!;
  if (c.storage.kind === "scalar" && c.storage.elem === "timestamptz" && field.type.typeId === Type.Timestamp) return timestampMicros(vec);
  if (c.storage.kind === "scalar" && isUtf8(field.type)) return vec.data.flatMap(utf8Views);
  if (c.storage.kind === "array" && field.type.typeId === Type.List && isUtf8(field.type.children[0]!.type)) {
    const out: unknown[] = [];
    for (const d of vec.data) {
      const offs = d.valueOffsets as Int32Array;
      const child = utf8Views(d.children[0]!);
      for (let i = 0; i < d.length; i++) out.push(d.getValid(i) ? child.slice(offs[i]!, offs[i + 1]!) : null);
    }
    return out;
  }
  return vectorToValues(vec, field);
}

/** A batch encoded for COPY; `_quiver_pos` is written later (it is known only under the table's lock). */
export interface Encoded {
  buf: Buffer;
  /** Byte offset of each row's position. */
  pos: Int32Array;
}

/** Writes one row's value of a column (with its length prefix, or -1 for null) at `out.pos`. */
type ColumnWriter = (out: Out, row: number) => void;

/** A column's writer, and the bytes it takes when known up front (the buffer is sized by them). */
interface Plan {
  write: ColumnWriter;
  bytes?: number;
}

function isValid(d: Data, row: number): boolean {
  if (d.nullCount === 0 || !d.nullBitmap) return true;
  const j = d.offset + row;
  return ((d.nullBitmap[j >> 3]! >> (j & 7)) & 1) === 1;
}

/**
 * A writer reading straight from the Arrow buffers (as Arrow JS keeps them: a sliced Data's
 * values and offsets are sliced with it, its validity and boolean bits go by `offset`) for the common columns (float64, int64,
 * µs/ms timestamps, strings, bytes, booleans); undefined for the others (they go through JS values).
 */
function directWriter(d: Data, c: CopyColumn): Plan | undefined {
  if (c.storage.kind !== "scalar") return undefined;
  const e = c.storage.elem;
  const t = d.type as DataType;
  const n = d.length;
  const off = d.offset;
  const nulls = d.nullCount > 0;
  if (e === "float8" && t.typeId === Type.Float && (d.values as Float64Array).BYTES_PER_ELEMENT === 8) {
    const v = d.values as Float64Array;
    return {
      bytes: n * 12,
      write: (out, r) => {
        out.need(12);
        if (nulls && !isValid(d, r)) return out.null();
        out.view.setInt32(out.pos, 8);
        out.view.setFloat64(out.pos + 4, v[r]!);
        out.pos += 12;
      },
    };
  }
  const int64 = t.typeId === Type.Int && (t as Int64).bitWidth === 64;
  const micros = t.typeId === Type.Timestamp && ((t as TimestampMicrosecond).unit === TimeUnit.MICROSECOND || (t as TimestampMicrosecond).unit === TimeUnit.MILLISECOND);
  if ((e === "int8" && int64 && (t as Int64).isSigned) || (e === "timestamptz" && micros)) {
    const v = d.values as BigInt64Array;
    const i32 = new Int32Array(v.buffer, v.byteOffset, v.length * 2);
    const u32 = new Uint32Array(v.buffer, v.byteOffset, v.length * 2);
    const scale = e === "timestamptz" && (t as TimestampMicrosecond).unit === TimeUnit.MILLISECOND ? 1000 : 1;
    const shift = e === "timestamptz" ? PG_EPOCH_US : 0;
    return {
      bytes: n * 12,
      write: (out, r) => {
        out.need(12);
        if (nulls && !isValid(d, r)) return out.null();
        const j = r;
        const hi = i32[2 * j + 1]!;
        out.view.setInt32(out.pos, 8);
        if (scale === 1 && shift === 0) {
          out.view.setInt32(out.pos + 4, hi);
          out.view.setUint32(out.pos + 8, u32[2 * j]!);
        } else {
          const x = hi >= -2097152 && hi < 2097152 ? (hi * TWO32 + u32[2 * j]!) * scale - shift : Number.NaN;
          if (Number.isSafeInteger(x)) {
            const h = Math.floor(x / TWO32);
            out.view.setInt32(out.pos + 4, h);
            out.view.setUint32(out.pos + 8, x - h * TWO32);
          } else out.view.setBigInt64(out.pos + 4, v[j]! * BigInt(scale) - PG_EPOCH_US_BIG * BigInt(shift ? 1 : 0));
        }
        out.pos += 12;
      },
    };
  }
  if ((e === "text" || e === "bytea") && (t.typeId === Type.Utf8 || t.typeId === Type.Binary)) {
    const offs = d.valueOffsets as Int32Array;
    const bytes = d.values as Uint8Array;
    return {
      bytes: n * 4 + (offs[n]! - offs[0]!),
      write: (out, r) => {
        if (nulls && !isValid(d, r)) {
          out.need(4);
          return out.null();
        }
        const a = offs[r]!;
        const len = offs[r + 1]! - a;
        out.need(4 + len);
        out.view.setInt32(out.pos, len);
        out.buf.set(bytes.subarray(a, a + len), out.pos + 4);
        out.pos += 4 + len;
      },
    };
  }
  if (e === "bool" && t.typeId === Type.Bool) {
    const bits = d.values as Uint8Array;
    return {
      bytes: n * 5,
      write: (out, r) => {
        out.need(5);
        if (nulls && !isValid(d, r)) return out.null();
        const j = off + r;
        out.view.setInt32(out.pos, 1);
        out.buf[out.pos + 4] = (bits[j >> 3]! >> (j & 7)) & 1;
        out.pos += 5;
      },
    };
  }
  return undefined;
}

/** A writer over the column's JS values (lists, JSON, other widths and units), growing the buffer as it goes. */
function valueWriter(batch: RecordBatch, c: CopyColumn): Plan {
  const vals = columnValues(batch, c, batch.schema.fields[c.index]!);
  const s = c.storage;
  return {
    write: (out, r) => {
      const v = vals[r];
      if (v === null || v === undefined) {
        out.need(4);
        return out.null();
      }
      if (s.kind === "scalar") scalar(out, s.elem, v);
      else if (s.kind === "array") array(out, s.elem, v as ArrayLike<unknown>);
      else if (s.kind === "json") out.text(encodeValueJson(v, c.type));
      else {
        out.need(4);
        out.null();
      }
    },
  };
}

/**
 * The binary COPY stream of `batch`: first `_quiver_pos` (0 until setPositions) unless
 * `positions` is false (the server's identity gives them), then `columns`.
 * Throws (before anything is sent) on a value the column cannot hold.
 */
export function encodeCopy(batch: RecordBatch, columns: readonly CopyColumn[], positions = true): Encoded {
  const n = batch.numRows;
  const plans = columns.map((c) => directWriter(batch.data.children[c.index]!, c) ?? valueWriter(batch, c));
  const writers = plans.map((p) => p.write);
  // Room for every value known up front; columns of JS values grow the buffer themselves.
  let size = HEADER.length + 2 + n * (2 + 12);
  for (const p of plans) size += p.bytes ?? n * 16;
  const out = new Out(size);
  const pos = new Int32Array(positions ? n : 0);
  out.bytes(HEADER);
  const nf = columns.length + (positions ? 1 : 0);
  const k = writers.length;
  for (let r = 0; r < n; r++) {
    out.need(14);
    out.view.setInt16(out.pos, nf);
    if (positions) {
      out.view.setInt32(out.pos + 2, 8);
      pos[r] = out.pos + 6;
      out.view.setFloat64(out.pos + 6, 0);
      out.pos += 14;
    } else out.pos += 2;
    for (let w = 0; w < k; w++) writers[w]!(out, r);
  }
  out.i16(-1);
  return { buf: out.take(), pos };
}

/** Writes the rows' positions `first`, `first + 1`, … into an encoded batch. */
export function setPositions(e: Encoded, first: number): void {
  for (let r = 0; r < e.pos.length; r++) {
    const v = first + r;
    const hi = Math.floor(v / TWO32);
    e.buf.writeInt32BE(hi, e.pos[r]!);
    e.buf.writeUInt32BE(v - hi * TWO32, e.pos[r]! + 4);
  }
}
