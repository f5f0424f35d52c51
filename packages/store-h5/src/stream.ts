/** One H5Logger name: its dataset and its pending rows. */
import { QuiverError } from "@quiver/core";
import { type Dataset, type DType, DTYPES, type File, H5, isBoolEnum, type NumericArray, writeRawSlice } from "./h5.js";
import { KIND_ATTR, type Kind, type Parsed, product, shapeStr, TARGET_CHUNK_BYTES } from "./values.js";

/** One name's dataset and its pending rows. */
export class Stream {
  readonly rowSize: number;
  readonly big: boolean;
  readonly isInt: boolean;
  /** Pending values; int64 from JS numbers is kept as float64 and converted per block. */
  buf: NumericArray;
  n = 0;
  ds: Dataset | undefined;
  /** The dataset is h5py's bool enum: written as raw bytes (h5wasm's write_slice refuses enums). */
  private enumBool = false;
  written = 0;
  readonly chunkRows: number;
  /** Range of JS numbers an integer dataset holds exactly (typed arrays would wrap the rest). */
  readonly min: number;
  readonly max: number;

  constructor(
    readonly name: string,
    readonly dtype: DType,
    readonly kind: Kind,
    readonly shape: readonly number[],
    readonly blockRows: number,
    chunkRows: number | undefined,
    ds: Dataset | undefined,
  ) {
    this.rowSize = product(shape);
    const info = DTYPES[dtype];
    this.big = info.big;
    this.isInt = info.int;
    [this.min, this.max] = numberRange(dtype);
    const bytes = Math.max(1, this.rowSize * info.ctor.BYTES_PER_ELEMENT);
    this.chunkRows = chunkRows ?? Math.max(1, Math.min(1 << 16, Math.floor(TARGET_CHUNK_BYTES / bytes)));
    this.buf = this.alloc(Math.min(blockRows, 1024));
    this.bind(ds);
  }

  private bind(ds: Dataset | undefined): void {
    this.ds = ds;
    this.enumBool = ds !== undefined && isBoolEnum(ds.metadata);
    this.written = ds ? Number(ds.shape?.[0] ?? 0) : 0;
  }

  /** Int64 values logged as numbers buffer as float64 (no BigInt per value). */
  private alloc(rows: number): NumericArray {
    const n = Math.max(1, rows) * Math.max(1, this.rowSize);
    return this.big && this.kind === "number" ? new Float64Array(n) : new DTYPES[this.dtype].ctor(n);
  }

  /** Bytes the buffer takes. */
  get bytes(): number {
    return this.buf.byteLength;
  }

  /** Bytes of the buffer after the next grow(): up to a block, or doubling past it while writes fail. */
  grownBytes(): number {
    return (this.buf.byteLength / this.buf.length) * Math.max(1, this.nextRows()) * Math.max(1, this.rowSize);
  }

  private nextRows(): number {
    const rows = this.capacityRows;
    return rows < this.blockRows ? Math.min(this.blockRows, rows * 2) : rows * 2;
  }

  grow(): void {
    const next = this.alloc(this.nextRows());
    (next as Float64Array).set(this.buf as Float64Array);
    this.buf = next;
  }

  get capacityRows(): number {
    return this.rowSize === 0 ? Infinity : this.buf.length / this.rowSize;
  }

  mismatch(p: Parsed): QuiverError {
    return new QuiverError(
      "SHAPE_MISMATCH",
      `"${this.name}" holds ${this.kind === "bool" ? "bool" : this.dtype} values of shape ${shapeStr(this.shape)} (fixed by its first value or its declaration) but got ${p.loose && p.kind === "number" ? (p.data.length === 1 && !Number.isInteger(p.data[0]) ? "a non-integer number" : "numbers") : p.kind === "bool" ? "bool" : p.dtype} of shape ${shapeStr(p.shape)}; log it under another name`,
    );
  }

  /**
   * Writes the pending rows as one block (inside the logger's transaction). The rows stay pending
   * until `commit`: a rolled-back block is written again by the next attempt, never twice.
   */
  writeBlock(file: File): number {
    const rows = this.n;
    if (rows === 0) return this.written;
    let data: NumericArray = this.buf.subarray(0, rows * this.rowSize);
    if (this.big && this.kind === "number") data = toInt64(data as Float64Array);
    if (!this.ds) this.ds = createDataset(file, this.name, this, 0);
    const end = this.written + rows;
    this.ds.resize([end, ...this.shape]);
    if (data.length > 0 && this.enumBool) writeRawSlice(this.ds, this.written, end, this.shape, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    else if (data.length > 0) this.ds.write_slice([[this.written, end], ...this.shape.map((d) => [0, d] as [number, number])], data);
    return end;
  }

  /** The block up to `end` is in the file: drop it from the buffer (shrinking one that grew while writes failed). */
  commit(end: number): void {
    if (end === this.written && this.n === 0) return;
    this.written = end;
    this.n = 0;
    if (this.capacityRows > this.blockRows) this.buf = this.alloc(this.blockRows);
  }

  /** After a rollback reopened the file: its dataset (if it was committed) and length. */
  rebind(file: File): void {
    const o = file.get(this.name);
    this.bind(o instanceof H5.Dataset ? o : undefined);
  }
}

/** Integers a dataset of `dtype` takes from JS numbers without wrapping or rounding. */
function numberRange(dtype: DType): [number, number] {
  const ranges: Partial<Record<DType, [number, number]>> = {
    int8: [-128, 127],
    int16: [-32768, 32767],
    int32: [-(2 ** 31), 2 ** 31 - 1],
    uint8: [0, 255],
    bool: [0, 255],
    uint16: [0, 65535],
    uint32: [0, 2 ** 32 - 1],
    uint64: [0, Number.MAX_SAFE_INTEGER],
  };
  return ranges[dtype] ?? [-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
}

const TWO32 = 4294967296;
function toInt64(src: Float64Array): BigInt64Array {
  const out = new BigInt64Array(src.length);
  const lo = new Uint32Array(out.buffer);
  const hi = new Int32Array(out.buffer);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (Number.isSafeInteger(v)) {
      const h = Math.floor(v / TWO32);
      hi[2 * i + 1] = h;
      lo[2 * i] = v - h * TWO32;
    } else out[i] = BigInt(v);
  }
  return out;
}

function ensureGroups(file: File, path: string): void {
  const parts = path.split("/");
  let cur = "";
  for (const p of parts.slice(0, -1)) {
    const next = cur + "/" + p;
    const g = file.get(next);
    if (!g) file.create_group(next.slice(1));
    else if (!(g instanceof H5.Group)) throw new QuiverError("INVALID_NAME", `"${path}" needs a group at ${next} but a dataset is there`);
    cur = next;
  }
}

export function createDataset(file: File, path: string, s: Stream, rows: number): Dataset {
  ensureGroups(file, path);
  const info = DTYPES[s.dtype];
  const ds = file.create_dataset({
    name: path,
    data: new info.ctor(0) as unknown as Float64Array,
    shape: [rows, ...s.shape],
    maxshape: [null, ...s.shape],
    chunks: [s.chunkRows, ...s.shape.map((d) => Math.max(1, d))],
    dtype: info.h5,
  });
  if (s.kind !== "number") ds.create_attribute(KIND_ATTR, s.kind);
  return ds;
}
