/**
 * Growable columns of the hot state (see hot.ts), in Arrow's own layouts so that loading from
 * Arrow and building results are copies, not conversions: int64 (ints, datetimes as µs) as
 * pairs of 32-bit words, float64, bools as bytes, strings as UTF-8 bytes + offsets (with a patch
 * map for rows rewritten in place), and plain JS values for the rest (multivalue fields).
 * Every column has one validity byte per row (1 = has a value).
 *
 * A column's first append of a whole Arrow column (a first upload) takes that column's buffers by
 * reference instead of copying them (Arrow data is immutable; 1M rows × 6 fields copied cost
 * ~50 MB of allocation and ~40 ms): `shared` says so, and the first write into them copies.
 */
import { type Data, type DataType, makeData } from "apache-arrow";
import { buildData, vectorToValues } from "@quiver/core";
import { makeVector } from "apache-arrow";

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { ignoreBOM: true });

function grow<T extends Uint8Array | Int32Array | Float64Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(need, a.length * 2, 16));
  b.set(a);
  return b;
}

/** `a` to write into: a copy (with room for `need`) when it is `shared`, else grow(a, need). */
function writable<T extends Uint8Array | Int32Array | Float64Array>(a: T, need: number, shared: boolean): T {
  if (!shared) return grow(a, need);
  const b = new (a.constructor as new (n: number) => T)(Math.max(need, a.length, 16));
  b.set(a);
  return b;
}

/** Arrow's validity bits of `data` as one byte per row (1 = valid). */
export function validBytes(data: Data): Uint8Array {
  const n = data.length;
  const out = new Uint8Array(n);
  const bm = data.nullBitmap;
  if (!bm || data.nullCount === 0) return out.fill(1);
  const o = data.offset;
  for (let i = 0; i < n; i++) out[i] = (bm[(o + i) >> 3]! >> ((o + i) & 7)) & 1;
  return out;
}

/** Packs one byte per row into Arrow validity bits; undefined when every row is valid. */
export function packBits(bytes: Uint8Array, n: number): { bits: Uint8Array; count: number } {
  const bits = new Uint8Array((n + 7) >> 3);
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (bytes[i]) bits[i >> 3]! |= 1 << (i & 7);
    else count++;
  }
  return { bits, count };
}

let allOnes = new Uint8Array(0);
/** n bytes of 1, shared: never written (a column's `valid` may be a view of it until its first write). */
export function ones(n: number): Uint8Array {
  if (allOnes.length < n) allOnes = new Uint8Array(Math.max(n, 2 * allOnes.length)).fill(1);
  return allOnes.subarray(0, n);
}

export abstract class Column {
  // Small to start: a datapoint with thousands of fields has thousands of columns.
  valid: Uint8Array = new Uint8Array(16);
  /** `valid` is a view of ones() (a first append without nulls): copied before any write. */
  private validShared = false;
  n = 0;
  /** False while every row has a value (results then need no validity pass). */
  protected mayBeNull = false;
  constructor(readonly type: DataType) {}
  /** Appends `count` nulls. */
  abstract pushNulls(count: number): void;
  /** Appends rows `idx` of `data` (null where invalid). */
  abstract append(data: Data, idx: Int32Array | null, count: number): void;
  /** Sets row `row` from row `i` of `data` (which must be valid there). */
  abstract setFrom(row: number, data: Data, i: number): void;
  clear(row: number): void {
    this.growValid(this.n);
    this.valid[row] = 0;
    this.mayBeNull = true;
  }
  /** The rows `rows` as Arrow data. */
  abstract gather(rows: Int32Array): Data;
  /** `valid`, writable, with room for `need` rows. */
  protected growValid(need: number): void {
    this.valid = writable(this.valid, need, this.validShared);
    this.validShared = false;
  }
  protected markValid(row: number): void {
    this.growValid(this.n);
    this.valid[row] = 1;
  }
  protected appendValid(data: Data, idx: Int32Array | null, count: number): void {
    if (this.n === 0 && data.nullCount === 0 && count > 0) {
      this.valid = ones(count);
      this.validShared = true;
      return;
    }
    this.growValid(this.n + count);
    if (data.nullCount === 0) return void this.valid.fill(1, this.n, this.n + count);
    if (data.nullCount > 0) this.mayBeNull = true;
    const v = validBytes(data);
    if (!idx) this.valid.set(v.subarray(0, count), this.n);
    else for (let k = 0; k < count; k++) this.valid[this.n + k] = v[idx[k]!]!;
  }
  protected validityOf(rows: Int32Array): { bits?: Uint8Array; count: number } {
    if (!this.mayBeNull) return { count: 0 };
    const m = rows.length;
    const bytes = new Uint8Array(m);
    let nulls = 0;
    for (let j = 0; j < m; j++) if (!(bytes[j] = this.valid[rows[j]!]!)) nulls++;
    if (nulls === 0) return { count: 0 };
    return { bits: packBits(bytes, m).bits, count: nulls };
  }
}

