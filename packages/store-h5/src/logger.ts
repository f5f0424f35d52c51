/**
 * H5Logger: h5logger's streams of arrays. Each name is a chunked dataset of shape (N, ...valueShape)
 * that grows along its first axis. `log` only copies the value into a per-name typed buffer; blocks
 * are written (resize + one hyperslab write + H5Fflush) every `flushEvery` rows, on flush/close,
 * after `flushInterval` ms of idle time, and at process exit.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { describeValue, QuiverError, validateName } from "@quiver/core";
import {
  acquireWriteLock,
  attrString,
  type Dataset,
  type DType,
  DTYPES,
  dtypeOfArray,
  dtypeOfMetadata,
  type File,
  H5,
  h5Path,
  h5ready,
  type NumericArray,
  openFile,
  parseDType,
  walkDatasets,
} from "./h5.js";

/** What values of one name look like: the shape of one value and its element type. */
export interface DatasetSpec {
  /** Shape of one logged value: [] for scalars, [64, 64] for a 64×64 image. */
  shape: readonly number[];
  /**
   * Element type: float64, float32, int8…int64, uint8…uint64, bool, or "bigint" (int64 logged and read as
   * bigints; "int64" takes JS numbers). numpy-style "<f4", "int", "float" work too.
   */
  dtype: DType | string;
  /** Rows per HDF5 chunk (default: about 256 KiB per chunk). */
  chunkRows?: number;
}

export interface H5LoggerOptions {
  /** Delete an existing file first (default false: append to it). */
  replaceIfExists?: boolean;
  /** Names declared up front, with the shape of one value and its dtype. */
  datasets?: Record<string, DatasetSpec>;
  /**
   * Let other processes read while this one writes (HDF5 SWMR). The file uses the HDF5 1.10 format;
   * SWMR starts at open when `datasets` are declared, otherwise at the first flush: a name first
   * logged after that throws UNSUPPORTED (declare it in `datasets`).
   */
  concurrentReaders?: boolean;
  /** Rows buffered per name before a block is written (default: about 1 MiB of values). */
  flushEvery?: number;
  /** Write pending values after this many ms without a flush (default 1000; 0 disables). */
  flushInterval?: number;
}

/** Values `log` accepts. */
export type LogValue =
  | number
  | bigint
  | boolean
  | ArrayBufferView
  | readonly unknown[]
  | { data: ArrayLike<number | bigint | boolean>; shape: readonly number[] };

type Kind = "number" | "bigint" | "bool";

const KIND_ATTR = "quiver_kind";
const TARGET_CHUNK_BYTES = 256 * 1024;
const TARGET_BLOCK_BYTES = 1024 * 1024;

function shapeStr(s: readonly number[]): string {
  return `[${s.join(", ")}]`;
}

function product(s: readonly number[]): number {
  let p = 1;
  for (const d of s) p *= d;
  return p;
}

/** A value broken into flat elements + shape + natural dtype. */
interface Parsed {
  shape: number[];
  data: ArrayLike<number | bigint | boolean>;
  dtype: DType;
  kind: Kind;
  /** JS numbers (not a typed array): fit any numeric dtype. */
  loose: boolean;
}

function nestedShape(a: readonly unknown[]): number[] {
  const shape = [a.length];
  let cur: unknown = a[0];
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

function flatten(a: readonly unknown[], shape: number[], depth: number, out: unknown[], name: string): void {
  if (a.length !== shape[depth]) throw new QuiverError("SHAPE_MISMATCH", `${name}: nested arrays are ragged (expected length ${shape[depth]} at depth ${depth}, got ${a.length})`);
  if (depth === shape.length - 1) {
    for (const v of a) {
      if (Array.isArray(v)) throw new QuiverError("SHAPE_MISMATCH", `${name}: nested arrays are ragged`);
      out.push(v);
    }
    return;
  }
  for (const v of a) {
    if (!Array.isArray(v)) throw new QuiverError("SHAPE_MISMATCH", `${name}: nested arrays are ragged`);
    flatten(v, shape, depth + 1, out, name);
  }
}

function elementsKind(data: ArrayLike<unknown>, name: string): { dtype: DType; kind: Kind } {
  let kind: Kind | undefined;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    const t = typeof v;
    const k: Kind | undefined = t === "number" ? "number" : t === "bigint" ? "bigint" : t === "boolean" ? "bool" : undefined;
    if (k === undefined) throw new QuiverError("INVALID_VALUE", `${name}: ${describeValue(v)} cannot be logged; arrays hold numbers, bigints or booleans`);
    if (kind && k !== kind) throw new QuiverError("INVALID_VALUE", `${name}: an array mixes ${kind} and ${k} values`);
    kind = k;
  }
  kind ??= "number";
  return { kind, dtype: kind === "bool" ? "bool" : kind === "bigint" ? "int64" : "float64" };
}

