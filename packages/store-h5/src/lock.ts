/** The advisory writer lock of an HDF5 file (h5wasm's file system has no flock). */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { QuiverError } from "@quiver/core";
import { ioAdvice, ioReason } from "./guard.js";

const held = new Map<string, number>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * An advisory writer lock, `<file>.lock` holding the writer's pid. HDF5 would use flock, but
 * h5wasm's emscripten file system has none, so two processes could otherwise both write (and
 * corrupt) one file. A lock left by a dead process is taken over. Returns the release function.
 */
export function acquireWriteLock(path: string): () => void {
  const lock = `${path}.lock`;
  const mine = held.get(lock);
  if (mine !== undefined) {
    held.set(lock, mine + 1);
    return once(() => release(lock));
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: "wx" });
      held.set(lock, 1);
      return once(() => release(lock));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new QuiverError("IO", `cannot create the writer lock ${lock}: ${ioReason(e)}; ${ioAdvice(e)}, or open the file with readOnly: true to only read it`, { cause: e });
      }
      const pid = Number(readFileSafe(lock));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new QuiverError("LOCKED", `${path} is being written by process ${pid} (HDF5 files have one writer); close it there first, or read it with H5Logger.read (the writer needs concurrentReaders: true)`);
      }
      rmSync(lock, { force: true }); // stale: its writer is gone
    }
  }
  throw new QuiverError("LOCKED", `${path}: could not take the writer lock ${lock}`);
}

function readFileSafe(p: string): string {
  try {
    return readFileSync(p, "utf8").trim();
  } catch {
    return "";
  }
}

/** Never throws (it runs in close paths): a lock left on a read-only disk names a dead pid and is taken over. */
function release(lock: string): void {
  const n = held.get(lock) ?? 0;
  if (n > 1) return void held.set(lock, n - 1);
  held.delete(lock);
  try {
    rmSync(lock, { force: true });
  } catch {
    /* see above */
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      fn();
    }
  };
}
