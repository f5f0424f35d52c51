/**
 * Thumbnails without a native dependency: PNG decoded here (zlib inflate and the five row
 * filters; 8- and 16-bit gray, RGB, palette, with alpha), JPEG decoded and thumbnails encoded by
 * jpeg-js (pure JS); resized by area averaging, alpha over white.
 */
import { deflateSync, inflateSync } from "node:zlib";
import jpeg from "jpeg-js";

export interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Decodes a non-interlaced PNG to RGBA; undefined for what it does not handle. */
export function decodePng(buf: Uint8Array): Rgba | undefined {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 33 || dv.getUint32(0) !== 0x89504e47) return undefined;
  let pos = 8;
  let width = 0;
  let height = 0;
  let depth = 0;
  let color = 0;
  let interlace = 0;
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  while (pos + 8 <= buf.length) {
    const len = dv.getUint32(pos);
    const type = String.fromCharCode(buf[pos + 4]!, buf[pos + 5]!, buf[pos + 6]!, buf[pos + 7]!);
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
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[color];
  if (!channels || interlace !== 0 || !width || !height || width * height > 50e6) return undefined;
  if (depth !== 8 && depth !== 16 && !(color === 3 && depth < 8) && !(color === 0 && depth < 8)) return undefined;
  let raw: Buffer;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch {
    return undefined;
  }
  const bitsPerPixel = channels * depth;
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  if (raw.length < (stride + 1) * height) return undefined;
  const out = new Uint8Array(width * height * 4);
  let prev = new Uint8Array(stride);
  let cur = new Uint8Array(stride);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? cur[i - bpp]! : 0;
      const b = prev[i]!;
      const c = i >= bpp ? prev[i - bpp]! : 0;
      let v = line[i]!;
      if (f === 1) v += a;
      else if (f === 2) v += b;
      else if (f === 3) v += (a + b) >> 1;
      else if (f === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      cur[i] = v & 255;
    }
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      const sample = (k: number): number => {
        if (depth === 16) return cur[(x * channels + k) * 2]!;
        if (depth === 8) return cur[x * channels + k]!;
        const bit = x * depth;
        return (cur[bit >> 3]! >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
      };
      if (color === 3) {
        const i = sample(0);
        out[o] = palette?.[i * 3] ?? 0;
        out[o + 1] = palette?.[i * 3 + 1] ?? 0;
        out[o + 2] = palette?.[i * 3 + 2] ?? 0;
        out[o + 3] = trns && i < trns.length ? trns[i]! : 255;
      } else if (color === 0 || color === 4) {
        const g = depth < 8 ? Math.round((sample(0) * 255) / ((1 << depth) - 1)) : sample(0);
        out[o] = out[o + 1] = out[o + 2] = g;
        out[o + 3] = color === 4 ? sample(1) : 255;
      } else {
        out[o] = sample(0);
        out[o + 1] = sample(1);
        out[o + 2] = sample(2);
        out[o + 3] = color === 6 ? sample(3) : 255;
      }
    }
    [prev, cur] = [cur, prev];
  }
  return { width, height, data: out };
}

export function decodeImage(buf: Uint8Array): Rgba | undefined {
  if (buf[0] === 0x89) return decodePng(buf);
  if (buf[0] === 0xff && buf[1] === 0xd8) {
    try {
      const j = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: 50, maxMemoryUsageInMB: 256 });
      return { width: j.width, height: j.height, data: j.data };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Fits the image into size×size by area averaging (alpha composited over white). */
export function resize(img: Rgba, size: number): Rgba {
  const scale = Math.min(1, size / Math.max(img.width, img.height));
  const w = Math.max(1, Math.round(img.width * scale));
  const h = Math.max(1, Math.round(img.height * scale));
  const out = new Uint8Array(w * h * 4);
  const acc = new Float64Array(w * h * 4);
  for (let y = 0; y < img.height; y++) {
    const ty = Math.min(h - 1, Math.floor((y * h) / img.height));
    for (let x = 0; x < img.width; x++) {
      const tx = Math.min(w - 1, Math.floor((x * w) / img.width));
      const i = (y * img.width + x) * 4;
      const o = (ty * w + tx) * 4;
      const a = img.data[i + 3]! / 255;
      acc[o] += img.data[i]! * a + 255 * (1 - a);
      acc[o + 1] += img.data[i + 1]! * a + 255 * (1 - a);
      acc[o + 2] += img.data[i + 2]! * a + 255 * (1 - a);
      acc[o + 3] += 1;
    }
  }
  for (let p = 0; p < w * h; p++) {
    const n = acc[p * 4 + 3]! || 1;
    out[p * 4] = acc[p * 4]! / n;
    out[p * 4 + 1] = acc[p * 4 + 1]! / n;
    out[p * 4 + 2] = acc[p * 4 + 2]! / n;
    out[p * 4 + 3] = 255;
  }
  return { width: w, height: h, data: out };
}

/** A JPEG thumbnail of an image file's bytes, or undefined when it is not a PNG/JPEG we decode. */
export function thumbnail(bytes: Uint8Array, size: number): Buffer | undefined {
  const img = decodeImage(bytes);
  if (!img) return undefined;
  const small = resize(img, size);
  return jpeg.encode({ width: small.width, height: small.height, data: small.data }, 82).data;
}

/** Encodes RGBA as an 8-bit RGBA PNG (tests and examples make images with it). */
export function encodePng(img: Rgba): Buffer {
  const stride = img.width * 4;
  const raw = Buffer.alloc((stride + 1) * img.height);
  for (let y = 0; y < img.height; y++) {
    raw[y * (stride + 1)] = 0;
    raw.set(img.data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(img.width, 0);
  ihdr.writeUInt32BE(img.height, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

let table: Uint32Array | undefined;
function crc32(b: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = table[(c ^ b[i]!) & 255]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
