import { QuiverError, describeValue } from "@quiver/core";

/** True when the path is relative, "/"-separated, with no empty, "." or ".." segment (char loop: 1M paths in ~30 ms). */
function isClean(p: string): boolean {
  const n = p.length;
  let segStart = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? p.charCodeAt(i) : 47;
    if (c === 92 || c === 0) return false; // backslash, NUL
    if (c === 58 && i === 1) return false; // "C:"
    if (c === 47) {
      const len = i - segStart;
      if (len === 0) return false; // leading "/", "//" or trailing "/"
      if (p.charCodeAt(segStart) === 46 && (len === 1 || (len === 2 && p.charCodeAt(segStart + 1) === 46))) return false;
      segStart = i + 1;
    }
  }
  return true;
}

/**
 * A datapoint path relative to the datasource: "/"-separated, no "..", not absolute.
 * "./a//b" is normalised to "a/b"; anything that could leave the folder is INVALID_PATH.
 */
export function normalizePath(p: unknown): string {
  if (typeof p !== "string" || p.length === 0) {
    throw new QuiverError("INVALID_PATH", `a datapoint path must be a non-empty string relative to the datasource folder, got ${describeValue(p)}`);
  }
  if (isClean(p)) return p;
  if (p.includes("\0")) throw new QuiverError("INVALID_PATH", `path ${describeValue(p)} contains NUL`);
  if (p.startsWith("/") || p.startsWith("\\") || /^[A-Za-z]:/.test(p)) {
    throw new QuiverError("INVALID_PATH", `path ${describeValue(p)} is absolute; give it relative to the datasource folder, e.g. "images/005.jpg"`);
  }
  if (p.includes("\\")) throw new QuiverError("INVALID_PATH", `path ${describeValue(p)} contains a backslash; separate folders with "/"`);
  const segs: string[] = [];
  for (const s of p.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") throw new QuiverError("INVALID_PATH", `path ${describeValue(p)} contains ".."; datapoints must stay inside the datasource folder`);
    segs.push(s);
  }
  if (segs.length === 0) throw new QuiverError("INVALID_PATH", `path ${describeValue(p)} names no file`);
  return segs.join("/");
}

/** Whether the segment starting at `j` (a ".") ending at `t` or the next "/" is "." or "..". */
function dotSegment(v: Uint8Array, j: number, t: number): boolean {
  if (j + 1 === t || v[j + 1] === 47) return true;
  return v[j + 1] === 46 && (j + 2 === t || v[j + 2] === 47);
}

/**
 * Whether every path of Arrow Utf8 data is ASCII and already clean (isClean's rules, on the
 * bytes): then the data can be used as it is, and the strings are decoded only if something
 * asks for them (decodeAsciiPaths). Two passes: one per path (its ends, and whether it is above
 * the one before it, for `sorted`), one over the bytes 4 at a time, where only words holding a
 * byte ≥ 128, NUL, "\\" or "/" are looked at byte by byte. 1M paths in ~40 ms (one byte loop
 * doing both took ~80 ms). False only means "not proven clean": the caller checks each path.
 */
export function cleanAsciiPaths(values: Uint8Array, offsets: Int32Array, n: number, sorted?: (increasing: boolean) => void): boolean {
  const v = values;
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  let increasing = true;
  for (let r = 0; r < n; r++) {
    const s = offsets[r]!;
    const t = offsets[r + 1]!;
    if (t <= s) return false;
    const c0 = v[s]!;
    // leading or trailing "/", "C:", a leading "." or ".." segment
    if (c0 === 47 || v[t - 1] === 47 || (t - s > 1 && v[s + 1] === 58) || (c0 === 46 && dotSegment(v, s, t))) return false;
    if (increasing && r > 0) {
      // above the path before it (byte order)? Equal bytes are skipped 4 at a time, then compared one by one.
      let x = offsets[r - 1]!;
      let y = s;
      while (x + 4 <= s && y + 4 <= t && dv.getUint32(x) === dv.getUint32(y)) (x += 4), (y += 4);
      let c = 0;
      while (x < s && y < t && (c = v[x]! - v[y]!) === 0) x++, y++;
      if (c === 0) c = s - x - (t - y);
      if (c >= 0) increasing = false;
    }
  }
  const a = offsets[0]!;
  const b = offsets[n]!;
  let r = 0; // the path holding byte i (offsets[r] <= i < offsets[r + 1]), moved forward when needed
  const plain = (i: number): boolean => {
    const c = v[i]!;
    if (c >= 128 || c === 0 || c === 92) return false;
    if (c === 47) {
      // "//", "/./" or "/../" (a "/" ending a path was refused above, so i + 1 is in this path)
      const x = v[i + 1];
      if (x === 47) return false;
      if (x === 46) {
        while (offsets[r + 1]! <= i) r++;
        if (dotSegment(v, i + 1, offsets[r + 1]!)) return false;
      }
    }
    return true;
  };
  let i = a;
  const head = Math.min(b, a + ((4 - ((v.byteOffset + a) & 3)) & 3));
  for (; i < head; i++) if (!plain(i)) return false;
  const words = i < b ? (b - i) >> 2 : 0; // (i is 4-aligned unless the data ended first)
  const w32 = new Uint32Array(v.buffer, words ? v.byteOffset + i : 0, words);
  for (let k = 0; k < words; k++) {
    const w = w32[k]!;
    const bs = w ^ 0x5c5c5c5c;
    const sl = w ^ 0x2f2f2f2f;
    // a byte ≥ 128, or one equal to 0, "\\" or "/" (zero after the xor): the classic has-zero-byte test
    if (((w | ((w - 0x01010101) & ~w) | ((bs - 0x01010101) & ~bs) | ((sl - 0x01010101) & ~sl)) & 0x80808080) !== 0) {
      const p = i + 4 * k;
      if (!plain(p) || !plain(p + 1) || !plain(p + 2) || !plain(p + 3)) return false;
    }
  }
  for (i += 4 * words; i < b; i++) if (!plain(i)) return false;
  sorted?.(increasing);
  return true;
}

/** The paths cleanAsciiPaths accepted, as strings: one latin1 pass over the buffer, a slice per path. */
export function decodeAsciiPaths(values: Uint8Array, offsets: Int32Array, n: number): string[] {
  const a = offsets[0]!;
  const all = Buffer.from(values.buffer, values.byteOffset + a, offsets[n]! - a).toString("latin1");
  const out = new Array<string>(n);
  for (let r = 0; r < n; r++) out[r] = all.slice(offsets[r]! - a, offsets[r + 1]! - a);
  return out;
}

export function normalizePaths(p: unknown): string[] {
  if (Array.isArray(p)) return p.map(normalizePath);
  return [normalizePath(p)];
}
