/**
 * A small Parquet writer for events segments (segments.ts): flat columns of Arrow data written
 * as they are laid out in memory. PLAIN encoding (strings DELTA_LENGTH_BYTE_ARRAY: Arrow's bytes
 * as they are), uncompressed, data page v1, every column
 * OPTIONAL (definition levels as one RLE run when a page has no nulls, else as bit-packed runs
 * copied from Arrow's validity bitmap: same LSB-first bit order). Types: Int64 → INT64,
 * Timestamp(µs) → INT64 TIMESTAMP(MICROS, isAdjustedToUTC=false) (DuckDB reads it as TIMESTAMP,
 * the type of the events tables, with no session time zone in between), Float64 → DOUBLE,
 * Bool → BOOLEAN, Utf8 → BYTE_ARRAY STRING. `_seq` carries min/max statistics (so `_seq`
 * ranges prune row groups; a pass per column for the others cost more than it saves), every
 * column its null count.
 */
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import { type Data, DataType, type RecordBatch, TimeUnit, Type } from "apache-arrow";

/** Rows per row group (one page per column each). */
const GROUP_ROWS = 131_072;

const PT = { BOOLEAN: 0, INT64: 2, DOUBLE: 5, BYTE_ARRAY: 6 } as const;

/** Whether a column of this Arrow type can go into a segment. */
export function parquetWritable(t: DataType): boolean {
  if (DataType.isInt(t)) return t.bitWidth === 64 && t.isSigned;
  if (DataType.isTimestamp(t)) return t.unit === TimeUnit.MICROSECOND;
  if (DataType.isFloat(t)) return t.typeId === Type.Float && (t as unknown as { precision: number }).precision === 2;
  return t.typeId === Type.Bool || t.typeId === Type.Utf8;
}

/** Thrift compact protocol, just what FileMetaData and PageHeader need. */
class Thrift {
  private buf = new Uint8Array(1024);
  n = 0;
  private last: number[] = [0];

  private byte(b: number): void {
    if (this.n === this.buf.length) {
      const g = new Uint8Array(this.buf.length * 2);
      g.set(this.buf);
      this.buf = g;
    }
    this.buf[this.n++] = b;
  }
  private varint(v: number): void {
    // v ≥ 0, up to 2^53
    while (v >= 128) {
      this.byte((v % 128) | 128);
      v = Math.floor(v / 128);
    }
    this.byte(v);
  }
  private zigzag(v: number): void {
    this.varint(v >= 0 ? 2 * v : -2 * v - 1);
  }
  private header(id: number, type: number): void {
    const d = id - this.last[this.last.length - 1]!;
    if (d > 0 && d <= 15) this.byte((d << 4) | type);
    else {
      this.byte(type);
      this.zigzag(id);
    }
    this.last[this.last.length - 1] = id;
  }
  i32(id: number, v: number): this {
    this.header(id, 5);
    this.zigzag(v);
    return this;
  }
  i64(id: number, v: number): this {
    this.header(id, 6);
    this.zigzag(v);
    return this;
  }
  bool(id: number, v: boolean): this {
    this.header(id, v ? 1 : 2);
    return this;
  }
  binary(id: number, b: Uint8Array): this {
    this.header(id, 8);
    this.varint(b.length);
    for (const x of b) this.byte(x);
    return this;
  }
  string(id: number, s: string): this {
    return this.binary(id, new TextEncoder().encode(s));
  }
  /** A struct field: `fill` writes its fields. */
  struct(id: number, fill: (t: this) => void): this {
    this.header(id, 12);
    this.begin(fill);
    return this;
  }
  private begin(fill: (t: this) => void): void {
    this.last.push(0);
    fill(this);
    this.byte(0);
    this.last.pop();
  }
  /** A list of structs. */
  structs<T>(id: number, items: readonly T[], fill: (t: this, item: T) => void): this {
    this.listHeader(id, items.length, 12);
    for (const it of items) this.begin((t) => fill(t, it));
    return this;
  }
  i32s(id: number, items: readonly number[]): this {
    this.listHeader(id, items.length, 5);
    for (const v of items) this.zigzag(v);
    return this;
  }
  strings(id: number, items: readonly string[]): this {
    this.listHeader(id, items.length, 8);
    for (const s of items) {
      const b = new TextEncoder().encode(s);
      this.varint(b.length);
      for (const x of b) this.byte(x);
    }
    return this;
  }
  private listHeader(id: number, size: number, elem: number): void {
    this.header(id, 9);
    if (size < 15) this.byte((size << 4) | elem);
    else {
      this.byte(0xf0 | elem);
      this.varint(size);
    }
  }
  /** Ends the top-level struct and returns the bytes. */
  done(): Uint8Array {
    this.byte(0);
    return this.buf.subarray(0, this.n);
  }
}

