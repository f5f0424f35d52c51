/**
 * H5Logger: h5logger's streams of arrays. Each name is a chunked dataset of shape (N, ...valueShape)
 * that grows along its first axis. `log` only copies the value into a per-name typed buffer; blocks
 * are written (resize + one hyperslab write + H5Fflush, as one guarded transaction) every
 * `flushEvery` rows, on flush/close, after `flushInterval` ms of idle time, and at process exit.
 *
 * A write that fails (disk full, read-only file) is rolled back and its rows stay buffered: the
 * next attempt writes each of them exactly once. Background writes report to `onError` and retry;
 * flush()/close() reject with QuiverError("IO"); past `maxBufferBytes`, log() throws.
 */
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { describeValue, onProcessExit, QuiverError, validateName } from "@quiver/core";
import { ioAdvice, ioReason } from "./guard.js";
import {
  attrString,
  createFile,
  type Dataset,
  type DType,
  DTYPES,
  dtypeOfDataset,
  type File,
  describeType,
  H5,
  h5Path,
  h5ready,
  parseDType,
  superblockVersion,
  walkDatasets,
} from "./h5.js";
import { H5Handle, writerLock } from "./handle.js";
import { H5Reader } from "./reader.js";
import { copyToSwmrFormat } from "./upgrade.js";
import { createDataset, Stream } from "./stream.js";
import { checkSpec, type DatasetSpec, KIND_ATTR, type Kind, type LogValue, type Parsed, parseValue, product, shapeStr, TARGET_BLOCK_BYTES } from "./values.js";

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
  /**
   * h5logger's `n_datasets`: the number of names this run logs. The file uses the SWMR format, and
   * SWMR starts as soon as that many datasets exist (the last new name's first value is written at
   * once); a name past them throws UNSUPPORTED.
   */
  nDatasets?: number;
  /** Rows buffered per name before a block is written (default: about 1 MiB of values). */
  flushEvery?: number;
  /** Write pending values after this many ms without a flush (default 1000; 0 disables). */
  flushInterval?: number;
  /**
   * Told about a failed background write (a full block, the idle timer, a retry): the values stay
   * buffered and are retried. Default: console.warn, once per distinct error.
   */
  onError?: (err: QuiverError) => void;
  /**
   * Bytes of buffered values kept while writes fail (default 256 MiB). Past it, log() throws
   * QuiverError("IO") and does not take the value: nothing is dropped silently.
   */
  maxBufferBytes?: number;
  /**
   * flush() and close() fsync the file, so what they acknowledged survives a power cut (default
   * true). Blocks written in between are in the file (a killed process loses none of them) but not
   * fsynced. false skips the fsync: about 2–5 ms per flush()/close() on a typical disk.
   */
  fsync?: boolean;
}

const DEFAULT_MAX_BUFFER = 256 * 2 ** 20;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

export class H5Logger {
  readonly path: string;
  private h: H5Handle;
  private readonly streams = new Map<string, Stream>();
  private readonly specs: Record<string, DatasetSpec>;
  private readonly flushEvery: number | undefined;
  /** SWMR started and committed (restarted when a rollback reopens the file). */
  private swmr = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  /** SWMR is to start at the next write (concurrentReaders, or nDatasets reached). */
  private wantSwmr: boolean;
  /** The file is in the 1.10 format SWMR needs (opened with concurrentReaders or nDatasets). */
  private v110: boolean;
  private readonly nDatasets: number | undefined;
  private readonly onError: ((err: QuiverError) => void) | undefined;
  private readonly maxBuffer: number;
  private readonly durable: boolean;
  /** Bytes all stream buffers take. */
  private bufferBytes = 0;
  /** The last write's failure, until a write succeeds; background writes wait until `retryAt`. */
  private failing: QuiverError | undefined;
  private retryAt = 0;
  private backoff = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly reported = new Set<string>();
  /** Unregisters from core's exit hook. */
  private unhook: (() => void) | undefined;

