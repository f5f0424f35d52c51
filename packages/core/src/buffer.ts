/**
 * The write buffer behind Tracker.log and Track.append: rows are kept in memory and written
 * as one batch when the buffer fills, on a background interval, and on flush/close.
 *
 * A background flush that fails keeps its rows and reports the error (never throws into the
 * caller's loop); the next flush retries them. An explicit flush() rejects with the error.
 */
import type { Row } from "./arrow.js";

export interface BufferOptions {
  /** Rows per write (default 10 000). */
  batchSize?: number;
  /** Background flush period in ms (default 1000; 0 disables it). */
  flushInterval?: number;
  /** Called with errors of background flushes (default: console.warn). */
  onError?: (err: unknown) => void;
}

export class WriteBuffer {
  rows: Row[] = [];
  private inflight: Promise<void> | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  readonly batchSize: number;
  private readonly onError: (err: unknown) => void;

  constructor(
    private readonly write: (rows: Row[]) => Promise<void>,
    options: BufferOptions = {},
  ) {
    this.batchSize = Math.max(1, options.batchSize ?? 10_000);
    this.onError = options.onError ?? ((err) => console.warn(`[quiver] background flush failed, rows kept for the next flush: ${(err as Error)?.message ?? err}`));
    const every = options.flushInterval ?? 1000;
    if (every > 0) {
      this.timer = setInterval(() => this.background(), every);
      this.timer.unref?.();
    }
  }

  /** Adds a row; starts a background write when the buffer is full. Returns a promise only when the caller must wait (backpressure). */
  push(row: Row): Promise<void> | undefined {
    this.rows.push(row);
    if (this.rows.length >= this.batchSize) {
      if (!this.inflight) this.background();
      else if (this.rows.length >= 4 * this.batchSize) return this.inflight.then(() => undefined, () => undefined);
    }
    return undefined;
  }

  private background(): void {
    if (this.inflight || this.rows.length === 0) return;
    this.run().catch(this.onError);
  }

  private run(): Promise<void> {
    const rows = this.rows;
    this.rows = [];
    const p = this.write(rows).then(
      () => {
        this.inflight = undefined;
      },
      (err: unknown) => {
        // Keep what was not acknowledged, ahead of what arrived since.
        this.rows = rows.concat(this.rows);
        this.inflight = undefined;
        throw err;
      },
    );
    this.inflight = p;
    return p;
  }

  /** Writes everything buffered; rejects if the store fails (the rows stay buffered). */
  async flush(): Promise<void> {
    while (this.inflight) await this.inflight.catch(() => undefined);
    while (this.rows.length) await this.run();
  }

  get pending(): number {
    return this.rows.length;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