function parseValue(value: unknown, name: string): Parsed {
  switch (typeof value) {
    case "number":
      // A JS number is a double: float64, so a stream whose first value happens to be whole (a loss
      // of 0) still takes 0.25 later. Integer datasets come from bigints, integer typed arrays or `datasets`.
      return { shape: [], data: [value], dtype: "float64", kind: "number", loose: true };
    case "bigint":
      return { shape: [], data: [value], dtype: "int64", kind: "bigint", loose: false };
    case "boolean":
      return { shape: [], data: [value], dtype: "bool", kind: "bool", loose: false };
  }
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const dtype = dtypeOfArray(value);
    if (!dtype) throw new QuiverError("INVALID_VALUE", `${name}: ${describeValue(value)} cannot be logged`);
    const a = value as unknown as NumericArray;
    return { shape: [a.length], data: a, dtype, kind: DTYPES[dtype].big ? "bigint" : "number", loose: false };
  }
  if (Array.isArray(value)) {
    const shape = nestedShape(value);
    const flat: unknown[] = [];
    flatten(value, shape, 0, flat, name);
    const { dtype, kind } = elementsKind(flat, name);
    return { shape, data: flat as ArrayLike<number>, dtype, kind, loose: kind === "number" };
  }
  if (value !== null && typeof value === "object" && "data" in value && "shape" in value) {
    const { data, shape } = value as { data: unknown; shape: unknown };
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new QuiverError("SHAPE_MISMATCH", `${name}: shape must be an array of non-negative integers, got ${describeValue(shape)}`);
    }
    const inner = ArrayBuffer.isView(data) || Array.isArray(data) ? parseValue(Array.isArray(data) ? data.flat(Infinity) : data, name) : undefined;
    if (!inner) throw new QuiverError("INVALID_VALUE", `${name}: { data, shape } needs data to be a typed array or an array`);
    if (inner.data.length !== product(shape)) {
      throw new QuiverError("SHAPE_MISMATCH", `${name}: shape ${shapeStr(shape)} holds ${product(shape)} values but data has ${inner.data.length}`);
    }
    return { ...inner, shape: [...shape] };
  }
  throw new QuiverError("INVALID_VALUE", `${name}: ${describeValue(value)} cannot be logged; log numbers, booleans, bigints, typed arrays, arrays or { data, shape }`);
}

