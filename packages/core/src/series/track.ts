/** A session's time series: staged points, flushes in `_ts` order, reads by index and by time. */
import { makeData, RecordBatch, Schema, Struct } from "apache-arrow";
import { batchToRows, mergeSchemas, normalizeRow, type Row, vectorToValues } from "../arrow/batches.js";
import { ColumnTypes } from "../arrow/column-types.js";
import { asStoreError, describeValue, isRefusal, QuiverError } from "../errors.js";
import { validateName } from "../names.js";
import { and, field, type QueryNode } from "../query/query.js";
import type { PointData, PointInput, RowTable } from "../runs/row-types.js";
import type { AppendReceipt, ScanOptions } from "../store/contract.js";
import { readRows, readTable } from "../store/scan.js";
import { batchOfGood, type BufferOptions, WriteBuffer } from "../write/buffer.js";
import type { ExitBatch } from "../write/exit.js";
import { checkLimit, checkTime, INDEX, POINTS, pointsToBatch, TS_SCHEMA } from "./points-batch.js";
import { PointColumns } from "./points.js";
import type { Session } from "./session.js";
import { appendCounter, type Description, type TrackInfo } from "./sidecars.js";

/** A point read back; `P` is the type given to `session.track<P>(name)`. */
export interface TrackPoint<P extends object = Row> {
  index: number;
  data: PointData<P>;
}

export interface TrackReadResult<P extends object = Row> {
  data: TrackPoint<P>[];
  /** Points in the track (read) or in the time window (readByTime). */
  total: number;
  /** Index of the first point returned (read: the requested start). */
  startIndex: number;
  /** One past the index of the last point returned (exclusive). */
  endIndex: number;
  hasMore: boolean;
}

export interface TrackStats {
  count: number;
  firstTs: number | null;
  lastTs: number | null;
  fields: string[];
}

/** What appendBatch wrote: dreamlake's `{ count, startIndex, endIndex }` (endIndex inclusive, as dreamlake's). */
export interface AppendBatchResult {
  count: number;
  /** Index of the first point written. */
  startIndex: number;
  /** Index of the last point written (startIndex + count - 1; startIndex - 1 when count is 0). */
  endIndex: number;
}

/** A time series of a session. `P` (optional) declares its points: reads are typed by it. */
export class Track<P extends object = Row> {
  private readonly buffer: WriteBuffer<PointColumns>;
  private readonly resolveTs = (raw: unknown): number => this.session.nextTs(raw);
  private readonly stagePoint = (fields: Row, into: PointColumns): void => this.point(fields, into);
  private schema: Schema | undefined;
  private readonly types: ColumnTypes;
  /** appendBatch calls in order (each counts the rows before it). */
  private batches: Promise<unknown> = Promise.resolve();
  readonly table: string;

  constructor(
    private readonly session: Session,
    readonly name: string,
    options: BufferOptions,
    table?: string,
  ) {
    this.table = table ?? `${session.prefix}/tracks/${validateName(name, "track name")}`;
    // Values are checked against what is stored already, so a bad one is refused at append().
    this.schema = session.storedSchema(this.table);
    this.types = new ColumnTypes(this.schema ?? TS_SCHEMA);
    // The session flushes its tracks on its own interval.
    this.buffer = new WriteBuffer(
      (points, receipt) => this.write(points, "rows", true, receipt),
      POINTS,
      { ...options, flushInterval: 0 },
      `${session.store.uri} track ${JSON.stringify(this.table)}`,
      session.store,
    );
  }

  private async write(points: PointColumns, layout: "rows" | "columns", merge = true, receipt?: AppendReceipt): Promise<void> {
    const store = this.session.store;
    try {
      if (!this.schema) this.schema = await store.schema(this.table);
      // `_ts` is always float64, even when the first timestamps happen to be whole seconds.
      const batch = pointsToBatch(points, this.schema ?? TS_SCHEMA, merge);
      await store.append(this.table, batch, { layout, receipt });
      this.schema = mergeSchemas(this.schema, batch.schema);
      this.types.learn(this.schema);
    } catch (err) {
      // Another writer may have set a column's type meanwhile: learn it (see Tracker.write).
      if (isRefusal(err)) {
        const stored = await store.schema(this.table).catch(() => undefined);
        if (stored) {
          this.schema = stored;
          this.types.learn(stored);
        }
      }
      throw err;
    }
  }

