/**
 * One file lock for every store: a lock file created with O_CREAT|O_EXCL holding the owner's
 * PID and host (and any text the holder adds after them). A lock whose PID is dead — a writer
 * killed with SIGKILL — is taken over; the taker learns what the dead holder had written
 * (`inherited`), so a store can tell its own torn writes from foreign bytes.
 *
 * Taking over is race-free between processes: a stale lock is removed only under a second
 * lock (`.break`), after judging it again, so no process can remove a lock another has just
 * taken (the race msgpack's "put back if re-taken meanwhile" fix closed, closed for good). A
 * folder that cannot hold the lock file (read-only, no permission, full) is QuiverError("IO")
 * at once: no retry loop, no blaming a lock.
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
  /** What the LOCKED message tells the user to do (default: wait, or raise the store's lock timeout). */
  hint?: string;
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

/** Milliseconds since the file was last written (Infinity when it is gone). */
function age(path: string): number {
  const s = statSync(path, { throwIfNoEntry: false });
  return s ? Date.now() - s.mtimeMs : Infinity;
}

/** O_CREAT|O_EXCL: the descriptor, or undefined when the file exists. Other faults are IO. */
function create(path: string): number | undefined {
  try {
    return openSync(path, "wx");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return undefined;
    throw ioError(err, "creating the", path);
  }
}

/**
 * The live holder named by a lock's text, or undefined when the lock is stale: its PID is dead
 * (on this host), it is another host's and we have waited `foreignGrace` for it, or it was
 * created but never written (its writer died between open and write).
 */
function judge(path: string, text: string, waited: number, foreignGrace: number): LockHolder | undefined {
  const h = parse(text);
  if (!h) return age(path) < UNWRITTEN_GRACE_MS ? { pid: -1, host: HOST } : undefined;
  if (h.host && h.host !== HOST) return waited < foreignGrace ? h : undefined;
  if (h.pid === process.pid) return held.has(path) ? h : undefined; // our PID but not held: a previous process's leftover
  return pidAlive(h.pid) ? h : undefined;
}

/**
 * Breaking a stale lock is serialized by a second, short-lived lock file (`.break`): under it
 * the lock is judged again and removed only if it is still the same stale one, then taken at
 * once. So a process can never remove a lock that another has just taken. Returns the new
 * lock's descriptor, or undefined when another process is breaking it or won the lock.
 */
function breakAndTake(path: string, text: string, waited: number, foreignGrace: number): number | undefined {
  const breaker = `${path}.break`;
  const bfd = create(breaker);
  if (bfd === undefined) {
    clearStaleBreaker(breaker);
    return undefined;
  }
  try {
    writeSync(bfd, `${process.pid}\n${HOST}\n`);
    const now = readLock(path);
    if (now === undefined) return create(path);
    if (now !== text || judge(path, now, waited, foreignGrace) !== undefined) return undefined;
    try {
      unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(err, "removing the stale", path);
    }
    return create(path);
  } catch (err) {
    throw err instanceof QuiverError ? err : ioError(err, "writing the", breaker);
  } finally {
    closeSync(bfd);
    try {
      unlinkSync(breaker);
    } catch {
      /* gone */
    }
  }
}

/**
 * A breaker is held for microseconds; one older than that whose PID is dead, or any older than
 * UNWRITTEN_GRACE_MS, was left by a process that died while breaking. It is moved aside
 * (atomic) and put back if what moved is not the one judged — another process replaced it.
 */
function clearStaleBreaker(breaker: string): void {
  const text = readLock(breaker);
  if (text === undefined) return;
  const h = parse(text);
  const dead = h !== undefined && (!h.host || h.host === HOST) && h.pid !== process.pid && !pidAlive(h.pid);
  if (!dead && age(breaker) < UNWRITTEN_GRACE_MS) return;
  const aside = `${breaker}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    renameSync(breaker, aside);
  } catch {
    return; // someone else cleared it first
  }
  try {
    if (readFileSync(aside, "utf8") !== text) linkSync(aside, breaker);
  } catch {
    /* re-taken meanwhile: leave that one */
  }
  try {
    unlinkSync(aside);
  } catch {
    /* gone */
  }
}

/**
 * Takes the lock if it is free (taking over a dead holder's); undefined when a live process
 * (or another store instance in this one) holds it. File-system faults throw QuiverError("IO").
 */
export function tryLock(path: string, options: Pick<LockOptions, "extra" | "foreignGrace"> & { waited?: number } = {}): FileLock | undefined {
  const waited = options.waited ?? 0;
  const grace = options.foreignGrace ?? 3000;
  for (let attempt = 0; attempt < 3; attempt++) {
    const fd = create(path);
    if (fd !== undefined) return own(path, fd, undefined, options.extra);
    const text = readLock(path);
    if (text === undefined) continue; // released meanwhile
    if (judge(path, text, waited, grace) !== undefined) return undefined;
    const taken = breakAndTake(path, text, waited, grace);
    if (taken !== undefined) return own(path, taken, text, options.extra);
  }
  return undefined;
}

/** Writes our PID, host and `extra` into a lock file we created, and registers it as held. */
function own(path: string, fd: number, inherited: string | undefined, extra = ""): FileLock {
  const head = `${process.pid}\n${HOST}\n`;
  let ino: number;
  try {
    writeSync(fd, head + extra);
    ino = fstatSync(fd).ino;
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(path);
    } catch {
      /* gone */
    }
    throw ioError(err, "writing the", path);
  }
  let released = false;
  const lock: FileLock = {
    path,
    fd,
    extraOffset: Buffer.byteLength(head),
    inherited,
    owned: () => !released && statSync(path, { throwIfNoEntry: false })?.ino === ino,
    wanted: () => age(wantedPath(path)) < 250,
    release: () => {
      if (released) return;
      released = true;
      if (held.get(path) === lock) held.delete(path);
      try {
        closeSync(fd);
      } catch {
        /* closed */
      }
      // Only our own file: if it was replaced, the other one stays.
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
      throw new QuiverError(
        "LOCKED",
        `${options.what ?? path} is locked by ${who} (lock file ${path}); ${options.hint ?? `wait for it to finish, or raise the store's lock timeout (now ${timeout} ms)`}`,
      );
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
  return judge(path, text, 0, Infinity);
}

/** Whether a write may be in flight under the lock (see lockHolder). */
export function lockBusy(path: string): boolean {
  return lockHolder(path) !== undefined;
}