/** Arrow Int64 / Timestamp layout: two 32-bit words per value (little-endian). */
export class I64Column extends Column {
  words: Int32Array = new Int32Array(32);
  /** `words` is a view of Arrow data (never written: copied first). */
  private shared = false;
  private room(need: number): Int32Array {
    this.words = writable(this.words, need, this.shared);
    this.shared = false;
    return this.words;
  }
  pushNulls(count: number): void {
    if (count > 0) this.mayBeNull = true;
    this.growValid(this.n + count);
    this.room(2 * (this.n + count));
    this.valid.fill(0, this.n, this.n + count);
    this.words.fill(0, 2 * this.n, 2 * (this.n + count));
    this.n += count;
  }
  private src(data: Data): Int32Array {
    const v = data.values as ArrayBufferView;
    return new Int32Array(v.buffer, v.byteOffset, data.length * 2); // sliced by Arrow JS (only validity keeps data.offset)
  }
  append(data: Data, idx: Int32Array | null, count: number): void {
    this.appendValid(data, idx, count);
    const s = this.src(data);
    if (!idx && this.n === 0 && count > 0 && data.offset === 0) {
      this.words = s.subarray(0, 2 * count);
      this.shared = true;
      this.n = count;
      return;
    }
    this.room(2 * (this.n + count));
    if (!idx) this.words.set(s.subarray(0, 2 * count), 2 * this.n);
    else {
      const w = this.words;
      for (let k = 0, o = 2 * this.n; k < count; k++, o += 2) {
        const i = idx[k]!;
        w[o] = s[2 * i]!;
        w[o + 1] = s[2 * i + 1]!;
      }
    }
    this.n += count;
  }
  setFrom(row: number, data: Data, i: number): void {
    const s = this.src(data);
    if (this.shared) this.room(this.words.length);
    this.words[2 * row] = s[2 * i]!;
    this.words[2 * row + 1] = s[2 * i + 1]!;
    this.markValid(row);
  }
  gather(rows: Int32Array): Data {
    const m = rows.length;
    const out = new Int32Array(2 * m);
    const w = this.words;
    for (let j = 0; j < m; j++) {
      const r = rows[j]! << 1;
      out[2 * j] = w[r]!;
      out[2 * j + 1] = w[r + 1]!;
    }
    const { bits, count } = this.validityOf(rows);
    return makeData({ type: this.type as never, length: m, nullCount: count, nullBitmap: bits, data: new BigInt64Array(out.buffer) as never });
  }
}

