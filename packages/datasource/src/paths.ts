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

/**
 * Whether every path of Arrow Utf8 data is ASCII and already clean (isClean's rules, on the
 * bytes): then the data can be used as it is, and the strings are decoded only if something
 * asks for them (decodeAsciiPaths). 1M paths are checked in ~15 ms; decoding and checking them
 * one by one took ~80 ms.
 */
export function cleanAsciiPaths(values: Uint8Array, offsets: Int32Array, offset: number, n: number, sorted?: (increasing: boolean) => void): boolean {
  // In the same pass: whether each path is above the one before it (byte order), for `sorted`.
  let increasing = true;
  for (let r = 0; r < n; r++) {
    const s = offsets[offset + r]!;
    const t = offsets[offset + r + 1]!;
    if (t === s) return false;
    let seg = s;
    // against the path before: `p` walks it while the bytes so far are equal
    let p = r > 0 && increasing ? offsets[offset + r - 1]! : -1;
    const pe = s;
    for (let i = s; i <= t; i++) {
      const c = i < t ? values[i]! : 47;
      if (p >= 0) {
        if (i === t)
          increasing = false; // equal so far and this one ended: equal to it, or a prefix of it
        else if (p === pe)
          p = -1; // the one before is a prefix of this one: this one is above
        else if (values[p]! !== c) {
          if (values[p]! > c) increasing = false;
          p = -1;
        } else p++;
      }
      if (c >= 128 || c === 92 || c === 0 || (c === 58 && i === s + 1)) return false;
      if (c === 47) {
        const len = i - seg;
        if (len === 0) return false;
        if (values[seg] === 46 && (len === 1 || (len === 2 && values[seg + 1] === 46))) return false;
        seg = i + 1;
      }
    }
  }
  sorted?.(increasing);
  return true;
}

/** The paths cleanAsciiPaths accepted, as strings: one latin1 pass over the buffer, a slice per path. */
export function decodeAsciiPaths(values: Uint8Array, offsets: Int32Array, offset: number, n: number): string[] {
  const a = offsets[offset]!;
  const all = Buffer.from(values.buffer, values.byteOffset + a, offsets[offset + n]! - a).toString("latin1");
  const out = new Array<string>(n);
  for (let r = 0; r < n; r++) out[r] = all.slice(offsets[offset + r]! - a, offsets[offset + r + 1]! - a);
  return out;
}

export function normalizePaths(p: unknown): string[] {
  if (Array.isArray(p)) return p.map(normalizePath);
  return [normalizePath(p)];
}
