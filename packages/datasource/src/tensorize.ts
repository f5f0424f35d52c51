/**
 * Tensorizers for `batches()`: DagsHub's `as_ml_dataloader(tensorizers=…)` for a JS training loop.
 * Each datapoint gives entries — its file, then each of `metadataColumns` — and each entry is
 * turned into a `{ data, shape, dtype }` tensor, stacked over the batch (`[batch, ...shape]`) as
 * torch's default collate does. Images are decoded to H×W×C uint8 (tf's layout): PNG by our own
 * decoder (png.ts), JPEG by jpeg-js (both plain JS; chosen by bench/decoders.mjs).
 */
import { createRequire } from "node:module";
import { extname } from "node:path";
import { QuiverError, type Row } from "@quiver/core";
import { decodePng, isPng } from "./png.js";

export type DType = "uint8" | "int32" | "float32" | "float64";
export type TensorData = Uint8Array | Int32Array | Float32Array | Float64Array;

export interface Tensor {
  data: TensorData;
  shape: number[];
  dtype: DType;
}

/** Built-in tensorizers. `audio` and `video` are DagsHub's names too, but need a function here. */
export type TensorizerName = "image" | "numeric" | "bytes" | "audio" | "video";
/** Where an entry comes from: the datapoint's file, or a metadata column. */
export interface EntryInfo {
  path: string;
  column: "file" | string;
}
/** A custom tensorizer: the file's bytes (for the file entry) or the metadata value (for a column). */
export type TensorizerFn = (value: unknown, info: EntryInfo) => Tensor | Promise<Tensor>;
export type Tensorizers = "auto" | TensorizerName | readonly (TensorizerName | TensorizerFn)[] | TensorizerFn;

export interface TensorizeOptions {
  tensorizers: Tensorizers;
  metadataColumns: readonly string[];
}

const IMAGE_EXT = new Set([".png", ".jpg", ".jpeg"]);
const NAMES: readonly TensorizerName[] = ["image", "numeric", "bytes", "audio", "video"];

function where(info: EntryInfo): string {
  return info.column === "file" ? `file ${JSON.stringify(info.path)}` : `field ${JSON.stringify(info.column)} of ${JSON.stringify(info.path)}`;
}

type JpegJs = typeof import("jpeg-js");
let jpegJs: JpegJs | undefined;
/** jpeg-js, loaded on the first JPEG (importing the package stays as fast as before). */
function jpeg(): JpegJs {
  return (jpegJs ??= createRequire(import.meta.url)("jpeg-js") as JpegJs);
}

/** Decodes a PNG or JPEG to H×W×C uint8 (C = 1/2/3/4 for PNG as stored, 3 for JPEG). */
export function decodeImage(bytes: Uint8Array, what = "image"): Tensor {
  if (isPng(bytes)) {
    const p = decodePng(bytes, what);
    return { data: p.data, shape: [p.height, p.width, p.channels], dtype: "uint8" };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    let j: { width: number; height: number; data: Uint8Array };
    try {
      j = jpeg().decode(bytes, { useTArray: true, formatAsRGBA: false, maxResolutionInMP: 200, maxMemoryUsageInMB: 1024 });
    } catch (err) {
      throw new QuiverError("INVALID_VALUE", `${what}: not a decodable JPEG (${(err as Error).message})`, { cause: err });
    }
    return { data: j.data, shape: [j.height, j.width, 3], dtype: "uint8" };
  }
  throw new QuiverError("INVALID_VALUE", `${what}: not a PNG or JPEG; pass a tensorizer function for other formats`);
}

function numeric(v: unknown, info: EntryInfo): Tensor {
  if (v instanceof Uint8Array && info.column === "file") {
    // A file of numbers (whitespace or comma separated).
    const parts = new TextDecoder()
      .decode(v)
      .split(/[\s,]+/)
      .filter(Boolean);
    const data = Float32Array.from(parts, (s) => {
      const x = Number(s);
      if (Number.isNaN(x) && s.toLowerCase() !== "nan") throw new QuiverError("INVALID_VALUE", `${where(info)}: ${JSON.stringify(s)} is not a number`);
      return x;
    });
    return { data, shape: [data.length], dtype: "float32" };
  }
  const one = (x: unknown): number => {
    if (typeof x === "number") return x;
    if (typeof x === "bigint") return Number(x);
    if (typeof x === "boolean") return x ? 1 : 0;
    throw new QuiverError(
      "INVALID_VALUE",
      `${where(info)}: the numeric tensorizer takes numbers and booleans, got ${x === null ? "null" : typeof x}; fill the field or pass a tensorizer function`,
    );
  };
  if (Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView))) {
    const data = Float32Array.from(v as ArrayLike<unknown>, one);
    return { data, shape: [data.length], dtype: "float32" };
  }
  return { data: Float32Array.of(one(v)), shape: [], dtype: "float32" };
}

function builtin(name: TensorizerName): TensorizerFn {
  switch (name) {
    case "image":
      return (v, info) => {
        if (!(v instanceof Uint8Array))
          throw new QuiverError("INVALID_VALUE", `${where(info)}: the image tensorizer takes a file (or a blob loaded with getBlobFields(..., { loadIntoMemory: true }))`);
        return decodeImage(v, where(info));
      };
    case "numeric":
      return numeric;
    case "bytes":
      return (v, info) => {
        if (!(v instanceof Uint8Array)) throw new QuiverError("INVALID_VALUE", `${where(info)}: the bytes tensorizer takes a file or a loaded blob`);
        return { data: v, shape: [v.length], dtype: "uint8" };
      };
    default:
      return () => {
        throw new QuiverError("UNSUPPORTED", `the ${name} tensorizer is not built in (no ${name} decoder in plain JS); pass a function (value, info) => ({ data, shape, dtype })`);
      };
  }
}

