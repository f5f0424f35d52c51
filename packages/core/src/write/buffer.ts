/**
 * The write buffer behind Tracker.log and Track.append: what is logged is staged in memory and
 * written as one batch when the buffer fills, soon after logging pauses (or at most `flushDelay`
 * ms after a row was staged while logging goes on), on a background interval, and on flush/close.
 * So a reader in another process sees a row within milliseconds when the writer is not
 * saturated, while a busy logger still writes few, large batches: a loop that never yields
 * writes by batchSize alone, as before, and one that yields writes at most one batch per
 * `flushDelay` (and never two at once: rows staged during a write wait for the next).
 *
 * Promises kept here, whatever the store does:
 * - A write the store did not acknowledge keeps its rows staged, ahead of what arrived since;
 *   the next flush retries them. A background failure is reported to `onError`, never thrown.
 * - Rows the store refuses as values (SCHEMA_MISMATCH, INVALID_VALUE, …: retrying can never
 *   help) are isolated by halving the batch, so every good row around them is written; the
 *   refused ones are dropped and reported (by the explicit flush that met them, else onError).
 * - While the store keeps failing, at most `maxPending` rows are held; past that, staging more
 *   throws QuiverError("IO") instead of growing without bound or dropping silently.
 */
import type { RecordBatch } from "apache-arrow";
import { asStoreError, isRefusal, QuiverError } from "../errors.js";
import type { AppendReceipt, Store } from "../store/contract.js";

export interface BufferOptions {
  /** Rows per write (default 10 000). */
  batchSize?: number;
  /** Background flush period in ms (default 1000; 0 disables it). Also the retry period while the store fails. */
  flushInterval?: number;
  /**
   * Longest ms a staged row waits for its write while logging goes on (default 50); once no row
   * was staged for a few ms (IDLE_MS, at most this) the staged rows are written at once.
   * 0 turns the adaptive flush off (rows wait for batchSize, the interval or flush()).
   */
  flushDelay?: number;
  /** Called with errors of background flushes (default: console.warn, once per distinct error). */
  onError?: (err: unknown) => void;
  /**
   * Rows kept while the store keeps failing (default 1 000 000, at least 4 × batchSize); past
   * it, log()/append() refuse with QuiverError("IO") until a write succeeds.
   */
  maxPending?: number;
}

/** How a buffer holds what it stages: rows in an array (Tracker) or columns (Track). */
export interface Staging<S extends { readonly length: number }> {
  fresh(): S;
  /** `a` then `b`: a failed write's items go back ahead of what arrived since. */
  concat(a: S, b: S): S;
  /** Items [start, end) of `s`, for isolating refused rows. */
  slice(s: S, start: number, end: number): S;
}

/** Thrown by a write after isolation: some rows were refused and dropped, the rest are stored. */
export class RefusedRows extends QuiverError {
  constructor(
    readonly refused: number,
    readonly total: number,
    readonly first: QuiverError,
  ) {
    super(first.code, `${refused} of ${total} buffered rows were refused by the store and dropped (the other ${total - refused} are stored): ${first.message}`, { cause: first });
  }
}

/** A failed write: the fault, and what it left unwritten (to stage again). */
class Unwritten<S> {
  constructor(
    readonly error: QuiverError,
    readonly rest: S,
  ) {}
}

/** ms without a new row after which what is staged is written (the logging has paused). */
const IDLE_MS = 5;

let warned = "";
function defaultOnError(err: unknown): void {
  const msg = (err as Error)?.message ?? String(err);
  if (msg === warned) return; // a store that stays down fails every retry the same way
  warned = msg;
  console.warn(`[quiver] background flush failed: ${msg}`);
}

export class WriteBuffer<S extends { readonly length: number }> {
  private staged: S;
  private inflight: Promise<void> | undefined;
  private waiting: Promise<void> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** The write in flight (whole, before any isolation) and its receipt: at exit, kept unless committed. */
  private flying: { items: S; receipt: AppendReceipt; whole: boolean } | undefined;
  /** The adaptive flush's tick (armed while rows are staged), its period and the rows seen at its last tick. */
  /** The tick's timer, in its own object: a field that changes from undefined to a Timeout would change this class's shape under the hot stage(). */
  private readonly ticker: { timer: ReturnType<typeof setTimeout> | undefined } = { timer: undefined };
  private readonly idleMs: number;
  private readonly delayTicks: number;
  private ticks = 0;
  private seen = 0;
  private stopped = false;
  /** A tick is pending (or never will be: off, stopped) — one boolean test per staged row. */
  private armed = false;
  /** The last write's fault while the store fails; cleared by a successful write. */
  private failure: QuiverError | undefined;
  readonly batchSize: number;
  readonly maxPending: number;
  private readonly onError: (err: unknown) => void;