export class F64Column extends Column {
  vals: Float64Array = new Float64Array(16);
  /** `vals` is a view of Arrow data (never written: copied first). */
  private shared = false;
  private room(need: number): Float64Array {
    this.vals = writable(this.vals, need, this.shared);
    this.shared = false;
    return this.vals;
  }
  pushNulls(count: number): void {
    if (count > 0) this.mayBeNull = true;
    this.growValid(this.n + count);
    this.room(this.n + count);
    this.valid.fill(0, this.n, this.n + count);
    this.vals.fill(0, this.n, this.n + count);
    this.n += count;
  }
  private src(data: Data): Float64Array {
    const v = data.values as Float64Array;
    return new Float64Array(v.buffer, v.byteOffset, data.length); // sliced by Arrow JS (only validity keeps data.offset)
  }
  append(data: Data, idx: Int32Array | null, count: number): void {
    this.appendValid(data, idx, count);
    const s = this.src(data);
    if (!idx && this.n === 0 && count > 0 && data.offset === 0) {
      this.vals = s.subarray(0, count);
      this.shared = true;
      this.n = count;
      return;
    }
    this.room(this.n + count);
    if (!idx) this.vals.set(s.subarray(0, count), this.n);
    else for (let k = 0; k < count; k++) this.vals[this.n + k] = s[idx[k]!]!;
    this.n += count;
  }
  setFrom(row: number, data: Data, i: number): void {
    if (this.shared) this.room(this.vals.length);
    this.vals[row] = this.src(data)[i]!;
    this.markValid(row);
  }
  gather(rows: Int32Array): Data {
    const m = rows.length;
    const out = new Float64Array(m);
    const v = this.vals;
    for (let j = 0; j < m; j++) out[j] = v[rows[j]!]!;
    const { bits, count } = this.validityOf(rows);
    return makeData({ type: this.type as never, length: m, nullCount: count, nullBitmap: bits, data: out as never });
  }
}

export class BoolColumn extends Column {
  vals = new Uint8Array(16);
  pushNulls(count: number): void {
    if (count > 0) this.mayBeNull = true;
    this.growValid(this.n + count);
    this.vals = grow(this.vals, this.n + count);
    this.valid.fill(0, this.n, this.n + count);
    this.vals.fill(0, this.n, this.n + count);
    this.n += count;
  }
  private bit(data: Data, i: number): number {
    const j = data.offset + i;
    return ((data.values as Uint8Array)[j >> 3]! >> (j & 7)) & 1;
  }
  append(data: Data, idx: Int32Array | null, count: number): void {
    this.appendValid(data, idx, count);
    const v = (this.vals = grow(this.vals, this.n + count));
    const bits = data.values as Uint8Array;
    const o = data.offset;
    const n0 = this.n;
    if (idx)
      for (let k = 0; k < count; k++) {
        const j = o + idx[k]!;
        v[n0 + k] = (bits[j >> 3]! >> (j & 7)) & 1;
      }
    else for (let k = 0, j = o; k < count; k++, j++) v[n0 + k] = (bits[j >> 3]! >> (j & 7)) & 1;
    this.n += count;
  }
  setFrom(row: number, data: Data, i: number): void {
    this.vals[row] = this.bit(data, i);
    this.markValid(row);
  }
  gather(rows: Int32Array): Data {
    const m = rows.length;
    const out = new Uint8Array((m + 7) >> 3);
    const v = this.vals;
    for (let j = 0; j < m; j++) if (v[rows[j]!]) out[j >> 3]! |= 1 << (j & 7);
    const { bits, count } = this.validityOf(rows);
    return makeData({ type: this.type as never, length: m, nullCount: count, nullBitmap: bits, data: out as never });
  }
}

/**
 * UTF-8 strings: bytes + offsets for rows in append order; a row rewritten later keeps its new
 * bytes in `patch` (flagged in `patched`) until the patches are folded back in (compact).
 */