interface Chunk {
  name: string;
  type: number;
  enc: number;
  offset: number;
  size: number;
  values: number;
  nulls: number;
  min?: bigint;
  max?: bigint;
}

/** The validity bits of rows [start, start + n) of `d`, LSB first, from bit 0 of the result. */
function validityBits(d: Data, start: number, n: number): Uint8Array {
  const bm = d.nullBitmap!;
  const at = d.offset + start;
  if ((at & 7) === 0) return bm.subarray(at >> 3, (at + n + 7) >> 3);
  const out = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) if ((bm[(at + i) >> 3]! >> ((at + i) & 7)) & 1) out[i >> 3]! |= 1 << (i & 7);
  return out;
}

function le32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v, true);
  return b;
}

function varintBytes(v: number): number[] {
  const out: number[] = [];
  while (v >= 128) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** Definition levels of a page (with their 4-byte length prefix), and the non-null rows if some are null. */
function defLevels(d: Data, start: number, n: number, nulls: number): Uint8Array[] {
  if (nulls === 0) {
    const run = Uint8Array.from([...varintBytes(n * 2), 1]); // RLE run of n ones
    return [le32(run.length), run];
  }
  const groups = (n + 7) >> 3;
  const head = Uint8Array.from(varintBytes(groups * 2 + 1)); // one bit-packed run of `groups` × 8 values
  const bits = validityBits(d, start, n);
  const body = bits.length === groups ? bits : bits.subarray(0, groups);
  // The padding bits of the last group are zeros (reading stops at num_values anyway).
  let last = body;
  if (n & 7) {
    last = body.slice();
    last[groups - 1]! &= (1 << (n & 7)) - 1;
  }
  return [le32(head.length + groups), head, last];
}

function isValid(d: Data, r: number): boolean {
  const bm = d.nullBitmap;
  if (!bm || d.nullCount === 0) return true;
  const i = d.offset + r;
  return ((bm[i >> 3]! >> (i & 7)) & 1) === 1;
}

/** PLAIN values of the non-null rows of [start, start + n). */
function plainValues(
  d: Data,
  start: number,
  n: number,
  nulls: number,
  stats: boolean,
): {
  delta?: boolean;
  bytes: Uint8Array[];
  min?: bigint;
  max?: bigint;
} {
  const t = d.type as DataType;
  const o = d.offset + start;
  if (t.typeId === Type.Bool) {
    const bits = d.values as Uint8Array;
    if (nulls === 0 && (o & 7) === 0) {
      const out = bits.slice(o >> 3, (o + n + 7) >> 3);
      if (n & 7) out[out.length - 1]! &= (1 << (n & 7)) - 1;
      return { bytes: [out] };
    }
    const out = new Uint8Array((n - nulls + 7) >> 3);
    let k = 0;
    for (let i = 0; i < n; i++) {
      if (nulls && !isValid(d, start + i)) continue;
      if ((bits[(o + i) >> 3]! >> ((o + i) & 7)) & 1) out[k >> 3]! |= 1 << (k & 7);
      k++;
    }
    return { bytes: [out] };
  }
  if (t.typeId === Type.Utf8) {
    // DELTA_LENGTH_BYTE_ARRAY: every length first, then the bytes back to back, which are
    // Arrow's own values buffer (no per-value copy; 1M paths went from 40 ms to 3 ms).
    const offs = d.valueOffsets as Int32Array;
    const src = d.values as Uint8Array;
    if (nulls === 0) return { bytes: [deltaBinaryPacked(offs.subarray(o, o + n + 1), true), src.subarray(offs[o]!, offs[o + n]!)] };
    const lens = new Int32Array(n - nulls);
    let k = 0;
    let gaps = false; // a null slot holding bytes: the values must be copied without them
    for (let i = 0; i < n; i++) {
      const len = offs[o + i + 1]! - offs[o + i]!;
      if (nulls && !isValid(d, start + i)) {
        if (len) gaps = true;
        continue;
      }
      lens[k++] = len;
    }
    let bytes = src.subarray(offs[o]!, offs[o + n]!);
    if (gaps) {
      const out = new Uint8Array(lens.reduce((a, b) => a + b, 0));
      let p = 0;
      for (let i = 0; i < n; i++) if (isValid(d, start + i)) out.set(src.subarray(offs[o + i]!, offs[o + i + 1]!), p), (p += offs[o + i + 1]! - offs[o + i]!);
      bytes = out;
    }
    return { bytes: [deltaBinaryPacked(lens), bytes] };
  }
  // 8-byte values: INT64, TIMESTAMP (µs), DOUBLE
  const v = d.values as BigInt64Array | Float64Array;
  const words = new Uint8Array(v.buffer, v.byteOffset + o * 8, n * 8);
  let bytes: Uint8Array = words;
  if (nulls) {
    bytes = new Uint8Array((n - nulls) * 8);
    let k = 0;
    for (let i = 0; i < n; i++) if (isValid(d, start + i)) bytes.set(words.subarray(i * 8, i * 8 + 8), 8 * k++);
  }
  // INT64 as DELTA_BINARY_PACKED when the deltas are small (deltaInt64); `_seq`, which counts up by
  // one in a commit's shard 0, in O(blocks).
  if (!(v instanceof BigInt64Array) || n === nulls) return { bytes: [bytes] };
  const h32 = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const run = nulls === 0 && stats ? countingRun(h32) : undefined;
  if (run !== undefined) return { bytes: [countingDelta(run, n)], delta: true, min: BigInt(run), max: BigInt(run + n - 1) };
  const packed = deltaInt64(h32);
  if (!stats) return packed ? { bytes: [packed], delta: true } : { bytes: [bytes] };
  const w = new BigInt64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8);
  // min/max over 32-bit halves: BigInt compares of 1M values cost more than the write.
  const h = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  let lo = 0;
  let hi = 0;
  for (let i = 1; i < w.length; i++) {
    const hv = h[2 * i + 1]!;
    const lv = h[2 * i]! >>> 0;
    const hl = h[2 * lo + 1]!;
    if (hv < hl || (hv === hl && lv < h[2 * lo]! >>> 0)) lo = i;
    const hh = h[2 * hi + 1]!;
    if (hv > hh || (hv === hh && lv > h[2 * hi]! >>> 0)) hi = i;
  }
  return { bytes: packed ? [packed] : [bytes], delta: packed !== undefined, min: w[lo]!, max: w[hi]! };
}

