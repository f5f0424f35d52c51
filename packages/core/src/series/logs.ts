/**
 * A session's log: entries `{ _ts, sequenceNumber, level, message, metadata }` buffered like
 * points and written with the session's flush to the table `<prefix>/logs` (metadata as JSON
 * text). Levels are dreamlake's five, case-insensitive. A store with sidecars also gets them
 * (msgpack: dreamlake's logs/logs.jsonl, numbered under dreamlake's lock); entries only there
 * (dreamlake's own) are read with the table's.
 */
import { type Row, rowsToBatch } from "../arrow/batches.js";
import { asStoreError, describeValue, QuiverError } from "../errors.js";
import { field } from "../query/query.js";
import type { AppendReceipt, Store, StoreOpenOptions } from "../store/contract.js";
import { readRows } from "../store/scan.js";
import { type BufferOptions, type Staging, WriteBuffer, exitStoreOf } from "../write/buffer.js";
import type { ExitBatch } from "../write/exit.js";
import { jsonText } from "./record.js";
import type { LogEntry, LogLevel, SessionSidecars } from "./sidecars.js";

export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error", "fatal"];

/** A level in any case ("INFO", "Warn") as one of the five; anything else INVALID_VALUE. */
export function logLevel(level: unknown): LogLevel {
  const l = typeof level === "string" ? level.toLowerCase() : level;
  if (!LOG_LEVELS.includes(l as LogLevel)) throw new QuiverError("INVALID_VALUE", `log level must be debug, info, warn, error or fatal (any case), got ${describeValue(level)}`);
  return l as LogLevel;
}

const ROWS: Staging<Row[]> = { fresh: () => [], concat: (a, b) => a.concat(b), slice: (s, a, b) => s.slice(a, b) };
const push = (row: Row, rows: Row[]): void => void rows.push(row);

function isoOf(ts: number): string {
  const d = new Date(ts * 1000);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}

export interface LogOptions {
  level?: LogLevel | Uppercase<LogLevel> | Capitalize<LogLevel>;
  metadata?: Row;
  /** Seconds since the epoch (default now, like a point; -1: the session's last `_ts`). */
  _ts?: number;
}

export class SessionLogs {
  readonly table: string;
  private readonly buffer: WriteBuffer<Row[]>;
  private nextSeq = 0;
  /** Rows whose sidecar copy is written (a retry after a table fault must not write them twice). */
  private readonly mirrored = new WeakSet<Row>();

  constructor(
    private readonly store: () => Store,
    private readonly storeOptions: StoreOpenOptions | undefined,
    prefix: string,
    private readonly sidecars: SessionSidecars | undefined,
    private readonly nextTs: (ts: unknown) => number,
    private readonly ensureOpen: () => void,
    options: BufferOptions,
  ) {
    this.table = `${prefix}/logs`;
    this.buffer = new WriteBuffer(
      (rows, receipt) => this.write(rows, receipt),
      ROWS,
      { ...options, flushInterval: 0, flushDelay: 0 },
      `logs ${JSON.stringify(this.table)}`,
      exitStoreOf(store),
    );
  }

  /** @internal Numbers entries on from those stored (once, when the session opens). */
  async load(): Promise<void> {
    const store = this.store();
    const n = (await store.schema(this.table)) ? await store.count(this.table) : 0;
    this.nextSeq = Math.max(n, ...(this.sidecars?.readLogs() ?? []).map((e) => e.sequenceNumber + 1));
  }

  /** Adds an entry (buffered; written with the session's flush). */
  add(message: string, opts: LogOptions = {}): void {
    this.ensureOpen();
    if (typeof message !== "string") throw new QuiverError("INVALID_VALUE", `log message must be a string, got ${describeValue(message)}`);
    if (opts === null || typeof opts !== "object") throw new QuiverError("INVALID_VALUE", `log options must be { level?, metadata?, _ts? }, got ${describeValue(opts)}`);
    const level = logLevel(opts.level ?? "info");
    let metadata: string | undefined;
    if (opts.metadata !== undefined) {
      if (opts.metadata === null || typeof opts.metadata !== "object" || Array.isArray(opts.metadata))
        throw new QuiverError("INVALID_VALUE", `log metadata must be an object, got ${describeValue(opts.metadata)}`);
      metadata = jsonText(opts.metadata, "log metadata");
    }
    const _ts = this.nextTs(opts._ts);
    const row: Row = { _ts, sequenceNumber: this.nextSeq++, level, message };
    if (metadata !== undefined) row.metadata = metadata;
    void this.buffer.stage(push, row);
  }