/** "auto": images by file extension, numbers by value (DagsHub's naive pass). */
function guess(v: unknown, info: EntryInfo): TensorizerFn {
  if (info.column === "file") {
    if (IMAGE_EXT.has(extname(info.path).toLowerCase())) return builtin("image");
    throw new QuiverError(
      "INVALID_VALUE",
      `tensorizers "auto" cannot guess what ${where(info)} holds (it knows .png, .jpg, .jpeg); pass tensorizers: ["image" | "numeric" | "bytes" | fn, …]`,
    );
  }
  if (v instanceof Uint8Array) {
    // A blob or a file column: an image when its bytes say so.
    if (isPng(v) || (v[0] === 0xff && v[1] === 0xd8)) return builtin("image");
    throw new QuiverError(
      "INVALID_VALUE",
      `tensorizers "auto" cannot guess what ${where(info)} holds (not a PNG or JPEG); pass a list of tensorizers with "bytes" or a function for it`,
    );
  }
  const num = (x: unknown): boolean => typeof x === "number" || typeof x === "bigint" || typeof x === "boolean";
  if (num(v) || (Array.isArray(v) && v.every(num)) || (ArrayBuffer.isView(v) && !(v instanceof Uint8Array))) return numeric;
  throw new QuiverError("INVALID_VALUE", `tensorizers "auto" cannot tensorize ${where(info)} (not numeric); pass a list of tensorizers with a function for it`);
}

/** One tensorizer per entry (the file, then each metadata column). */
function plan(t: Tensorizers, entries: number): (TensorizerFn | "auto")[] {
  if (t === "auto") return new Array(entries).fill("auto");
  if (typeof t === "function") return new Array(entries).fill(t);
  if (typeof t === "string") {
    if (!NAMES.includes(t))
      throw new QuiverError("INVALID_VALUE", `unknown tensorizer ${JSON.stringify(t)}; use "auto", ${NAMES.map((n) => JSON.stringify(n)).join(", ")} or a function`);
    return new Array(entries).fill(builtin(t));
  }
  if (!Array.isArray(t) || t.length !== entries) {
    throw new QuiverError(
      "INVALID_VALUE",
      `tensorizers: give one per entry — the file, then each of metadataColumns (${entries} in all); got ${Array.isArray(t) ? t.length : typeof t}`,
    );
  }
  return t.map((x) => (typeof x === "function" ? x : plan(x, 1)[0]!));
}

function dtypeOf(d: TensorData, info: EntryInfo): DType {
  if (d instanceof Uint8Array) return "uint8";
  if (d instanceof Int32Array) return "int32";
  if (d instanceof Float32Array) return "float32";
  if (d instanceof Float64Array) return "float64";
  throw new QuiverError("INVALID_VALUE", `the tensorizer of ${where(info)} returned a ${(d as object).constructor.name}; use Uint8Array, Int32Array, Float32Array or Float64Array`);
}

const CTORS = { uint8: Uint8Array, int32: Int32Array, float32: Float32Array, float64: Float64Array } as const;

/** Stacks same-shaped tensors into `[n, ...shape]`. */
export function stack(items: readonly Tensor[], paths: readonly string[], column: string): Tensor {
  const first = items[0]!;
  const size = first.data.length;
  const C = CTORS[first.dtype];
  if (!C) throw new QuiverError("INVALID_VALUE", `tensor dtype ${JSON.stringify(first.dtype)} is not one of ${Object.keys(CTORS).join(", ")}`);
  const out = new C(size * items.length);
  items.forEach((t, i) => {
    if (t.dtype !== first.dtype || t.shape.length !== first.shape.length || t.shape.some((d, k) => d !== first.shape[k]) || t.data.length !== size) {
      throw new QuiverError(
        "INVALID_VALUE",
        `${column === "file" ? "files" : `field ${JSON.stringify(column)}`}: ${JSON.stringify(paths[i])} gives a ${t.dtype} tensor of shape [${t.shape}], ${JSON.stringify(paths[0])} [${first.shape}] (${first.dtype}); a batch stacks tensors of one shape: resize them in a tensorizer function, or use batchSize: 1`,
      );
    }
    out.set(t.data as never, i * size);
  });
  return { data: out, shape: [items.length, ...first.shape], dtype: first.dtype };
}

/** The batch's tensors: one stacked tensor per entry. */
export async function tensorizeBatch(metadata: readonly Row[], files: readonly Uint8Array[], options: TensorizeOptions): Promise<Tensor[]> {
  const cols = ["file", ...options.metadataColumns];
  const fns = plan(options.tensorizers, cols.length);
  const paths = metadata.map((r) => r.path as string);
  const out: Tensor[] = [];
  for (let k = 0; k < cols.length; k++) {
    const items: Tensor[] = [];
    for (let i = 0; i < metadata.length; i++) {
      const info: EntryInfo = { path: paths[i]!, column: cols[k]! };
      const value = k === 0 ? files[i] : metadata[i]![cols[k]!];
      const f = fns[k]!;
      const t = await (f === "auto" ? guess(value, info) : f)(value, info);
      if (!t || !ArrayBuffer.isView(t.data) || !Array.isArray(t.shape))
        throw new QuiverError("INVALID_VALUE", `the tensorizer of ${where(info)} must return { data: TypedArray, shape: number[], dtype }`);
      items.push(t.dtype ? t : { ...t, dtype: dtypeOf(t.data, info) });
    }
    out.push(stack(items, paths, cols[k]!));
  }
  return out;
}
