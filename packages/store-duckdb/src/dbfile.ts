/**
 * One DuckDB database file as seen by this process, shared by every Store opened on it.
 *
 * DuckDB lets ONE process open a file for writing (readers included, unless every process
 * opens it read-only). In "shared" mode a process holds the file only while it works:
 * operations run in short sessions; the instance stays open while operations keep coming (so
 * one busy process is not slowed down) and closes after `linger` ms of idleness. When another
 * process has signalled that it waits (by touching `<file>.quiver-wait`), the holder lets go as
 * soon as it is idle (a millisecond after its last operation, so that a caller's next call —
 * schema, then count — still shares the session), or after `maxHold` ms while operations keep
 * coming, and then steps back briefly so the waiter gets its turn. A process that finds the file
 * locked retries with short jittered backoff (1 → 8 ms: a hand-over costs an instance open,
 * ≈8 ms, so waiting longer only adds latency) and raises LOCKED only after `lockTimeout` ms,
 * naming the holder.
 *
 * A writer holding the file serves other processes' reads (serve.ts), so readers do not take it.
 * In "exclusive" mode the file is opened once and held until the last store closes. Within one
 * process every store on a path shares one instance, and operations are serialised.
 *
 * Appends are group-committed: appends queued behind each other share one transaction, which
 * is committed as soon as no further append waits; each append resolves only once the commit
 * of its transaction succeeded, and rejects when it failed (DuckDB then rolled it back).
 */
import path from "node:path";
import type { DuckDBAppender, DuckDBConnection } from "@duckdb/node-api";
import { DuckDBInstance } from "./duck.js";
import { type AppendReceipt, QuiverError } from "@quiver/core";
import { committedDespite, ioError, isFatal, messageOf, openError } from "./errors.js";
import { B } from "./native.js";
import { awaitQueuedStarts, exitingHolder, heldByOther, lockHolders } from "./procs.js";
import type { ReadRequest, ResultOf } from "./reads.js";
import { ReadClient } from "./remote.js";
import { ReadServer } from "./serve.js";
import { WaitFile } from "./waitfile.js";
import { TableCache } from "./catalog.js";

export type LockMode = "shared" | "exclusive";

export interface FileOptions {
  mode: LockMode;
  /** ms to keep retrying a locked file before LOCKED (default 30 000). */
  lockTimeout: number;
  /** ms of idleness after which a shared session ends (default 250; sooner when another process waits). */
  linger: number;
  /** ms a shared session may last while another process waits (default 200). */
  maxHold: number;
  /** Longest ms a group of appends that keep arriving waits for its commit (default 500). */
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

/** How many times this process opened a DuckDB instance (tests check that serving takes no hand-over). */
export const instanceOpens = { count: 0 };

/** Longest pause between attempts to open a file another process holds. */
const MAX_BACKOFF_MS = 8;
/** While /proc/locks shows the file held, a real attempt to open it at least this often (a check on the hint). */
const ATTEMPT_EVERY_MS = 500;
/** How often an idle holder looks for a waiter. */
const IDLE_CHECK_MS = 5;
/** After yielding to a waiter, a read-only holder waits 1–2× this before taking the file again (a writer a quarter). */
const STEP_BACK_MS = 10;

/** How long a holder that serves reads keeps the file after its last operation or answer (see armIdle). */
const SERVED_LINGER_MS = 2000;
/** A writer serves reads once it has held the file this long (see serveSoon). */
const SERVE_AFTER_MS = 10;
/** How long a reader waits for a holder's socket before it asks the holder for the file. */
const SOCKET_GRACE_MS = 50;
/** How many times one read switches from waiting for the file to the holder's socket. */
const MAX_SWITCHES = 5;
/** Thrown by acquire(): the holder now serves reads, go there. */
const SERVED = new Error("the holder serves reads");

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function isLockError(err: unknown): boolean {
  return /Could not set lock on file|Conflicting lock is held|database is locked/i.test(messageOf(err));
}

/**
 * At the natural end of a script, files held open only because other processes' reads kept
 * the linger going (its timer is unref'd then) are let go, so the WAL is checkpointed.
 */
let exitHook = false;
function releaseAtExit(): void {
  for (const f of files.values()) f.releaseIfServing();
}

/** What an operation is: appends join the open transaction; everything else commits it first. */
export type OpKind = "append" | "flush" | "other";

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
  /** Told `committed` synchronously (the exit path reads it after closeSync). */
  receipt?: AppendReceipt;
}