/**
 * INT64 values (32-bit word pairs) as DELTA_BINARY_PACKED, when every delta fits in 24 bits
 * (small ints, counters, timestamps a few seconds apart): one pass with 32-bit math, no per-value
 * calls. Undefined otherwise (PLAIN is written).
 */
function deltaInt64(h: Int32Array): Uint8Array | undefined {
  const count = h.length >> 1;
  if (count < 2) return undefined;
  const out = new Uint8Array(40 + Math.ceil(count / 128) * (16 + 4 * 96));
  let n = 0;
  const varint = (x: number): void => {
    while (x >= 128) {
      out[n++] = (x % 128) | 128;
      x = Math.floor(x / 128);
    }
    out[n++] = x;
  };
  const first = h[1]! * 4294967296 + (h[0]! >>> 0);
  if (!Number.isSafeInteger(first)) return undefined;
  varint(128);
  varint(4);
  varint(count);
  varint(first >= 0 ? 2 * first : -2 * first - 1);
  const d = new Int32Array(128);
  const widths = [0, 0, 0, 0];
  for (let b = 1; b < count; b += 128) {
    const m = Math.min(128, count - b);
    let min = 2147483647;
    for (let j = 0; j < m; j++) {
      const i = b + j;
      const dl = (h[2 * i]! >>> 0) - (h[2 * i - 2]! >>> 0); // exact in a double
      const dh = h[2 * i + 1]! - h[2 * i - 1]!;
      const x = dh * 4294967296 + dl;
      if (x > 8388607 || x < -8388608) return undefined; // |delta| < 2^23: every (delta − min) fits 24 bits
      d[j] = x;
      if (x < min) min = x;
    }
    varint(min >= 0 ? 2 * min : -2 * min - 1);
    for (let mb = 0; mb < 4; mb++) {
      let max = 0;
      const e = Math.min(m, mb * 32 + 32);
      for (let j = mb * 32; j < e; j++) if (d[j]! - min > max) max = d[j]! - min;
      widths[mb] = max === 0 ? 0 : 32 - Math.clz32(max);
      out[n++] = widths[mb]!;
    }
    for (let mb = 0; mb < 4 && mb * 32 < m; mb++) {
      const w = widths[mb]!;
      if (w === 0) continue;
      let acc = 0;
      let bits = 0;
      for (let j = mb * 32; j < mb * 32 + 32; j++) {
        acc |= (j < m ? d[j]! - min : 0) << bits;
        bits += w;
        while (bits >= 8) {
          out[n++] = acc & 255;
          acc >>>= 8;
          bits -= 8;
        }
      }
    }
  }
  return out.subarray(0, n);
}

