/**
 * The byte-level path check of Arrow uploads (cleanAsciiPaths) against the per-string rule
 * (normalizePath): it may only accept a path that normalizePath leaves as it is, and what it says
 * about the paths' order must be byte order.
 */
import { describe, expect, it } from "vitest";
import { cleanAsciiPaths, normalizePath } from "../dist/paths.js";

const enc = new TextEncoder();

/** Utf8 data of `paths` at byte `pad` of a buffer (so the words the check reads start unaligned), offsets starting at `offsetPad`. */
function utf8(paths: readonly string[], pad: number, offsetPad: number): { values: Uint8Array; offsets: Int32Array } {
  const bytes = paths.map((p) => enc.encode(p));
  const offsets = new Int32Array(offsetPad + paths.length + 1);
  let at = 7; // the values do not start at byte 0 of the data either
  offsets.fill(at, 0, offsetPad + 1);
  bytes.forEach((b, i) => (offsets[offsetPad + i + 1] = at += b.length));
  const buf = new Uint8Array(pad + at + 9).fill(0x2f); // "/" around the data: never read as part of it
  bytes.forEach((b, i) => buf.set(b, pad + offsets[offsetPad + i]!));
  return { values: buf.subarray(pad), offsets };
}

function cleanByRule(p: string): boolean {
  for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) >= 128) return false;
  try {
    return normalizePath(p) === p;
  } catch {
    return false;
  }
}

function increasingByRule(paths: readonly string[]): boolean {
  for (let i = 1; i < paths.length; i++) if (Buffer.compare(Buffer.from(paths[i - 1]!), Buffer.from(paths[i]!)) >= 0) return false;
  return true;
}

function check(paths: readonly string[]): void {
  for (const pad of [0, 1, 2, 3]) {
    for (const offsetPad of [0, 3]) {
      const { values, offsets } = utf8(paths, pad, offsetPad);
      let inc: boolean | undefined;
      // Sliced data: Arrow JS hands over its value offsets already sliced.
      const ok = cleanAsciiPaths(values, offsets.subarray(offsetPad), paths.length, (x) => (inc = x));
      const want = paths.every(cleanByRule);
      expect({ paths, pad, ok }).toEqual({ paths, pad, ok: want });
      if (ok) expect({ paths, inc }).toEqual({ paths, inc: increasingByRule(paths) });
    }
  }
}

describe("cleanAsciiPaths", () => {
  it("accepts exactly the paths normalizePath keeps, at every alignment", () => {
    const one = [
      "a",
      "a/b",
      "images/0000001.jpg",
      "a//b",
      "a/./b",
      "a/../b",
      "a/.b",
      "a/..b",
      "a/b.",
      "./a",
      "../a",
      ".a",
      "..a",
      "a/.",
      "a/..",
      ".",
      "..",
      "a\\b",
      "C:x",
      "a:b",
      "ab:c",
      "é.jpg",
      "a/",
      "/a",
      "",
      "abcdefg\0",
      "abc/", // "/" last, next path's first byte after it
      "abcdefgh/x/..",
      "abcdefg/.",
      "xyz\u007f",
    ];
    for (const p of one) {
      check([p]);
      check(["images/0000000.jpg", p, "zzzz/yyyy"]);
    }
    // order: equal, a prefix either way, a difference after 4-byte words that are equal
    for (const pair of [
      ["abcdefgh", "abcdefgh"],
      ["abcdefghi", "abcdefgh"],
      ["abcdefgh", "abcdefghi"],
      ["abcdefgh", "abcdefgg"],
      ["abcdefgg", "abcdefgh"],
      ["a", "a"],
      ["b", "a"],
    ])
      check(pair);
  });

  it("agrees with normalizePath and byte order on random paths", () => {
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ["a", "b", "0", "/", "/", ".", ".", ":", "\\", "\0", "é", "~", "Z", "\u0080"];
    for (let t = 0; t < 3000; t++) {
      const paths = Array.from({ length: 1 + rnd(6) }, () => Array.from({ length: rnd(12) }, () => alphabet[rnd(alphabet.length)]).join(""));
      check(paths);
      // mostly clean ones too, so that the order is checked often
      const clean = Array.from({ length: 1 + rnd(8) }, () => Array.from({ length: 1 + rnd(3) }, () => "ab0Z~"[rnd(5)]!.repeat(1 + rnd(9))).join("/"));
      check(clean);
      check([...clean].sort());
    }
  });
});