export class DbFile {
  private instance: DuckDBInstance | undefined;
  private conn: DuckDBConnection | undefined;
  /** Whether the open instance is read-only (no store on the file writes). */
  private openReadOnly = false;
  private refs = 0;
  /** Stores on the file that may write; with none the file is opened read-only. */
  private writers = 0;
  private tail: Promise<unknown> = Promise.resolve();
  private heldSince = 0;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** Appends queued behind the running operation (they join the open transaction). */
  private queuedAppends = 0;
  /** Operations of any kind queued behind the running one (an idle holder yields at once to a waiter). */
  private queued = 0;
  /** The open append transaction: since when, and the appends waiting for its commit. */
  private inTx = false;
  private txStart = 0;
  private group: Waiter[] = [];
  /** A COMMIT is running natively (closeSync must let it finish rather than interrupt it). */
  private committing = false;
  /** Receipts of the appends the running COMMIT holds: committed if closeSync lets it finish. */
  private committingReceipts: AppendReceipt[] = [];
  /** An operation is running: a native call of its may be queued on the thread pool (see closeSync). */
  private active = false;
  /** DuckDB invalidated the instance (a FATAL error): it is reopened by the next operation. */
  private broken = false;
  /** Table metadata cache (null: known not to exist); cleared whenever the file is released. */
  readonly tables = new TableCache();
  /** `<file>.quiver-wait`, by which processes that wait for the file say so (waitfile.ts). */
  private readonly wait: WaitFile | undefined;
  private key = "";
  /** Answers other processes' reads while we hold the file for writing (serve.ts). */
  private server: ReadServer | undefined;
  private serveTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the server last answered: serving counts as activity for the idle linger. */
  private lastServed = 0;
  /** Sends our reads to the process holding the file, when this file is read-only here (remote.ts). */
  private client: ReadClient | undefined;

  private constructor(
    readonly location: string,
    readonly options: FileOptions,
  ) {
    this.wait = location === ":memory:" ? undefined : new WaitFile(`${location}.quiver-wait`);
  }

  static get(location: string, options: FileOptions, readOnly = false): DbFile {
    const key = location === ":memory:" ? `:memory:#${Math.random()}` : path.resolve(location);
    let f = files.get(key);
    if (!f) {
      f = new DbFile(location === ":memory:" ? location : key, location === ":memory:" ? { ...options, mode: "exclusive" } : options);
      files.set(key, f);
      f.key = key;
    }
    f.refs++;
    if (!readOnly) f.writers++;
    return f;
  }

  get tablesGen(): number {
    return this.tables.gen;
  }

  served(): void {
    this.lastServed = Date.now();
  }

  /** No store of ours writes the file and another process holds it: its answer to `req` (else undefined). */
  async remote<R extends ReadRequest>(req: R): Promise<{ value: ResultOf<R> } | undefined> {
    if (this.writers > 0 || this.location === ":memory:" || this.conn) return undefined;
    const holders = lockHolders(this.location);
    if (holders && !holders.some((h) => h.pid !== process.pid && h.type === "WRITE")) return undefined;
    this.client ??= new ReadClient(this.location, this.options.lockTimeout);
    return this.client.request(req);
  }

