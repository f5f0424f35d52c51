/**
 * Honest writes on h5wasm. HDF5 has no atomic commit, and h5wasm hides its I/O errors: its C glue
 * ignores the status of H5Dclose (where chunks reach the file) and prints HDF5's error stack to
 * stderr instead, so a full disk looked like success while rows went missing and half-written
 * metadata made files unreadable.
 *
 * h5wasm's node build runs HDF5's sec2 driver on Emscripten's NODERAWFS, whose `FS.write` is looked
 * up at every call, so we wrap it. Every write to a file we hold is then seen here:
 * - a failed write is recorded (the real Node error: ENOSPC, EROFS, …) and every later write to that
 *   file fails too, so HDF5 keeps the rest dirty in memory instead of writing more half-states;
 * - a write over bytes that were already committed first saves the old bytes (an undo log), so
 *   a failed transaction can be rolled back to the last commit byte for byte.
 * A transaction is everything between two commits (`run`). On failure every in-process handle of
 * the file is closed with writes discarded, the saved bytes are put back, the file is cut to its
 * committed length, and the handles reopen: the file is exactly what was last acknowledged.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { FS as EmFS } from "h5wasm/node";
import { QuiverError } from "@quiver/core";

interface Stream {
  path: string;
  nfd: number;
  position: number;
}
interface EmscriptenFS {
  write(stream: Stream, buffer: Uint8Array, offset: number, length: number, position?: number): number;
  ftruncate(fd: number, length: number): void;
  getStream(fd: number): Stream | null;
  streams: (Stream | null)[];
  ErrnoError: new (errno: number) => Error;
}

/** Something in this process holding the file open through h5wasm; closed and reopened on rollback. */
export interface Holder {
  /** Closes the h5wasm File (writes are being discarded when this is called). */
  suspend(): void;
  /** Opens it again; may fail (a read-only disk): the holder then reopens lazily. */
  resume(): void;
}

/** Emscripten (WASI) errno numbers HDF5 sees for the Node codes we meet. */
const ERRNO: Record<string, number> = { EACCES: 2, EBADF: 8, EDQUOT: 19, EFBIG: 22, EIO: 29, ENOSPC: 51, EPERM: 63, EROFS: 69 };

const guards = new Map<string, FileGuard>();
let installed = false;

function install(): void {
  if (installed) return;
  const fs = EmFS as unknown as EmscriptenFS | null;
  if (!fs?.write) throw new QuiverError("IO", "h5wasm's file system is not ready (h5ready() was not awaited)");
  installed = true;
  const write = fs.write;
  const ftruncate = fs.ftruncate;
  fs.write = (stream, buffer, offset, length, position) => {
    const g = guards.get(stream.path);
    if (g) return g.write(fs, stream, buffer, offset, length, position);
    if (stream.path === "/dev/stderr" && capture) {
      capture.push(Buffer.from(buffer.subarray(offset, offset + length)).toString());
      return length;
    }
    return write.call(fs, stream, buffer, offset, length, position);
  };
  fs.ftruncate = (fd, length) => {
    const s = fs.getStream(fd);
    const g = s ? guards.get(s.path) : undefined;
    if (g?.discarding) return;
    return ftruncate.call(fs, fd, length);
  };
}

/** HDF5's error stack text printed while a guarded call runs: kept out of the user's stderr. */
let capture: string[] | undefined;

/** Runs `fn` with HDF5's stderr diagnostics dropped: for calls whose failure we explain ourselves (opening). */
export function silenced<T>(fn: () => T): T {
  install();
  const outer = capture;
  capture = [];
  try {
    return fn();
  } finally {
    capture = outer;
  }
}

export function ioReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const code = e?.code;
  const what =
    code === "ENOSPC" || code === "EDQUOT"
      ? "the disk is full"
      : code === "EROFS"
        ? "the file system is read-only"
        : code === "EACCES" || code === "EPERM"
          ? "permission denied"
          : undefined;
  const msg = String(e?.message ?? err)
    .split("\n")[0]!
    .slice(0, 300);
  return what ? `${what} (${msg})` : msg;
}

export function ioAdvice(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") return "free space on that disk and retry";
  if (code === "EROFS" || code === "EACCES" || code === "EPERM") return "make the file writable (or open it with readOnly: true) and retry";
  return "fix the cause and retry";
}