/** The first value when int64 words (pairs) count up by one from a safe integer, else undefined. */
function countingRun(h: Int32Array): number | undefined {
  const n = h.length >> 1;
  const first = h[1]! * 4294967296 + (h[0]! >>> 0);
  if (!Number.isSafeInteger(first + n)) return undefined;
  let lo = h[0]!;
  let hi = h[1]!;
  for (let i = 1; i < n; i++) {
    const next = (lo + 1) | 0;
    if (lo === -1) hi++;
    lo = next;
    if (h[2 * i] !== lo || h[2 * i + 1] !== hi) return undefined;
  }
  return first;
}

/** DELTA_BINARY_PACKED of first, first + 1, …: every delta is the block's minimum, so every miniblock is 0 bits wide. */
function countingDelta(first: number, n: number): Uint8Array {
  const head = [...varintBytes(128), ...varintBytes(4), ...varintBytes(n), ...varintBytes(first >= 0 ? 2 * first : -2 * first - 1)];
  const blocks = Math.ceil((n - 1) / 128);
  const out = new Uint8Array(head.length + 5 * Math.max(blocks, 0));
  out.set(head);
  for (let b = 0, p = head.length; b < blocks; b++, p += 5) out[p] = 2; // min delta 1 (zigzag), then four widths of 0
  return out;
}

/** DELTA_BINARY_PACKED of 32-bit values: blocks of 128 deltas in 4 miniblocks of 32, each bit-packed (LSB first) at its own width. */
export function deltaBinaryPacked(v: Int32Array, asOffsets = false): Uint8Array {
  // asOffsets: `v` holds count + 1 string offsets and the values are their lengths
  const count = asOffsets ? v.length - 1 : v.length;
  return deltaPacked(count, asOffsets ? (i: number): number => v[i + 1]! - v[i]! : (i: number): number => v[i]!)!;
}

