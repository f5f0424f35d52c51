/**
 * PNG decoding to H×W×C uint8 in plain JS (inflate is Node's zlib): gray (C=1), gray+alpha (2),
 * RGB (3), RGBA (4), palette (3, or 4 with a tRNS chunk); bit depths 1/2/4/8/16 (16-bit keeps the
 * high byte); all five row filters. Interlaced (Adam7) files are refused with what to do.
 */
import { inflateSync } from "node:zlib";
import { QuiverError } from "@quiver/core";

export interface Pixels {
  height: number;
  width: number;
  channels: number;
  data: Uint8Array;
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function bad(what: string, msg: string): QuiverError {
  return new QuiverError("INVALID_VALUE", `${what}: ${msg}`);
}

export function isPng(b: Uint8Array): boolean {
  return b.length > 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
}

export function decodePng(buf: Uint8Array, what = "PNG"): Pixels {
  if (!isPng(buf)) throw bad(what, "not a PNG file");
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 8;
  let width = 0;
  let height = 0;
  let depth = 0;
  let color = -1;
  let interlace = 0;
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  while (pos + 8 <= buf.length) {
    const len = dv.getUint32(pos);
    const type = String.fromCharCode(buf[pos + 4]!, buf[pos + 5]!, buf[pos + 6]!, buf[pos + 7]!);
    if (pos + 12 + len > buf.length) throw bad(what, `chunk ${type} runs past the end of the file (truncated?)`);
    const body = buf.subarray(pos + 8, pos + 8 + len);
    if (type === "IHDR") {
      width = dv.getUint32(pos + 8);
      height = dv.getUint32(pos + 12);
      depth = buf[pos + 16]!;
      color = buf[pos + 17]!;
      interlace = buf[pos + 20]!;
    } else if (type === "PLTE") palette = body;
    else if (type === "tRNS") trns = body;
    else if (type === "IDAT") idat.push(body);
    else if (type === "IEND") break;
    pos += 12 + len;
  }
  const inCh = CHANNELS[color];
  if (!inCh || !width || !height) throw bad(what, "no valid IHDR chunk");
  if (interlace !== 0) throw new QuiverError("UNSUPPORTED", `${what}: interlaced (Adam7) PNGs are not decoded; re-save it without interlacing or pass a tensorizer function`);
  if (![1, 2, 4, 8, 16].includes(depth)) throw bad(what, `bit depth ${depth}`);
  if (color === 3 && !palette) throw bad(what, "palette image without a PLTE chunk");
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch (err) {
    throw new QuiverError("INVALID_VALUE", `${what}: the image data does not inflate (${(err as Error).message})`, { cause: err });
  }
  const bitsPerPixel = inCh * depth;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  if (raw.length < (stride + 1) * height) throw bad(what, "the image data is shorter than its size says (truncated?)");
  const outCh = color === 3 ? (trns ? 4 : 3) : inCh;
  const out = new Uint8Array(width * height * outCh);
  // Unfiltered in place, row by row (each row reads the one above, already unfiltered).
  const zero = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const base = y * (stride + 1) + 1;
    const f = raw[base - 1]!;
    const up = y === 0 ? zero : raw;
    const u = y === 0 ? 0 : base - stride - 1;
    switch (f) {
      case 0:
        break;
      case 1:
        for (let i = bpp; i < stride; i++) raw[base + i] = (raw[base + i]! + raw[base + i - bpp]!) & 255;
        break;
      case 2:
        for (let i = 0; i < stride; i++) raw[base + i] = (raw[base + i]! + up[u + i]!) & 255;
        break;
      case 3:
        for (let i = 0; i < bpp; i++) raw[base + i] = (raw[base + i]! + (up[u + i]! >> 1)) & 255;
        for (let i = bpp; i < stride; i++) raw[base + i] = (raw[base + i]! + ((raw[base + i - bpp]! + up[u + i]!) >> 1)) & 255;
        break;
      case 4:
        for (let i = 0; i < bpp; i++) raw[base + i] = (raw[base + i]! + up[u + i]!) & 255; // Paeth with a = c = 0 is b
        for (let i = bpp; i < stride; i++) {
          const a = raw[base + i - bpp]!;
          const b = up[u + i]!;
          const c = up[u + i - bpp]!;
          let pa = b - c;
          let pb = a - c;
          let pc = pa + pb;
          if (pa < 0) pa = -pa;
          if (pb < 0) pb = -pb;
          if (pc < 0) pc = -pc;
          raw[base + i] = (raw[base + i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
        }
        break;
      default:
        throw bad(what, `row ${y} has unknown filter ${f}`);
    }
    const cur = raw.subarray(base, base + stride);
    const o = y * width * outCh;
    if (depth === 8 && color !== 3) out.set(cur.subarray(0, width * inCh), o);
    else if (depth === 16) for (let i = 0; i < width * inCh; i++) out[o + i] = cur[i * 2]!;
    else {
      const max = (1 << depth) - 1;
      for (let x = 0; x < width; x++) {
        const s = depth === 8 ? cur[x]! : (cur[(x * depth) >> 3]! >> (8 - depth - ((x * depth) & 7))) & max;
        if (color === 3) {
          const q = o + x * outCh;
          out[q] = palette![s * 3] ?? 0;
          out[q + 1] = palette![s * 3 + 1] ?? 0;
          out[q + 2] = palette![s * 3 + 2] ?? 0;
          if (trns) out[q + 3] = s < trns.length ? trns[s]! : 255;
        } else out[o + x] = Math.round((s * 255) / max); // gray below 8 bits, scaled to 0-255
      }
    }
  }
  return { height, width, channels: outCh, data: out };
}