export class FileGuard {
  /** File length at the last commit. */
  private base: number;
  /** Bytes that committed writes overwrote since the last commit: [position, old bytes]. */
  private undo: [number, Buffer][] = [];
  /** The first failed write since the last commit. */
  private fault: NodeJS.ErrnoException | undefined;
  discarding = false;
  /** Set when a rollback could not complete: HDF5 in this process may hold state the file lacks. */
  private broken: QuiverError | undefined;
  private depth = 0;
  readonly holders = new Set<Holder>();

  private constructor(readonly path: string) {
    this.base = sizeOf(path);
  }

  /** The guard of a file; `holder` is released with the returned function. */
  static attach(path: string, holder: Holder): { guard: FileGuard; detach: () => void } {
    install();
    let g = guards.get(path);
    if (!g) guards.set(path, (g = new FileGuard(path)));
    g.holders.add(holder);
    const guard = g;
    return {
      guard,
      detach: () => {
        guard.holders.delete(holder);
        if (guard.holders.size === 0 && guards.get(path) === guard) guards.delete(path);
      },
    };
  }

  write(fs: EmscriptenFS, s: Stream, buffer: Uint8Array, offset: number, length: number, position?: number): number {
    if (this.discarding) return length;
    if (this.fault) throw new fs.ErrnoError(ERRNO.EIO!);
    const at = position ?? s.position;
    let old: Buffer | undefined;
    if (at < this.base) {
      old = Buffer.alloc(Math.min(length, this.base - at));
      old = old.subarray(0, readSync(s.nfd, old, 0, old.length, at));
    }
    try {
      const n = writeSync(s.nfd, buffer, offset, length, at);
      if (position === undefined) s.position += n;
      if (old && old.length > 0) this.undo.push([at, old.length > n ? old.subarray(0, n) : old]);
      return n;
    } catch (e) {
      this.fault = e as NodeJS.ErrnoException;
      throw new fs.ErrnoError(ERRNO[(e as NodeJS.ErrnoException).code ?? ""] ?? ERRNO.EIO!);
    }
  }

  /**
   * Runs `fn` (synchronous h5wasm calls ending in a flush) as one transaction: it commits when no
   * write failed, and otherwise the file is rolled back to the last commit and this throws
   * QuiverError("IO") naming `what` and the file. Any other error also rolls back, then propagates.
   */
  run<T>(what: string, fn: () => T): T {
    if (this.broken) throw this.broken;
    if (this.depth > 0) return fn();
    this.depth++;
    const outer = capture;
    const diag: string[] = [];
    capture = diag;
    let failed = false;
    let out: T;
    try {
      out = fn();
      if (this.fault) throw this.fault;
    } catch (err) {
      const fault = this.fault;
      failed = fault !== undefined;
      this.rollback();
      if (fault) throw new QuiverError("IO", `${what} ${this.path}: ${ioReason(fault)}; ${ioAdvice(fault)} (the file keeps everything committed before)`, { cause: fault });
      throw err;
    } finally {
      this.depth--;
      capture = outer;
      // Diagnostics that did not come with a failed write are real surprises: let them through.
      if (!failed && !this.fault && diag.length && !this.broken) process.stderr.write(diag.join(""));
      this.fault = undefined;
    }
    this.commit();
    return out;
  }

  private commit(): void {
    this.undo = [];
    this.base = sizeOf(this.path);
  }

