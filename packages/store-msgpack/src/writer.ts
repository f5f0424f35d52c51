/**
 * A growable byte buffer with the msgpack primitives the encoder writes (see encode.ts). It can
 * hand full chunks to a `spill` callback so a big batch goes out in ~1 MiB writes.
 */
import { QuiverError } from "@quiver/core";
import { NL } from "./records.js";

export const TWO32 = 4294967296;
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

  /** Lets go of a buffer a huge batch grew (the DataView must follow the buffer). */
  shrink(size: number): void {
    if (this.buf.length <= size) return;
    this.buf = Buffer.allocUnsafeSlow(size);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    this.pos = 0;
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

  /** The msgpack-lines separator after each record. */
  newline(): void {
    if (this.pos + 1 > this.buf.length) this.ensure(1);
    this.buf[this.pos++] = NL;
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

  /** msgpack timestamp extension (type -1) from microseconds since the epoch (|us| < 2^53). */
  timestampMicros(us: number): void {
    const sec = Math.floor(us / 1e6);
    this.timestamp(sec, Math.round((us - sec * 1e6) * 1000));
  }

  /** msgpack timestamp extension (type -1): whole seconds (a bigint when beyond 2^53) + nanoseconds. */
  timestamp(sec: number | bigint, nsec: number): void {
    this.ensure(15);
    const b = this.buf;
    let p = this.pos;
    const s = typeof sec === "bigint" && sec >= -9007199254740991n && sec <= 9007199254740991n ? Number(sec) : sec;
    if (typeof s === "number" && s >= 0 && s < 17179869184) {
      if (nsec === 0 && s < TWO32) {
        b[p++] = 0xd6;
        b[p++] = 0xff;
        b.writeUInt32BE(s, p);
        p += 4;
      } else {
        b[p++] = 0xd7;
        b[p++] = 0xff;
        const hi = Math.floor(s / TWO32);
        b.writeUInt32BE((nsec * 4 + hi) >>> 0, p);
        b.writeUInt32BE(s - hi * TWO32, p + 4);
        p += 8;
      }
    } else {
      b[p++] = 0xc7;
      b[p++] = 12;
      b[p++] = 0xff;
      b.writeUInt32BE(nsec, p);
      b.writeBigInt64BE(BigInt(s), p + 4);
      p += 12;
    }
    this.pos = p;
  }

  /** Any JS value Quiver stores (the slow, generic path). */
  value(v: unknown): void {
    if (v === null || v === undefined) return this.nil();
    switch (typeof v) {
      case "number":
        return Number.isInteger(v) && !Object.is(v, -0) ? this.int(v) : this.float64(v);
      case "bigint":
        return this.bigint(v);
      case "boolean":
        return this.bool(v);
      case "string":
        return this.str(v);
    }
    if (v instanceof Date) {
      const ms = v.getTime();
      const sec = Math.floor(ms / 1000);
      return this.timestamp(sec, (ms - sec * 1000) * 1e6);
    }
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