/** DELTA_BINARY_PACKED of `count` integers (doubles, |delta| ≤ 2^53); undefined when a miniblock would need more than 45 bits. */
function deltaPacked(count: number, at: (i: number) => number): Uint8Array | undefined {
  // The largest it can be: a header, then per block a min delta, 4 widths and 4 × 32 values of ≤ 45 bits.
  const out = new Uint8Array(40 + Math.ceil(count / 128) * (16 + 4 * 180));
  let n = 0;
  const varint = (x: number): void => {
    while (x >= 128) {
      out[n++] = (x % 128) | 128;
      x = Math.floor(x / 128);
    }
    out[n++] = x;
  };
  const zigzag = (x: number): void => varint(x >= 0 ? 2 * x : -2 * x - 1);
  varint(128);
  varint(4);
  varint(count);
  zigzag(count ? at(0) : 0);
  const d = new Float64Array(128);
  const widths = [0, 0, 0, 0];
  for (let b = 1; b < count; b += 128) {
    const m = Math.min(128, count - b);
    let min = Infinity;
    for (let j = 0; j < m; j++) {
      const x = at(b + j) - at(b + j - 1);
      d[j] = x;
      if (x < min) min = x;
    }
    zigzag(min);
    for (let mb = 0; mb < 4; mb++) {
      let max = 0;
      const e = Math.min(m, mb * 32 + 32);
      for (let j = mb * 32; j < e; j++) if (d[j]! - min > max) max = d[j]! - min;
      widths[mb] = max === 0 ? 0 : max > 0xffffffff ? Math.floor(Math.log2(max)) + 1 : 32 - Math.clz32(max);
      if (widths[mb]! > 45) return undefined; // the packer below keeps < 2^53 bits pending
      out[n++] = widths[mb]!;
    }
    for (let mb = 0; mb < 4 && mb * 32 < m; mb++) {
      const w = widths[mb]!;
      if (w === 0) continue;
      // 32 values × w bits, LSB first, padded with zeros
      let acc = 0;
      let bits = 0;
      if (w <= 24) {
        for (let j = mb * 32; j < mb * 32 + 32; j++) {
          acc |= (j < m ? d[j]! - min : 0) << bits;
          bits += w;
          while (bits >= 8) {
            out[n++] = acc & 255;
            acc >>>= 8;
            bits -= 8;
          }
        }
      } else {
        for (let j = mb * 32; j < mb * 32 + 32; j++) {
          acc += (j < m ? d[j]! - min : 0) * 2 ** bits;
          bits += w;
          while (bits >= 8) {
            out[n++] = acc % 256;
            acc = Math.floor(acc / 256);
            bits -= 8;
          }
        }
      }
    }
  }
  return out.subarray(0, n);
}

function physical(t: DataType): number {
  if (t.typeId === Type.Bool) return PT.BOOLEAN;
  if (t.typeId === Type.Utf8) return PT.BYTE_ARRAY;
  if (DataType.isFloat(t)) return PT.DOUBLE;
  return PT.INT64;
}

function i64Bytes(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, v, true);
  return b;
}

/**
 * `batch` (single-chunk columns of parquetWritable types) as a Parquet file: the buffers to
 * write one after another (views of Arrow's own buffers where the layouts agree).
 */
