/**
 * `<file>.quiver-wait`: how processes waiting for a DuckDB file tell its holder (see dbfile.ts).
 * A waiter touches it on every attempt; a writer also leaves its pid, so that readers let it
 * go first. The holder lets go when it sees a touch that is not its own.
 */
import fs from "node:fs";

/** A writer's pid in the wait file touched this recently: readers let it open the file first. */
const WRITER_FRESH_MS = 60;
/** A wait file touched this recently means a process waits (waiters touch it every attempt). */
const WAIT_FRESH_MS = 250;

export class WaitFile {
  private made = false;
  /** The file's mtime after our own last touch of it (not a sign that others wait). */
  private ownTouch = 0;
  /** Our pid is in the file (we waited as a writer): cleared once we hold the file. */
  private pidLeft = false;

  constructor(readonly path: string) {}

  /** A writer makes sure the file exists, so that read-only processes (which create nothing) can signal that they wait. */
  make(): void {
    if (this.made) return;
    try {
      if (!fs.existsSync(this.path)) fs.writeFileSync(this.path, "");
    } catch {
      /* a read-only directory: the open reports it */
    }
    this.made = true;
  }

  /** Touches the file (a reader only touches one that exists: reading never creates files). */
  signal(readOnly: boolean): void {
    try {
      // A writer also leaves its pid, so that readers let it go first.
      if (!readOnly) {
        fs.writeFileSync(this.path, String(process.pid));
        this.pidLeft = true;
      } else {
        const now = new Date();
        fs.utimesSync(this.path, now, now);
      }
      this.ownTouch = fs.statSync(this.path).mtimeMs;
    } catch {
      /* a read-only directory: waiters just poll */
    }
  }

  /** We hold the file now: a pid we left is taken back, readers need not defer to us. */
  holding(): void {
    if (!this.pidLeft) return;
    this.pidLeft = false;
    try {
      fs.writeFileSync(this.path, "");
      this.ownTouch = fs.statSync(this.path).mtimeMs;
    } catch {
      /* readers then defer for WRITER_FRESH_MS at most */
    }
  }

  /** A writer (not holding the file) signalled within WRITER_FRESH_MS that it waits. */
  writerWaits(holders: { pid: number }[]): boolean {
    try {
      if (Date.now() - fs.statSync(this.path).mtimeMs >= WRITER_FRESH_MS) return false;
      const pid = Number(fs.readFileSync(this.path, "latin1"));
      return Number.isInteger(pid) && pid > 0 && pid !== process.pid && !holders.some((h) => h.pid === pid);
    } catch {
      return false;
    }
  }

  /** Another process touched the file within WAIT_FRESH_MS (our own touches do not count). */
  othersWaiting(): boolean {
    try {
      const m = fs.statSync(this.path).mtimeMs;
      return m !== this.ownTouch && Date.now() - m < WAIT_FRESH_MS;
    } catch {
      return false;
    }
  }
}
