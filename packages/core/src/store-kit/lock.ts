/**
 * One file lock for every store: a lock file created with O_CREAT|O_EXCL holding the owner's
 * PID and host (and any text the holder adds after them). A lock whose PID is dead — a writer
 * killed with SIGKILL — is taken over; the taker learns what the dead holder had written
 * (`inherited`), so a store can tell its own torn writes from foreign bytes.
 *
 * Taking over is race-free between processes: the stale file is renamed aside (atomic), and if
 * what was moved is not the lock that was judged stale — another process broke it and took the
 * lock in between — it is linked back. A folder that cannot hold the lock file (read-only, no
 * permission, full) is QuiverError("IO") at once: no retry loop, no blaming a lock.
 */
import { closeSync, fstatSync, linkSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { QuiverError } from "../errors.js";

const HOST = hostname();
/** A lock file created but not yet written (its writer died between open and write) is stale after this. */
const UNWRITTEN_GRACE_MS = 2000;

export interface LockOptions {
  /** How long to wait for a live holder before LOCKED (ms, default 10 000). */
  timeout?: number;
  /** What the lock guards, for messages: e.g. `table "events" of msgpack:./runs`. Default: the lock file. */
  what?: string;
  /** Text written after the PID and host lines (overwrite it in place at `extraOffset`). */
  extra?: string;
  /** How long a lock of another host (which cannot be probed) is trusted while we wait (ms, default 3000). */
  foreignGrace?: number;
}

export interface FileLock {
  readonly path: string;
  /** The lock file's descriptor, open for writing. */
  readonly fd: number;
  /** Byte offset of `extra` in the lock file. */
  readonly extraOffset: number;
  /** The whole text of the dead holder's lock this one took over (undefined when it was free). */
  readonly inherited: string | undefined;
  /** Whether the lock file on disk is still this one (false if someone removed or replaced it). */
  owned(): boolean;
  /** Whether another process is waiting for the lock right now (a holder keeping it across a burst yields). */
  wanted(): boolean;
  /** Releases the lock: synchronous, idempotent, never throws. */
  release(): void;
}

export interface LockHolder {
  pid: number;
  host: string;
}

/** Locks this process holds right now (another store instance of ours must wait for them). */
const held = new Map<string, FileLock>();
/** Text of dead holders' locks we broke, by path: the next lock we take there inherits it. */
const broken = new Map<string, string>();

function ioError(err: unknown, doing: string, path: string): QuiverError {
  const e = err as NodeJS.ErrnoException;
  const why = `${e?.code ?? "error"}: ${e?.message ?? String(err)}`;
  const hint =
    e?.code === "EROFS" || e?.code === "EACCES" || e?.code === "EPERM"
      ? "the folder is read-only or not writable by this user; open the store with { readOnly: true } to read it, or make the folder writable"
      : e?.code === "ENOSPC" || e?.code === "EDQUOT"
        ? "the disk is full; free some space and retry"
        : "fix the fault and retry";
  return new QuiverError("IO", `${doing} lock file ${path} failed (${why}); ${hint}`, { cause: err });
}

function parse(text: string): LockHolder | undefined {
  const [pidText, host] = text.split("\n");
  const pid = Number(pidText);
  return Number.isInteger(pid) && pid > 0 ? { pid, host: host ?? "" } : undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readLock(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw ioError(err, "reading the", path);
  }
}

/** Whether the lock file was created just now and not yet written (its writer is still at it). */
function freshlyCreated(path: string): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs < UNWRITTEN_GRACE_MS;
  } catch {
    return false;
  }
}

/**
 * The live holder of the lock at `path`, or undefined when it is free — a stale lock (dead
 * PID on this host, or another host's past `foreignGrace` of waiting) is removed on the way.
 */
