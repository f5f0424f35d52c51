/**
 * Thumbnails without native code: the PNG decoder against PNGs written here with every row filter
 * (None, Sub, Up, Average, Paeth) and every colour type, the area-averaging resize, and JPEG
 * through jpeg-js.
 */
import { deflateSync } from "node:zlib";
import jpeg from "jpeg-js";
import { describe, expect, it } from "vitest";
import { decodePng, encodePng, thumbnail } from "../dist/index.js";

function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) {
    c ^= x;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const td = Buffer.concat([Buffer.from(type, "latin1"), data]);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  td.copy(out, 4);
  out.writeUInt32BE(crc32(td), 8 + data.length);
  return out;
}

/** A PNG of raw samples (channels × depth bits per pixel), each row written with filter `filter(y)`. */
function png(width: number, height: number, color: number, depth: number, samples: Uint8Array, filter: (y: number) => number, extra: Buffer[] = []): Buffer {
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[color]!;
  const stride = Math.ceil((width * channels * depth) / 8);
  const bpp = Math.max(1, (channels * depth) >> 3);
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const f = filter(y);
    raw[y * (stride + 1)] = f;
    for (let i = 0; i < stride; i++) {
      const x = samples[y * stride + i]!;
      const a = i >= bpp ? samples[y * stride + i - bpp]! : 0;
      const b = y > 0 ? samples[(y - 1) * stride + i]! : 0;
      const c = y > 0 && i >= bpp ? samples[(y - 1) * stride + i - bpp]! : 0;
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const pred = [0, a, b, (a + b) >> 1, paeth][f]!;
      raw[y * (stride + 1) + 1 + i] = (x - pred) & 255;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth;
  ihdr[9] = color;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    ...extra,
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

const W = 7;
const H = 5;
const noise = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 17 + ((i * i) % 89)) & 255);

describe("PNG decoding", () => {
  it("RGB and RGBA with every row filter", () => {
    for (const [color, ch] of [
      [2, 3],
      [6, 4],
    ] as const) {
      const s = noise(W * H * ch, color);
      const img = decodePng(png(W, H, color, 8, s, (y) => y % 5))!;
      expect(img).toMatchObject({ width: W, height: H });
      for (let p = 0; p < W * H; p++) {
        expect([...img.data.subarray(p * 4, p * 4 + 4)]).toEqual([s[p * ch]!, s[p * ch + 1]!, s[p * ch + 2]!, ch === 4 ? s[p * ch + 3]! : 255]);
      }
    }
  });

  it("gray, gray + alpha, 16-bit, 1-bit gray and a palette with transparency", () => {
    const g = noise(W * H, 1);
    expect([...decodePng(png(W, H, 0, 8, g, (y) => (y + 1) % 5))!.data.subarray(0, 8)]).toEqual([g[0], g[0], g[0], 255, g[1], g[1], g[1], 255]);
    const ga = noise(W * H * 2, 2);
    expect([...decodePng(png(W, H, 4, 8, ga, () => 4))!.data.subarray(0, 4)]).toEqual([ga[0], ga[0], ga[0], ga[1]]);
    const g16 = noise(W * H * 2, 3); // big-endian samples: the high byte is kept
    expect(decodePng(png(W, H, 0, 16, g16, () => 1))!.data[4]).toBe(g16[2]);
    const bits = Uint8Array.from({ length: H }, () => 0b10100000); // row: 1,0,1,0,0,0,0
    const one = decodePng(png(W, H, 0, 1, bits, () => 0))!;
    expect([one.data[0], one.data[4], one.data[8]]).toEqual([255, 0, 255]);
    const plte = chunk("PLTE", Buffer.from([10, 20, 30, 200, 100, 50]));
    const trns = chunk("tRNS", Buffer.from([128]));
    const idx = Uint8Array.from({ length: W * H }, (_, i) => i % 2);
    const pal = decodePng(png(W, H, 3, 8, idx, () => 2, [plte, trns]))!;
    expect([...pal.data.subarray(0, 8)]).toEqual([10, 20, 30, 128, 200, 100, 50, 255]);
  });

  it("refuses what it does not decode instead of guessing (interlaced, truncated, not a PNG)", () => {
    const ok = png(W, H, 2, 8, noise(W * H * 3, 5), () => 0);
    const interlaced = Buffer.from(ok);
    interlaced[8 + 8 + 12] = 1; // IHDR's interlace byte (its CRC is not checked)
    expect(decodePng(interlaced)).toBeUndefined();
    expect(decodePng(ok.subarray(0, 40))).toBeUndefined();
    expect(decodePng(Buffer.from("not a png at all, just some text here"))).toBeUndefined();
    const round = decodePng(encodePng({ width: 3, height: 2, data: Uint8Array.from({ length: 24 }, (_, i) => i * 10) }))!;
    expect([...round.data]).toEqual(Array.from({ length: 24 }, (_, i) => i * 10));
  });
});

describe("thumbnails", () => {
  it("fit the longest side, average colour areas, and composite alpha over white", () => {
    const data = new Uint8Array(200 * 100 * 4);
    for (let p = 0; p < 200 * 100; p++) data.set(p % 200 < 100 ? [255, 0, 0, 255] : [0, 0, 255, 0], p * 4);
    const t = thumbnail(encodePng({ width: 200, height: 100, data }), 50)!;
    const j = jpeg.decode(t, { useTArray: true });
    expect([j.width, j.height]).toEqual([50, 25]);
    const at = (x: number) => [...j.data.subarray((10 * 50 + x) * 4, (10 * 50 + x) * 4 + 3)];
    const near = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) < 24);
    expect(near(at(5), [255, 0, 0])).toBe(true); // red half
    expect(near(at(45), [255, 255, 255])).toBe(true); // transparent half: white
  });

  it("decode JPEG through jpeg-js; other bytes give none", () => {
    const src = new Uint8Array(64 * 32 * 4).fill(255);
    for (let p = 0; p < 64 * 32; p++) src.set([0, 128, 0, 255], p * 4);
    const jpg = jpeg.encode({ width: 64, height: 32, data: src }, 90).data;
    const j = jpeg.decode(thumbnail(jpg, 16)!, { useTArray: true });
    expect([j.width, j.height]).toEqual([16, 8]);
    expect(Math.abs(j.data[1]! - 128)).toBeLessThan(16);
    expect(thumbnail(Buffer.from("GIF89a…"), 16)).toBeUndefined();
  });
});