  /**
   * A read: the holder's answer (remote), else `local` in a session. A reader that finds the
   * file held while waiting for it switches to the holder's socket once it is there (a writer
   * serves a moment after it opened the file), rather than taking the file from it.
   */
  async read<R extends ReadRequest>(req: R, local: (conn: DuckDBConnection) => Promise<ResultOf<R>>): Promise<ResultOf<R>> {
    for (let tries = 0; ; tries++) {
      const answer = await this.remote(req);
      if (answer) return answer.value;
      try {
        return await this.run(local, "other", tries < MAX_SWITCHES);
      } catch (err) {
        if (err !== SERVED) throw err;
      }
    }
  }

  get exclusive(): boolean {
    return this.options.mode === "exclusive";
  }

  /** Runs `fn` with the connection, alone (operations of this process are serialised). */
  run<T>(fn: (conn: DuckDBConnection) => Promise<T>, kind: OpKind = "other", served = false): Promise<T> {
    if (kind === "append") this.queuedAppends++;
    this.queued++;
    const p = this.tail.then(async () => {
      if (kind === "append") this.queuedAppends--;
      this.queued--;
      if (this.idleTimer) {
        clearTimeout(this.idleTimer);
        this.idleTimer = undefined;
      }
      // Anything but an append first commits the appends before it (their own callers get a
      // failure): reads then see them on a fresh snapshot, and writes never share their
      // transaction. flush() commits itself, to report the failure.
      if (kind === "other" && this.inTx) await this.commitGroup().catch(() => undefined);
      // A flush with the file let go has nothing to do: every append before it has committed
      // (or failed) already. Opening the file for it would only take it from other processes.
      if (kind === "flush" && !this.conn && !this.inTx) return undefined as T;
      const conn = await this.connection(served);
      try {
        this.active = true;
        return await fn(conn);
      } catch (err) {
        if (isFatal(err)) this.broken = true;
        throw err;
      } finally {
        this.active = false;
      }
    });
    // Housekeeping (group commit, release) runs after the caller got its result; the next operation waits.
    const after = () => this.afterOp().catch(() => undefined);
    this.tail = p.then(after, after);
    return p;
  }

  /** The open connection; opens the file (again) when needed. */
  private async connection(served = false): Promise<DuckDBConnection> {
    const wantReadOnly = this.writers === 0 && this.location !== ":memory:";
    if (this.conn && (this.broken || this.openReadOnly !== wantReadOnly)) await this.release(!this.broken);
    this.broken = false;
    return this.conn ?? (await this.acquire(wantReadOnly, served && wantReadOnly));
  }

  /** Starts the append transaction unless one is open. */
  async beginPending(conn: DuckDBConnection): Promise<void> {
    if (this.inTx) return;
    await conn.run("BEGIN TRANSACTION");
    this.inTx = true;
    this.txStart = Date.now();
  }

  /** A promise of the open transaction's commit, for an append that wrote into it. */
  joinGroup(receipt?: AppendReceipt): Promise<void> {
    const p = new Promise<void>((resolve, reject) => this.group.push({ resolve, reject, receipt }));
    p.catch(() => undefined); // the caller awaits it after its session returned
    return p;
  }

  /**
   * Commits `conn`'s transaction. A COMMIT that DuckDB reports failed although it is durable
   * (a failed autocheckpoint) counts as committed; the instance is reopened by the next operation.
   */
  async commit(conn: DuckDBConnection, receipts: AppendReceipt[] = []): Promise<void> {
    this.committing = true;
    this.committingReceipts = receipts;
    try {
      await conn.run("COMMIT");
    } catch (err) {
      if (isFatal(err)) this.broken = true;
      if (committedDespite(err)) return void receipts.forEach((r) => (r.committed = true));
      await conn.run("ROLLBACK").catch(() => undefined); // DuckDB has usually rolled back already
      throw err;
    } finally {
      this.committing = false;
      this.committingReceipts = [];
    }
    for (const r of receipts) r.committed = true;
  }

