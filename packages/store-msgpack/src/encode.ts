/**
 * Arrow batch → msgpack records, written straight from the Arrow buffers.
 *
 * A hand-rolled writer instead of msgpackr's `pack` for two reasons: it never builds a JS object
 * per row (so it is faster than packing the rows themselves), and it keeps types Python can see:
 * a Float64 column is always written as a msgpack float (1.0 stays 1.0), ints as ints, Dates as
 * the msgpack timestamp extension, binary as bin, lists as arrays, {data, shape} as a map.
 */
import { type Data, type DataType, type Float, type Int, type RecordBatch, type Timestamp, TimeUnit, Type } from "apache-arrow";
import { buildData, dataToValues, QuiverError } from "@quiver/core";

const TWO32 = 4294967296;
const SPILL_BYTES = 1 << 20;

/** A growable byte buffer with msgpack primitives. */
export class ByteWriter {
  buf: Buffer;
  /** Big-endian views of buf (DataView.setFloat64 is what V8 inlines best). */
  dv: DataView;
  pos = 0;
  /** Bytes already handed to `spill` (positions of blocks are base + pos). */
  base = 0;
  /** Called between blocks once `pos` passes SPILL_BYTES: writes the bytes out so the buffer stays small. */
  spill: ((bytes: Buffer) => void) | undefined;
  constructor(size = 1 << 16) {
    this.buf = Buffer.allocUnsafeSlow(size);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
    this.dv = new DataView(next.buffer, next.byteOffset, next.length);
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** Hands the buffered bytes to `spill` when there are enough of them. */
  maybeSpill(): void {
    if (this.spill && this.pos >= SPILL_BYTES) {
      this.spill(this.buf.subarray(0, this.pos));
      this.base += this.pos;
      this.pos = 0;
    }
  }

  /** Absolute position: bytes spilled plus bytes buffered. */
  get at(): number {
    return this.base + this.pos;
  }

  nil(): void {
    this.ensure(1);
    this.buf[this.pos++] = 0xc0;
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 0xc3 : 0xc2;
  }

  float64(v: number): void {
    if (this.pos + 9 > this.buf.length) this.ensure(9);
    this.buf[this.pos] = 0xcb;
    this.dv.setFloat64(this.pos + 1, v);
    this.pos += 9;
  }

  /** A run of float64 values (a Float64 column without nulls). */
  float64s(vals: Float64Array, from: number, to: number): void {
    this.ensure(9 * (to - from));
    const b = this.buf;
    const dv = this.dv;
    let p = this.pos;
    for (let i = from; i < to; i++) {
      b[p] = 0xcb;
      dv.setFloat64(p + 1, vals[i]!);
      p += 9;
    }
    this.pos = p;
  }

  float32(v: number): void {
    this.ensure(5);
    this.buf[this.pos] = 0xca;
    this.buf.writeFloatBE(v, this.pos + 1);
    this.pos += 5;
  }

  /** An integer-valued number (floats and unsafe integers go out as float64). */
  int(v: number): void {
    if (!Number.isSafeInteger(v)) return this.float64(v);
    this.ensure(9);
    const b = this.buf;
    let p = this.pos;
    if (v >= 0) {
      if (v < 128) b[p++] = v;
      else if (v < 256) {
        b[p++] = 0xcc;
        b[p++] = v;
      } else if (v < 65536) {
        b[p++] = 0xcd;
        b.writeUInt16BE(v, p);
        p += 2;
      } else if (v < TWO32) {
        b[p++] = 0xce;
        b.writeUInt32BE(v, p);
        p += 4;
      } else {
        b[p++] = 0xcf;
        const hi = Math.floor(v / TWO32);
        b.writeUInt32BE(hi, p);
        b.writeUInt32BE(v - hi * TWO32, p + 4);
        p += 8;
      }
    } else if (v >= -32) b[p++] = v & 0xff;
    else if (v >= -128) {
      b[p++] = 0xd0;
      b.writeInt8(v, p);
      p += 1;
    } else if (v >= -32768) {
      b[p++] = 0xd1;
      b.writeInt16BE(v, p);
      p += 2;
    } else if (v >= -2147483648) {
      b[p++] = 0xd2;
      b.writeInt32BE(v, p);
      p += 4;
    } else {
      b[p++] = 0xd3;
      const hi = Math.floor(v / TWO32);
      b.writeInt32BE(hi, p);
      b.writeUInt32BE(v - hi * TWO32, p + 4);
      p += 8;
    }
    this.pos = p;
  }

  bigint(v: bigint): void {
    if (v >= -9007199254740991n && v <= 9007199254740991n) return this.int(Number(v));
    this.ensure(9);
    if (v >= 0n) {
      this.buf[this.pos] = 0xcf;
      this.buf.writeBigUInt64BE(v, this.pos + 1);
    } else {
      this.buf[this.pos] = 0xd3;
      this.buf.writeBigInt64BE(v, this.pos + 1);
    }
    this.pos += 9;
  }

  private header(n: number, fix: number, fixMax: number, c8: number, c16: number, c32: number): void {
    this.ensure(5);
    const b = this.buf;
    if (n < fixMax) b[this.pos++] = fix | n;
    else if (c8 && n < 256) {
      b[this.pos++] = c8;
      b[this.pos++] = n;
    } else if (n < 65536) {
      b[this.pos++] = c16;
      b.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else {
      b[this.pos++] = c32;
      b.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
  }

  arrayHeader(n: number): void {
    this.header(n, 0x90, 16, 0, 0xdc, 0xdd);
  }

  mapHeader(n: number): void {
    this.header(n, 0x80, 16, 0, 0xde, 0xdf);
  }

  str(s: string): void {
    const max = s.length * 3;
    const h = max < 32 ? 1 : max < 256 ? 2 : max < 65536 ? 3 : 5;
    this.ensure(h + max);
    const start = this.pos + h;
    const n = this.buf.write(s, start);
    const b = this.buf;
    if (h === 1) b[this.pos] = 0xa0 | n;
    else if (h === 2) {
      b[this.pos] = 0xd9;
      b[this.pos + 1] = n;
    } else if (h === 3) {
      b[this.pos] = 0xda;
      b.writeUInt16BE(n, this.pos + 1);
    } else {
      b[this.pos] = 0xdb;
      b.writeUInt32BE(n, this.pos + 1);
    }
    this.pos = start + n;
  }

  /** A string given as UTF-8 bytes (straight from an Arrow Utf8 buffer). */
  strBytes(src: Uint8Array, from: number, to: number): void {
    const n = to - from;
    this.header(n, 0xa0, 32, 0xd9, 0xda, 0xdb);
    this.ensure(n);
    if (n < 16) for (let i = 0; i < n; i++) this.buf[this.pos + i] = src[from + i]!;
    else this.buf.set(src.subarray(from, to), this.pos);
    this.pos += n;
  }

  bin(src: Uint8Array): void {
    const n = src.length;
    this.ensure(5 + n);
    const b = this.buf;
    if (n < 256) {
      b[this.pos++] = 0xc4;
      b[this.pos++] = n;
    } else if (n < 65536) {
      b[this.pos++] = 0xc5;
      b.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else {
      b[this.pos++] = 0xc6;
      b.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
    b.set(src, this.pos);
    this.pos += n;
  }

  /** Pre-encoded bytes (map keys). */
  raw(src: Uint8Array): void {
    const n = src.length;
    this.ensure(n);
    const b = this.buf;
    if (n <= 16) for (let i = 0; i < n; i++) b[this.pos + i] = src[i]!;
    else b.set(src, this.pos);
    this.pos += n;
  }

  /** msgpack timestamp extension (type -1) from microseconds since the epoch. */
  timestampMicros(us: number): void {
    const sec = Math.floor(us / 1e6);
    const nsec = Math.round((us - sec * 1e6) * 1000);
    this.ensure(15);
    const b = this.buf;
    let p = this.pos;
    if (sec >= 0 && sec < 17179869184) {
      if (nsec === 0 && sec < TWO32) {
        b[p++] = 0xd6;
        b[p++] = 0xff;
        b.writeUInt32BE(sec, p);
        p += 4;
      } else {
        b[p++] = 0xd7;
        b[p++] = 0xff;
        const hi = Math.floor(sec / TWO32);
        b.writeUInt32BE(((nsec * 4) + hi) >>> 0, p);
        b.writeUInt32BE(sec - hi * TWO32, p + 4);
        p += 8;
      }
    } else {
      b[p++] = 0xc7;
      b[p++] = 12;
      b[p++] = 0xff;
      b.writeUInt32BE(nsec, p);
      b.writeBigInt64BE(BigInt(sec), p + 4);
      p += 12;
    }
    this.pos = p;
  }

  /** Any JS value Quiver stores (the slow, generic path). */
  value(v: unknown): void {
    if (v === null || v === undefined) return this.nil();
    switch (typeof v) {
      case "number":
        return Number.isInteger(v) ? this.int(v) : this.float64(v);
      case "bigint":
        return this.bigint(v);
      case "boolean":
        return this.bool(v);
      case "string":
        return this.str(v);
    }
    if (v instanceof Date) return this.timestampMicros(v.getTime() * 1000);
    if (v instanceof Uint8Array) return this.bin(v);
    if (ArrayBuffer.isView(v) || Array.isArray(v)) {
      const a = v as ArrayLike<unknown>;
      this.arrayHeader(a.length);
      for (let i = 0; i < a.length; i++) this.value(a[i]);
      return;
    }
    if (typeof v === "object") {
      const keys = Object.keys(v as object);
      this.mapHeader(keys.length);
      for (const k of keys) {
        this.str(k);
        this.value((v as Record<string, unknown>)[k]);
      }
      return;
    }
    throw new QuiverError("INVALID_VALUE", `cannot write ${typeof v} to msgpack`);
  }
}

const keyCache = new Map<string, Uint8Array>();
/** The msgpack encoding of a map key (cached: tables reuse a handful of names). */
export function keyBytes(name: string): Uint8Array {
  let k = keyCache.get(name);
  if (!k) {
    const bytes = Buffer.from(name, "utf8");
    const m = new ByteWriter(bytes.length + 5);
    m.strBytes(bytes, 0, bytes.length);
    k = Uint8Array.from(m.bytes());
    if (keyCache.size > 10000) keyCache.clear();
    keyCache.set(name, k);
  }
  return k;
}

type Enc = (i: number) => void;
type Valid = ((i: number) => boolean) | undefined;

/** Returns undefined when every value is valid. */
export function validity(data: Data): Valid {
  const bm = data.nullBitmap;
  if (data.typeId === Type.Null) return () => false;
  if (data.nullCount === 0 || !bm || bm.length === 0) return undefined;
  return (i) => ((bm[i >> 3]! >> (i & 7)) & 1) === 1;
}

/** Data with offset 0 (sliced batches are rebuilt once; fresh batches pass through). */
function unsliced(data: Data): Data {
  if (data.offset === 0 && data.children.every((c) => c.offset === 0)) return data;
  return buildData(data.type as DataType, dataToValues(data));
}

/** A function writing element i of `data` (the caller checks validity). */
export function encoder(data0: Data, w: ByteWriter): Enc {
  const data = unsliced(data0);
  const t = data.type as DataType;
  switch (t.typeId) {
    case Type.Null:
      return () => w.nil();
    case Type.Float: {
      const vals = data.values as Float64Array | Float32Array;
      const prec = (t as Float).precision;
      if (prec === 2) return (i) => w.float64(vals[i]!);
      if (prec === 1) return (i) => w.float32(vals[i]!);
      break;
    }
    case Type.Int: {
      const it = t as Int;
      if (it.bitWidth === 64) {
        const big = data.values as unknown as BigInt64Array;
        const u32 = new Uint32Array(big.buffer, big.byteOffset, big.length * 2);
        const i32 = new Int32Array(big.buffer, big.byteOffset, big.length * 2);
        if (it.isSigned) {
          return (i) => {
            const hi = i32[2 * i + 1]!;
            const lo = u32[2 * i]!;
            if (hi === 0 && lo < 128) {
              // positive fixint: the common small counter (step, epoch)
              w.ensure(1);
              w.buf[w.pos++] = lo;
            } else if (hi >= -2097152 && hi < 2097152) w.int(hi * TWO32 + lo);
            else w.bigint(big[i]!);
          };
        }
        return (i) => {
          const hi = u32[2 * i + 1]!;
          if (hi < 2097152) w.int(hi * TWO32 + u32[2 * i]!);
          else w.bigint((big as unknown as BigUint64Array)[i]!);
        };
      }
      const vals = data.values as Int32Array;
      return (i) => w.int(vals[i]!);
    }
    case Type.Bool: {
      const bits = data.values as Uint8Array;
      return (i) => w.bool(((bits[i >> 3]! >> (i & 7)) & 1) === 1);
    }
    case Type.Utf8: {
      const offs = data.valueOffsets as Int32Array;
      const bytes = data.values as Uint8Array;
      return (i) => w.strBytes(bytes, offs[i]!, offs[i + 1]!);
    }
    case Type.Binary: {
      const offs = data.valueOffsets as Int32Array;
      const bytes = data.values as Uint8Array;
      return (i) => w.bin(bytes.subarray(offs[i]!, offs[i + 1]!));
    }
    case Type.Timestamp: {
      const unit = (t as Timestamp).unit;
      const toUs = unit === TimeUnit.SECOND ? 1e6 : unit === TimeUnit.MILLISECOND ? 1e3 : unit === TimeUnit.MICROSECOND ? 1 : 1e-3;
      const big = data.values as unknown as BigInt64Array;
      const u32 = new Uint32Array(big.buffer, big.byteOffset, big.length * 2);
      const i32 = new Int32Array(big.buffer, big.byteOffset, big.length * 2);
      return (i) => {
        const hi = i32[2 * i + 1]!;
        const raw = hi >= -2097152 && hi < 2097152 ? hi * TWO32 + u32[2 * i]! : Number(big[i]!);
        w.timestampMicros(raw * toUs);
      };
    }
    case Type.List: {
      const offs = data.valueOffsets as Int32Array;
      const child = data.children[0]!;
      const enc = encoder(child, w);
      const valid = validity(child);
      return (i) => {
        const a = offs[i]!;
        const b = offs[i + 1]!;
        w.arrayHeader(b - a);
        for (let j = a; j < b; j++) {
          if (valid && !valid(j)) w.nil();
          else enc(j);
        }
      };
    }
    case Type.Struct: {
      const kids = data.children.map((c, k) => ({ key: keyBytes(t.children[k]!.name), enc: encoder(c, w), valid: validity(c) }));
      return (i) => {
        w.mapHeader(kids.length);
        for (const k of kids) {
          w.raw(k.key);
          if (k.valid && !k.valid(i)) w.nil();
          else k.enc(i);
        }
      };
    }
  }
  const vals = dataToValues(data);
  return (i) => w.value(vals[i]);
}

/** `_ts` statistics of one index block. */
export interface TsStats {
  minTs: number;
  maxTs: number;
  /** Rows whose `_ts` is a number (not null, not NaN). */
  tsCount: number;
}

/** Numeric view of a batch's `_ts` column, or undefined when it has none usable for the index. */
export function tsAccessor(batch: RecordBatch): ((i: number) => number | undefined) | undefined {
  const idx = batch.schema.fields.findIndex((f) => f.name === "_ts");
  if (idx < 0) return undefined;
  const field = batch.schema.fields[idx]!;
  const data = unsliced(batch.data.children[idx]!);
  const t = data.type as DataType;
  if (t.typeId !== Type.Float && t.typeId !== Type.Int) return undefined;
  if (field.metadata.get("quiver:bigint") === "1") return undefined;
  const valid = validity(data);
  let get: (i: number) => number;
  if (t.typeId === Type.Int && (t as Int).bitWidth === 64) {
    const big = data.values as unknown as BigInt64Array;
    const u32 = new Uint32Array(big.buffer, big.byteOffset, big.length * 2);
    const i32 = new Int32Array(big.buffer, big.byteOffset, big.length * 2);
    get = (i) => i32[2 * i + 1]! * TWO32 + u32[2 * i]!;
  } else if (t.typeId === Type.Float && (t as Float).precision === 0) {
    const vals = dataToValues(data) as number[];
    get = (i) => vals[i]!;
  } else {
    const vals = data.values as Float64Array;
    get = (i) => vals[i]!;
  }
  return valid ? (i) => (valid(i) ? get(i) : undefined) : get;
}

/** Stats of a Float64 `_ts` column without nulls (the track case), without a call per value. */
function statsOfF64(vals: Float64Array, from: number, to: number): TsStats {
  let minTs = Infinity;
  let maxTs = -Infinity;
  let tsCount = 0;
  for (let i = from; i < to; i++) {
    const v = vals[i]!;
    if (v !== v) continue;
    if (v < minTs) minTs = v;
    if (v > maxTs) maxTs = v;
    tsCount++;
  }
  return { minTs, maxTs, tsCount };
}

function blockStats(batch: RecordBatch, ts: ((i: number) => number | undefined) | undefined, from: number, to: number): TsStats {
  const k = batch.schema.fields.findIndex((f) => f.name === "_ts");
  const d = k >= 0 ? batch.data.children[k]! : undefined;
  if (d && d.offset === 0 && d.nullCount === 0 && (d.type as DataType).typeId === Type.Float && (d.type as Float).precision === 2 && batch.schema.fields[k]!.metadata.get("quiver:bigint") !== "1") {
    return statsOfF64(d.values as Float64Array, from, to);
  }
  return statsOf(ts, from, to);
}

export function statsOf(ts: ((i: number) => number | undefined) | undefined, from: number, to: number): TsStats {
  let minTs = Infinity;
  let maxTs = -Infinity;
  let tsCount = 0;
  if (ts) {
    for (let i = from; i < to; i++) {
      const v = ts(i);
      if (v === undefined || v !== v) continue;
      if (v < minTs) minTs = v;
      if (v > maxTs) maxTs = v;
      tsCount++;
    }
  }
  return { minTs, maxTs, tsCount };
}

/** One encoded index block: bytes [start, end) of the writer, `rows` rows. */
export interface EncodedBlock extends TsStats {
  start: number;
  end: number;
  rows: number;
  kind: 0 | 1;
}

interface Col {
  key: Uint8Array;
  enc: Enc;
  valid: Valid;
  /** The values when the column is Float64 (written in one tight loop). */
  f64: Float64Array | undefined;
  /** Low/high 32-bit words when the column is a plain signed int64. */
  i64: Uint32Array | undefined;
}

function columnsOf(batch: RecordBatch, w: ByteWriter): Col[] {
  return batch.schema.fields.map((f, c) => {
    const data = unsliced(batch.data.children[c]!);
    const t = data.type as DataType;
    const f64 = t.typeId === Type.Float && (t as Float).precision === 2 ? (data.values as Float64Array) : undefined;
    let i64: Uint32Array | undefined;
    if (t.typeId === Type.Int && (t as Int).bitWidth === 64 && (t as Int).isSigned) {
      const big = data.values as unknown as BigInt64Array;
      i64 = new Uint32Array(big.buffer, big.byteOffset, big.length * 2);
    }
    return { key: keyBytes(f.name), enc: encoder(data, w), valid: validity(data), f64, i64 };
  });
}

/** Layout "rows": one map per row (nulls omitted), split into index blocks of `blockRows`. */
export function encodeRows(batch: RecordBatch, w: ByteWriter, blockRows: number): EncodedBlock[] {
  const cols = columnsOf(batch, w);
  const n = batch.numRows;
  const ts = tsAccessor(batch);
  const blocks: EncodedBlock[] = [];
  const dense = cols.every((c) => !c.valid);
  const nc = cols.length;
  for (let from = 0; from < n; from += blockRows) {
    const to = Math.min(n, from + blockRows);
    w.maybeSpill();
    const start = w.at;
    if (dense && nc < 16) {
      denseRows(cols, w, from, to);
      blocks.push({ start, end: w.at, rows: to - from, kind: 0, ...blockStats(batch, ts, from, to) });
      continue;
    }
    for (let i = from; i < to; i++) {
      if (dense) {
        w.mapHeader(nc);
        for (let c = 0; c < nc; c++) {
          const col = cols[c]!;
          w.raw(col.key);
          col.enc(i);
        }
      } else {
        let m = 0;
        for (let c = 0; c < nc; c++) if (!cols[c]!.valid || cols[c]!.valid!(i)) m++;
        w.mapHeader(m);
        for (let c = 0; c < nc; c++) {
          const col = cols[c]!;
          if (col.valid && !col.valid(i)) continue;
          w.raw(col.key);
          col.enc(i);
        }
      }
    }
    blocks.push({ start, end: w.at, rows: to - from, kind: 0, ...blockStats(batch, ts, from, to) });
  }
  return blocks;
}

/**
 * Rows without nulls, fewer than 16 columns: the hot loop of Track.append. Float64 and int64
 * columns are written inline (one bounds check per row); other columns through their encoder.
 */
function denseRows(cols: Col[], w: ByteWriter, from: number, to: number): void {
  const nc = cols.length;
  const kinds = cols.map((c) => (c.f64 ? 1 : c.i64 ? 2 : 0));
  let fixed = 1;
  for (const c of cols) fixed += c.key.length + (c.f64 || c.i64 ? 9 : 0);
  const header = 0x80 | nc;
  for (let i = from; i < to; i++) {
    w.ensure(fixed);
    let buf = w.buf;
    let dv = w.dv;
    let p = w.pos;
    buf[p++] = header;
    for (let c = 0; c < nc; c++) {
      const col = cols[c]!;
      const key = col.key;
      for (let q = 0; q < key.length; q++) buf[p++] = key[q]!;
      const kind = kinds[c];
      if (kind === 1) {
        buf[p] = 0xcb;
        dv.setFloat64(p + 1, col.f64![i]!);
        p += 9;
      } else if (kind === 2) {
        const u = col.i64!;
        const lo = u[2 * i]!;
        const hi = u[2 * i + 1]!;
        if (hi === 0 && lo < 128) buf[p++] = lo;
        else if (hi === 0 && lo < 65536) {
          buf[p] = lo < 256 ? 0xcc : 0xcd;
          if (lo < 256) {
            buf[p + 1] = lo;
            p += 2;
          } else {
            buf[p + 1] = lo >>> 8;
            buf[p + 2] = lo & 0xff;
            p += 3;
          }
        } else {
          w.pos = p;
          col.enc(i);
          buf = w.buf;
          dv = w.dv;
          p = w.pos;
        }
      } else {
        w.pos = p;
        col.enc(i);
        // the encoder may have grown the buffer
        buf = w.buf;
        dv = w.dv;
        p = w.pos;
        if (c + 1 < nc && p + fixed > buf.length) {
          w.ensure(fixed);
          buf = w.buf;
          dv = w.dv;
        }
      }
    }
    w.pos = p;
  }
}

/** Layout "columns": ONE map { column: [values...] } for the whole batch. */
export function encodeColumns(batch: RecordBatch, w: ByteWriter): EncodedBlock {
  const cols = columnsOf(batch, w);
  const n = batch.numRows;
  const start = w.at;
  w.mapHeader(cols.length);
  for (const col of cols) {
    w.raw(col.key);
    w.arrayHeader(n);
    if (!col.valid && col.f64) w.float64s(col.f64, 0, n);
    else if (!col.valid && col.i64) {
      const u = col.i64;
      for (let i = 0; i < n; i++) {
        const lo = u[2 * i]!;
        if (u[2 * i + 1] === 0 && lo < 128) {
          if (w.pos + 1 > w.buf.length) w.ensure(1);
          w.buf[w.pos++] = lo;
        } else col.enc(i);
      }
    }
    else if (!col.valid) for (let i = 0; i < n; i++) col.enc(i);
    else for (let i = 0; i < n; i++) col.valid(i) ? col.enc(i) : w.nil();
  }
  return { start, end: w.at, rows: n, kind: 1, ...blockStats(batch, tsAccessor(batch), 0, n) };
}