  private constructor(
    path: string,
    h: H5Handle,
    options: H5LoggerOptions,
    private readonly unlock: () => void,
  ) {
    this.path = path;
    this.h = h;
    this.specs = options.datasets ?? {};
    this.wantSwmr = options.concurrentReaders === true;
    // Opened with the 1.10 bounds, on a file whose superblock allows SWMR (an older file is converted when SWMR starts).
    this.v110 = (options.concurrentReaders === true || options.nDatasets !== undefined) && (superblockVersion(path) ?? 0) >= 3;
    this.nDatasets = options.nDatasets;
    if (options.flushEvery !== undefined && (!Number.isInteger(options.flushEvery) || options.flushEvery < 1)) {
      throw new QuiverError("INVALID_VALUE", `flushEvery must be a positive integer (rows per block), got ${options.flushEvery}`);
    }
    const max = options.maxBufferBytes ?? DEFAULT_MAX_BUFFER;
    if (!(max > 0)) throw new QuiverError("INVALID_VALUE", `maxBufferBytes must be a positive number of bytes, got ${describeValue(options.maxBufferBytes)}`);
    this.maxBuffer = max;
    this.durable = options.fsync !== false;
    this.flushEvery = options.flushEvery;
    this.onError = options.onError;
    h.onReopen = (file, writable) => this.reopened(file, writable);
    const interval = options.flushInterval ?? 1000;
    if (interval > 0) {
      this.timer = setInterval(() => this.background(), interval);
      this.timer.unref();
    }
  }

  /** Opens (creating or appending to) an HDF5 file for logging. */
  static async open(path: string, options: H5LoggerOptions = {}): Promise<H5Logger> {
    const file = h5Path(path);
    await h5ready();
    for (const [name, spec] of Object.entries(options.datasets ?? {})) checkSpec(name, spec);
    try {
      mkdirSync(dirname(file), { recursive: true });
    } catch (e) {
      throw new QuiverError("IO", `cannot create the folder of ${file}: ${ioReason(e)}; ${ioAdvice(e)}`, { cause: e });
    }
    const n = options.nDatasets;
    if (n !== undefined && !(Number.isInteger(n) && n >= 1)) {
      throw new QuiverError("INVALID_VALUE", `nDatasets must be a positive integer (the number of names this run logs), got ${describeValue(n)}`);
    }
    const libver = options.concurrentReaders || n !== undefined ? "v110" : undefined;
    const unlock = writerLock(file);
    let h: H5Handle | undefined;
    let logger: H5Logger;
    try {
      // A new (or replaced) file is complete before it appears at `file`: no exit path leaves a dead one.
      if (options.replaceIfExists || !existsSync(file)) createFile(file, libver);
      h = H5Handle.open(file, "a", libver);
      logger = new H5Logger(file, h, options, unlock);
      const declared = Object.entries(options.datasets ?? {});
      if (declared.length) {
        h.write("cannot create the declared datasets in", () => {
          for (const [name, spec] of declared) logger.declare(name, spec, true);
        });
      }
      if ((options.concurrentReaders && options.datasets) || (n !== undefined && logger.names() >= n)) logger.enableConcurrentReaders();
    } catch (err) {
      h?.close();
      unlock();
      throw err;
    }
    // Core's exit hook flushes at the normal end and on signals; at `exit` (process.exit, an
    // uncaught exception) and before it re-raises SIGINT/SIGTERM/SIGHUP it calls takeSync, where we
    // write and close synchronously: a process dying of a signal runs no `exit` listener, and an
    // unclosed SWMR file would keep its "open for writing" mark.
    logger.unhook = onProcessExit({
      get pending() {
        return logger.pending;
      },
      flush: () => logger.flush(),
      takeSync: () => {
        logger.exitClose();
        return [];
      },
    });
    return logger;
  }

  /** Opens a file for reading (also while another process writes it with concurrentReaders). */
  static async read(path: string): Promise<H5Reader> {
    return H5Reader.open(path);
  }

  private get file(): File {
    return this.h.file;
  }

  private check(): void {
    if (this.closed) throw new QuiverError("CLOSED", `the H5Logger for ${this.path} is closed; open it again with H5Logger.open`);
  }