  /** Commits the open append transaction; its appends resolve, or reject with the failure. */
  async commitGroup(): Promise<void> {
    this.closeAppenders();
    if (!this.inTx) return;
    const waiters = this.group;
    this.group = [];
    this.inTx = false;
    try {
      if (!this.conn) throw new Error("the connection was closed");
      await this.commit(
        this.conn,
        waiters.flatMap((w) => (w.receipt ? [w.receipt] : [])),
      );
    } catch (err) {
      const e = ioError("committing appended rows to", this.location, err);
      for (const w of waiters) w.reject(e);
      throw e;
    }
    for (const w of waiters) w.resolve();
  }

  /** Rolls the open append transaction back after a failure inside it; its appends reject with `err`. */
  async abortPending(err: unknown): Promise<void> {
    this.closeAppenders();
    const waiters = this.group;
    this.group = [];
    for (const w of waiters) w.reject(err);
    if (!this.inTx || !this.conn) return;
    this.inTx = false;
    await this.conn.run("ROLLBACK").catch(() => undefined);
  }

  /** Commits pending appends (for operations that write outside the group, e.g. export). */
  async commitPending(): Promise<void> {
    if (this.inTx) await this.commitGroup();
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

  /** Opens the file, waiting for other processes up to lockTimeout. */
  private async acquire(readOnly: boolean, served = false): Promise<DuckDBConnection> {
    const start = Date.now();
    let delay = 1;
    let lastErr: unknown;
    const config = readOnly ? { ...CONFIG, access_mode: "READ_ONLY" } : CONFIG;
    if (!readOnly) this.wait?.make();
    let tried = start; // the first attempt too waits while the file is visibly held
    let graceFrom: number | undefined;
    for (;;) {
      // While the lock is visibly held — or, for a reader, while a writer waits for it (writers
      // go first: the rows readers wait for are theirs to commit) — wait cheaply, and say so,
      // instead of building an instance to fail.
      const holders = lockHolders(this.location);
      const parent = exitingHolder(holders);
      if (parent) throw new QuiverError("LOCKED", `${this.location} is still held by the exiting process (PID ${parent})`, { holderPid: parent });
      const blocked = heldByOther(holders, readOnly) === true || (readOnly && holders !== undefined && this.wait?.writerWaits(holders) === true);
      if (blocked && Date.now() - tried < ATTEMPT_EVERY_MS && Date.now() - start < this.options.lockTimeout) {
        // A reader a writer can serve: to its socket once it is there. Meanwhile the writer is
        // not asked to let go (it would stop serving), neither while it is about to open the
        // file nor for SOCKET_GRACE_MS once it holds it.
        if (served) {
          const writing = holders?.some((h) => h.pid !== process.pid && h.type === "WRITE") === true;
          if (writing) {
            this.client ??= new ReadClient(this.location, this.options.lockTimeout);
            if (this.client.ready()) throw SERVED;
            graceFrom ??= Date.now();
          }
          if (!writing || Date.now() - graceFrom! < SOCKET_GRACE_MS) {
            await sleep(0.5 + Math.random());
            continue;
          }
        }
        this.wait?.signal(readOnly);
        await sleep(0.5 + Math.random());
        continue;
      }
      // A writer says it is about to open the file, so that readers do not race it for the lock.
      if (!readOnly) this.wait?.signal(false);
      try {
        const inst = await DuckDBInstance.create(this.location, config);
        try {
          this.conn = await inst.connect();
        } catch (err) {
          inst.closeSync();
          throw err;
        }
        this.instance = inst;
        this.openReadOnly = readOnly;
        instanceOpens.count++;
        if (!readOnly && this.location !== ":memory:") this.serveSoon(inst);
        this.wait?.holding();
        this.heldSince = Date.now();
        return this.conn;
      } catch (err) {
        if (!isLockError(err)) throw openError(err, this.location, readOnly);
        lastErr = err;
        tried = Date.now();
      }
      const waited = Date.now() - start;
      if (waited >= this.options.lockTimeout) {
        const holder = /Conflicting lock is held in ([^\n.]*(?:\(PID \d+\))?)/.exec(messageOf(lastErr))?.[1];
        throw new QuiverError(
          "LOCKED",
          `${this.location} is locked by ${holder ?? "another process"} and stayed locked for ${waited} ms (lockTimeout ${this.options.lockTimeout} ms); ` +
            `that process holds it in "exclusive" mode or is busy — open it with { lockTimeout } higher, or use "shared" mode in every process`,
          { cause: lastErr },
        );
      }
      this.wait?.signal(readOnly);
      // The lock was not visible in /proc/locks (another OS, a file system it does not list): back off.
      if (!blocked) await sleep(Math.min(delay, this.options.lockTimeout - waited) * (0.5 + Math.random()));
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
    }
  }

  private async afterOp(): Promise<void> {
    if (!this.conn) return;
    const now = Date.now();
    // Group commit: once no append is queued behind (or the group is old), commit.
    if (this.inTx && (this.queuedAppends === 0 || now - this.txStart >= this.options.commitInterval)) await this.commitGroup().catch(() => undefined);
    if (this.exclusive) return;
    const waiting = this.wait?.othersWaiting() === true;
    if (waiting && this.queued > 0 && now - this.heldSince >= this.options.maxHold) {
      await this.yieldFile();
      return;
    }
    // Idle with a waiter: let go a moment from now, unless this process's next call comes first.
    this.armIdle(now, waiting);
  }

  /** Lets the file go for a process that waits, then steps back so it gets its turn before we come back. */
  private async yieldFile(): Promise<void> {
    await this.release();
    // Writers come back sooner: the rows a reader waits for are the writer's to commit.
    const back = this.openReadOnly ? STEP_BACK_MS : STEP_BACK_MS / 4;
    this.tail = this.tail.then(() => sleep(back * (1 + Math.random())));
  }

  /**
   * While idle, shared mode lets the file go after `linger` ms, or as soon as another process
   * signals that it waits (checked every few ms; `soon`: one is waiting already). The timer is
   * not unref'd: a process that ends without close() still checkpoints and lets go. A holder
   * that serves reads keeps the file SERVED_LINGER_MS after its last operation or answer
   * (readers need not take it, writers still get it by waiting), the part past `linger` on an
   * unref'd timer: that must not keep the process alive (releaseAtExit lets go at its end).
   */
  private armIdle(since: number, soon = false): void {
    this.idleTimer = setTimeout(
      () => {
        this.idleTimer = undefined;
        this.tail = this.tail.then(async () => {
          if (this.idleTimer || !this.conn) return;
          const keep = this.server ? Math.max(this.options.linger, SERVED_LINGER_MS) : this.options.linger;
          if (this.wait?.othersWaiting() === true) await this.yieldFile().catch(() => undefined);
          else if (Date.now() - Math.max(since, this.lastServed) >= keep) await this.release().catch(() => undefined);
          else this.armIdle(since);
        });
      },
      soon ? 1 : Math.min(this.options.linger, IDLE_CHECK_MS),
    );
    if (!soon && Date.now() - since >= this.options.linger) this.idleTimer.unref();
  }

  /**
   * Serves other processes' reads while we hold the file, from a moment after it was opened:
   * a one-shot script (open, log, close) never pays for a socket, and a reader that finds the
   * file held waits that long for the socket before it asks for the file.
   */
  private serveSoon(inst: DuckDBInstance): void {
    this.serveTimer = setTimeout(() => {
      this.serveTimer = undefined;
      if (this.instance !== inst || this.openReadOnly || this.server) return;
      this.server = new ReadServer(this, inst);
      if (!exitHook) {
        exitHook = true;
        process.on("beforeExit", releaseAtExit);
      }
    }, SERVE_AFTER_MS);
    this.serveTimer.unref();
  }

  /** At the natural end of the process: a shared file kept open only by serving is let go. */
  releaseIfServing(): void {
    if (!this.conn || this.exclusive || !this.server || !this.idleTimer) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.tail = this.tail.then(() => this.release()).catch(() => undefined);
  }

  /**
   * Lets the file go: commits pending appends (their callers get a failure), then closes.
   * Closing checkpoints the WAL into the file; a checkpoint that fails (disk full) leaves the
   * WAL in place, and the next open replays it, so committed rows are never lost.
   */
  private async release(commit = true): Promise<void> {
    clearTimeout(this.serveTimer);
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    if (commit) await this.commitGroup().catch(() => undefined);
    else await this.abortPending(ioError("committing appended rows to", this.location, new Error("DuckDB invalidated the open database")));
    // Readers in other processes read the file themselves from now on.
    const server = this.server;
    this.server = undefined;
    await server?.stop();
    this.closeNow();
  }

  /** Closes the connection and instance synchronously (nothing may be running on them). */
  private closeNow(): void {
    const conn = this.conn;
    const inst = this.instance;
    clearTimeout(this.serveTimer);
    this.server?.stopSync(); // (release() stopped it already, waiting for its answer in progress)
    this.server = undefined;
    this.closeAppenders();
    this.inTx = false;
    this.conn = undefined;
    this.instance = undefined;
    this.tables.clear();
    try {
      conn?.closeSync();
    } catch {
      /* closing an invalidated connection */
    }
    try {
      inst?.closeSync();
    } catch {
      /* likewise */
    }
  }

  /** Opens the file now (exclusive mode takes the lock at open). */
  async warm(): Promise<void> {
    await this.read({ op: "ping" }, async () => true as const);
  }

  /** Drops one reference; the last one closes the instance, the last writer's reopens it read-only. */
  async unref(readOnly = false): Promise<void> {
    if (!readOnly) this.writers--;
    if (--this.refs > 0) {
      if (!readOnly && this.writers === 0) await this.run(async () => undefined); // reopens read-only
      return;
    }
    files.delete(this.key);
    this.client?.close();
    await this.tail;
    await this.release();
  }

  /**
   * For process exit: lets go of the file synchronously. A statement still running natively is
   * joined first (closing under it hangs the process at exit): a COMMIT is let finish, anything
   * else is interrupted. Appends not yet committed are rolled back (their callers were not
   * told they were stored). Never throws.
   */
  closeSync(readOnly = false): void {
    if (process.env.QUIVER_DUCKDB_TEST_HOLD_AT_EXIT === "1") return; // tests: the instance outlives closeSync (a native call holding it)
    if (!readOnly) this.writers--;
    if (--this.refs <= 0) {
      files.delete(this.key);
      this.client?.close();
    }
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    const conn = this.conn;
    if (conn) {
      const raw = (conn as unknown as { connection: object }).connection;
      try {
        if (!this.committing) conn.interrupt();
        // A call queued on the thread pool but not yet started takes no lock, and would run on
        // the freed connection (a segfault at exit): let it start, then wait for it.
        if (this.active || this.committing) awaitQueuedStarts(2000);
        // Takes the connection's context lock, i.e. waits until the running statement ends.
        B.get_table_names(raw, "SELECT 1", false);
      } catch {
        /* interrupted or invalidated: the statement has ended either way */
      }
    }
    // A COMMIT let finish above committed its appends; the open transaction's were rolled back.
    if (this.committing) for (const r of this.committingReceipts) r.committed = true;
    const closed = new QuiverError("CLOSED", `${this.location} was closed (closeSync) before these appended rows were committed; they were not stored`);
    for (const w of this.group) w.reject(closed);
    this.group = [];
    this.closeNow();
  }
}