  /** @internal At exit: the staged points as a batch for the exit writer. */
  takeSync(): ExitBatch[] {
    const { inDoubt, rest } = this.buffer.takeParts();
    const build = (points: PointColumns) => batchOfGood(points, POINTS, (p) => pointsToBatch(p, this.schema ?? TS_SCHEMA), this.table);
    const to = { store: this.session.store, storeOptions: this.session.storeOptions, table: this.table, layout: "rows" as const };
    const out: ExitBatch[] = [];
    const doubt = inDoubt && build(inDoubt.items);
    if (doubt) out.push({ ...to, batch: doubt, token: inDoubt.token });
    const batch = build(rest);
    if (batch) out.push({ ...to, batch });
    return out;
  }

  /**
   * Validates one point, resolves its `_ts` and stages it. A point shaped like the previous one
   * (same keys, same primitive types) is known flat and type-checked: only its `_ts` is resolved.
   */
  private point(fields: Row, into: PointColumns): void {
    if (fields === null || typeof fields !== "object" || Array.isArray(fields))
      throw new QuiverError("INVALID_VALUE", `append expects an object of fields, got ${describeValue(fields)}`);
    if (into.addIfSameShape(fields, this.resolveTs)) return;
    const row = normalizeRow(fields);
    const ts = this.session.nextTs(row._ts);
    // Same check as on { _ts: ts, ...row }: a `_ts` that got here is a number either way.
    this.types.check(row);
    into.add(ts, row);
  }

  /** Buffers one point (sync, chainable). */
  append(fields: PointInput<P>): this {
    this.session.ensureOpen();
    // The backpressure promise never rejects; a sync caller cannot wait for it anyway.
    void this.buffer.stage(this.stagePoint, fields as Row);
    return this;
  }

  /**
   * Writes many points as one columnar batch, as given (no merging: one stored point per row),
   * after the points staged before it. Returns `{ count, startIndex, endIndex }` as dreamlake's
   * append_batch (endIndex inclusive). Calls on one track run one after the other.
   */
  async appendBatch(rows: readonly PointInput<P>[]): Promise<AppendBatchResult> {
    this.session.ensureOpen();
    if (!Array.isArray(rows)) throw new QuiverError("INVALID_VALUE", "appendBatch expects an array of objects");
    const pts = new PointColumns();
    for (const r of rows) this.point(r as Row, pts); // throws before anything is written
    const run = this.batches.then(() => this.writeBatch(pts));
    this.batches = run.catch(() => undefined);
    return run;
  }

  private async writeBatch(pts: PointColumns): Promise<AppendBatchResult> {
    await this.buffer.flush();
    const store = this.session.store;
    if (!pts.length) {
      const n = (await store.schema(this.table)) ? await store.count(this.table) : 0;
      return { count: 0, startIndex: n, endIndex: n - 1 };
    }
    // A store that counts under its write lock knows where the batch went, other writers
    // included; others are asked for their count first (this track's calls run in order).
    const counter = appendCounter(store);
    let start: number | undefined;
    try {
      if (!counter) start = (await store.schema(this.table)) ? await store.count(this.table) : 0;
      await this.write(pts, "columns", false);
    } catch (err) {
      throw asStoreError(
        err,
        `writing ${pts.length} points to ${store.uri} track ${JSON.stringify(this.table)}`,
        "nothing of the batch was stored; call appendBatch again once the fault is fixed",
      );
    }
    start = counter?.(this.table) ?? start ?? 0;
    return { count: pts.length, startIndex: start, endIndex: start + pts.length - 1 };
  }

  /**
   * Sets the track's description, tags and metadata (dreamlake's track options); merged into
   * what is stored, written with the session's next flush.
   */
  describe(info: Description): this {
    this.session.ensureOpen();
    this.session.record.describeTrack(this.name, info);
    return this;
  }

  /** The track's name, description, tags and metadata. */
  async info(): Promise<TrackInfo> {
    this.session.ensureOpen();
    return this.session.record.trackInfo(this.name);
  }

  async flush(): Promise<void> {
    await this.buffer.flush();
  }

  get pending(): number {
    return this.buffer.pending;
  }

  private async exists(): Promise<boolean> {
    this.session.ensureOpen();
    await this.buffer.flush();
    this.schema = await this.session.store.schema(this.table);
    return this.schema !== undefined;
  }

