/** A small, independent PNG decoder for the tests: chunk CRCs checked with zlib.crc32, all five row filters, RGB(A) 8-bit. */
import { crc32, inflateSync } from "node:zlib";

export interface Png {
  width: number;
  height: number;
  types: string[];
  /** RGB per pixel (alpha composited over white). */
  rgb: Uint8Array;
}

export function decodePng(buf: Uint8Array): Png {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.subarray(0, 8).compare(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) !== 0) throw new Error("not a PNG signature");
  const types: string[] = [];
  const idat: Buffer[] = [];
  let width = 0;
  let height = 0;
  let colorType = 0;
  for (let o = 8; o < b.length; ) {
    const len = b.readUInt32BE(o);
    const type = b.toString("ascii", o + 4, o + 8);
    const data = b.subarray(o + 8, o + 8 + len);
    if (b.readUInt32BE(o + 8 + len) !== crc32(b.subarray(o + 4, o + 8 + len))) throw new Error(`bad CRC in ${type}`);
    types.push(type);
    if (type === "IHDR") {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      colorType = data[9]!;
      if (data[8] !== 8 || (colorType !== 2 && colorType !== 6) || data[12] !== 0)
        throw new Error(`unsupported PNG: depth ${data[8]}, colour type ${colorType}, interlace ${data[12]}`);
    }
    if (type === "IDAT") idat.push(Buffer.from(data));
    o += 12 + len;
  }
  const bpp = colorType === 6 ? 4 : 3;
  const stride = width * bpp;
  const raw = inflateSync(Buffer.concat(idat));
  if (raw.length !== (stride + 1) * height) throw new Error(`IDAT holds ${raw.length} bytes, expected ${(stride + 1) * height}`);
  const px = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    const row = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? px[y * stride + x - bpp]! : 0;
      const up = y > 0 ? px[(y - 1) * stride + x]! : 0;
      const c = x >= bpp && y > 0 ? px[(y - 1) * stride + x - bpp]! : 0;
      let v = row[x]!;
      if (f === 1) v += a;
      else if (f === 2) v += up;
      else if (f === 3) v += (a + up) >> 1;
      else if (f === 4) {
        const p = a + up - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - up);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? up : c;
      } else if (f !== 0) throw new Error(`bad filter ${f}`);
      px[y * stride + x] = v & 0xff;
    }
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const al = bpp === 4 ? px[i * 4 + 3]! / 255 : 1;
    for (let k = 0; k < 3; k++) rgb[i * 3 + k] = Math.round(px[i * bpp + k]! * al + 255 * (1 - al));
  }
  return { width, height, types, rgb };
}

/** Pixels within `tol` of a colour. */
export function countColour(p: Png, rgb: [number, number, number], tol = 0): number {
  let n = 0;
  for (let i = 0; i < p.rgb.length; i += 3) if (Math.abs(p.rgb[i]! - rgb[0]) <= tol && Math.abs(p.rgb[i + 1]! - rgb[1]) <= tol && Math.abs(p.rgb[i + 2]! - rgb[2]) <= tol) n++;
  return n;
}

/** Non-white pixels in a rectangle. */
export function ink(p: Png, x0: number, y0: number, x1: number, y1: number): number {
  let n = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (p.rgb[(y * p.width + x) * 3]! < 200) n++;
  return n;
}

/** Distinct grey levels (r = g = b, not black or white): anti-aliased text has many, a bitmap font none. */
export function greyLevels(p: Png): number {
  const seen = new Set<number>();
  for (let i = 0; i < p.rgb.length; i += 3) {
    const r = p.rgb[i]!;
    if (r === p.rgb[i + 1] && r === p.rgb[i + 2] && r > 60 && r < 240) seen.add(r);
  }
  return seen.size;
}