  constructor(
    /** Writes staged items; passes `receipt` on to store.append (see AppendReceipt). */
    private readonly write: (staged: S, receipt: AppendReceipt) => Promise<void>,
    private readonly staging: Staging<S>,
    options: BufferOptions = {},
    /** Names the target in I/O errors, e.g. `duckdb:runs.db table "events"`. */
    private readonly target = "the store",
    /**
     * The store written to, when it reports appends through receipts (capabilities.appendReceipts):
     * at exit, a write in flight whose append was not called yet, or not committed, is taken too.
     */
    private readonly exitStore?: Pick<Store, "capabilities" | "closeSync">,
  ) {
    this.staged = staging.fresh();
    this.batchSize = Math.max(1, options.batchSize ?? 10_000);
    this.maxPending = Math.max(4 * this.batchSize, options.maxPending ?? 1_000_000);
    const onError = options.onError ?? defaultOnError;
    // A user's handler that throws must not turn a reported fault into a crash.
    this.onError = (err) => {
      try {
        onError(err);
      } catch {
        /* reported as well as we can */
      }
    };
    const delay = Math.max(0, options.flushDelay ?? 50);
    this.idleMs = Math.min(IDLE_MS, delay);
    this.delayTicks = this.idleMs > 0 ? Math.max(1, Math.round(delay / this.idleMs)) : 0;
    const every = options.flushInterval ?? 1000;
    if (every > 0) {
      this.timer = setInterval(() => this.background(), every);
      this.timer.unref?.();
    }
  }

  /**
   * Stages one item with `add` (which throws to refuse it) and starts a background write when
   * the buffer is full. Returns a promise only when the caller should wait (backpressure).
   * `add` is a function taking the item rather than a closure, so the hot path allocates nothing.
   */
  stage<T>(add: (item: T, into: S) => void, item: T): Promise<void> | undefined {
    if (this.failure !== undefined && this.staged.length >= this.maxPending) {
      throw new QuiverError(
        "IO",
        `${this.staged.length} rows are buffered for ${this.target}, which keeps failing (${this.failure.message}); nothing is dropped, but no more rows are taken until a flush succeeds`,
        { cause: this.failure },
      );
    }
    add(item, this.staged);
    if (!this.armed) this.arm();
    if (this.staged.length >= this.batchSize) {
      // While the store fails, retries wait for the interval (or an explicit flush) instead of hammering it.
      if (!this.inflight) {
        if (this.failure === undefined) this.background();
      }
      // One shared promise per write in flight: a caller ignoring it (a sync loop) must not pile up reactions.
      else if (this.staged.length >= 4 * this.batchSize)
        return (this.waiting ??= this.inflight.then(
          () => undefined,
          () => undefined,
        ));
    }
    return undefined;
  }

  /**
   * Arms the adaptive flush: every idleMs it looks whether rows arrived since its last look; if
   * none did (the logging paused), or the oldest has waited flushDelay, it writes what is
   * staged — unless a write is in flight (its end re-arms the tick) or the store is failing
   * (retries keep to the interval). No clock is read per row: the tick compares row counts.
   */
  private arm(): void {
    if (this.stopped || this.idleMs === 0) {
      this.armed = true; // never: the adaptive flush is off, or the buffer stopped
      return;
    }
    this.armed = true;
    this.ticks = 0;
    this.seen = this.staged.length;
    const tick = () => {
      this.ticker.timer = undefined;
      this.armed = false;
      if (this.stopped || this.staged.length === 0 || this.failure !== undefined) return;
      const n = this.staged.length;
      this.ticks++;
      if (!this.inflight && (n === this.seen || this.ticks >= this.delayTicks)) return this.background();
      this.seen = n;
      this.armed = true;
      this.ticker.timer = setTimeout(tick, this.idleMs);
      this.ticker.timer.unref?.();
    };
    this.ticker.timer = setTimeout(tick, this.idleMs);
    this.ticker.timer.unref?.();
  }

  private background(): void {
    if (this.inflight || this.staged.length === 0) return;
    this.run().catch(this.onError);
  }

  /**
   * Writes `staged`; when the store refuses values, halves the failing range until each refused
   * row stands alone, so the good ones are written in order. Resolves with the refused count
   * and first refusal; rejects with Unwritten (the fault and the rows not yet written).
   */
  private async writeIsolating(staged: S): Promise<{ refused: number; first?: QuiverError }> {
    const receipt: AppendReceipt = { tracked: false, committed: false };
    this.flying = { items: staged, receipt, whole: true };
    try {
      await this.write(staged, receipt);
      return { refused: 0 };
    } catch (err) {
      if (!isRefusal(err)) throw new Unwritten(this.fault(err), staged);
      if (staged.length <= 1) return { refused: staged.length, first: err as QuiverError };
    }
    // Isolating refused rows: at exit, what is in flight is no longer one known write.
    this.flying!.whole = false;
    const ranges: [number, number][] = [
      [0, staged.length >> 1],
      [staged.length >> 1, staged.length],
    ];
    let refused = 0;
    let first: QuiverError | undefined;
    while (ranges.length) {
      const [a, b] = ranges.shift()!;
      try {
        await this.write(this.staging.slice(staged, a, b), { tracked: false, committed: false });
      } catch (err) {
        if (!isRefusal(err)) {
          if (refused > 0) this.onError(new RefusedRows(refused, a, first!));
          throw new Unwritten(this.fault(err), this.staging.slice(staged, a, staged.length));
        }
        if (b - a === 1) {
          refused++;
          first ??= err as QuiverError;
        } else {
          const m = (a + b) >> 1;
          ranges.unshift([a, m], [m, b]);
        }
      }
    }
    return { refused, first };
  }