  private declare(name: string, spec: DatasetSpec, create: boolean): Stream {
    const dtype = parseDType(spec.dtype, `datasets["${name}"]`);
    // "bigint" declares int64 values logged (and read back) as bigints; "int64" takes JS numbers.
    const kind: Kind = dtype === "bool" ? "bool" : spec.dtype === "bigint" ? "bigint" : "number";
    return this.makeStream(name, dtype, kind, [...spec.shape], spec.chunkRows, create);
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
      const fileDtype = dtypeOfDataset(ds);
      const fileKind = fileDtype === "bool" ? "bool" : ((attrString(ds, KIND_ATTR) as Kind | undefined) ?? "number");
      const fileShape = (ds.shape ?? []).slice(1).map(Number);
      if (!fileDtype) throw new QuiverError("SHAPE_MISMATCH", `"${name}" in ${this.path} has an element type H5Logger cannot append to (${describeType(m)}); log to another name`);
      const probe = new Stream(name, fileKind === "bool" ? "bool" : fileDtype, fileKind, fileShape, 1, undefined, undefined);
      const fits = (probe.dtype === dtype || (kind === "number" && fileKind === "number")) && shapeStr(fileShape) === shapeStr(shape) && fileKind === kind;
      if (!fits) throw probe.mismatch({ shape, dtype, kind, data: [], loose: false });
      dtype = probe.dtype;
    } else if (this.nDatasets !== undefined && this.names() >= this.nDatasets) {
      throw new QuiverError(
        "UNSUPPORTED",
        `"${name}" would be dataset ${this.names() + 1} of ${this.path}, opened with nDatasets: ${this.nDatasets}, so concurrent readers already watch a fixed set of names (HDF5 cannot create datasets in SWMR mode); log it under one of ${[...this.nameSet()].sort().join(", ")}, or open the logger with a larger nDatasets`,
      );
    } else if (this.swmr) {
      throw new QuiverError(
        "UNSUPPORTED",
        `"${name}" is new but ${this.path} is already in SWMR mode (concurrentReaders), where HDF5 cannot create datasets; declare it in H5Logger.open(path, { datasets: { "${name}": { shape, dtype } } })`,
      );
    }
    const bytes = Math.max(1, product(shape) * DTYPES[dtype].ctor.BYTES_PER_ELEMENT);
    const block = this.flushEvery ?? Math.max(1, Math.floor(TARGET_BLOCK_BYTES / bytes));
    const s = new Stream(name, dtype, kind, shape, block, chunkRows, ds);
    if (!ds && create) s.ds = createDataset(this.file, name, s, 0);
    this.streams.set(name, s);
    this.bufferBytes += s.bytes;
    return s;
  }

  private streamFor(name: string, p: Parsed): Stream {
    validateName(name, "dataset name");
    const spec = this.specs[name];
    if (spec) return this.declare(name, spec, false);
    return this.makeStream(name, p.dtype, p.kind, p.shape, undefined, false);
  }

  /** Buffers one value of `name` (sync). Its first value fixes the shape and dtype. */
  log(name: string, value: LogValue): this {
    if (this.closed) this.check();
    let s = this.streams.get(name);
    if (typeof value === "number" && s !== undefined && s.rowSize === 1 && s.shape.length === 0 && s.kind === "number") {
      // hot path: one scalar
      if (s.isInt && !(Number.isInteger(value) && value >= s.min && value <= s.max)) throw this.badInt(s, value);
      if (s.n === s.capacityRows) this.grow(s);
      (s.buf as Float64Array)[s.n++] = value;
      if (s.n >= s.blockRows) this.blockFull(s);
      return this;
    }
    const p = parseValue(value, name);
    const created = s === undefined;
    if (s === undefined) s = this.streamFor(name, p);
    if (shapeStr(p.shape) !== shapeStr(s.shape) || p.kind !== s.kind || (!p.loose && p.dtype !== s.dtype)) throw s.mismatch(p);
    if (s.isInt && p.kind === "number") {
      for (let i = 0; i < p.data.length; i++) {
        const v = p.data[i] as number;
        if (!(Number.isInteger(v) && v >= s.min && v <= s.max)) throw this.badInt(s, v);
      }
    }
    if (p.kind === "bigint" && !ArrayBuffer.isView(p.data)) {
      for (let i = 0; i < p.data.length; i++) {
        const v = p.data[i] as bigint;
        if (v < INT64_MIN || v > INT64_MAX) {
          throw new QuiverError(
            "INVALID_VALUE",
            `"${name}": ${v}n does not fit in int64 (−2^63…2^63−1), the type of bigint streams; log it as a float, or as a BigUint64Array if it is an unsigned 64-bit value`,
          );
        }
      }
    }
    if (s.n === s.capacityRows) this.grow(s);
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
    if (created && this.nDatasets !== undefined && !this.swmr && this.names() >= this.nDatasets) this.startCounted();
    else if (s.n >= s.blockRows) this.blockFull(s);
    return this;
  }

  /** nDatasets names exist: write them all and start SWMR now (a failure is retried in the background, never thrown into the loop). */
  private startCounted(): void {
    this.wantSwmr = true;
    try {
      this.writeAll("cannot start concurrent readers (nDatasets reached) on");
    } catch (e) {
      this.fail(e, true);
    }
  }

  /** Names logged or in the file. */
  private nameSet(): Set<string> {
    const names = new Set(walkDatasets(this.file));
    for (const k of this.streams.keys()) names.add(k);
    return names;
  }

  /** @internal How many datasets the logger has (logged or in the file). */
  names(): number {
    return this.nameSet().size;
  }

  private badInt(s: Stream, v: number): QuiverError {
    if (!Number.isInteger(v)) return s.mismatch(parseValue(v, s.name));
    return new QuiverError(
      "INVALID_VALUE",
      `"${s.name}" holds ${s.dtype} values, which cannot hold ${v} exactly (range ${s.min}…${s.max} for JS numbers); log it under another name${s.dtype === "int64" || s.dtype === "uint64" ? ', or log bigints into a stream declared with dtype "bigint"' : ""}`,
    );
  }

  /**
   * Makes room for one more row. Buffers grow up to a block; past that only while writes fail,
   * and only up to maxBufferBytes: then one more write is tried, and if it fails too, log()
   * throws before taking the value.
   */
  private grow(s: Stream): void {
    const more = s.grownBytes() - s.bytes;
    if (this.failing && this.bufferBytes + more > this.maxBuffer) {
      try {
        this.writeAll("cannot write buffered values to");
      } catch (e) {
        const err = this.fail(e, false);
        throw new QuiverError(
          "IO",
          `H5Logger for ${this.path} holds ${(this.bufferBytes / 2 ** 20).toFixed(1)} MiB of values it could not write, its maxBufferBytes cap: ${err.message}. This value was not taken; everything logged before stays buffered until a write succeeds (flush() retries)`,
          { cause: err.cause ?? err },
        );
      }
      if (s.n < s.capacityRows) return;
    }
    this.bufferBytes -= s.bytes;
    s.grow();
    this.bufferBytes += s.bytes;
  }

  /** A stream reached its block size: write it now, unless writes are failing and the retry is not due. */
  private blockFull(s: Stream): void {
    if (this.failing && Date.now() < this.retryAt) return;
    try {
      this.writeStreams([s], `cannot write a block of "${s.name}" to`);
    } catch (e) {
      this.fail(e, true);
    }
  }

  /** Logs every entry of a row: `logMany({ loss: 0.1, image })`. */
  logMany(row: Record<string, LogValue>): this {
    for (const k of Object.keys(row)) this.log(k, row[k]!);
    return this;
  }

  /** Names logged or present in the file, sorted. */
  keys(): string[] {
    this.check();
    return [...this.nameSet()].sort();
  }

  /** Values buffered and not yet in the file. */
  get pending(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.n;
    return n;
  }

  /** Writes the pending rows of `list` as one transaction; rows leave the buffers only once it commits. */
  private writeStreams(list: Stream[], what: string): void {
    let swmr = false;
    if (this.wantSwmr && !this.swmr && !this.v110) this.toSwmrFormat();
    const ends = this.h.write(what, (file) => {
      const ends = list.map((s) => s.writeBlock(file));
      if (this.wantSwmr && !this.swmr) swmr = this.startSwmr(file);
      return ends;
    });
    list.forEach((s, i) => s.commit(ends[i]!));
    this.bufferBytes = 0;
    for (const s of this.streams.values()) this.bufferBytes += s.bytes;
    if (swmr) this.swmr = true;
    this.failing = undefined;
    this.backoff = 0;
  }

  private writeAll(what: string): void {
    const list = [...this.streams.values()].filter((s) => s.n > 0);
    if (list.length === 0 && !(this.wantSwmr && !this.swmr && this.streams.size > 0)) return;
    this.writeStreams(list, what);
  }

  /** Creates the datasets not written yet and starts SWMR (inside a transaction). */
  private startSwmr(file: File): boolean {
    if (!this.v110) throw new QuiverError("UNSUPPORTED", `${this.path} is not in the file format SWMR needs; call enableConcurrentReaders(), which converts it`);
    for (const s of this.streams.values()) if (!s.ds) s.ds = createDataset(file, s.name, s, 0);
    file.flush();
    const status = file.start_swmr_write();
    if (status < 0) throw new QuiverError("IO", `HDF5 refused to start SWMR writing on ${this.path} (status ${status})`);
    return true;
  }

  /**
   * Starts SWMR (single writer, multiple readers): from now on h5py `swmr=True` readers and
   * `H5Logger.read` in other processes see every flushed block. No new names can be added after.
   */
  enableConcurrentReaders(): void {
    this.check();
    if (this.swmr) return;
    if (!this.v110) this.toSwmrFormat();
    this.wantSwmr = true;
    this.h.write("cannot start concurrent readers on", (file) => this.startSwmr(file));
    this.swmr = true;
  }

  /**
   * The logger was opened without concurrentReaders: the file's superblock is older than SWMR
   * allows. A 1.10-format file is reopened with the 1.10 bounds; an older one is copied into the
   * 1.10 format and renamed over (see upgrade.ts). Buffered values stay buffered.
   */
  private toSwmrFormat(): void {
    const reopen = (libver: "v110" | undefined) => {
      const h = H5Handle.open(this.path, "a", libver);
      h.onReopen = (file, writable) => this.reopened(file, writable);
      this.h = h;
      this.v110 = libver === "v110";
      for (const s of this.streams.values()) s.rebind(h.file);
    };
    if ((superblockVersion(this.path) ?? 0) >= 3) {
      this.h.close();
      reopen("v110");
      return;
    }
    let closed = false;
    try {
      copyToSwmrFormat(
        this.file,
        this.path,
        () => {
          this.h.close();
          closed = true;
        },
        this.durable,
      );
    } finally {
      if (closed) reopen((superblockVersion(this.path) ?? 0) >= 3 ? "v110" : undefined);
    }
  }

  /** A rollback reopened the file: dataset handles and lengths as committed, SWMR again if it was on. */
  private reopened(file: File, writable: boolean): void {
    for (const s of this.streams.values()) s.rebind(file);
    if (this.swmr && writable && file.start_swmr_write() < 0) this.swmr = false;
  }

  /** Records a failed write, tells onError (background writes) and schedules a retry. */
  private fail(e: unknown, report: boolean): QuiverError {
    const err = e instanceof QuiverError ? e : new QuiverError("IO", `cannot write to ${this.path}: ${ioReason(e)}; ${ioAdvice(e)}`, { cause: e });
    this.failing = err;
    this.backoff = Math.min(5000, Math.max(100, this.backoff * 2));
    this.retryAt = Date.now() + this.backoff;
    if (report) this.report(err);
    if (!this.retryTimer && !this.closed) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.background();
      }, this.backoff);
      this.retryTimer.unref();
    }
    return err;
  }

  private report(err: QuiverError): void {
    try {
      if (this.onError) return this.onError(err);
    } catch (e) {
      err = new QuiverError("IO", `${err.message} (and onError threw: ${(e as Error)?.message ?? e})`, { cause: err });
    }
    const key = `${err.code}:${(err.cause as NodeJS.ErrnoException)?.code ?? ""}:${err.message}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    console.warn(`[quiver] H5Logger: ${err.message}; ${this.pending} values stay buffered and are retried`);
  }

  /** The idle timer and retries: never throws into the process. */
  private background(): void {
    if (this.closed || (this.pending === 0 && !this.failing) || (this.failing && Date.now() < this.retryAt)) return;
    try {
      this.writeAll("cannot write buffered values to");
    } catch (e) {
      this.fail(e, true);
    }
  }

  /** Writes every pending value, synchronously; QuiverError("IO") when it cannot (the values stay buffered). */
  flushSync(): void {
    this.check();
    try {
      this.writeAll("cannot flush to");
      if (this.durable) this.h.sync("cannot flush");
    } catch (e) {
      throw this.fail(e, false);
    }
  }

  /** Writes every pending value, makes it visible to readers and durable (fsync). */
  async flush(): Promise<void> {
    this.flushSync();
  }

  /** Flushes and closes. When the flush fails it throws QuiverError("IO") and the logger stays open (retry close()). */
  closeSync(): void {
    if (this.closed) return;
    this.flushSync();
    this.release();
  }

  async close(): Promise<void> {
    this.closeSync();
  }

  /** @internal At process exit: writes what it can, always lets go of the file and lock, never throws. */
  exitClose(): void {
    if (this.closed) return;
    const n = this.pending;
    try {
      this.writeAll("cannot write at exit to");
    } catch (e) {
      try {
        process.stderr.write(`[quiver] H5Logger: ${n} values logged to ${this.path} were lost at exit: ${(e as Error)?.message ?? e}\n`);
      } catch {
        /* stderr closed */
      }
    }
    this.release();
  }

  private release(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.unhook?.();
    this.h.close();
    this.unlock();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