  private mirror(rows: Row[]): void {
    if (!this.sidecars) return;
    const todo = rows.filter((r) => !this.mirrored.has(r));
    if (!todo.length) return;
    const seqs = this.sidecars.appendLogs(
      todo.map((r) => ({
        _ts: r._ts as number,
        timestamp: isoOf(r._ts as number),
        level: r.level as LogLevel,
        message: r.message as string,
        ...(r.metadata !== undefined ? { metadata: JSON.parse(r.metadata as string) as Row } : {}),
      })),
    );
    // dreamlake's counter is the session's numbering when its files are kept.
    todo.forEach((r, i) => {
      r.sequenceNumber = seqs[i]!;
      this.mirrored.add(r);
    });
  }

  private async write(rows: Row[], receipt?: AppendReceipt): Promise<void> {
    try {
      this.mirror(rows);
    } catch (err) {
      throw asStoreError(err, `writing ${rows.length} log entries to ${this.sidecars!.location}`, "the entries are kept for the next flush");
    }
    const store = this.store();
    await store.append(this.table, rowsToBatch(rows, { schema: await store.schema(this.table) }), { receipt });
  }

  /** Entries in order, optionally of one level (any case) and at most `limit`. */
  async read(opts: { level?: string; limit?: number } = {}): Promise<LogEntry[]> {
    this.ensureOpen();
    const level = opts.level === undefined ? undefined : logLevel(opts.level);
    await this.buffer.flush();
    const store = this.store();
    const out: LogEntry[] = [];
    // An entry we mirrored is in both places with the same number, message and exact _ts.
    const key = (e: { sequenceNumber: number; message: string; _ts: number }) => `${e.sequenceNumber}\u0000${e._ts}\u0000${e.message}`;
    const seen = new Set<string>();
    if (await store.schema(this.table)) {
      const rows = await readRows(store, this.table, { where: level ? field("level").eq(level).node : undefined }, true);
      rows.forEach((r, i) => {
        const seq = typeof r.sequenceNumber === "number" ? r.sequenceNumber : i;
        const e: LogEntry = { sequenceNumber: seq, _ts: r._ts as number, timestamp: isoOf(r._ts as number), level: r.level as LogLevel, message: r.message as string };
        if (typeof r.metadata === "string") e.metadata = JSON.parse(r.metadata) as Row;
        seen.add(key(e));
        out.push(e);
      });
    }
    // Entries only the other tool wrote.
    for (const e of this.sidecars?.readLogs() ?? []) if (!seen.has(key(e)) && (!level || e.level === level)) out.push(e);
    out.sort((a, b) => a.sequenceNumber - b.sequenceNumber);
    return opts.limit === undefined ? out : out.slice(0, opts.limit);
  }

  flush(): Promise<void> {
    return this.buffer.flush();
  }

  get pending(): number {
    return this.buffer.pending;
  }

  /** At exit: the sidecar copy written now, the rows as a batch for the exit writer. */
  takeSync(): ExitBatch[] {
    this.buffer.stop();
    const { inDoubt, rest } = this.buffer.takeParts();
    const rows = inDoubt ? [...inDoubt.items, ...rest] : rest;
    if (!rows.length) return [];
    try {
      this.mirror(rows);
    } catch (err) {
      process.stderr.write(`[quiver] ${rows.length} log entries not written to ${this.sidecars?.location}: ${(err as Error).message}\n`);
    }
    const to = { store: this.store(), storeOptions: this.storeOptions, table: this.table };
    const out: ExitBatch[] = [];
    if (inDoubt) out.push({ ...to, batch: rowsToBatch(inDoubt.items), token: inDoubt.token });
    if (rest.length) out.push({ ...to, batch: rowsToBatch(rest) });
    return out;
  }
}
