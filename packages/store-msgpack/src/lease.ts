/**
 * Write locks kept as short leases: released 5 ms after the last write, and after 200 ms of
 * continuous writing as soon as another process says it waits, so a burst of appends pays for
 * one lock while others still get their turn. A lease is pinned while a failed append's bytes
 * could not be cut back (nobody may build on them until they are).
 */
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { QuiverError } from "@quiver/core";
import { lock, unlock, wanted } from "./lock.js";
import { ioError, type TableState } from "./state.js";

const LEASE_IDLE_MS = 5;
const LEASE_MAX_MS = 200;

interface Lease {
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
   */
  async hold(st: TableState): Promise<boolean> {
    const lease = this.leases.get(st.lockPath);
    if (lease) {
      const now = Date.now();
      if (lease.pinned || now - lease.since < LEASE_MAX_MS || !wanted(st.lockPath)) {
        if (now - lease.since >= LEASE_MAX_MS) lease.since = now; // nobody waits: keep writing
        lease.used = now; // the idle timer re-arms itself until LEASE_IDLE_MS pass unused
        return false;
      }
      // Someone waits: step aside for longer than their longest poll interval.
      this.release(st);
      await new Promise((r) => setTimeout(r, 30));
    }
    mkdirs(st.dir);
    try {
      await lock(st.lockPath, this.lockTimeout, `table ${JSON.stringify(st.name)}`);
    } catch (err) {
      throw ioError("cannot take the write lock", st.lockPath, err);
    }
    if (this.isClosed()) {
      unlock(st.lockPath);
      throw new QuiverError("CLOSED", `the store was closed while waiting for the write lock of table ${JSON.stringify(st.name)}`);
    }
    const now = Date.now();
    const entry: Lease = { since: now, used: now, timer: undefined, pinned: false };
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

  /** Keeps the lock until `unpin` (a failed append left bytes that must be cut first). */
  pin(st: TableState, on: boolean): void {
    const lease = this.leases.get(st.lockPath);
    if (lease) lease.pinned = on;
  }

  release(st: TableState): void {
    const lease = this.leases.get(st.lockPath);
    if (!lease) return;
    clearTimeout(lease.timer);
    this.leases.delete(st.lockPath);
    unlock(st.lockPath);
  }

  /** Lets go of every lock now (close, closeSync); never throws. */
  releaseAll(): void {
    for (const [path, lease] of this.leases) {
      clearTimeout(lease.timer);
      unlock(path);
    }
    this.leases.clear();
  }
}
