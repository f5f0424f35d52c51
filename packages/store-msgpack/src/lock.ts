/**
 * Per-table write lock: a file created with O_CREAT|O_EXCL holding the owner's PID. Held only
 * for the synchronous critical section of one append/rewrite (never across an await), so other
 * processes wait milliseconds. A lock whose PID is dead (a writer killed with SIGKILL) is broken.
 */
import { closeSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { QuiverError } from "@quiver/core";

const HOST = hostname();

/** Locks this process holds right now (another store instance of ours must wait for them). */
const held = new Set<string>();

function alive(pid: number, path: string): boolean {
  if (pid === process.pid) return held.has(path); // our PID but not held by us: a previous process's leftover
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The holder's PID when the lock is held by a live process, else undefined (and a stale lock is
 * removed). A lock from another host (a container that is gone, a machine sharing the folder) is
 * trusted until we have waited FOREIGN_GRACE_MS for it: a live holder yields within its lease.
 */
function holder(path: string, waited = 0): number | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  const [pidText, host] = text.split("\n");
  const pid = Number(pidText);
  if (Number.isInteger(pid) && pid > 0) {
    if (host && host !== HOST) {
      if (waited < FOREIGN_GRACE_MS) return pid;
    } else if (alive(pid, path)) return pid;
  } else {
    // Created but not yet written (the writer died between open and write): stale after 2 s.
    try {
      if (Date.now() - statSync(path).mtimeMs < 2000) return -1;
    } catch {
      return undefined;
    }
  }
  // Stale: move it aside (atomic), then check we moved the lock we judged; if another process
  // took the lock in between, put its lock back (link fails only if yet another one exists).
  const aside = `${path}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    renameSync(path, aside);
  } catch {
    return undefined; // someone else broke it first
  }
  try {
    if (readFileSync(aside, "utf8") !== text) linkSync(aside, path);
  } catch {
    /* the lock was re-taken meanwhile: leave that one */
  }
  try {
    unlinkSync(aside);
  } catch {
    /* gone */
  }
  return undefined;
}

const FOREIGN_GRACE_MS = 3000;

/** Takes the lock if it is free (breaking a dead owner's lock); returns whether we hold it. */
export function tryLock(path: string, waited = 0): boolean {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(path, "wx");
      try {
        writeSync(fd, `${process.pid}\n${HOST}\n`);
      } finally {
        closeSync(fd);
      }
      held.add(path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (holder(path, waited) !== undefined) return false;
    }
  }
  return false;
}

export function unlock(path: string): void {
  held.delete(path);
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The file waiters touch so a holder keeping the lock across a burst of writes lets them in. */
export function wantedPath(path: string): string {
  return `${path}-wanted`;
}

/** Whether another process is waiting for the lock right now. */
export function wanted(path: string): boolean {
  const s = statSync(wantedPath(path), { throwIfNoEntry: false });
  return s !== undefined && Date.now() - s.mtimeMs < 250;
}

/** Waits up to `timeout` ms for the lock; LOCKED when a live process keeps it longer. */
export async function lock(path: string, timeout: number, what: string): Promise<void> {
  const t0 = Date.now();
  let wait = 1;
  let waited = false;
  while (!tryLock(path, Date.now() - t0)) {
    if (Date.now() - t0 >= timeout) {
      const pid = holder(path);
      throw new QuiverError("LOCKED", `${what} is being written by process ${pid ?? "?"} (lock file ${path}); wait for it to finish, or raise the store's lockTimeout (now ${timeout} ms)`);
    }
    try {
      writeFileSync(wantedPath(path), `${process.pid}\n`);
      waited = true;
    } catch {
      /* read-only or gone: the holder's lease still ends when it goes idle */
    }
    await sleep(wait);
    wait = Math.min(wait * 2, 20);
  }
  if (waited) {
    try {
      unlinkSync(wantedPath(path));
    } catch {
      /* another waiter removed it; it touches it again while it waits */
    }
  }
}
