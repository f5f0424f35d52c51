/**
 * A lock file per datasource under the root, so that commits (and the SQL engine's refresh of
 * its materialised state) from several processes take turns: each commit's `_seq` range is
 * counted under the lock. A lock left by a dead process is taken over.
 */
import { closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { QuiverError } from "@quiver/core";
import { fsOp } from "./storage.js";

/** Lock files this process holds right now (a file with our PID that is not here is a leftover). */
const held = new Set<string>();

function alive(pid: number, file: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return held.has(file);
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Breaks a stale lock whose content was `text`: moves it aside (atomic), and if what was moved
 * is not the lock we judged (another process broke it and took it meanwhile), puts it back
 * (link fails only if yet another one exists). Never deletes a live process's lock.
 */
function breakStale(file: string, text: string): void {
  const aside = `${file}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    renameSync(file, aside);
  } catch {
    return; // someone else broke it first
  }
  try {
    if (readFileSync(aside, "utf8") !== text) linkSync(aside, file);
  } catch {
    /* re-taken meanwhile: leave that one */
  }
  try {
    unlinkSync(aside);
  } catch {
    /* gone */
  }
}

function tryTake(file: string): boolean {
  try {
    const fd = openSync(file, "wx");
    try {
      writeSync(fd, String(process.pid));
    } finally {
      closeSync(fd);
    }
    held.add(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
      fsOp("cannot create the datasource lock", file, () => {
        throw err;
      });
    }
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return false; // released meanwhile: retry
  }
  const owner = Number(text);
  if (text === "" || !Number.isInteger(owner)) {
    // Created but not written yet (or its writer died right then): stale only after 2 s.
    try {
      if (Date.now() - statSync(file).mtimeMs < 2000) return false;
    } catch {
      return false;
    }
  } else if (alive(owner, file)) return false;
  breakStale(file, text);
  return false;
}

export async function withLock<T>(file: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  fsOp("cannot create the lock folder", dirname(file), () => mkdirSync(dirname(file), { recursive: true }));
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
    held.delete(file);
    try {
      unlinkSync(file);
    } catch {
      /* already gone */
    }
  }
}