  private fault(err: unknown): QuiverError {
    return asStoreError(err, `writing to ${this.target}`, "the rows stay buffered and the next flush() retries them once the fault (disk full, read-only, unreachable) is fixed");
  }

  private run(): Promise<void> {
    const staged = this.staged;
    this.staged = this.staging.fresh();
    const p = this.writeIsolating(staged).then(
      ({ refused, first }) => {
        this.inflight = this.waiting = undefined;
        this.flying = undefined;
        this.failure = undefined;
        // Rows staged during the write: the next tick writes them (one write at a time).
        if (this.staged.length > 0 && !this.armed) this.arm();
        if (refused > 0) throw new RefusedRows(refused, staged.length, first!);
      },
      (err: unknown) => {
        this.inflight = this.waiting = undefined;
        this.flying = undefined;
        if (!(err instanceof Unwritten)) throw err;
        // Keep what was not acknowledged, ahead of what arrived since.
        const rest = err.rest as S;
        this.staged = this.staged.length ? this.staging.concat(rest, this.staged) : rest;
        this.failure = err.error;
        throw err.error;
      },
    );
    this.inflight = p;
    this.waiting = undefined;
    return p;
  }

  /**
   * Writes everything staged. Rejects with the store's fault (QuiverError "IO" for I/O) while it
   * lasts — the rows stay staged — or, once all good rows are written, with RefusedRows if the
   * store refused some.
   */
  async flush(): Promise<void> {
    while (this.inflight) await this.inflight.catch(() => undefined);
    let refused: RefusedRows | undefined;
    while (this.staged.length) {
      try {
        await this.run();
      } catch (err) {
        if (!(err instanceof RefusedRows)) throw err;
        refused ??= err;
      }
    }
    if (refused) throw refused;
  }

  /**
   * Takes everything staged, synchronously (process exit: another process writes it). A write
   * still in flight that its store did not commit is taken too, ahead of the rest: the store is
   * closed first (closeSync lets a running commit finish and rolls back the rest, settling the
   * receipt), so what it says is final — nothing is written twice, nothing is lost. A store that
   * cannot settle it gave the write a token: that part comes apart as `inDoubt`, to be appended
   * again with the token (stored only if the first append did not commit).
   */
  takeParts(): { inDoubt?: { items: S; token: string }; rest: S } {
    let s = this.staged;
    this.staged = this.staging.fresh();
    const f = this.flying;
    this.flying = undefined;
    const store = this.exitStore;
    if (f?.whole && store?.capabilities.appendReceipts === true) {
      try {
        store.closeSync?.();
      } catch {
        /* closeSync must not throw */
      }
      if (!f.receipt.committed) {
        if (f.receipt.tracked && f.receipt.token !== undefined) return { inDoubt: { items: f.items, token: f.receipt.token }, rest: s };
        // Not committed, or not handed to append yet (untracked): nothing of it is stored.
        s = s.length ? this.staging.concat(f.items, s) : f.items;
      }
    }
    return { rest: s };
  }

  /** takeParts as one list, for writers whose stores settle every append (no tokens). */
  takeAll(): S {
    const { inDoubt, rest } = this.takeParts();
    if (!inDoubt) return rest;
    return rest.length ? this.staging.concat(inDoubt.items, rest) : inDoubt.items;
  }

  get pending(): number {
    return this.staged.length;
  }

  /** The fault of the last write while the store keeps failing, if any. */
  get lastFailure(): QuiverError | undefined {
    return this.failure;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.ticker.timer) clearTimeout(this.ticker.timer);
    this.ticker.timer = undefined;
  }
}

/**
 * At process exit, what a buffer staged as one batch: a row the batch cannot hold is named on
 * stderr and left out (as a refused write would be), every good row is kept. Undefined when
 * nothing is left.
 */
export function batchOfGood<S extends { readonly length: number }>(staged: S, staging: Staging<S>, build: (s: S) => RecordBatch, what: string): RecordBatch | undefined {
  if (staged.length === 0) return undefined;
  try {
    return build(staged);
  } catch {
    let good = staging.fresh();
    for (let i = 0; i < staged.length; i++) {
      const one = staging.slice(staged, i, i + 1);
      try {
        build(one);
        good = staging.concat(good, one);
      } catch (err) {
        process.stderr.write(`[quiver] a row of ${what} refused at exit: ${(err as Error).message}\n`);
      }
    }
    return good.length ? build(good) : undefined;
  }
}

/**
 * The exit store of a front-end that reaches its store through a getter (a session's params and
 * logs): read only at exit, when takeParts settles a write in flight through its receipt.
 */
export function exitStoreOf(get: () => Store): Pick<Store, "capabilities" | "closeSync"> {
  return {
    get capabilities() {
      return get().capabilities;
    },
    closeSync: () => get().closeSync?.(),
  };
}
