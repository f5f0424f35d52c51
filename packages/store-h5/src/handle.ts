/** One h5wasm File of this package, kept honest by the file's guard (see guard.ts), and the writer lock. */
import { hostname } from "node:os";
import { QuiverError } from "@quiver/core";
import { type FileLock, lockHolder, tryLock } from "@quiver/core/store-kit";
import { FileGuard, type Holder } from "./guard.js";
import { type File, h5flush, openFile } from "./h5.js";

/** Writer locks this process holds, by lock file, with how many opens share each. */
const writers = new Map<string, { lock: FileLock; users: number }>();

/**
 * The advisory writer lock of an HDF5 file: `<file>.lock`, the kit's lock file (PID and host; a
 * dead writer's lock is taken over, race-free). HDF5 would use flock, but h5wasm's emscripten file
 * system has none, so two processes could otherwise both write (and corrupt) one file. A live
 * holder elsewhere is LOCKED at once: an HDF5 writer keeps its file until it closes, so waiting
 * would not help. Opens in this process share the lock. Returns the release function
 * (idempotent, never throws).
 */
export function writerLock(path: string): () => void {
  const file = `${path}.lock`;
  let w = writers.get(file);
  if (w) w.users++;
  else {
    const lock = tryLock(file); // a folder that cannot hold it is QuiverError("IO") naming it
    if (!lock) {
      const h = lockHolder(file);
      const who = h && h.pid > 0 ? `process ${h.pid}${h.host && h.host !== hostname() ? ` on ${h.host}` : ""}` : "another process";
      throw new QuiverError(
        "LOCKED",
        `${path} is being written by ${who} (HDF5 files have one writer; lock file ${file}); close it there first, or read it with H5Logger.read (the writer needs concurrentReaders: true)`,
      );
    }
    writers.set(file, (w = { lock, users: 1 }));
  }
  const entry = w;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--entry.users > 0) return;
    if (writers.get(file) === entry) writers.delete(file);
    entry.lock.release();
  };
}

function silentOpen(path: string): File | undefined {
  try {
    return openFile(path, "r");
  } catch {
    return undefined;
  }
}

export type OpenMode = "r" | "a" | "Sr";

export class H5Handle implements Holder {
  private f: File | undefined;
  private readonly guard: FileGuard;
  private readonly detach: () => void;
  private released = false;
  /** A writer's file reopened read-only, because opening it to write failed (a read-only disk): reads go on. */
  private fallback = false;
  /** Called with the new File after a rollback reopened it (dataset handles and SWMR need redoing). */
  onReopen: ((file: File, writable: boolean) => void) | undefined;

  private constructor(
    readonly path: string,
    readonly mode: OpenMode,
    private readonly libver: "v110" | undefined,
  ) {
    const { guard, detach } = FileGuard.attach(path, this);
    this.guard = guard;
    this.detach = detach;
  }

  /** Opens `path`; a writer's open is itself guarded (HDF5 marks the superblock when it opens to write). */
  static open(path: string, mode: OpenMode, libver?: "v110"): H5Handle {
    const h = new H5Handle(path, mode, libver);
    try {
      h.f = mode === "a" ? h.guard.run("cannot open", () => openFile(path, mode, libver)) : openFile(path, mode, libver);
    } catch (err) {
      h.detach();
      throw err;
    }
    return h;
  }

  /**
   * The open File. After a rollback that could not reopen it (the file was made read-only), it is
   * opened now: to write when possible, else read-only so that reads (and log() of new names) go on.
   */
  get file(): File {
    if (this.released) throw new QuiverError("CLOSED", `${this.path} is closed`);
    if (!this.f) {
      if (this.mode !== "a") this.f = openFile(this.path, this.mode, this.libver);
      else {
        try {
          this.f = this.guard.run("cannot reopen", () => openFile(this.path, "a", this.libver));
          this.fallback = false;
        } catch (err) {
          this.f = silentOpen(this.path);
          if (!this.f) throw err;
          this.fallback = true;
        }
      }
      this.onReopen?.(this.f, this.mode === "a" && !this.fallback);
    }
    return this.f;
  }

  /**
   * Runs h5wasm writes as one transaction ending in H5Fflush: either all of it is in the file (and
   * visible to readers and to a reopen after a crash) or none of it, and an I/O failure throws
   * QuiverError("IO") with the file as it was.
   */
  write<T>(what: string, fn: (file: File) => T): T {
    return this.guard.run(what, () => {
      const file = this.writer();
      const out = fn(file);
      if (h5flush(file) < 0) throw new QuiverError("IO", `${what} ${this.path}: HDF5 could not flush the file`);
      return out;
    });
  }

  /** The File opened to write (inside a transaction): a read-only fallback is dropped and the file opened again. */
  private writer(): File {
    if (this.mode !== "a") throw new QuiverError("UNSUPPORTED", `${this.path} is open to read only`);
    if (this.fallback) {
      // HDF5 will not open a file to write while this process has it open to read.
      this.suspend();
      this.fallback = false;
    }
    if (!this.f) {
      this.f = openFile(this.path, "a", this.libver);
      this.onReopen?.(this.f, true);
    }
    return this.f;
  }

  /** Makes what was committed durable (fsync). */
  sync(what: string): void {
    this.guard.sync(what);
  }

  suspend(): void {
    const f = this.f;
    this.f = undefined;
    f?.close();
  }

  resume(): void {
    if (this.released) return;
    this.f = openFile(this.path, this.mode, this.libver);
    this.onReopen?.(this.f, this.mode === "a");
  }

  /** Closes the file (everything was committed by `write`); never throws. Idempotent. */
  close(): void {
    if (this.released) return;
    this.released = true;
    const f = this.f;
    this.f = undefined;
    let closed = false;
    try {
      if (f && this.mode === "a" && !this.fallback) {
        this.guard.run("cannot close", () => {
          closed = true;
          f.close();
        });
      }
    } catch {
      /* committed data is in the file already; a failed close only leaves HDF5's open mark */
    } finally {
      try {
        if (f && !closed) f.close();
      } catch {
        /* as above */
      }
      this.detach();
    }
  }
}
