/**
 * Thumbnails without a native dependency: PNG decoded by @quiver/datasource's decoder (zlib
 * inflate, every row filter and bit depth, palette, alpha), JPEG decoded and thumbnails encoded
 * by jpeg-js (pure JS); resized by area averaging, alpha over white.
 */
import { deflateSync } from "node:zlib";
import { decodeImage as decodeTensor, type Tensor } from "@quiver/datasource";
import jpeg from "jpeg-js";

export interface Rgba {
  width: number;
  height: number;
  data: Uint8Array;
}

/**
 * Decodes a non-interlaced PNG to RGBA; undefined for what it does not handle. The decoding is
 * the datasource's (every bit depth, palette and row filter); this only widens it to RGBA and
 * refuses images over 50 megapixels before inflating anything (a thumbnail server's bound).
 */
export function decodePng(buf: Uint8Array): Rgba | undefined {
  if (buf.length < 33) return undefined;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  // IHDR is the first chunk: width and height at bytes 16 and 20.
  if (dv.getUint32(0) !== 0x89504e47 || dv.getUint32(16) * dv.getUint32(20) > 50e6) return undefined;
  let t: Tensor;
  try {
    t = decodeTensor(buf, "PNG");
  } catch {
    return undefined;
  }
  const [height, width, channels] = t.shape as [number, number, number];
  const src = t.data as Uint8Array;
  const out = new Uint8Array(width * height * 4);
  for (let i = 0, o = 0, k = 0; i < width * height; i++, o += 4, k += channels) {
    const gray = channels <= 2;
    out[o] = src[k]!;
    out[o + 1] = gray ? src[k]! : src[k + 1]!;
    out[o + 2] = gray ? src[k]! : src[k + 2]!;
    out[o + 3] = channels === 2 ? src[k + 1]! : channels === 4 ? src[k + 3]! : 255;
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
