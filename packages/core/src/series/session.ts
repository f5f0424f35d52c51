/**
 * Session and Track: dreamlake's time series, over any Store.
 *
 * Tables: `<prefix>/tracks/<name>` per track, `<prefix>/params`, `<prefix>/logs`.
 * Every point has `_ts` (float seconds since epoch). Missing → now, strictly increasing per
 * session; -1 → the last `_ts` used by any track of the session. Points of one track with
 * equal `_ts` are merged into one entry at flush.
 */
import { Field, Float64, Schema } from "apache-arrow";
import { type Data, type DataType, Int64, makeData, RecordBatch, Struct, Type } from "apache-arrow";
import { batchToRows, BIGINT_META, buildData, inferColumnType, mergeSchemas, mergeTypes, normalizeRow, type Row, rowsToBatch, vectorToValues } from "../arrow/batches.js";
import { batchOfGood, type BufferOptions, RefusedRows, type Staging, WriteBuffer } from "../write/buffer.js";
import { type ExitBatch, onProcessExit } from "../write/exit.js";
import { SessionParams } from "./params.js";
import { isBigintField } from "../arrow/build.js";
import { PointColumns } from "./points.js";
import { asStoreError, QuiverError, describeValue, isRefusal } from "../errors.js";
import { validateName } from "../names.js";
import { and, field, type QueryNode } from "../query/query.js";
import { resolveStore } from "../store/registry.js";
import { readRows, readTable } from "../store/scan.js";
import type { ScanOptions, Store, StoreOpenOptions } from "../store/contract.js";
import { ColumnTypes } from "../arrow/column-types.js";
import type { PointData, PointInput, RowTable } from "../runs/row-types.js";

export const MAX_READ_LIMIT = 10_000;
const TS_SCHEMA = new Schema([new Field("_ts", new Float64(), true)]);
const INDEX = "__quiver_index";

export interface SessionOptions extends BufferOptions {
  /** Names the experiment, e.g. "project/my-experiment". */
  prefix: string;
  /** Root folder of the default store (default ".quiver"). */
  root?: string;
  /** A store URI or opened store (default `msgpack:<root>`). */
  store?: string | Store;
  storeOptions?: StoreOpenOptions;
}

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

function checkLimit(limit: number | undefined, def: number): number {
  const l = limit ?? def;
  if (!Number.isInteger(l) || l < 0) throw new QuiverError("INVALID_VALUE", `limit must be a non-negative integer, got ${describeValue(limit)}`);
  return Math.min(l, MAX_READ_LIMIT);
}

function checkTime(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v))
    throw new QuiverError("INVALID_TIMESTAMP", `${what} must be a finite number of seconds since the epoch, got ${describeValue(v)}`);
  return v;
}

/** Merges points with equal `_ts` (later fields win), keeping first-seen order. */
function mergeEqualTs(rows: Row[]): Row[] {
  // Fast path: strictly increasing `_ts` (the usual case) has nothing to merge.
  let prev = -Infinity;
  let i = 0;
  for (; i < rows.length; i++) {
    const ts = rows[i]!._ts as number;
    if (!(ts > prev)) break;
    prev = ts;
  }
  if (i === rows.length) return rows;
  const byTs = new Map<number, Row>();
  let merged = false;
  const out: Row[] = [];
  for (const r of rows) {
    const ts = r._ts as number;
    const prev = byTs.get(ts);
    if (prev) {
      Object.assign(prev, r);
      merged = true;
    } else {
      const copy = { ...r };
      byTs.set(ts, copy);
      out.push(copy);
    }
  }
  return merged ? out : rows;
}

/** inferColumnType's answer for a column of numbers (state 1 integers, 2 with floats); undefined otherwise or on a clash. */
function numberColumnType(state: number, name: string, existing: DataType | undefined): { type: DataType; bigint: boolean } | undefined {
  if (state !== 1 && state !== 2) return undefined;
  const t = state === 1 ? new Int64() : new Float64();
  if (!existing) return { type: t, bigint: false };
  try {
    return { type: mergeTypes(existing, t, name), bigint: false };
  } catch {
    return undefined; // inference throws the error naming the value
  }
}