export class StrColumn extends Column {
  offs: Int32Array = new Int32Array(17);
  bytes: Uint8Array = new Uint8Array(256);
  /** 1 for rows whose bytes are in `patch` (rows past its end are not). */
  patched = new Uint8Array(16);
  patch = new Map<number, Uint8Array>();
  /** `offs` and `bytes` are views of Arrow data (never written: copied first). */
  private shared = false;
  private own(): void {
    if (!this.shared) return;
    this.offs = writable(this.offs, this.offs.length, true);
    this.bytes = writable(this.bytes, this.bytes.length, true);
    this.shared = false;
  }
  pushNulls(count: number): void {
    if (count > 0) this.mayBeNull = true;
    this.growValid(this.n + count);
    this.own();
    this.offs = grow(this.offs, this.n + count + 1);
    this.valid.fill(0, this.n, this.n + count);
    this.offs.fill(this.offs[this.n]!, this.n + 1, this.n + count + 1);
    this.n += count;
  }
  append(data: Data, idx: Int32Array | null, count: number): void {
    this.appendValid(data, idx, count);
    const so = data.valueOffsets as Int32Array;
    const sb = data.values as Uint8Array;
    // Arrow JS slices the value offsets of sliced data (only validity keeps data.offset).
    if (!idx && this.n === 0 && count > 0 && data.offset === 0) {
      // offsets as Arrow has them (the first need not be 0), bytes from 0 to the last one
      this.offs = new Int32Array(so.buffer, so.byteOffset, count + 1);
      this.bytes = new Uint8Array(sb.buffer, sb.byteOffset, so[count]!);
      this.shared = true;
      this.n = count;
      return;
    }
    this.own();
    this.offs = grow(this.offs, this.n + count + 1);
    let pos = this.offs[this.n]!;
    if (!idx) {
      const a = so[0]!;
      const b = so[count]!;
      this.bytes = grow(this.bytes, pos + (b - a));
      this.bytes.set(sb.subarray(a, b), pos);
      const d = pos - a;
      const offs = this.offs;
      const n0 = this.n;
      for (let k = 1; k <= count; k++) offs[n0 + k] = so[k]! + d;
    } else {
      let total = 0;
      for (let k = 0; k < count; k++) total += so[idx[k]! + 1]! - so[idx[k]!]!;
      this.bytes = grow(this.bytes, pos + total);
      const out = this.bytes;
      for (let k = 0; k < count; k++) {
        const i = idx[k]!;
        const a = so[i]!;
        const len = so[i + 1]! - a;
        if (len < 32) for (let x = 0; x < len; x++) out[pos + x] = sb[a + x]!;
        else out.set(sb.subarray(a, a + len), pos);
        pos += len;
        this.offs[this.n + k + 1] = pos;
      }
    }
    this.n += count;
  }
  setFrom(row: number, data: Data, i: number): void {
    const so = data.valueOffsets as Int32Array;
    this.setBytes(row, (data.values as Uint8Array).slice(so[i]!, so[i + 1]!));
  }
  setBytes(row: number, b: Uint8Array): void {
    this.patch.set(row, b);
    this.patched = grow(this.patched, this.n); // (grown only here: a row past its end is not patched)
    this.patched[row] = 1;
    this.markValid(row);
    if (this.patch.size > 4096 && this.patch.size * 8 > this.n) this.compact();
  }
  /** The bytes of a row (a view; null rows give an empty view). */
  at(row: number): Uint8Array {
    if (this.patched[row]) return this.patch.get(row)!;
    return this.bytes.subarray(this.offs[row]!, this.offs[row + 1]!);
  }
  string(row: number): string {
    return dec.decode(this.at(row));
  }
  /** Folds the patches back into bytes + offsets. */
  compact(): void {
    if (this.patch.size === 0) return;
    const rows = new Int32Array(this.n);
    for (let i = 0; i < this.n; i++) rows[i] = i;
    const d = this.gather(rows);
    this.offs = (d.valueOffsets as Int32Array).slice();
    this.bytes = (d.values as Uint8Array).slice();
    this.shared = false;
    this.patch.clear();
    this.patched.fill(0);
  }
  gather(rows: Int32Array): Data {
    if (this.patch.size === 0 && !this.mayBeNull) return this.gatherRuns(rows);
    const m = rows.length;
    const offs = new Int32Array(m + 1);
    const { offs: so, bytes: sb, patched, valid } = this;
    let total = 0;
    const any = this.patch.size > 0;
    for (let j = 0; j < m; j++) {
      const r = rows[j]!;
      if (valid[r]) total += any && patched[r] ? this.patch.get(r)!.length : so[r + 1]! - so[r]!;
    }
    const out = new Uint8Array(total);
    let pos = 0;
    for (let j = 0; j < m; j++) {
      const r = rows[j]!;
      if (valid[r]) {
        if (any && patched[r]) {
          const p = this.patch.get(r)!;
          out.set(p, pos);
          pos += p.length;
        } else {
          const a = so[r]!;
          const len = so[r + 1]! - a;
          if (len < 32) for (let x = 0; x < len; x++) out[pos + x] = sb[a + x]!;
          else out.set(sb.subarray(a, a + len), pos);
          pos += len;
        }
      }
      offs[j + 1] = pos;
    }
    const { bits, count } = this.validityOf(rows);
    return makeData({ type: this.type as never, length: m, nullCount: count, nullBitmap: bits, valueOffsets: offs, data: out } as never);
  }

