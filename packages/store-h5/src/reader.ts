/** Reading H5Logger files: H5Reader (also while another process writes with SWMR) and H5Series. */
import { existsSync } from "node:fs";
import { QuiverError, validateName } from "@quiver/core";
import { attrString, type Dataset, type DType, DTYPES, describeType, dtypeOfDataset, type File, H5, h5Path, h5ready, type NumericArray, walkDatasets } from "./h5.js";
import { H5Handle } from "./handle.js";
import { KIND_ATTR, type Kind, product } from "./values.js";

/** A slice's values: numbers, bigints or booleans per row for scalars; arrays as { data, shape }. */
export type SeriesValue = number | bigint | boolean | NumericArray | { data: NumericArray; shape: number[] };

/** One dataset of a file being read. Reads go to the file slice by slice. */
export class H5Series {
  constructor(
    private readonly reader: H5Reader,
    readonly name: string,
  ) {}

  private get ds(): Dataset {
    return this.reader.dataset(this.name);
  }

  /** (N, ...valueShape) as of the last open/refresh. */
  get shape(): number[] {
    return (this.ds.shape ?? []).map(Number);
  }

  get length(): number {
    return this.shape[0] ?? 0;
  }

  get dtype(): DType {
    const ds = this.ds;
    if (attrString(ds, KIND_ATTR) === "bool") return "bool";
    const d = dtypeOfDataset(ds);
    if (!d) {
      throw new QuiverError(
        "UNSUPPORTED",
        `"${this.name}" in ${this.reader.path} holds ${describeType(ds.metadata)} values, which H5Logger does not read; read it with h5py or h5dump`,
      );
    }
    return d;
  }

  /** The HDF5 element type in words ("float (8 bytes)", "bool (h5py enum)", "compound {r, i}"); never throws. */
  get hdf5Type(): string {
    return describeType(this.ds.metadata);
  }

  /** Whether `dtype`, `slice` and `sliceData` can read this dataset (false: an element type H5Logger does not read). */
  get readable(): boolean {
    const ds = this.ds;
    return ds.shape !== null && (attrString(ds, KIND_ATTR) === "bool" || dtypeOfDataset(ds) !== undefined);
  }

  /** Rows [start, end) as one flat typed array plus the slice's shape; reads only that slice. */
  sliceData(start = 0, end?: number): { data: NumericArray; shape: number[] } {
    const shape = this.shape;
    const n = shape[0] ?? 0;
    const s = Math.max(0, Math.min(n, start < 0 ? n + start : start));
    const e = Math.max(s, Math.min(n, end === undefined ? n : end < 0 ? n + end : end));
    const rest = shape.slice(1);
    const dtype = this.dtype;
    if (e === s) return { data: new DTYPES[dtype].ctor(0), shape: [0, ...rest] };
    const raw = this.ds.slice([[s, e], ...rest.map((d) => [0, d] as [number, number])]);
    let data = raw as unknown as NumericArray;
    // h5py's bool enum reads as int8; bools are 0/1 bytes in a Uint8Array, like ours.
    if (dtype === "bool" && data instanceof Int8Array) data = new Uint8Array(data.buffer, data.byteOffset, data.length);
    else if (!ArrayBuffer.isView(data)) data = DTYPES[dtype].ctor === Float64Array ? Float64Array.from(raw as number[]) : (raw as unknown as NumericArray);
    return { data, shape: [e - s, ...rest] };
  }

  /** Rows [start, end) as values: scalars as numbers/bigints/booleans, 1-d rows as typed arrays, n-d rows as { data, shape }. */
  slice(start = 0, end?: number): SeriesValue[] {
    const { data, shape } = this.sliceData(start, end);
    const rows = shape[0]!;
    const rest = shape.slice(1);
    const size = product(rest);
    const kind = this.dtype === "bool" ? "bool" : ((attrString(this.ds, KIND_ATTR) as Kind | undefined) ?? "number");
    const out = new Array<SeriesValue>(rows);
    if (rest.length === 0) {
      for (let i = 0; i < rows; i++) {
        const v = data[i]!;
        out[i] = kind === "bool" ? v !== 0 : kind === "bigint" ? (v as bigint) : typeof v === "bigint" ? Number(v) : v;
      }
      return out;
    }
    for (let i = 0; i < rows; i++) {
      const row = data.subarray(i * size, (i + 1) * size) as NumericArray;
      out[i] = rest.length === 1 ? row : { data: row, shape: [...rest] };
    }
    return out;
  }

  toArray(): SeriesValue[] {
    return this.slice(0);
  }
}

/**
 * Reads an HDF5 file, also while a writer in another process logs to it with SWMR.
 *
 * `refresh()` closes and reopens the file instead of calling h5wasm's Dataset.refresh(): that one
 * opens the dataset (H5Dopen2) for H5Drefresh and never closes it, and once a leaked handle keeps
 * the dataset open, the next H5Drefresh reuses the stale in-memory chunk index, so rows past the
 * first chunk came back as the first chunk's values (see README).
 */
export class H5Reader {
  private h: H5Handle;
  private readonly cache = new Map<string, Dataset>();
  private closed = false;

  private constructor(
    readonly path: string,
    h: H5Handle,
    private readonly mode: "r" | "Sr",
  ) {
    this.h = h;
    h.onReopen = () => this.cache.clear();
  }

  private get file(): File {
    return this.h.file;
  }

  static async open(path: string): Promise<H5Reader> {
    const p = h5Path(path);
    await h5ready();
    if (!existsSync(p)) throw new QuiverError("NOT_FOUND", `no HDF5 file at ${p}`);
    // SWMR read works on 1.10-format files (ours with concurrentReaders); older formats open plainly.
    try {
      return new H5Reader(p, H5Handle.open(p, "Sr"), "Sr");
    } catch {
      return new H5Reader(p, H5Handle.open(p, "r"), "r");
    }
  }

  private check(): void {
    if (this.closed) throw new QuiverError("CLOSED", `the reader of ${this.path} is closed; open it again with H5Logger.read`);
  }

  /** Dataset names ("/"-joined), sorted. */
  keys(): string[] {
    this.check();
    return walkDatasets(this.file).sort();
  }

  /** @internal */
  dataset(name: string): Dataset {
    this.check();
    let ds = this.cache.get(name);
    if (!ds) {
      const o = this.file.get(name);
      if (!(o instanceof H5.Dataset)) throw new QuiverError("NOT_FOUND", `${this.path} has no dataset "${name}"; it has: ${this.keys().join(", ") || "(none)"}`);
      ds = o;
      this.cache.set(name, ds);
    }
    return ds;
  }

  get(name: string): H5Series {
    validateName(name, "dataset name");
    this.dataset(name);
    return new H5Series(this, name);
  }

  has(name: string): boolean {
    this.check();
    return this.file.get(name) instanceof H5.Dataset;
  }

  /** Sees what a writer flushed since: reopens the file (see the class comment for why). */
  refresh(): void {
    this.check();
    this.cache.clear();
    this.h.close();
    this.h = H5Handle.open(this.path, this.mode);
    this.h.onReopen = () => this.cache.clear();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    this.h.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
