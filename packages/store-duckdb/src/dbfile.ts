/**
 * One DuckDB database file as seen by this process, shared by every Store opened on it.
 *
 * DuckDB lets ONE process open a file (readers included). In "shared" mode a process holds
 * the file only while it works: operations run in short sessions; the instance stays open
 * while operations keep coming (so one busy process is not slowed down) and is closed after
 * `linger` ms of idleness, or after `maxHold` ms when another process has signalled that it
 * waits (by touching `<file>.quiver-wait`). A process that finds the file locked retries
 * with jittered backoff and raises LOCKED only after `lockTimeout` ms, naming the holder.
 *
 * In "exclusive" mode the file is opened once and held until the last store closes.
 * Within one process every store on a path shares one instance (DuckDB must not open a
 * file twice in a process), and operations are serialised.
 */
import fs from "node:fs";
import path from "node:path";
import { type DuckDBAppender, DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { QuiverError } from "@quiver/core";

export type LockMode = "shared" | "exclusive";

export interface FileOptions {
  mode: LockMode;
  /** ms to keep retrying a locked file before LOCKED (default 30 000). */
  lockTimeout: number;
  /** ms of idleness after which a shared session is closed (default 250; sooner when another process waits). */
  linger: number;
  /** ms a shared session may last while another process waits (default 200). */
  maxHold: number;
  /** ms an append transaction stays open before it is committed (default 500). */
  commitInterval: number;
}

export const DEFAULT_FILE_OPTIONS: FileOptions = { mode: "shared", lockTimeout: 30_000, linger: 250, maxHold: 200, commitInterval: 500 };

/** Settings every instance gets: no extension is ever downloaded or autoloaded. */
const CONFIG: Record<string, string> = {
  autoinstall_known_extensions: "false",
  autoload_known_extensions: "false",
  // Checkpoint when the file is released or closed rather than inside ordinary commits
  // (the default 16 MB threshold made every few commits a checkpoint); a process that holds
  // the file for long still checkpoints every 256 MB of WAL.
  checkpoint_threshold: "256MB",
};

const files = new Map<string, DbFile>();

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function isLockError(err: unknown): boolean {
  const m = String((err as Error)?.message ?? err);
  return /Could not set lock on file|Conflicting lock is held|database is locked/i.test(m);
}

export class DbFile {
  private instance: DuckDBInstance | undefined;
  private conn: DuckDBConnection | undefined;
  private refs = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private heldSince = 0;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Table metadata cache (null: known not to exist); cleared whenever the file is released. */
  readonly tables = new Map<string, import("./store.js").TableInfo | null>();
  readonly waitFile: string | undefined;

  private constructor(
    readonly location: string,
    readonly options: FileOptions,
  ) {
    this.waitFile = location === ":memory:" ? undefined : `${location}.quiver-wait`;
  }

  static get(location: string, options: FileOptions): DbFile {
    const key = location === ":memory:" ? `:memory:#${Math.random()}` : path.resolve(location);
    let f = files.get(key);
    if (!f) {
      f = new DbFile(location === ":memory:" ? location : key, location === ":memory:" ? { ...options, mode: "exclusive" } : options);
      files.set(key, f);
      f.key = key;
    }
    f.refs++;
    return f;
  }

  private key = "";

  get exclusive(): boolean {
    return this.options.mode === "exclusive";
  }

  /** Runs `fn` with the connection, alone (operations of this process are serialised). */
  run<T>(fn: (conn: DuckDBConnection) => Promise<T>, append = false): Promise<T> {
    const p = this.tail.then(async () => {
      if (this.idleTimer) {
        clearTimeout(this.idleTimer);
        this.idleTimer = undefined;
      }
      if (this.failure) {
        const err = this.failure;
        this.failure = undefined;
        throw err;
      }
      // Anything but an append first commits pending appends: reads then see them on a
      // fresh snapshot, and writes never share a transaction with unacknowledged rows.
      if (!append && (this.inTx || this.committing)) await this.commitPending();
      const conn = this.conn ?? (await this.acquire());
      return fn(conn);
    });
    // Housekeeping (periodic commit, release) runs after the caller got its result, so a
    // commit overlaps with the caller preparing its next batch; the next operation waits.
    const after = () =>
      this.afterOp().catch((err: unknown) => {
        this.failure = new QuiverError("IO", `committing appended rows to ${this.location} failed: ${(err as Error)?.message ?? err}`, { cause: err });
      });
    this.tail = p.then(after, after);
    return p;
  }

  /** An error of background housekeeping, raised by the next operation. */
  private failure: QuiverError | undefined;

  /**
   * Appends go into one open transaction that is committed every `commitInterval` ms, when
   * the file goes idle, on flush() and before the file is released: a commit (WAL fsync) per
   * 10k-row batch would cost more than the append itself.
   */
  async beginPending(conn: DuckDBConnection): Promise<void> {
    if (this.inTx) return;
    await conn.run("BEGIN TRANSACTION");
    this.inTx = true;
    this.txStart = Date.now();
  }

  /** Commits the open append transaction, if any (after any commit still in flight). */
  async commitPending(): Promise<void> {
    await this.settle();
    this.closeAppenders();
    if (!this.inTx || !this.conn) return;
    this.inTx = false;
    await this.conn.run("COMMIT");
  }

  /** A periodic commit in flight on the spare connection, and that connection. */
  private committing: Promise<void> | undefined;
  private spare: DuckDBConnection | undefined;

  /**
   * The periodic commit does not hold up the next append: the committing transaction keeps
   * its connection while appends continue in a new transaction on a second connection.
   * Commits stay in order (each waits for the previous), and so does the table's row order.
   */
  private async commitInBackground(): Promise<void> {
    // The previous commit still running (a slow disk): keep appending, try after the next append.
    if (this.committing && !this.committed) return;
    await this.settle();
    if (!this.inTx || !this.conn || !this.instance) return;
    this.closeAppenders();
    const committing = this.conn;
    this.inTx = false;
    this.conn = this.spare ?? (await this.instance.connect());
    this.spare = committing;
    this.committed = false;
    const p = committing.run("COMMIT").then(() => {
      this.committed = true;
    });
    p.catch(() => (this.committed = true)); // the failure is raised by settle()
    this.committing = p;
  }

  /** Whether the commit in flight has finished (successfully or not). */
  private committed = true;

  /** Waits for the commit in flight, raising its failure. */
  private async settle(): Promise<void> {
    const p = this.committing;
    if (!p) return;
    this.committing = undefined;
    try {
      await p;
    } catch (err) {
      throw new QuiverError("IO", `committing appended rows to ${this.location} failed, they were rolled back: ${(err as Error)?.message ?? err}`, { cause: err });
    }
  }

  private readonly appenders = new Map<string, DuckDBAppender>();

  /** An appender on `table` kept open for the append transaction (creating one is an async round trip). */
  async appender(conn: DuckDBConnection, table: string): Promise<DuckDBAppender> {
    let a = this.appenders.get(table);
    if (!a) {
      a = await conn.createAppender(table);
      this.appenders.set(table, a);
    }
    return a;
  }

  private closeAppenders(): void {
    for (const a of this.appenders.values()) {
      try {
        a.closeSync();
      } catch {
        /* flushed after every append already */
      }
    }
    this.appenders.clear();
  }

  /** Rolls the open append transaction back after a failure inside it. */
  async abortPending(): Promise<void> {
    await this.settle().catch(() => undefined);
    this.closeAppenders();
    if (!this.inTx || !this.conn) return;
    this.inTx = false;
    await this.conn.run("ROLLBACK").catch(() => undefined);
  }

  private inTx = false;
  private txStart = 0;

  /** Opens the file, waiting for other processes up to lockTimeout. */
  private async acquire(): Promise<DuckDBConnection> {
    const start = Date.now();
    let delay = 2;
    let lastErr: unknown;
    for (;;) {
      try {
        const inst = await DuckDBInstance.create(this.location, CONFIG);
        try {
          this.conn = await inst.connect();
        } catch (err) {
          inst.closeSync();
          throw err;
        }
        this.instance = inst;
        this.heldSince = Date.now();
        return this.conn;
      } catch (err) {
        if (!isLockError(err)) throw wrapOpenError(err, this.location);
        lastErr = err;
      }
      const waited = Date.now() - start;
      if (waited >= this.options.lockTimeout) {
        const holder = /Conflicting lock is held in ([^\n.]*(?:\(PID \d+\))?)/.exec(String((lastErr as Error)?.message))?.[1];
        throw new QuiverError(
          "LOCKED",
          `${this.location} is locked by ${holder ?? "another process"} and stayed locked for ${waited} ms (lockTimeout ${this.options.lockTimeout} ms); ` +
            `that process holds it in "exclusive" mode or is busy — open it with { lockTimeout } higher, or use "shared" mode in every process`,
          { cause: lastErr },
        );
      }
      this.signalWaiting();
      await sleep(Math.min(delay, this.options.lockTimeout - waited) * (0.5 + Math.random()));
      delay = Math.min(delay * 2, 40);
    }
  }

  private signalWaiting(): void {
    if (!this.waitFile) return;
    try {
      const now = new Date();
      try {
        fs.utimesSync(this.waitFile, now, now);
      } catch {
        fs.writeFileSync(this.waitFile, "");
      }
    } catch {
      /* a read-only directory: waiters just poll */
    }
  }

  private othersWaiting(): boolean {
    if (!this.waitFile) return false;
    try {
      return Date.now() - fs.statSync(this.waitFile).mtimeMs < 1000;
    } catch {
      return false;
    }
  }

  private async afterOp(): Promise<void> {
    if (!this.conn) return;
    const now = Date.now();
    if (this.inTx && now - this.txStart >= this.options.commitInterval) await this.commitInBackground();
    if (!this.exclusive && now - this.heldSince >= this.options.maxHold && this.othersWaiting()) {
      await this.release();
      // Step back so a waiting process gets its turn before we come back.
      this.tail = this.tail.then(() => sleep(5 + Math.random() * 20));
      return;
    }
    if (this.exclusive && !this.inTx) return;
    this.armIdle(now);
  }

  /**
   * While idle: exclusive mode commits after `linger` ms; shared mode commits and lets the
   * file go after `linger` ms, or as soon as another process signals that it waits. The
   * timer is not unref'd, so a process that ends without close() still commits.
   */
  private armIdle(since: number): void {
    const poll = this.exclusive ? this.options.linger : Math.min(this.options.linger, 20);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      this.tail = this.tail.then(async () => {
        if (this.idleTimer || !this.conn) return;
        try {
          if (this.exclusive) await this.commitPending();
          else if (Date.now() - since >= this.options.linger || this.othersWaiting()) await this.release();
          else this.armIdle(since);
        } catch (err) {
          console.warn(`[quiver] duckdb: committing ${this.location} failed: ${(err as Error)?.message ?? err}`);
        }
      });
    }, poll);
  }

  private async release(): Promise<void> {
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    try {
      await this.commitPending();
    } finally {
      const conn = this.conn;
      const spare = this.spare;
      const inst = this.instance;
      this.closeAppenders();
      this.inTx = false;
      this.conn = undefined;
      this.spare = undefined;
      this.instance = undefined;
      this.tables.clear();
      try {
        conn?.closeSync();
        spare?.closeSync();
      } finally {
        inst?.closeSync();
      }
    }
  }

  /** Opens the file now (exclusive mode takes the lock at open). */
  async warm(): Promise<void> {
    await this.run(async () => undefined);
  }

  /** Drops one reference; the last one closes the instance. */
  async unref(): Promise<void> {
    if (--this.refs > 0) return;
    files.delete(this.key);
    await this.tail;
    await this.release();
  }
}

function wrapOpenError(err: unknown, location: string): QuiverError {
  const msg = String((err as Error)?.message ?? err);
  if (/not a valid DuckDB database|database file .* is not|Corrupt|invalid/i.test(msg)) {
    return new QuiverError("IO", `${location} cannot be opened as a DuckDB database: ${msg}`, { cause: err });
  }
  if (/No such file or directory|Cannot open file/i.test(msg)) {
    return new QuiverError("INVALID_PATH", `${location} cannot be created or opened: ${msg}; check that its directory exists and is writable`, { cause: err });
  }
  return new QuiverError("IO", `${location}: ${msg}`, { cause: err });
}