function liveHolder(path: string, waited: number, foreignGrace: number): LockHolder | undefined {
  const text = readLock(path);
  if (text === undefined) return undefined;
  const h = parse(text);
  if (h) {
    if (h.host && h.host !== HOST) {
      if (waited < foreignGrace) return h;
    } else if (h.pid === process.pid ? held.has(path) : pidAlive(h.pid)) return h; // our PID but not held: a previous process's leftover
  } else if (freshlyCreated(path)) return { pid: -1, host: HOST };
  // Stale: move it aside, then check we moved the lock we judged; if another process took the
  // lock in between, put its lock back (the link fails only if yet another one exists).
  const aside = `${path}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    renameSync(path, aside);
  } catch {
    return undefined; // someone else broke it first
  }
  let ours = false;
  try {
    ours = readFileSync(aside, "utf8") === text;
    if (!ours) linkSync(aside, path);
  } catch {
    /* the lock was re-taken meanwhile: leave that one */
  }
  if (ours) broken.set(path, text);
  try {
    unlinkSync(aside);
  } catch {
    /* gone */
  }
  return undefined;
}

/**
 * Takes the lock if it is free (taking over a dead holder's); undefined when a live process
 * (or another store instance in this one) holds it. File-system faults throw QuiverError("IO").
 */
export function tryLock(path: string, options: Pick<LockOptions, "extra" | "foreignGrace"> & { waited?: number } = {}): FileLock | undefined {
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw ioError(err, "creating the", path);
      if (liveHolder(path, options.waited ?? 0, options.foreignGrace ?? 3000) !== undefined) return undefined;
      continue;
    }
    const inherited = broken.get(path);
    broken.delete(path);
    const head = `${process.pid}\n${HOST}\n`;
    try {
      writeSync(fd, head + (options.extra ?? ""));
    } catch (err) {
      closeSync(fd);
      try {
        unlinkSync(path);
      } catch {
        /* gone */
      }
      if (inherited !== undefined) broken.set(path, inherited);
      throw ioError(err, "writing the", path);
    }
    const ino = fstatSync(fd).ino;
    let released = false;
    const lock: FileLock = {
      path,
      fd,
      extraOffset: Buffer.byteLength(head),
      inherited,
      owned: () => !released && statSync(path, { throwIfNoEntry: false })?.ino === ino,
      wanted: () => {
        const s = statSync(wantedPath(path), { throwIfNoEntry: false });
        return s !== undefined && Date.now() - s.mtimeMs < 250;
      },
      release: () => {
        if (released) return;
        released = true;
        if (held.get(path) === lock) held.delete(path);
        try {
          closeSync(fd);
        } catch {
          /* closed */
        }
        // Only our own file: after a takeover by someone else, theirs stays.
        if (statSync(path, { throwIfNoEntry: false })?.ino !== ino) return;
        try {
          unlinkSync(path);
        } catch {
          /* already gone */
        }
      },
    };
    held.set(path, lock);
    return lock;
  }
  return undefined;
}

/** The file waiters touch so that a holder keeping the lock across a burst of writes lets them in. */
export function wantedPath(path: string): string {
  return `${path}-wanted`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Waits up to `timeout` ms for the lock; LOCKED, naming the holder, when a live process keeps it longer. */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<FileLock> {
  const timeout = options.timeout ?? 10_000;
  const t0 = Date.now();
  let wait = 1;
  let waited = false;
  for (;;) {
    const lock = tryLock(path, { ...options, waited: Date.now() - t0 });
    if (lock) {
      if (waited) {
        try {
          unlinkSync(wantedPath(path));
        } catch {
          /* another waiter removed it; it touches it again while it waits */
        }
      }
      return lock;
    }
    if (Date.now() - t0 >= timeout) {
      const h = lockHolder(path);
      const who = h && h.pid > 0 ? `process ${h.pid}${h.host && h.host !== HOST ? ` on ${h.host}` : ""}` : "another process";
      throw new QuiverError("LOCKED", `${options.what ?? path} is locked by ${who} (lock file ${path}); wait for it to finish, or raise the store's lock timeout (now ${timeout} ms)`);
    }
    try {
      writeFileSync(wantedPath(path), `${process.pid}\n`);
      waited = true;
    } catch {
      /* gone: the holder's lease still ends when it goes idle */
    }
    await sleep(wait);
    wait = Math.min(wait * 2, 20);
  }
}

/** Runs `fn` holding the lock, releasing it afterwards whatever happens. */
export async function withLock<T>(path: string, options: LockOptions, fn: (lock: FileLock) => Promise<T> | T): Promise<T> {
  const lock = await acquireLock(path, options);
  try {
    return await fn(lock);
  } finally {
    lock.release();
  }
}

/**
 * Who holds the lock, for readers (who never break or take locks): the PID and host in the
 * lock file when its holder is alive, on another host, or still writing it; else undefined.
 */
export function lockHolder(path: string): LockHolder | undefined {
  if (held.has(path)) return { pid: process.pid, host: HOST };
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  const h = parse(text);
  if (!h) return freshlyCreated(path) ? { pid: -1, host: HOST } : undefined;
  if (h.host && h.host !== HOST) return h;
  if (h.pid === process.pid) return undefined; // not held by us: a previous process's leftover
  return pidAlive(h.pid) ? h : undefined;
}

/** Whether a write may be in flight under the lock (see lockHolder). */
export function lockBusy(path: string): boolean {
  return lockHolder(path) !== undefined;
}