  /** Points of a scan with the INDEX column: its value becomes `index`, the rest `data` (nulls left out). */
  private async points(options: ScanOptions, batches: AsyncIterable<RecordBatch> = this.session.store.scan(this.table, options)): Promise<TrackPoint<P>[]> {
    const out: TrackPoint<P>[] = [];
    for await (const b of batches) {
      const k = b.schema.fields.findIndex((f) => f.name === INDEX);
      const idx = vectorToValues(b.getChildAt(k)!);
      const fields = b.schema.fields.filter((_, i) => i !== k);
      const rest = new RecordBatch(
        new Schema(fields),
        makeData({ type: new Struct(fields), length: b.numRows, nullCount: 0, children: b.data.children.filter((_, i) => i !== k) }),
      );
      // Without nulls both forms are equal, and the plain one builds rows with fast literal shapes.
      const rows = batchToRows(rest, { omitNulls: rest.data.children.some((c) => c.nullCount !== 0) });
      for (let i = 0; i < rows.length; i++) out.push({ index: Number(idx[i]), data: rows[i] as PointData<P> });
    }
    return out;
  }

  /** Points by index (storage order). */
  async read(opts: { startIndex?: number; limit?: number } = {}): Promise<TrackReadResult<P>> {
    const start = opts.startIndex ?? 0;
    if (!Number.isInteger(start) || start < 0) throw new QuiverError("INVALID_VALUE", `startIndex must be a non-negative integer, got ${describeValue(opts.startIndex)}`);
    const limit = checkLimit(opts.limit, 1000);
    if (!(await this.exists())) return { data: [], total: 0, startIndex: start, endIndex: start, hasMore: false };
    const store = this.session.store;
    const total = await store.count(this.table);
    const data = await this.points({ offset: start, limit, rowIndex: INDEX });
    const end = data.length ? data[data.length - 1]!.index + 1 : start;
    return { data, total, startIndex: start, endIndex: end, hasMore: end < total };
  }

  /** Points with startTime ≤ _ts < endTime, ordered by _ts (newest first with reverse). */
  async readByTime(opts: { startTime?: number; endTime?: number; limit?: number; reverse?: boolean } = {}): Promise<TrackReadResult<P>> {
    const startTime = checkTime(opts.startTime, "startTime");
    const endTime = checkTime(opts.endTime, "endTime");
    const limit = checkLimit(opts.limit, 1000);
    if (!(await this.exists())) return { data: [], total: 0, startIndex: 0, endIndex: 0, hasMore: false };
    const conds: QueryNode[] = [];
    if (startTime !== undefined) conds.push(field("_ts").ge(startTime).node);
    if (endTime !== undefined) conds.push(field("_ts").lt(endTime).node);
    const where = conds.length === 0 ? undefined : conds.length === 1 ? conds[0] : and(...conds).node;
    const store = this.session.store;
    const dir = opts.reverse ? "desc" : "asc";
    const scan: ScanOptions = {
      where,
      orderBy: [
        { column: "_ts", direction: dir },
        { column: INDEX, direction: dir },
      ],
      limit,
      rowIndex: INDEX,
    };
    // A store with a time index serves the window from it; others answer the equivalent scan.
    const windowed = store.readByTime?.(this.table, { start: startTime, end: endTime, reverse: opts.reverse === true, limit, rowIndex: INDEX });
    // The count and the window at once (a round trip each on a server).
    const [total, data] = await Promise.all([store.count(this.table, where), this.points(scan, windowed)]);
    const idx = data.map((d) => d.index);
    return {
      data,
      total,
      startIndex: idx.length ? Math.min(...idx) : 0,
      endIndex: idx.length ? Math.max(...idx) + 1 : 0,
      hasMore: data.length < total,
    };
  }

  async toTable(): Promise<RowTable<P, { _ts: number }>> {
    await this.exists();
    return (await readTable(this.session.store, this.table)) as RowTable<P, { _ts: number }>;
  }

  async stats(): Promise<TrackStats> {
    if (!(await this.exists())) return { count: 0, firstTs: null, lastTs: null, fields: [] };
    const store = this.session.store;
    const count = await store.count(this.table);
    const first = await readRows(store, this.table, { columns: ["_ts"], orderBy: [{ column: "_ts" }], limit: 1 });
    const last = await readRows(store, this.table, { columns: ["_ts"], orderBy: [{ column: "_ts", direction: "desc" }], limit: 1 });
    return {
      count,
      firstTs: (first[0]?._ts as number | undefined) ?? null,
      lastTs: (last[0]?._ts as number | undefined) ?? null,
      fields: this.schema!.fields.map((f) => f.name).filter((n) => n !== "_ts"),
    };
  }
}
