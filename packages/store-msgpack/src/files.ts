/**
 * The table's data file behind two small interfaces, as MCAP reads through its IReadable: a
 * Readable is bytes at offsets, a Writable also grows at its end and can be cut back (only the
 * lock holder has one). Block reading, recovery and rewrites see nothing else of the file, so
 * they run the same over bytes in memory (see `memoryFile`). All of it is synchronous: a
 * write's critical section never yields to the event loop.
 */
import { closeSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import { ioError } from "./state.js";

export interface Readable {
  /** Where the bytes are, for messages. */
  readonly path: string;
  size(): number;
  /** `length` bytes from `offset` (fewer when the file ends first). */
  read(offset: number, length: number): Buffer;
}

export interface Writable extends Readable {
  /** Appends bytes [from, to) of `bytes` at the end. */
  append(bytes: Uint8Array, from?: number, to?: number): void;
  /** Cuts the file to `length` bytes. */
  truncate(length: number): void;
  /** Makes what was appended durable (fdatasync). */
  sync(): void;
}

/** An open data file. `read` faults are QuiverError("IO") naming the file; writes throw as the OS does (callers say what failed). */
export class DataFile implements Writable {
  private constructor(
    readonly path: string,
    private fd: number | undefined,
    /** The inode opened (a rewrite renames a new file over the path). */
    readonly ino: bigint,
  ) {}

  /**
   * Opens `path`: "r" to read, "r+" to read and cut, "a+" to append as well, "w" to create or
   * empty it. A missing file is undefined with `missingOk`, else IO.
   */
  static open(path: string, mode: "r" | "r+" | "a+" | "w", missingOk = false): DataFile | undefined {
    let fd: number;
    try {
      fd = openSync(path, mode);
    } catch (err) {
      if (missingOk && (err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw ioError(mode === "r" ? "cannot open" : mode === "w" ? "cannot create" : "cannot open for appending", path, err);
    }
    try {
      return new DataFile(path, fd, fstatSync(fd, { bigint: true }).ino);
    } catch (err) {
      closeSync(fd);
      throw ioError("cannot look at", path, err);
    }
  }

  private get handle(): number {
    if (this.fd === undefined) throw new Error(`${this.path} was closed`);
    return this.fd;
  }

  size(): number {
    return Number(fstatSync(this.handle, { bigint: true }).size);
  }

  read(offset: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    try {
      while (got < length) {
        const n = readSync(this.handle, buf, got, length - got, offset + got);
        if (n === 0) break;
        got += n;
      }
    } catch (err) {
      throw ioError("cannot read", this.path, err);
    }
    return got === length ? buf : buf.subarray(0, got);
  }

  append(bytes: Uint8Array, from = 0, to = bytes.length): void {
    let off = from;
    while (off < to) off += writeSync(this.handle, bytes, off, to - off);
  }

  truncate(length: number): void {
    ftruncateSync(this.handle, length);
  }

  sync(): void {
    fdatasyncSync(this.handle);
  }

  /** Idempotent; never throws. */
  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      /* closed */
    }
    this.fd = undefined;
  }
}

/** Runs `fn` over the data file opened in `mode`, closing it afterwards. */
export function withFile<T>(path: string, mode: "r" | "r+", fn: (file: DataFile) => T): T {
  const file = DataFile.open(path, mode)!;
  try {
    return fn(file);
  } finally {
    file.close();
  }
}

/** A data file in memory (tests, tools): the same interfaces over a growing buffer. */
export function memoryFile(initial: Uint8Array = new Uint8Array(0), path = "(memory)"): Writable & { bytes(): Buffer } {
  let buf = Buffer.from(initial);
  return {
    path,
    size: () => buf.length,
    read: (offset, length) => Buffer.from(buf.subarray(offset, offset + length)),
    append(bytes, from = 0, to = bytes.length) {
      buf = Buffer.concat([buf, bytes.subarray(from, to)]);
    },
    truncate(length) {
      buf = buf.subarray(0, length);
    },
    sync() {},
    bytes: () => buf,
  };
}