/** One name's dataset and its pending rows. */
class Stream {
  readonly rowSize: number;
  readonly big: boolean;
  readonly isInt: boolean;
  /** Pending values; int64 from JS numbers is kept as float64 and converted per block. */
  buf: NumericArray;
  n = 0;
  ds: Dataset | undefined;
  written: number;
  readonly chunkRows: number;

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
    const bytes = Math.max(1, this.rowSize * info.ctor.BYTES_PER_ELEMENT);
    this.chunkRows = chunkRows ?? Math.max(1, Math.min(1 << 16, Math.floor(TARGET_CHUNK_BYTES / bytes)));
    this.buf = this.alloc(Math.min(blockRows, 1024));
    this.ds = ds;
    this.written = ds ? Number(ds.shape?.[0] ?? 0) : 0;
  }

  /** Int64 values logged as numbers buffer as float64 (no BigInt per value). */
  private alloc(rows: number): NumericArray {
    const n = Math.max(1, rows) * Math.max(1, this.rowSize);
    return this.big && this.kind === "number" ? new Float64Array(n) : new DTYPES[this.dtype].ctor(n);
  }

  grow(): void {
    const next = this.alloc(Math.min(this.blockRows, Math.max(1, (this.buf.length / Math.max(1, this.rowSize)) * 2)));
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

  /** Blocks this stream's pending rows into the file. */
  writeBlock(file: File, path: string): void {
    if (this.n === 0) return;
    const rows = this.n;
    let data: NumericArray = this.buf.subarray(0, rows * this.rowSize);
    if (this.big && this.kind === "number") data = toInt64(data as Float64Array);
    if (!this.ds) this.ds = createDataset(file, path, this, 0);
    const end = this.written + rows;
    this.ds.resize([end, ...this.shape]);
    if (data.length > 0) this.ds.write_slice([[this.written, end], ...this.shape.map((d) => [0, d] as [number, number])], data);
    this.written = end;
    this.n = 0;
  }
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

function createDataset(file: File, path: string, s: Stream, rows: number): Dataset {
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

/** Live loggers, flushed at process exit. */
const live = new Set<H5Logger>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => {
    for (const l of [...live]) l.closeSync();
  });
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    // Only when nobody else handles the signal: flush, then die of it as Node would have.
    if (process.listenerCount(sig) > 0) continue;
    const handler = () => {
      for (const l of [...live]) l.closeSync();
      process.removeListener(sig, handler);
      // Handlers added since then decide what happens; otherwise die of the signal as Node would.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

export class H5Logger {
  readonly path: string;
  private readonly file: File;
  private readonly streams = new Map<string, Stream>();
  private readonly specs: Record<string, DatasetSpec>;
  private readonly flushEvery: number | undefined;
  private swmr = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly wantSwmr: boolean;

  private constructor(
    path: string,
    file: File,
    options: H5LoggerOptions,
    private readonly unlock: () => void,
  ) {
    this.path = path;
    this.file = file;
    this.specs = options.datasets ?? {};
    this.wantSwmr = options.concurrentReaders === true;
    if (options.flushEvery !== undefined && (!Number.isInteger(options.flushEvery) || options.flushEvery < 1)) {
      throw new QuiverError("INVALID_VALUE", `flushEvery must be a positive integer (rows per block), got ${options.flushEvery}`);
    }
    this.flushEvery = options.flushEvery;
    const interval = options.flushInterval ?? 1000;
    if (interval > 0) {
      this.timer = setInterval(() => {
        if (!this.closed && this.pending()) this.flushSync();
      }, interval);
      this.timer.unref();
    }
  }

  /** Opens (creating or appending to) an HDF5 file for logging. */
  static async open(path: string, options: H5LoggerOptions = {}): Promise<H5Logger> {
    const file = h5Path(path);
    await h5ready();
    for (const [name, spec] of Object.entries(options.datasets ?? {})) checkSpec(name, spec);
    mkdirSync(dirname(file), { recursive: true });
    const unlock = acquireWriteLock(file);
    let f: File | undefined;
    let logger: H5Logger;
    try {
      if (options.replaceIfExists) rmSync(file, { force: true });
      f = openFile(file, existsSync(file) ? "a" : "w", options.concurrentReaders ? "v110" : undefined);
      logger = new H5Logger(file, f, options, unlock);
      for (const [name, spec] of Object.entries(options.datasets ?? {})) logger.declare(name, spec);
      if (options.concurrentReaders && options.datasets) logger.enableConcurrentReaders();
    } catch (err) {
      f?.close();
      unlock();
      throw err;
    }
    live.add(logger);
    hookExit();
    return logger;
  }

  /** Opens a file for reading (also while another process writes it with concurrentReaders). */
  static async read(path: string): Promise<H5Reader> {
    return H5Reader.open(path);
  }

  private check(): void {
    if (this.closed) throw new QuiverError("CLOSED", `the H5Logger for ${this.path} is closed; open it again with H5Logger.open`);
  }

  private declare(name: string, spec: DatasetSpec): Stream {
    const dtype = parseDType(spec.dtype, `datasets["${name}"]`);
    // "bigint" declares int64 values logged (and read back) as bigints; "int64" takes JS numbers.
    const kind: Kind = dtype === "bool" ? "bool" : spec.dtype === "bigint" ? "bigint" : "number";
    return this.makeStream(name, dtype, kind, [...spec.shape], spec.chunkRows, true);
  }

  /** A name must not sit under another name's dataset, nor be a group another name needs. */
  private checkPlace(name: string): void {
    const parts = name.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      if (this.streams.has(parent) || this.file.get(parent) instanceof H5.Dataset) {
        throw new QuiverError("INVALID_NAME", `"${name}" would need a group at "${parent}", which is a logged dataset; choose another name`);
      }
    }
    for (const k of this.streams.keys()) {
      if (k.startsWith(name + "/")) throw new QuiverError("INVALID_NAME", `"${name}" is a group holding "${k}"; log to a name that is not a group`);
    }
  }

  private makeStream(name: string, dtype: DType, kind: Kind, shape: number[], chunkRows: number | undefined, create: boolean): Stream {
    this.checkPlace(name);
    const existing = this.file.get(name);
    let ds: Dataset | undefined;
    if (existing) {
      if (!(existing instanceof H5.Dataset)) throw new QuiverError("INVALID_NAME", `"${name}" is a group in ${this.path}; log to a name that is not a group`);
      ds = existing;
      const m = ds.metadata;
      const fileDtype = dtypeOfMetadata(m);
      const fileKind = (attrString(ds, KIND_ATTR) as Kind | undefined) ?? "number";
      const fileShape = (ds.shape ?? []).slice(1).map(Number);
      if (!fileDtype) throw new QuiverError("SHAPE_MISMATCH", `"${name}" in ${this.path} has an element type H5Logger cannot append to`);
      const probe = new Stream(name, fileKind === "bool" ? "bool" : fileDtype, fileKind, fileShape, 1, undefined, undefined);
      const fits = (probe.dtype === dtype || (kind === "number" && fileKind === "number")) && shapeStr(fileShape) === shapeStr(shape) && fileKind === kind;
      if (!fits) throw probe.mismatch({ shape, dtype, kind, data: [], loose: false });
      dtype = probe.dtype;
    } else if (this.swmr) {
      throw new QuiverError("UNSUPPORTED", `"${name}" is new but ${this.path} is already in SWMR mode (concurrentReaders), where HDF5 cannot create datasets; declare it in H5Logger.open(path, { datasets: { "${name}": { shape, dtype } } })`);
    }
    const bytes = Math.max(1, product(shape) * DTYPES[dtype].ctor.BYTES_PER_ELEMENT);
    const block = this.flushEvery ?? Math.max(1, Math.floor(TARGET_BLOCK_BYTES / bytes));
    const s = new Stream(name, dtype, kind, shape, block, chunkRows, ds);
    if (!ds && create) s.ds = createDataset(this.file, name, s, 0);
    this.streams.set(name, s);
    return s;
  }

  private streamFor(name: string, p: Parsed): Stream {
    validateName(name, "dataset name");
    const spec = this.specs[name];
    if (spec) return this.declare(name, spec);
    return this.makeStream(name, p.dtype, p.kind, p.shape, undefined, false);
  }

  /** Buffers one value of `name` (sync). Its first value fixes the shape and dtype. */
  log(name: string, value: LogValue): this {
    if (this.closed) this.check();
    let s = this.streams.get(name);
    if (typeof value === "number" && s !== undefined && s.rowSize === 1 && s.shape.length === 0 && s.kind === "number") {
      // hot path: one scalar
      if (s.isInt && !Number.isInteger(value)) throw s.mismatch(parseValue(value, name));
      if (s.n === s.capacityRows) s.grow();
      (s.buf as Float64Array)[s.n++] = value;
      if (s.n >= s.blockRows) this.writeStream(s);
      return this;
    }
    const p = parseValue(value, name);
    if (s === undefined) s = this.streamFor(name, p);
    if (shapeStr(p.shape) !== shapeStr(s.shape) || p.kind !== s.kind || (!p.loose && p.dtype !== s.dtype)) throw s.mismatch(p);
    if (s.isInt && p.kind === "number") {
      for (let i = 0; i < p.data.length; i++) if (!Number.isInteger(p.data[i])) throw s.mismatch({ ...p, dtype: "float64" });
    }
    if (s.n === s.capacityRows) s.grow();
    const at = s.n * s.rowSize;
    if (ArrayBuffer.isView(p.data)) (s.buf as Float64Array).set(p.data as unknown as Float64Array, at);
    else {
      const buf = s.buf as unknown as (number | bigint)[];
      for (let i = 0; i < p.data.length; i++) {
        const v = p.data[i]!;
        buf[at + i] = typeof v === "boolean" ? (v ? 1 : 0) : v;
      }
    }
    s.n++;
    if (s.n >= s.blockRows) this.writeStream(s);
    return this;
  }

  /** Logs every entry of a row: `logMany({ loss: 0.1, image })`. */
  logMany(row: Record<string, LogValue>): this {
    for (const k of Object.keys(row)) this.log(k, row[k]!);
    return this;
  }

  /** Names logged or present in the file, sorted. */
  keys(): string[] {
    this.check();
    const names = new Set(walkDatasets(this.file));
    for (const k of this.streams.keys()) names.add(k);
    return [...names].sort();
  }

  private pending(): boolean {
    for (const s of this.streams.values()) if (s.n > 0) return true;
    return false;
  }

  private writeStream(s: Stream): void {
    s.writeBlock(this.file, s.name);
    if (this.wantSwmr && !this.swmr) this.enableConcurrentReaders();
    else this.file.flush();
  }

  /**
   * Starts SWMR (single writer, multiple readers): from now on h5py `swmr=True` readers and
   * `H5Logger.read` in other processes see every flushed block. No new names can be added after.
   */
  enableConcurrentReaders(): void {
    this.check();
    if (this.swmr) return;
    if ((this.file.libver[1] as string) === "earliest" || (this.file.libver[1] as string) === "v108") {
      throw new QuiverError("UNSUPPORTED", `${this.path} was opened without concurrentReaders: true, so it uses a file format without SWMR; open it with { concurrentReaders: true }`);
    }
    for (const s of this.streams.values()) if (!s.ds) s.ds = createDataset(this.file, s.name, s, 0);
    this.file.flush();
    const status = this.file.start_swmr_write();
    if (status < 0) throw new QuiverError("IO", `HDF5 refused to start SWMR writing on ${this.path} (status ${status})`);
    this.swmr = true;
  }

  /** Writes every pending value (synchronously, for exit hooks). */
  flushSync(): void {
    if (this.closed) return;
    let wrote = false;
    for (const s of this.streams.values()) {
      if (s.n > 0) {
        s.writeBlock(this.file, s.name);
        wrote = true;
      }
    }
    if (this.wantSwmr && !this.swmr && this.streams.size > 0) {
      this.enableConcurrentReaders();
      return;
    }
    if (wrote) this.file.flush();
  }

  /** Writes every pending value and makes it visible to readers. */
  async flush(): Promise<void> {
    this.check();
    this.flushSync();
  }

  closeSync(): void {
    if (this.closed) return;
    try {
      this.flushSync();
    } finally {
      this.closed = true;
      if (this.timer) clearInterval(this.timer);
      live.delete(this);
      this.file.close();
      this.unlock();
    }
  }

  async close(): Promise<void> {
    this.closeSync();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function checkSpec(name: string, spec: DatasetSpec): void {
  validateName(name, "dataset name");
  if (!spec || !Array.isArray(spec.shape) || !spec.shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new QuiverError("SHAPE_MISMATCH", `datasets["${name}"].shape must be an array of non-negative integers ([] for scalars), got ${describeValue(spec?.shape)}`);
  }
  parseDType(spec.dtype, `datasets["${name}"]`);
  if (spec.chunkRows !== undefined && (!Number.isInteger(spec.chunkRows) || spec.chunkRows < 1)) {
    throw new QuiverError("INVALID_VALUE", `datasets["${name}"].chunkRows must be a positive integer`);
  }
}

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
    const d = dtypeOfMetadata(ds.metadata);
    if (!d) throw new QuiverError("UNSUPPORTED", `"${this.name}" has an element type H5Logger does not read (class ${ds.metadata.type}, ${ds.metadata.size} bytes)`);
    return d;
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
    if (!ArrayBuffer.isView(data)) data = DTYPES[dtype].ctor === Float64Array ? Float64Array.from(raw as number[]) : (raw as unknown as NumericArray);
    return { data, shape: [e - s, ...rest] };
  }

  /** Rows [start, end) as values: scalars as numbers/bigints/booleans, 1-d rows as typed arrays, n-d rows as { data, shape }. */
  slice(start = 0, end?: number): SeriesValue[] {
    const { data, shape } = this.sliceData(start, end);
    const rows = shape[0]!;
    const rest = shape.slice(1);
    const size = product(rest);
    const kind = (attrString(this.ds, KIND_ATTR) as Kind | undefined) ?? "number";
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
  private file: File;
  private readonly cache = new Map<string, Dataset>();
  private closed = false;

  private constructor(
    readonly path: string,
    file: File,
    private readonly mode: "r" | "Sr",
  ) {
    this.file = file;
  }

  static async open(path: string): Promise<H5Reader> {
    const p = h5Path(path);
    await h5ready();
    if (!existsSync(p)) throw new QuiverError("NOT_FOUND", `no HDF5 file at ${p}`);
    // SWMR read works on 1.10-format files (ours with concurrentReaders); older formats open plainly.
    try {
      return new H5Reader(p, openFile(p, "Sr"), "Sr");
    } catch {
      return new H5Reader(p, openFile(p, "r"), "r");
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
    this.file.close();
    this.file = openFile(this.path, this.mode);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cache.clear();
    this.file.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