  /** Makes the committed bytes durable (fsync); a failure is QuiverError("IO"). */
  sync(what: string): void {
    let fd: number | undefined;
    try {
      fd = openSync(this.path, "r");
      fsyncSync(fd);
    } catch (e) {
      throw new QuiverError("IO", `${what} ${this.path}: fsync failed: ${ioReason(e)}; ${ioAdvice(e)}`, { cause: e });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  /** Back to the last commit: close every handle discarding writes, restore, reopen. */
  private rollback(): void {
    const holders = [...this.holders];
    this.discarding = true;
    try {
      for (const h of holders) {
        try {
          h.suspend();
        } catch {
          /* closing with writes discarded: whatever it reports changes nothing on disk */
        }
      }
      const fs = EmFS as unknown as EmscriptenFS;
      if (fs.streams.some((s) => s?.path === this.path)) {
        this.broken = new QuiverError(
          "IO",
          `${this.path}: a failed write left HDF5 objects open in this process, so its unwritten state could not be discarded; the file on disk is as last committed. Close this process's handles and open the file again in a new process`,
        );
        return;
      }
    } finally {
      this.discarding = false;
    }
    this.restore();
    this.undo = [];
    this.fault = undefined; // reopening writes (HDF5 marks the superblock): it must not meet the old fault
    for (const h of holders) {
      try {
        h.resume();
      } catch {
        /* the holder reopens when next used (e.g. once the disk is writable again) */
      }
    }
  }

  private restore(): void {
    if (this.undo.length === 0 && sizeOf(this.path) === this.base) return clearWriteFlags(this.path);
    let fd: number | undefined;
    try {
      fd = openSync(this.path, "r+");
      for (let i = this.undo.length - 1; i >= 0; i--) {
        const [at, bytes] = this.undo[i]!;
        writeSync(fd, bytes, 0, bytes.length, at);
      }
      if (fstatSync(fd).size > this.base) ftruncateSync(fd, this.base);
      fsyncSync(fd);
    } catch (e) {
      this.broken = new QuiverError("IO", `${this.path}: rolling back a failed write failed too (${ioReason(e)}); the file may be damaged. Check it with h5dump before using it`, {
        cause: e,
      });
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
    clearWriteFlags(this.path);
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * A superblock v3 (HDF5 1.10 format, our concurrentReaders files) carries "open for writing" flags
 * that HDF5 refuses to open over. After a rollback the restored superblock is the one our own
 * writer had open, so we clear them as `h5clear -s` would (we hold the writer lock and just closed
 * every handle), recomputing the superblock checksum.
 */
function clearWriteFlags(path: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r+");
    const sb = Buffer.alloc(48);
    if (readSync(fd, sb, 0, 48, 0) < 48 || !SIGNATURE.every((b, i) => sb[i] === b) || sb[8] !== 3 || sb[11] === 0) return;
    sb[11] = 0;
    sb.writeUInt32LE(lookup3(sb.subarray(0, 44)), 44);
    writeSync(fd, sb, 0, 48, 0);
  } catch {
    /* not ours to fix: opening reports it */
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Bob Jenkins' lookup3 hashlittle, as HDF5's H5_checksum_lookup3 (initval 0). */
export function lookup3(k: Uint8Array): number {
  const rot = (x: number, n: number) => ((x << n) | (x >>> (32 - n))) >>> 0;
  // [a, b, c] as one state: each step is `x -= z; x ^= rot(z, r); z += y` over a rotation of the three.
  const s = new Uint32Array(3);
  const step = (x: number, y: number, z: number, r: number) => {
    s[x] = s[x]! - s[z]!;
    s[x] = s[x]! ^ rot(s[z]!, r);
    s[z] = s[z]! + s[y]!;
  };
  const fin = (x: number, y: number, r: number) => {
    s[x] = s[x]! ^ s[y]!;
    s[x] = s[x]! - rot(s[y]!, r);
  };
  const word = (b: Uint8Array, i: number) => (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
  let len = k.length;
  s.fill((0xdeadbeef + len) >>> 0);
  let o = 0;
  while (len > 12) {
    s[0] = s[0]! + word(k, o);
    s[1] = s[1]! + word(k, o + 4);
    s[2] = s[2]! + word(k, o + 8);
    // mix(a, b, c)
    step(0, 1, 2, 4);
    step(1, 2, 0, 6);
    step(2, 0, 1, 8);
    step(0, 1, 2, 16);
    step(1, 2, 0, 19);
    step(2, 0, 1, 4);
    len -= 12;
    o += 12;
  }
  if (len === 0) return s[2]!;
  const tail = new Uint8Array(12); // the last 1–12 bytes, zero-padded (what the C switch adds)
  tail.set(k.subarray(o, o + len));
  s[0] = s[0]! + word(tail, 0);
  s[1] = s[1]! + word(tail, 4);
  s[2] = s[2]! + word(tail, 8);
  // final(a, b, c)
  fin(2, 1, 14);
  fin(0, 2, 11);
  fin(1, 0, 25);
  fin(2, 1, 16);
  fin(0, 2, 4);
  fin(1, 0, 14);
  fin(2, 1, 24);
  return s[2]!;
}
