/**
 * Write locks kept as short leases over the kit's file lock: released 5 ms after the last
 * write, and after 200 ms of continuous writing as soon as another process says it waits, so a
 * burst of appends pays for one lock while others still get their turn. A lease is pinned while
 * a failed append's bytes could not be cut back (nobody may build on them until they are).
 * The lock file carries the write intent (intent.ts) after the PID and host.
 */
import { existsSync, mkdirSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { acquireLock, type FileLock, QuiverError } from "@quiver/core/store-kit";
import { intentLine, parseIntent } from "./intent.js";
import { ioError, type TableState } from "./state.js";

const LEASE_IDLE_MS = 5;
const LEASE_MAX_MS = 200;

interface Lease {
  lock: FileLock;
  st: TableState;
  since: number;
  used: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  pinned: boolean;
}

/**
 * Creates a folder and its missing parents one by one (a recursive mkdirSync reports ENOENT on
 * a read-only file system; level by level gives the real error).
 */
function mkdirs(dir: string): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing.reverse()) {
    try {
      mkdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw ioError("cannot create the table folder", d, err);
    }
  }
}

export class Leases {
  private readonly leases = new Map<string, Lease>();

  constructor(
    private readonly lockTimeout: number,
    private readonly isClosed: () => boolean,
  ) {}

  /**
   * Takes (or keeps) the table's write lock. Returns true when it was just taken, so the caller
   * must reload the table's state; while we hold it nobody else writes, so our state is current.
   * A lock taken over from a dead writer leaves its intent in `st.inherited` for recovery.
   */
  async hold(st: TableState): Promise<boolean> {
    const lease = this.leases.get(st.lockPath);
    if (lease) {
      const now = Date.now();
      if (lease.pinned || now - lease.since < LEASE_MAX_MS || !lease.lock.wanted()) {
        if (now - lease.since >= LEASE_MAX_MS) lease.since = now; // nobody waits: keep writing
        lease.used = now; // the idle timer re-arms itself until LEASE_IDLE_MS pass unused
        return false;
      }
      // Someone waits: step aside for longer than their longest poll interval.
      this.release(st);
      await new Promise((r) => setTimeout(r, 30));
    }
    mkdirs(st.dir);
    let lock: FileLock;
    try {
      lock = await acquireLock(st.lockPath, { timeout: this.lockTimeout, what: `table ${JSON.stringify(st.name)}`, extra: intentLine(undefined) });
    } catch (err) {
      throw ioError("cannot take the write lock", st.lockPath, err);
    }
    if (this.isClosed()) {
      lock.release();
      throw new QuiverError("CLOSED", `the store was closed while waiting for the write lock of table ${JSON.stringify(st.name)}`);
    }
    st.inherited = parseIntent(lock.inherited);
    if (st.inherited) {
      // Carry the dead writer's intent in our lock until recovery has dealt with it, so that a
      // kill of ours before then still leaves the proof to the next writer.
      try {
        writeSync(lock.fd, intentLine(st.inherited), lock.extraOffset);
      } catch {
        /* best effort: we still know it, and recovery comes next */
      }
    }
    const now = Date.now();
    const entry: Lease = { lock, st, since: now, used: now, timer: undefined, pinned: false };
    const check = () => {
      const idle = Date.now() - entry.used;
      if (idle >= LEASE_IDLE_MS && !entry.pinned) this.release(st);
      else {
        entry.timer = setTimeout(check, entry.pinned ? 50 : LEASE_IDLE_MS - idle + 1);
        entry.timer.unref?.();
      }
    };
    entry.timer = setTimeout(check, LEASE_IDLE_MS);
    entry.timer.unref?.();
    this.leases.set(st.lockPath, entry);
    st.indexChecked = -1;
    return true;
  }

  /**
   * Records in our lock that the data file `ino` is being written from `offset` on (overwritten
   * in place, so the lock file never grows). It replaces any inherited intent.
   */
  writeIntent(st: TableState, ino: bigint, offset: number): void {
    const lease = this.leases.get(st.lockPath);
    if (!lease) return;
    try {
      writeSync(lease.lock.fd, intentLine({ ino, offset }), lease.lock.extraOffset);
    } catch (err) {
      throw ioError("cannot record the write in the lock file", st.lockPath, err);
    }
    st.inherited = undefined;
  }

  /** Keeps the lock until `unpin` (a failed append left bytes that must be cut first). */
  pin(st: TableState, on: boolean): void {
    const lease = this.leases.get(st.lockPath);
    if (lease) lease.pinned = on;
  }

  release(st: TableState): void {
    const lease = this.leases.get(st.lockPath);
    if (!lease) return;
    this.end(lease);
    this.leases.delete(st.lockPath);
  }

  /** Lets go of every lock now (close, closeSync); never throws. */
  releaseAll(): void {
    for (const lease of this.leases.values()) this.end(lease);
    this.leases.clear();
  }

  private end(lease: Lease): void {
    clearTimeout(lease.timer);
    lease.st.inherited = undefined;
    lease.lock.release();
  }
}