  /** No patches, no nulls: runs of consecutive rows are copied as one block of bytes. */
  private gatherRuns(rows: Int32Array): Data {
    const m = rows.length;
    const so = this.offs;
    const sb = this.bytes;
    let total = 0;
    for (let j = 0; j < m; ) {
      const r0 = rows[j]!;
      let k = j + 1;
      while (k < m && rows[k] === rows[k - 1]! + 1) k++;
      total += so[r0 + (k - j)]! - so[r0]!;
      j = k;
    }
    const out = new Uint8Array(total);
    const offs = new Int32Array(m + 1);
    let pos = 0;
    for (let j = 0; j < m; ) {
      const r0 = rows[j]!;
      let k = j + 1;
      while (k < m && rows[k] === rows[k - 1]! + 1) k++;
      const a = so[r0]!;
      const len = so[r0 + (k - j)]! - a;
      if (len < 48) for (let x = 0; x < len; x++) out[pos + x] = sb[a + x]!;
      else out.set(sb.subarray(a, a + len), pos);
      const d = pos - a;
      for (let t = j; t < k; t++) offs[t + 1] = so[r0 + (t - j) + 1]! + d;
      pos += len;
      j = k;
    }
    return makeData({ type: this.type as never, length: m, nullCount: 0, valueOffsets: offs, data: out } as never);
  }
}

/** Any other type (multivalue fields): JS values, rebuilt as Arrow on output. */
export class AnyColumn extends Column {
  vals: unknown[] = [];
  pushNulls(count: number): void {
    if (count > 0) this.mayBeNull = true;
    this.growValid(this.n + count);
    this.valid.fill(0, this.n, this.n + count);
    for (let k = 0; k < count; k++) this.vals.push(null);
    this.n += count;
  }
  append(data: Data, idx: Int32Array | null, count: number): void {
    this.appendValid(data, idx, count);
    const v = vectorToValues(makeVector(data));
    for (let k = 0; k < count; k++) this.vals.push(v[idx ? idx[k]! : k]);
    this.n += count;
  }
  setFrom(row: number, data: Data, i: number): void {
    this.vals[row] = vectorToValues(makeVector(data.slice(i, 1)))[0];
    this.markValid(row);
  }
  gather(rows: Int32Array): Data {
    return buildData(
      this.type,
      Array.from(rows, (r) => (this.valid[r] ? this.vals[r] : null)),
    );
  }
}

export function encodeUtf8(s: string): Uint8Array {
  return enc.encode(s);
}

/** UTF-8 byte order (DuckDB's order of VARCHAR): negative when a < b. */
export function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Whether the k strings of Utf8 data (bytes `b`, offsets `po` from `o`) strictly increase in byte order (no per-key views: 1M keys in ~10 ms). */
export function increasing(b: Uint8Array, po: Int32Array, k: number): boolean {
  for (let i = 1; i < k; i++) {
    let x = po[i - 1]!;
    const xe = po[i]!;
    let y = xe;
    const ye = po[i + 1]!;
    let c = 0;
    while (x < xe && y < ye) {
      const d = b[x++]! - b[y++]!;
      if (d !== 0) {
        c = d;
        break;
      }
    }
    if (c === 0) c = xe - x - (ye - y);
    if (c >= 0) return false;
  }
  return true;
}

const increasingSeen = new WeakMap<Data, boolean>();
/** Records what a pass over the same bytes found (paths.ts's check), so increasingData need not walk them again. */
export function rememberIncreasing(d: Data, increasing: boolean): void {
  increasingSeen.set(d, increasing);
}

/** increasing() of Utf8 data, remembered per Data (the commit's check and the hot state's see the same paths). */
export function increasingData(d: Data): boolean {
  let v = increasingSeen.get(d);
  if (v === undefined) increasingSeen.set(d, (v = increasing(d.values as Uint8Array, d.valueOffsets as Int32Array, d.length)));
  return v;
}
