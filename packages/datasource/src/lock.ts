/**
 * A lock file per datasource under the root, so that commits (and the SQL engine's refresh of
 * its materialised state) from several processes take turns: each commit's `_seq` range is
 * counted under the lock. A lock left by a dead process is taken over.
 */
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { QuiverError } from "@quiver/core";

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function tryTake(file: string): boolean {
  try {
    const fd = openSync(file, "wx");
    writeSync(fd, String(process.pid));
    closeSync(fd);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  let owner = NaN;
  try {
    owner = Number(readFileSync(file, "utf8"));
  } catch {
    return false; // released meanwhile: retry
  }
  if (owner !== process.pid && !alive(owner)) {
    try {
      unlinkSync(file); // stale: its process is gone
    } catch {
      /* someone else took it over first */
    }
  }
  return false;
}

export async function withLock<T>(file: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  mkdirSync(dirname(file), { recursive: true });
  const start = Date.now();
  let wait = 2;
  while (!tryTake(file)) {
    if (Date.now() - start > timeoutMs) {
      throw new QuiverError("LOCKED", `${file} has been held by another process for ${timeoutMs} ms; if no process is writing this datasource, delete the file`);
    }
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(50, wait * 2);
  }
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(file);
    } catch {
      /* already gone */
    }
  }
}