export function encodeParquet(batch: RecordBatch): Uint8Array[] {
  const n = batch.numRows;
  const fields = batch.schema.fields;
  const datas = fields.map((_, i) => {
    const v = batch.getChildAt(i)!;
    if (v.data.length !== 1) throw new Error("encodeParquet: a column in several chunks");
    return v.data[0]!;
  });
  const parts: Uint8Array[] = [];
  {
    let pos = 0;
    const write = (b: Uint8Array): void => {
      parts.push(b);
      pos += b.length;
    };
    write(new TextEncoder().encode("PAR1"));
    const groups: { rows: number; chunks: Chunk[]; bytes: number }[] = [];
    for (let start = 0; start < n || (n === 0 && groups.length === 0); start += GROUP_ROWS) {
      const rows = Math.min(GROUP_ROWS, n - start);
      const chunks: Chunk[] = [];
      let groupBytes = 0;
      fields.forEach((f, c) => {
        const d = datas[c]!;
        let nulls = 0;
        if (d.nullCount > 0) for (let i = 0; i < rows; i++) if (!isValid(d, start + i)) nulls++;
        const levels = defLevels(d, start, rows, nulls);
        let enc = f.type.typeId === Type.Utf8 ? 6 : 0;
        // (an all-null page has no values, but DELTA_LENGTH_BYTE_ARRAY still needs its lengths' header)
        const vals: { bytes: Uint8Array[]; delta?: boolean; min?: bigint; max?: bigint } =
          nulls === rows && enc === 0 ? { bytes: [] as Uint8Array[] } : plainValues(d, start, rows, nulls, f.name === "_seq");
        if (vals.delta) enc = 5; // DELTA_BINARY_PACKED
        const body = [...levels, ...vals.bytes];
        const size = body.reduce((s, b) => s + b.length, 0);
        const header = new Thrift()
          .i32(1, 0) // DATA_PAGE
          .i32(2, size)
          .i32(3, size)
          .struct(5, (t) => t.i32(1, rows).i32(2, enc).i32(3, 3).i32(4, 3)) // values (PLAIN or DELTA_LENGTH_BYTE_ARRAY), RLE levels
          .done();
        const offset = pos;
        write(header);
        for (const b of body) write(b);
        const type = physical(f.type);
        chunks.push({ name: f.name, type, enc, offset, size: header.length + size, values: rows, nulls, min: vals.min, max: vals.max });
        groupBytes += header.length + size;
      });
      groups.push({ rows, chunks, bytes: groupBytes });
    }
    const meta = new Thrift()
      .i32(1, 1)
      .structs(2, [undefined, ...fields], (t, f) => {
        if (!f) return void t.string(4, "schema").i32(5, fields.length);
        const ft = f.type as DataType;
        t.i32(1, physical(ft)).i32(3, 1).string(4, f.name);
        if (ft.typeId === Type.Utf8)
          t.i32(6, 0).struct(10, (l) => l.struct(1, () => {})); // UTF8 / STRING
        else if (DataType.isTimestamp(ft)) t.struct(10, (l) => l.struct(8, (ts) => ts.bool(1, false).struct(2, (u) => u.struct(2, () => {})))); // TIMESTAMP(MICROS)
      })
      .i64(3, n)
      .structs(4, groups, (t, g) =>
        t
          .structs(1, g.chunks, (cc, ch) =>
            cc.i64(2, ch.offset).struct(3, (m) => {
              m.i32(1, ch.type)
                .i32s(2, [ch.enc, 3])
                .strings(3, [ch.name])
                .i32(4, 0)
                .i64(5, ch.values)
                .i64(6, ch.size)
                .i64(7, ch.size)
                .i64(9, ch.offset)
                .struct(12, (s) => {
                  // both the old (signed) and the new fields: INT64 orders the same either way
                  if (ch.max !== undefined) s.binary(1, i64Bytes(ch.max)).binary(2, i64Bytes(ch.min!));
                  s.i64(3, ch.nulls);
                  if (ch.max !== undefined) s.binary(5, i64Bytes(ch.max)).binary(6, i64Bytes(ch.min!));
                });
            }),
          )
          .i64(2, g.bytes)
          .i64(3, g.rows),
      )
      .string(6, "quiver datasource segments")
      .structs(7, fields, (t) => t.struct(1, () => {})) // column orders: TYPE_DEFINED_ORDER, so readers trust min/max
      .done();
    write(meta);
    write(le32(meta.length));
    write(new TextEncoder().encode("PAR1"));
  }
  return parts;
}

/** Writes `batch` to `file` and fsyncs it (the caller renames it into place). */
export function writeParquet(file: string, batch: RecordBatch): void {
  const parts = encodeParquet(batch);
  const fd = openSync(file, "w");
  try {
    for (const b of parts) for (let done = 0; done < b.length; ) done += writeSync(fd, b, done, b.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** writeParquet on the thread pool: the caller's JS runs while the bytes go to disk. */
export async function writeParquetAsync(file: string, parts: readonly Uint8Array[]): Promise<void> {
  const fh = await open(file, "w");
  try {
    // writev in groups (one thread-pool round trip each); a short write goes on from where it stopped
    let pos = 0;
    for (let i = 0; i < parts.length; i += 256) {
      const group = parts.slice(i, i + 256);
      let done = (await fh.writev(group, pos)).bytesWritten;
      for (const b of group) {
        if (done >= b.length) {
          done -= b.length;
          pos += b.length;
          continue;
        }
        for (let at = done; at < b.length; ) at += (await fh.write(b, at, b.length - at, pos + at)).bytesWritten;
        pos += b.length;
        done = 0;
      }
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}
