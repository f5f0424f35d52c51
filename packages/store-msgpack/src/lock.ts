/**
 * Per-table write lock: a file created with O_CREAT|O_EXCL holding the owner's PID and host, and
 * a fixed-width third line, the write intent: `w <data inode> <offset>` is written before each
 * append's data bytes. A lock whose PID is dead (a writer killed with SIGKILL) is broken; its
 * intent is what proves that bytes at the end of data.msgpack are a torn Quiver write (the
 * taker inherits it until its recovery is done), so recovery never cuts bytes it cannot prove
 * are its own.
 */
import { closeSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { QuiverError } from "@quiver/core";

const HOST = hostname();
const INTENT_WIDTH = 48;

export interface Intent {
  ino: bigint;
  offset: number;
}

interface Held {
  fd: number;
  /** Byte offset of the intent line in the lock file. */
  at: number;
  /** The intent inherited from a dead holder's lock, until recovery has dealt with it. */
  inherited: Intent | undefined;
}

/** Locks this process holds right now (another store instance of ours must wait for them). */
const held = new Map<string, Held>();
/** Text of dead holders' locks we broke, by path: the next tryLock inherits their intent. */
const broken = new Map<string, string>();

function intentLine(intent: Intent | undefined): string {
  return (intent ? `w ${intent.ino} ${intent.offset}` : "-").padEnd(INTENT_WIDTH - 1) + "\n";
}

export function parseIntent(text: string): Intent | undefined {
  const m = /^w (\d+) (\d+)\s*$/.exec(text.split("\n")[2] ?? "");
  return m ? { ino: BigInt(m[1]!), offset: Number(m[2]) } : undefined;
}

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
  let ours = false;
  try {
    ours = readFileSync(aside, "utf8") === text;
  } catch {
    /* gone */
  }
  if (ours) broken.set(path, text);
  try {
    unlinkSync(aside);
  } catch {
    /* gone */
  }
  return undefined;
}

const FOREIGN_GRACE_MS = 3000;

/**
 * Takes the lock if it is free (breaking a dead owner's lock); returns whether we hold it.
 * File system errors other than "exists" (read-only, disk full, no permission) are thrown.
 */
export function tryLock(path: string, waited = 0): boolean {
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      if (holder(path, waited) !== undefined) return false;
      continue;
    }
    const text = broken.get(path);
    broken.delete(path);
    const inherited = text === undefined ? undefined : parseIntent(text);
    const head = `${process.pid}\n${HOST}\n`;
    try {
      writeSync(fd, head + intentLine(inherited));
    } catch (err) {
      closeSync(fd);
      try {
        unlinkSync(path);
      } catch {
        /* gone */
      }
      if (text !== undefined) broken.set(path, text);
      throw err;
    }
    held.set(path, { fd, at: Buffer.byteLength(head), inherited });
    return true;
  }
  return false;
}

/** The intent a dead holder left in the lock we now hold (undefined when none). */
export function inheritedIntent(path: string): Intent | undefined {
  return held.get(path)?.inherited;
}

/**
 * Records in our lock that the data file `ino` is being written from `offset` on. Overwrites
 * the fixed-width line in place, so the lock file never grows (no space needed on a full disk).
 */
export function writeIntent(path: string, ino: bigint, offset: number): void {
  const h = held.get(path);
  if (!h) return;
  writeSync(h.fd, intentLine({ ino, offset }), h.at);
  h.inherited = undefined;
}

/** Releases the lock (synchronously; never throws). */
export function unlock(path: string): void {
  const h = held.get(path);
  held.delete(path);
  if (h) {
    try {
      closeSync(h.fd);
    } catch {
      /* closed */
    }
  }
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

/**
 * Whether a write may be in flight, for readers (who never break or take locks): the lock
 * exists and its holder is alive, on another host, or still writing the lock file.
 */
export function lockBusy(path: string): boolean {
  if (held.has(path)) return true;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return false;
  }
  const [pidText, host] = text.split("\n");
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) {
    try {
      return Date.now() - statSync(path).mtimeMs < 2000;
    } catch {
      return false;
    }
  }
  if (host && host !== HOST) return true;
  if (pid === process.pid) return false; // not in `held`: a previous process's leftover
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
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