/**
 * The batch rowsToBatch(mergeEqualTs(points.rows()), { schema }) gives, built straight from the
 * staged columns when no two points share a `_ts` (the usual case: no row objects at all).
 */
function pointsToBatch(points: PointColumns, schema: Schema): RecordBatch {
  if (!points.increasing()) return rowsToBatch(mergeEqualTs(points.rows()), { schema });
  const n = points.length;
  const cols = new Map<string, unknown[]>([["_ts", points.ts]]);
  for (const [k, v] of points.cols) {
    if (k === "_ts") continue;
    if (v.length < n) v.length = n;
    cols.set(k, v);
  }
  const order = [...schema.fields.map((f) => f.name).filter((c) => cols.has(c)), ...[...cols.keys()].filter((c) => !schema.fields.some((f) => f.name === c))];
  const fields: Field[] = [];
  const datas: Data[] = [];
  for (const name of order) {
    const values = cols.get(name)!;
    const existing = schema.fields.find((f) => f.name === name);
    // `_ts` values are finite numbers: into a float column they keep its type (what inference returns).
    // Columns staged as all numbers get the type inference would give, without another pass.
    const existingBigint = existing !== undefined && isBigintField(existing);
    const { type, bigint } =
      name === "_ts" && existing?.type.typeId === Type.Float
        ? { type: existing.type, bigint: false }
        : ((existingBigint ? undefined : numberColumnType(points.numberState(name), name, existing?.type)) ?? inferColumnType(values, name, existing?.type, existingBigint));
    const meta = bigint || existing?.metadata.get(BIGINT_META) ? new Map([[BIGINT_META, "1"]]) : undefined;
    fields.push(new Field(name, type, true, meta));
    datas.push(buildData(type, values, name));
  }
  return new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: n, nullCount: 0, children: datas }));
}

function slicePoints(s: PointColumns, start: number, end: number): PointColumns {
  const out = new PointColumns();
  for (let i = start; i < end; i++) out.add(s.ts[i]!, s.row(i));
  return out;
}

const POINTS: Staging<PointColumns> = { fresh: () => new PointColumns(), concat: (a, b) => PointColumns.concat(a, b), slice: slicePoints };

