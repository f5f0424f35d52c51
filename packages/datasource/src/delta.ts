/**
 * Parquet's DELTA_BINARY_PACKED for events segments (parquet.ts): a header (block size 128, 4
 * miniblocks, count, first value), then per block of 128 deltas its minimum, the 4 miniblocks'
 * bit widths and the miniblocks (32 deltas − minimum each, bit-packed LSB first). The encoders
 * keep their write position in a local (a position shared with a closure cost ~3× per value).
 */

/** The LEB128 varint bytes of v (0 ≤ v ≤ 2^53). */
export function varintBytes(v: number): number[] {
  const out: number[] = [];
  while (v >= 128) {
    out.push((v % 128) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** Writes the varint of x (0 ≤ x ≤ 2^53) at out[n]; returns where it ended. */
function putVarint(out: Uint8Array, n: number, x: number): number {
  while (x >= 128) {
    out[n++] = (x % 128) | 128;
    x = Math.floor(x / 128);
  }
  out[n++] = x;
  return n;
}

let scratchBuf = new Uint8Array(0);
/**
 * A buffer of at least `size` bytes to encode into, shared by the encoders (they run one at a
 * time, and their results are copied out at their exact size: what the largest possible
 * encoding would take is ~1 MB per row group and column, most of it never used, and allocating
 * it each time made the upload's garbage collections mark the whole heap more often).
 */
function scratch(size: number): Uint8Array {
  if (scratchBuf.length < size) scratchBuf = new Uint8Array(Math.max(size, 2 * scratchBuf.length));
  return scratchBuf;
}

function zigzag(x: number): number {
  return x >= 0 ? 2 * x : -2 * x - 1;
}

/** Packs d[s..s+32) − min (0 past m) at width w ≤ 24 at out[n]; returns where it ended (4w bytes on). */
function pack24(out: Uint8Array, n: number, d: Int32Array | Float64Array, s: number, m: number, min: number, w: number): number {
  let acc = 0;
  let bits = 0;
  for (let j = s; j < s + 32; j++) {
    acc |= (j < m ? d[j]! - min : 0) << bits;
    bits += w;
    while (bits >= 8) {
      out[n++] = acc & 255;
      acc >>>= 8;
      bits -= 8;
    }
  }
  return n;
}

/** pack24 for widths up to 45 (double math: fewer than 53 bits are ever pending). */
function pack45(out: Uint8Array, n: number, d: Float64Array, s: number, m: number, min: number, w: number): number {
  let acc = 0;
  let bits = 0;
  for (let j = s; j < s + 32; j++) {
    acc += (j < m ? d[j]! - min : 0) * 2 ** bits;
    bits += w;
    while (bits >= 8) {
      out[n++] = acc % 256;
      acc = Math.floor(acc / 256);
      bits -= 8;
    }
  }
  return n;
}

/** The header: block size 128, 4 miniblocks, count, first value. */
function header(out: Uint8Array, count: number, first: number): number {
  let n = putVarint(out, 0, 128);
  n = putVarint(out, n, 4);
  n = putVarint(out, n, count);
  return putVarint(out, n, zigzag(first));
}

/**
 * INT64 values (32-bit word pairs) as DELTA_BINARY_PACKED, when every delta fits in 24 bits
 * (small ints, counters, timestamps a few seconds apart): one pass with 32-bit math, no per-value
 * calls. Undefined otherwise (PLAIN is written).
 */
export function deltaInt64(h: Int32Array): Uint8Array | undefined {
  const count = h.length >> 1;
  if (count < 2) return undefined;
  const first = h[1]! * 4294967296 + (h[0]! >>> 0);
  if (!Number.isSafeInteger(first)) return undefined;
  const out = scratch(40 + Math.ceil(count / 128) * (16 + 4 * 96));
  let n = header(out, count, first);
  const d = new Int32Array(128);
  for (let b = 1; b < count; b += 128) {
    const m = Math.min(128, count - b);
    let min = 2147483647;
    for (let j = 0, i = 2 * b; j < m; j++, i += 2) {
      const x = (h[i + 1]! - h[i - 1]!) * 4294967296 + ((h[i]! >>> 0) - (h[i - 2]! >>> 0)); // exact in a double
      if (x > 8388607 || x < -8388608) return undefined; // |delta| < 2^23: every (delta − min) fits 24 bits
      d[j] = x;
      if (x < min) min = x;
    }
    n = putVarint(out, n, zigzag(min));
    const widths = n;
    n += 4;
    for (let mb = 0, s = 0; mb < 4; mb++, s += 32) {
      const e = Math.min(m, s + 32);
      let or = 0; // its highest bit is the largest (delta − min)'s
      for (let j = s; j < e; j++) or |= d[j]! - min;
      const w = or === 0 ? 0 : 32 - Math.clz32(or);
      out[widths + mb] = w;
      if (w) n = pack24(out, n, d, s, m, min, w);
    }
  }
  return out.slice(0, n);
}

/** The first value when int64 words (pairs) count up by one from a safe integer, else undefined. */
export function countingRun(h: Int32Array): number | undefined {
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

const counting = new WeakMap<BigInt64Array, number>();
/** Marks int64 values built as first, first + 1, … and never changed (a commit's `_seq`), so that encoding them need not check so. */
export function markCounting(values: BigInt64Array, first: number): void {
  counting.set(values, first);
}
/** The value at index i of marked values (markCounting), else undefined. */
export function countingAt(values: unknown, i: number): number | undefined {
  const first = values instanceof BigInt64Array ? counting.get(values) : undefined;
  return first === undefined ? undefined : first + i;
}

/** DELTA_BINARY_PACKED of first, first + 1, …: every delta is the block's minimum, so every miniblock is 0 bits wide. */
export function countingDelta(first: number, n: number): Uint8Array {
  const head = [...varintBytes(128), ...varintBytes(4), ...varintBytes(n), ...varintBytes(first >= 0 ? 2 * first : -2 * first - 1)];
  const blocks = Math.ceil((n - 1) / 128);
  const out = new Uint8Array(head.length + 5 * Math.max(blocks, 0));
  out.set(head);
  for (let b = 0, p = head.length; b < blocks; b++, p += 5) out[p] = 2; // min delta 1 (zigzag), then four widths of 0
  return out;
}

/**
 * DELTA_BINARY_PACKED of 32-bit values, or (asOffsets) of the lengths between count + 1 string
 * offsets. Deltas of 32-bit values need up to 33 bits: doubles hold them.
 */
export function deltaBinaryPacked(v: Int32Array, asOffsets = false): Uint8Array {
  const count = asOffsets ? v.length - 1 : v.length;
  const value = (i: number): number => (asOffsets ? v[i + 1]! - v[i]! : v[i]!);
  // The largest it can be: a header, then per block a min delta, 4 widths and 4 × 32 values of ≤ 33 bits.
  const out = scratch(40 + Math.ceil(count / 128) * (16 + 4 * 132));
  let n = header(out, count, count ? value(0) : 0);
  const d = new Float64Array(128);
  let prev = count ? value(0) : 0;
  for (let b = 1; b < count; b += 128) {
    const m = Math.min(128, count - b);
    let min = Infinity;
    let max = -Infinity;
    for (let j = 0, i = b; j < m; j++, i++) {
      const x = asOffsets ? v[i + 1]! - v[i]! : v[i]!;
      const dx = x - prev;
      prev = x;
      d[j] = dx;
      if (dx < min) min = dx;
      if (dx > max) max = dx;
    }
    n = putVarint(out, n, zigzag(min));
    const widths = n;
    n += 4;
    const small = max - min < 2147483648; // (delta − min) all below 2^31: 32-bit math
    for (let mb = 0, s = 0; mb < 4; mb++, s += 32) {
      const e = Math.min(m, s + 32);
      let w = 0;
      if (small) {
        let or = 0;
        for (let j = s; j < e; j++) or |= d[j]! - min;
        w = or === 0 ? 0 : 32 - Math.clz32(or);
      } else {
        let top = 0;
        for (let j = s; j < e; j++) if (d[j]! - min > top) top = d[j]! - min;
        w = top === 0 ? 0 : top > 0xffffffff ? Math.floor(Math.log2(top)) + 1 : 32 - Math.clz32(top);
      }
      out[widths + mb] = w;
      if (w === 0) continue;
      n = w <= 24 ? pack24(out, n, d, s, m, min, w) : pack45(out, n, d, s, m, min, w);
    }
  }
  return out.slice(0, n);
}
