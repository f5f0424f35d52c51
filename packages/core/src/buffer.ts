/**
 * The write buffer behind Tracker.log and Track.append: what is logged is staged in memory and
 * written as one batch when the buffer fills, on a background interval, and on flush/close.
 *
 * A background flush that fails keeps what it staged and reports the error (never throws into
 * the caller's loop); the next flush retries it. An explicit flush() rejects with the error.
 */
export interface BufferOptions {
  /** Rows per write (default 10 000). */
  batchSize?: number;
  /** Background flush period in ms (default 1000; 0 disables it). */
  flushInterval?: number;
  /** Called with errors of background flushes (default: console.warn). */
  onError?: (err: unknown) => void;
}

/** How a buffer holds what it stages: rows in an array (Tracker) or columns (Track). */
export interface Staging<S extends { readonly length: number }> {
  fresh(): S;
  /** `a` then `b`: a failed write's items go back ahead of what arrived since. */
  concat(a: S, b: S): S;
}

export class WriteBuffer<S extends { readonly length: number }> {
  private staged: S;
  private inflight: Promise<void> | undefined;
  private waiting: Promise<void> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  readonly batchSize: number;
  private readonly onError: (err: unknown) => void;

  constructor(
    private readonly write: (staged: S) => Promise<void>,
    private readonly staging: Staging<S>,
    options: BufferOptions = {},
  ) {
    this.staged = staging.fresh();
    this.batchSize = Math.max(1, options.batchSize ?? 10_000);
    this.onError = options.onError ?? ((err) => console.warn(`[quiver] background flush failed, rows kept for the next flush: ${(err as Error)?.message ?? err}`));
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
    add(item, this.staged);
    if (this.staged.length >= this.batchSize) {
      if (!this.inflight) this.background();
      // One shared promise per write in flight: a caller ignoring it (a sync loop) must not pile up reactions.
      else if (this.staged.length >= 4 * this.batchSize) return (this.waiting ??= this.inflight.then(() => undefined, () => undefined));
    }
    return undefined;
  }

  private background(): void {
    if (this.inflight || this.staged.length === 0) return;
    this.run().catch(this.onError);
  }

  private run(): Promise<void> {
    const staged = this.staged;
    this.staged = this.staging.fresh();
    const p = this.write(staged).then(
      () => {
        this.inflight = this.waiting = undefined;
      },
      (err: unknown) => {
        // Keep what was not acknowledged, ahead of what arrived since.
        this.staged = this.staged.length ? this.staging.concat(staged, this.staged) : staged;
        this.inflight = this.waiting = undefined;
        throw err;
      },
    );
    this.inflight = p;
    this.waiting = undefined;
    return p;
  }

  /** Writes everything staged; rejects if the store fails (it stays staged). */
  async flush(): Promise<void> {
    while (this.inflight) await this.inflight.catch(() => undefined);
    while (this.staged.length) await this.run();
  }

  get pending(): number {
    return this.staged.length;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