/** A time series of a session. `P` (optional) declares its points: reads are typed by it. */
export class Track<P extends object = Row> {
  private readonly buffer: WriteBuffer<PointColumns>;
  private readonly resolveTs = (raw: unknown): number => this.session.nextTs(raw);
  private readonly stagePoint = (fields: Row, into: PointColumns): void => this.point(fields, into);
  private schema: Schema | undefined;
  private readonly types: ColumnTypes;
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
    this.buffer = new WriteBuffer((points) => this.write(points, "rows"), POINTS, { ...options, flushInterval: 0 }, `${session.store.uri} track ${JSON.stringify(this.table)}`);
  }

  private async write(points: PointColumns, layout: "rows" | "columns"): Promise<void> {
    const store = this.session.store;
    try {
      if (!this.schema) this.schema = await store.schema(this.table);
      // `_ts` is always float64, even when the first timestamps happen to be whole seconds.
      const batch = pointsToBatch(points, this.schema ?? TS_SCHEMA);
      await store.append(this.table, batch, { layout });
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
    const batch = batchOfGood(this.buffer.takeAll(), POINTS, (points) => pointsToBatch(points, this.schema ?? TS_SCHEMA), this.table);
    return batch ? [{ store: this.session.store, storeOptions: this.session.storeOptions, table: this.table, batch, layout: "rows" }] : [];
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

  /** Writes many points as one columnar batch; returns their count. */
  async appendBatch(rows: readonly PointInput<P>[]): Promise<{ count: number }> {
    this.session.ensureOpen();
    if (!Array.isArray(rows)) throw new QuiverError("INVALID_VALUE", "appendBatch expects an array of objects");
    const pts = new PointColumns();
    for (const r of rows) this.point(r as Row, pts);
    if (!pts.length) return { count: 0 };
    await this.buffer.flush();
    try {
      await this.write(pts, "columns");
    } catch (err) {
      throw asStoreError(
        err,
        `writing ${pts.length} points to ${this.session.store.uri} track ${JSON.stringify(this.table)}`,
        "nothing of the batch was stored; call appendBatch again once the fault is fixed",
      );
    }
    return { count: pts.length };
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
    const total = await store.count(this.table, where);
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
    const data = await this.points(scan, windowed);
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

export type LogLevel = "debug" | "info" | "warn" | "error" | "fatal";
const LEVELS: readonly string[] = ["debug", "info", "warn", "error", "fatal"];

class Logs {
  constructor(private readonly session: Session) {}
  /** Log entries in order: { _ts, level, message, metadata? }. */
  async read(opts: { level?: LogLevel; limit?: number } = {}): Promise<Row[]> {
    const t = this.session.logTrack;
    await t.flush();
    const where = opts.level ? field("level").eq(opts.level).node : undefined;
    if (!(await this.session.store.schema(t.table))) return [];
    const rows = await readRows(this.session.store, t.table, { where, limit: opts.limit }, true);
    for (const r of rows) if (typeof r.metadata === "string") r.metadata = JSON.parse(r.metadata);
    return rows;
  }
}

class Tracks {
  constructor(private readonly session: Session) {}
  /** Names of the session's tracks (stored or buffered), sorted. */
  async list(): Promise<string[]> {
    await this.flush();
    const pre = `${this.session.prefix}/tracks/`;
    return (await this.session.store.tables())
      .filter((t) => t.startsWith(pre))
      .map((t) => t.slice(pre.length))
      .sort();
  }
  async flush(): Promise<void> {
    await this.session.flush();
  }
}

export class Session implements AsyncDisposable {
  readonly tracks = new Tracks(this);
  readonly params: SessionParams;
  readonly logs = new Logs(this);
  private readonly open = new Map<string, Track>();
  /** NaN until the first point: a number field V8 updates in place (undefined would box every store). */
  private lastTs = NaN;
  private closed = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  /** @internal */
  readonly logTrack: Track;
  private readonly unhook: () => void;

  private constructor(
    readonly prefix: string,
    readonly store: Store,
    private readonly owned: boolean,
    private readonly options: SessionOptions,
    /** Schemas of the session's tables when it opened. */
    private readonly schemas: ReadonlyMap<string, Schema>,
  ) {
    this.logTrack = new Track(this, "logs", options, `${prefix}/logs`);
    this.params = new SessionParams(
      () => this.store,
      `${prefix}/params`,
      () => this.ensureOpen(),
      options,
    );
    const self = this;
    // Points appended by a script that ends without close() are written all the same.
    this.unhook = onProcessExit({
      get pending() {
        return self.pending;
      },
      flush: () => self.flush(),
      takeSync: () => self.takeSync(),
      release: () => self.store.closeSync?.(),
    });
    const every = options.flushInterval ?? 1000;
    if (every > 0) {
      this.timer = setInterval(() => {
        this.flush().catch(
          options.onError ?? ((err: unknown) => console.warn(`[quiver] background flush failed, points kept for the next flush: ${(err as Error)?.message ?? err}`)),
        );
      }, every);
      this.timer.unref?.();
    }
  }

  static async open(options: SessionOptions): Promise<Session> {
    if (!options || typeof options !== "object") throw new QuiverError("INVALID_VALUE", "Session.open expects { prefix, root?, store? }");
    const prefix = validateName(options.prefix, "session prefix");
    const target = options.store ?? `msgpack:${options.root ?? ".quiver"}`;
    const { store, owned } = await resolveStore(target, options.storeOptions);
    try {
      const schemas = new Map<string, Schema>();
      for (const t of await store.tables()) {
        if (!t.startsWith(`${prefix}/`)) continue;
        const s = await store.schema(t);
        if (s) schemas.set(t, s);
      }
      const session = new Session(prefix, store, owned, options, schemas);
      await session.params.load();
      return session;
    } catch (err) {
      if (owned) await store.close().catch(() => undefined);
      throw err;
    }
  }

  /** @internal The schema a table had when the session opened. */
  storedSchema(table: string): Schema | undefined {
    return this.schemas.get(table);
  }

  /** @internal */
  get storeOptions(): StoreOpenOptions | undefined {
    return this.options.storeOptions;
  }

  private get pending(): number {
    let n = this.params.pending;
    for (const t of [...this.open.values(), this.logTrack]) n += t.pending;
    return n;
  }

  private takeSync(): ExitBatch[] {
    if (this.timer) clearInterval(this.timer);
    const out: ExitBatch[] = [];
    for (const t of [...this.open.values(), this.logTrack]) out.push(...t.takeSync());
    const params = this.params.takeRows();
    if (params.length) {
      try {
        out.push({ store: this.store, storeOptions: this.options.storeOptions, table: this.params.table, batch: rowsToBatch(params) });
      } catch (err) {
        process.stderr.write(`[quiver] params of ${this.prefix} refused at exit: ${(err as Error).message}\n`);
      }
    }
    return out;
  }

  /** @internal */
  ensureOpen(): void {
    if (this.closed) throw new QuiverError("CLOSED", `session ${this.prefix} is closed; open it again with Session.open()`);
  }

  /** @internal Resolves a point's `_ts`. */
  nextTs(ts: unknown): number {
    if (ts === undefined || ts === null) {
      const now = Date.now() / 1000;
      const t = now <= this.lastTs ? this.lastTs + 1e-6 : now; // false while lastTs is NaN
      this.lastTs = t;
      return t;
    }
    if (ts === -1) {
      if (this.lastTs !== this.lastTs) return this.nextTs(undefined);
      return this.lastTs;
    }
    if (typeof ts !== "number" || !Number.isFinite(ts)) {
      throw new QuiverError("INVALID_TIMESTAMP", `_ts must be a finite number of seconds since the epoch (or -1 to reuse the last one), got ${describeValue(ts)}`);
    }
    this.lastTs = ts;
    return ts;
  }

  /** The track of this name (the same object on every call); `P` types its points. */
  track<P extends object = Row>(name: string): Track<P> {
    this.ensureOpen();
    let t = this.open.get(name);
    if (!t) {
      t = new Track(this, name, this.options);
      this.open.set(name, t);
    }
    return t as unknown as Track<P>;
  }

  /** Adds a log entry (buffered like a track point). */
  /** Adds a log entry at `_ts` (default: now, like a point; -1: the last `_ts` of the session). */
  log(message: string, opts: { level?: LogLevel; metadata?: Row; _ts?: number } = {}): void {
    if (typeof message !== "string") throw new QuiverError("INVALID_VALUE", `log message must be a string, got ${describeValue(message)}`);
    const level = opts.level ?? "info";
    if (!LEVELS.includes(level)) throw new QuiverError("INVALID_VALUE", `log level must be debug, info, warn, error or fatal, got ${describeValue(level)}`);
    const row: Row = { level, message };
    if (opts._ts !== undefined) row._ts = opts._ts;
    if (opts.metadata !== undefined) row.metadata = JSON.stringify(opts.metadata, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v));
    this.logTrack.append(row);
  }

  /**
   * Writes every buffered point of every track, and the params. Rejects with a store fault
   * (points kept for the next flush) before a refusal (those points were dropped, the rest written).
   */
  async flush(): Promise<void> {
    let fault: unknown;
    let refused: unknown;
    for (const t of [...this.open.values(), this.logTrack, this.params]) {
      try {
        await t.flush();
      } catch (err) {
        if (err instanceof RefusedRows) refused ??= err;
        else fault ??= err;
      }
    }
    if (fault) throw fault;
    await this.store.flush();
    if (refused) throw refused;
  }

  /** Flushes and closes; while the store fails it rejects and stays open (see Tracker.close). */
  async close(): Promise<void> {
    if (this.closed) return;
    let refused: unknown;
    try {
      await this.flush();
    } catch (err) {
      if (!(err instanceof RefusedRows)) throw err;
      refused = err;
    }
    if (this.timer) clearInterval(this.timer);
    this.unhook();
    this.closed = true;
    if (this.owned) await this.store.close();
    if (refused) throw refused;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
