/** Tracker: xetrack's runs of logged rows, over any Store. Reader and copy sit beside it. */
import { randomUUID } from "node:crypto";
import type { Schema, Table } from "apache-arrow";
import { mergeSchemas, normalizeRow, type Row, rowsToBatch, vectorToValues } from "../arrow/batches.js";
import { asStoreError, QuiverError, isRefusal } from "../errors.js";
import { validateName } from "../names.js";
import { and, field, type QueryLike, type QueryNode, toNode } from "../query/query.js";
import { resolveStore } from "../store/registry.js";
import { newestFirst, oldestFirst, readRows, readTable } from "../store/scan.js";
import type { AppendReceipt, Store, StoreOpenOptions } from "../store/contract.js";
import { ColumnTypes } from "../arrow/column-types.js";
import { batchOfGood, type BufferOptions, RefusedRows, type Staging, WriteBuffer } from "../write/buffer.js";
import { type ExitBatch, onProcessExit } from "../write/exit.js";
import type { LoggedRow, RowTable, StoredRow } from "./row-types.js";
import { loadSampler, type MetricsSampler, type SamplerOption } from "./sampler.js";
import { type AssetInfo, AssetStore, assetsTable, listAssets, swapAssets } from "./assets.js";
import { FunctionCache } from "./cache.js";
import { gitCommitHash } from "./git.js";
import { type CompiledStamp, compileStamp, isFlatPrimitiveRow } from "./stamp.js";
import { runTracked, type TrackHost, type WrapOptions } from "./tracked.js";
import { createTable, latestRun, setWhereRows } from "./run-ops.js";

export type { WrapOptions } from "./tracked.js";
export { type MetricsSampler, type SamplerFactory, type SamplerFactoryOptions, type SamplerOption, registerSampler } from "./sampler.js";
export type { ArrowTypeOf, Flatten, LoggedRow, PointData, PointInput, ReadValue, RowTable, RunColumns, StoredRow } from "./row-types.js";

export interface TrackerOptions extends BufferOptions {
  /** Values added to every row. */
  params?: Row;
  /** The run id (default: a new UUID). */
  trackId?: string;
  /** Table of runs (default "events"). */
  table?: string;
  /** A sampler (or factory) whose readings are added to rows logged by track()/wrap(). */
  sampler?: SamplerOption;
  /** Add system metrics to track()/wrap() rows (loads @quiver/sysmetrics). */
  systemMetrics?: boolean;
  /** Add network metrics too. */
  networkMetrics?: boolean;
  /** Seconds between samples while a tracked function runs (default 0.1). */
  measurementInterval?: number;
  /** Rethrow errors of tracked functions after logging them (default true). */
  raiseOnError?: boolean;
  /** Passed to the store plugin when `uri` is a string. */
  storeOptions?: StoreOpenOptions;
  /** A folder for the function-result cache of track()/wrap() (cache.ts). */
  cache?: string;
  /** Recompute every tracked call and store its result over the cache entry. */
  cacheForce?: boolean;
  /** Add `git_commit_hash` (HEAD of the repository holding this folder) to every row. */
  gitRoot?: string;
  /** Add the sampler's readings (averages since the previous row) to log() rows too. */
  logMetrics?: boolean;
}

export interface RunScope {
  /** All runs instead of this one. */
  all?: boolean;
}

const ROWS: Staging<Row[]> = { fresh: () => [], concat: (a, b) => a.concat(b), slice: (s, a, b) => s.slice(a, b) };
const pushRow = (row: Row, rows: Row[]): void => void rows.push(row);

/**
 * A run. `R` (optional) declares the rows you log(): reads and `last` are then typed by it
 * (see row-types.ts); without it rows are plain `Row`s.
 */
export class Tracker<R extends object = Row> implements AsyncDisposable {
  readonly trackId: string;
  readonly table: string;
  /** The last logged row (with params, timestamp and track_id), or undefined. */
  last: LoggedRow<R> | undefined;
  private _params: Row;
  /** Keys of _params (they overwrite logged keys of the same name). */
  private readonly paramKeys = new Set<string>();
  /** Whether timestamp/track_id passed the column-type check once (their kinds never change). */
  private stampChecked = false;
  /** Bumped when params gain keys (compiled stamps list the param keys). */
  private paramsVersion = 0;
  /** The compiled stamp of the last row shape, and those of recent shapes. */
  private fast: CompiledStamp | undefined;
  private readonly stamps = new Map<string, CompiledStamp>();
  private schema: Schema | undefined;
  private readonly types: ColumnTypes;
  private readonly buffer: WriteBuffer<Row[]>;
  private closed = false;
  private readonly unhook: () => void;
  /** The assets of this table, once one is logged or asked for. */
  private assetStore: AssetStore | undefined;
  /** The cache of tracked calls (`cache` option). */
  readonly cache: FunctionCache | undefined;
  /** The running sampler of `logMetrics`. */
  private logSampler: MetricsSampler | undefined;
  private readonly warned = new Set<string>();

  private constructor(
    readonly store: Store,
    private readonly owned: boolean,
    schema: Schema | undefined,
    private readonly options: TrackerOptions,
    private readonly sampler: (() => MetricsSampler) | undefined,
  ) {
    this.trackId = options.trackId ?? randomUUID();
    this.table = options.table ?? "events";
    this._params = normalizeRow({ ...(options.params ?? {}) });
    for (const k in this._params) this.paramKeys.add(k);
    this.schema = schema;
    this.types = new ColumnTypes(schema);
    this.cache = options.cache !== undefined ? FunctionCache.open(options.cache) : undefined;
    if (options.logMetrics && sampler) (this.logSampler = sampler()).start();
    this.buffer = new WriteBuffer((rows, receipt) => this.write(rows, receipt), ROWS, options, `${store.uri} table ${JSON.stringify(this.table)}`, store);
    // Rows logged by a script that ends without close() are written all the same.
    const buffer = this.buffer;
    this.unhook = onProcessExit({
      get pending() {
        return buffer.pending;
      },
      flush: () => buffer.flush(),
      takeSync: () => this.takeSync(),
      release: () => this.store.closeSync?.(),
    });
  }

  /** At process exit: the staged rows as a batch for the exit writer. */
  private takeSync(): ExitBatch[] {
    this.buffer.stop();
    const { inDoubt, rest } = this.buffer.takeParts();
    const build = (rows: Row[]) => batchOfGood(rows, ROWS, (r) => rowsToBatch(r, { schema: this.schema, normalized: true }), this.table);
    const out: ExitBatch[] = [];
    const assets = this.assetStore?.takeSync();
    const to = { store: this.store, storeOptions: this.options.storeOptions, layout: "rows" as const };
    // Assets first, so that no row is stored whose asset is not.
    if (assets) out.push({ ...to, table: this.assetStore!.table, batch: assets });
    const doubt = inDoubt && build(inDoubt.items);
    if (doubt) out.push({ ...to, table: this.table, batch: doubt, token: inDoubt.token });
    const batch = build(rest);
    if (batch) out.push({ ...to, table: this.table, batch });
    return out;
  }

  /** Opens a run on a store (URI, QUIVER_STORE, or "duckdb:quiver.db"). */
  static async open<R extends object = Row>(target?: string | Store, options: TrackerOptions = {}): Promise<Tracker<R>> {
    const table = validateName(options.table ?? "events", "table name");
    if (options.trackId !== undefined && (typeof options.trackId !== "string" || !options.trackId)) {
      throw new QuiverError("INVALID_VALUE", "trackId must be a non-empty string");
    }
    if (options.logMetrics && !options.sampler && !options.systemMetrics && !options.networkMetrics) {
      throw new QuiverError("INVALID_VALUE", "logMetrics adds the sampler's readings to log() rows: also pass systemMetrics: true, networkMetrics: true or a sampler");
    }
    if (options.gitRoot !== undefined) options = { ...options, params: { ...options.params, git_commit_hash: gitCommitHash(options.gitRoot) } };
    const sampler = await loadSampler(options);
    const { store, owned } = await resolveStore(target, options.storeOptions);
    let t: Tracker<R> | undefined;
    try {
      let schema = await store.schema(table);
      t = new Tracker<R>(store, owned, schema, options, sampler);
      t.types.check(t._params);
      // A fresh table exists from the start (timestamp, track_id and the params), so SQL and
      // readers see it before the first row.
      if (!schema)
        t.schema = schema = await createTable(store, table, t._params).catch((err: unknown) => {
          // A store that is down now gets the table with the first rows it takes; a refusal is the user's to see.
          if (isRefusal(err)) throw err;
          return undefined;
        });
      return t;
    } catch (err) {
      t?.stopHooks();
      if (owned) await store.close();
      throw err;
    }
  }

  private stopHooks(): void {
    this.buffer.stop();
    this.unhook();
    this.logSampler?.stop();
    this.logSampler = undefined;
  }

  /** A new run on the same store whose params extend this run's. */
  async child(options: { params?: Row; trackId?: string } = {}): Promise<Tracker<R>> {
    this.ensureOpen();
    const t = new Tracker<R>(this.store, false, this.schema, { ...this.options, params: { ...this._params, ...(options.params ?? {}) }, trackId: options.trackId }, this.sampler);
    t.types.check(t._params);
    return t;
  }

  get params(): Row {
    return { ...this._params };
  }

  /** Adds values to every future row. */
  setParams(params: Row): void {
    const p = normalizeRow({ ...params });
    this.types.check(p);
    Object.assign(this._params, p);
    for (const k in p) this.paramKeys.add(k);
    this.paramsVersion++;
  }

  private ensureOpen(): void {
    if (this.closed) throw new QuiverError("CLOSED", `tracker ${this.trackId} is closed; open a new one with Tracker.open()`);
  }

  private async write(rows: Row[], receipt?: AppendReceipt): Promise<void> {
    // The assets the rows refer to are stored before the rows.
    if (this.assetStore?.pendingCount) await this.assetStore.flush();
    try {
      const batch = rowsToBatch(rows, { schema: this.schema, normalized: true });
      await this.store.append(this.table, batch, { layout: "rows", receipt });
      this.schema = mergeSchemas(this.schema, batch.schema);
      // What the store now holds (say, list<float64> from empty lists) refuses clashes at log().
      this.types.learn(this.schema);
    } catch (err) {
      // Another writer may have set a column's type meanwhile: learn the stored schema, so the
      // buffer's isolation retries against it and later rows are refused at log().
      if (isRefusal(err)) {
        const stored = await this.store.schema(this.table).catch(() => undefined);
        if (stored) {
          this.schema = stored;
          this.types.learn(stored);
          this.fast = undefined;
          this.stamps.clear();
        }
      }
      throw err;
    }
  }

  private stamp(row: Row): Row {
    const fast = this.fast;
    if (fast !== undefined && fast.fn !== undefined && fast.version === this.paramsVersion && row !== null && typeof row === "object" && !Array.isArray(row)) {
      const keys = fast.keys;
      let i = 0;
      let same = true;
      for (const k in row) {
        if (k !== keys[i++]) {
          same = false;
          break;
        }
      }
      if (same && i === keys.length) {
        const full = fast.fn(row, this._params, new Date(), this.trackId);
        if (full !== undefined) return full;
        fast.version = -1; // a value of a new kind: recompile once the generic path has learnt it
      }
    }
    const full = this.stampGeneric(row);
    this.learnShape(row);
    return full;
  }

  /** Compiles (or finds) the stamp for this row's key sequence, once the generic path accepted it. */
  private learnShape(row: Row): void {
    if (!isFlatPrimitiveRow(row)) {
      this.fast = undefined;
      return;
    }
    const keys = Object.keys(row);
    const sig = keys.join("\u0000");
    let c = this.stamps.get(sig);
    if (c === undefined || c.version !== this.paramsVersion) {
      let fn: CompiledStamp["fn"];
      try {
        fn = compileStamp(keys, [...this.paramKeys], (k) => this.types.classOf(k));
      } catch {
        fn = undefined;
      }
      c = { keys, version: this.paramsVersion, fn };
      if (this.stamps.size >= 16) this.stamps.clear();
      this.stamps.set(sig, c);
    }
    this.fast = c;
  }

  private stampGeneric(row: Row): Row {
    // Rows of primitives (the common case) skip normalizeRow's flatten/validate pass.
    const data = isFlatPrimitiveRow(row) ? row : normalizeRow(swapAssets(row, (v, what) => this.assets().stage(v, what)));
    // Plain copy loops: measured ~4x faster than object spread of two dynamic objects on the log() hot path.
    const full: Row = {};
    for (const k in data) full[k] = data[k];
    const params = this._params;
    for (const k in params) full[k] = params[k];
    full.timestamp = new Date();
    full.track_id = this.trackId;
    // Same outcome as check(full): params were checked by open/setParams, and the stamped
    // timestamp/track_id only need checking once.
    if (!this.stampChecked) {
      this.types.check({ timestamp: full.timestamp, track_id: full.track_id });
      this.stampChecked = true;
    }
    this.types.checkLogged(data, this.paramKeys);
    return full;
  }

  /** Buffers a row (with params, timestamp and track_id) and returns it. */
  log(row: R): Promise<LoggedRow<R>> {
    try {
      this.ensureOpen();
      if (this.logSampler) row = this.withMetrics(row);
      const full = this.stamp(row as Row) as LoggedRow<R>;
      this.last = full;
      const wait = this.buffer.stage(pushRow, full);
      return wait ? wait.then(() => full) : Promise.resolve(full);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Stores many rows as one batch; returns the count. Nothing is written if any row is bad. */
  async logBatch(rows: readonly R[]): Promise<number> {
    this.ensureOpen();
    if (!Array.isArray(rows)) throw new QuiverError("INVALID_VALUE", "logBatch expects an array of rows");
    const full = rows.map((r) => this.stamp(r as Row));
    if (full.length === 0) return 0;
    await this.buffer.flush();
    try {
      await this.write(full);
    } catch (err) {
      throw asStoreError(
        err,
        `writing ${full.length} rows to ${this.store.uri} table ${JSON.stringify(this.table)}`,
        "nothing of the batch was stored; call logBatch again once the fault is fixed",
      );
    }
    this.last = full[full.length - 1] as LoggedRow<R>;
    return full.length;
  }

  private trackFilter(): QueryNode {
    return field("track_id").eq(this.trackId).node;
  }

  private scope(opts?: RunScope, extra?: QueryLike): QueryNode | undefined {
    const own = opts?.all ? undefined : this.trackFilter();
    if (!extra) return own;
    return own ? and(own, extra).node : toNode(extra);
  }

  private async ready(): Promise<boolean> {
    this.ensureOpen();
    await this.buffer.flush();
    return (await this.store.schema(this.table)) !== undefined;
  }

  /** Sets `key` on every row of this run, back in time; returns rows changed. */
  async setValue(key: string, value: unknown): Promise<number> {
    if (!this.store.capabilities.update) throw new QuiverError("UNSUPPORTED", `${this.store.scheme}: stores cannot update rows; use a store with update (duckdb:, memory:)`);
    if (!(await this.ready())) return 0;
    const values = normalizeRow({ [key]: value });
    this.types.check(values);
    const n = await this.store.update(this.table, this.trackFilter(), values);
    this.schema = await this.store.schema(this.table);
    if (this.last) Object.assign(this.last as Row, values);
    return n;
  }

  /** Calls fn, logs name/time/error/args/result (+ system metrics), returns fn's result. */
  track<A extends unknown[], T>(fn: (...args: A) => T, ...args: A): T {
    return this.run(fn, fn, args, { name: fn.name || "anonymous" });
  }

  /** track() with options for this call: `{ cacheForce, cache, name, params, raiseOnError, unpack }`. */
  trackWith<A extends unknown[], T>(options: WrapOptions, fn: (...args: A) => T, ...args: A): T {
    return this.run(fn, fn, args, { ...options, name: options.name ?? (fn.name || "anonymous") });
  }

  /** A function that behaves as fn and logs each call. */
  wrap<A extends unknown[], T>(fn: (...args: A) => T, options: WrapOptions = {}): (...args: A) => T {
    const name = options.name ?? (fn.name || "anonymous");
    const self = this;
    return function (this: unknown, ...args: A): T {
      return self.run((...a: A) => fn.apply(this, a), fn, args, { ...options, name });
    };
  }

  private host(): TrackHost {
    const onError = this.options.onError;
    return {
      trackId: this.trackId,
      params: this._params,
      cache: this.cache,
      sampler: this.sampler,
      raiseOnError: this.options.raiseOnError ?? true,
      cacheForce: this.options.cacheForce === true,
      logRow: (row, name) => {
        this.log(row as R).catch((err: unknown) => (onError ?? ((e: unknown) => console.warn(`[quiver] could not log tracked call ${name}: ${(e as Error)?.message ?? e}`)))(err));
      },
      warnOnce: (message, err) => {
        if (this.warned.has(message)) return;
        this.warned.add(message);
        if (onError) onError(new QuiverError(err instanceof QuiverError ? err.code : "INVALID_VALUE", message, { cause: err }));
        else console.warn(message);
      },
    };
  }

  private run<A extends unknown[], T>(fn: (...args: A) => T, source: (...args: never[]) => unknown, args: A, opts: WrapOptions & { name: string }): T {
    this.ensureOpen();
    return runTracked(this.host(), fn, source, args, opts);
  }

  /** The readings since the previous row, added under the row's own keys (logMetrics). */
  private withMetrics(row: R): R {
    const s = this.logSampler!;
    const m = s.stop();
    s.start();
    const out = { ...row } as Row;
    for (const k in m) if (!(k in out)) out[k] = m[k];
    return out as R;
  }

  private assets(): AssetStore {
    this.ensureOpen();
    return (this.assetStore ??= new AssetStore(this.store, this.table));
  }

  /** Stores a value as an asset of this table (once per content) and returns its hash; log the hash as a column. */
  putAsset(value: unknown): string {
    return this.assets().stage(value, "the asset");
  }

  /** An asset's value by hash (NOT_FOUND when this table has none of that hash). */
  async getAsset(hash: string): Promise<unknown> {
    return this.assets().get(hash);
  }

  /** Deletes an asset; rows keep the hash. Returns whether it existed. */
  async removeAsset(hash: string): Promise<boolean> {
    await this.buffer.flush();
    return this.assets().remove(hash);
  }

  /** The assets of this table (hash, encoding, size, created). */
  async listAssets(): Promise<AssetInfo[]> {
    await this.flush();
    return listAssets(this.store, assetsTable(this.table));
  }

  /** The rows of the newest run of the table (the run with the latest timestamp), any process's. */
  async latest(): Promise<RowTable<R>> {
    await this.ready();
    return (await latestRun(this.store, this.table)) as RowTable<R>;
  }

  /** Sets `key` on the rows of this run (all runs with `{ all: true }`) that match a query; returns rows changed. */
  async setWhere(key: string, value: unknown, query: QueryLike, opts?: RunScope): Promise<number> {
    if (!(await this.ready())) return 0;
    const n = await setWhereRows(this.store, this.table, key, value, this.scope(opts, query)!);
    this.schema = await this.store.schema(this.table);
    return n;
  }

  /** This run's rows (or all runs') as an Arrow Table. */
  async toTable(opts?: RunScope): Promise<RowTable<R>> {
    if (!(await this.ready())) return (await readTable(this.store, this.table)) as RowTable<R>;
    return (await readTable(this.store, this.table, { where: this.scope(opts) })) as RowTable<R>;
  }

  async toRows(opts?: RunScope): Promise<StoredRow<R>[]> {
    if (!(await this.ready())) return [];
    return (await readRows(this.store, this.table, { where: this.scope(opts) })) as StoredRow<R>[];
  }

  /** One column's values. */
  async column<K extends keyof StoredRow<R> & string>(name: K, opts?: RunScope): Promise<StoredRow<R>[K][]>;
  async column(name: string, opts?: RunScope): Promise<unknown[]> {
    if (!(await this.ready())) throw new QuiverError("UNKNOWN_FIELD", `${this.table} has no column ${JSON.stringify(name)} (nothing logged yet)`);
    const t = await readTable(this.store, this.table, { where: this.scope(opts), columns: [name] });
    return t.numCols ? vectorToValues(t.getChildAt(0)!, t.schema.fields[0]) : [];
  }

  async count(opts?: RunScope): Promise<number> {
    if (!(await this.ready())) return 0;
    return this.store.count(this.table, this.scope(opts));
  }

  async head(n = 5): Promise<StoredRow<R>[]> {
    if (!(await this.ready())) return [];
    return (await readRows(this.store, this.table, { where: this.scope(), limit: n })) as StoredRow<R>[];
  }

  /** The newest n rows of this run by timestamp, oldest first. */
  async tail(n = 5): Promise<StoredRow<R>[]> {
    if (!(await this.ready())) return [];
    const newest = newestFirst(await this.store.schema(this.table), n);
    if (newest) return oldestFirst(await readRows(this.store, this.table, { where: this.scope(), ...newest })) as StoredRow<R>[];
    const total = await this.store.count(this.table, this.scope());
    return (await readRows(this.store, this.table, { where: this.scope(), offset: Math.max(0, total - n), limit: n })) as StoredRow<R>[];
  }

  /** Rows matching a query (this run unless { all: true }) as a Table. */
  async where(query: QueryLike, opts?: RunScope): Promise<RowTable<R>> {
    if (!(await this.ready())) {
      await this.store.count(this.table, toNode(query)); // UNKNOWN_FIELD for named fields
      return (await readTable(this.store, this.table)) as RowTable<R>;
    }
    return (await readTable(this.store, this.table, { where: this.scope(opts, query) })) as RowTable<R>;
  }

  async sql(text: string, params?: readonly unknown[]): Promise<Table> {
    if (!this.store.sql) throw new QuiverError("UNSUPPORTED", `${this.store.scheme}: stores have no SQL; use duckdb: or filter with where(query)`);
    this.ensureOpen();
    await this.buffer.flush();
    return this.store.sql(text, params);
  }

  /** Makes everything logged so far durable. */
  async flush(): Promise<void> {
    this.ensureOpen();
    await this.buffer.flush();
    await this.assetStore?.flush();
    await this.store.flush();
  }

  /**
   * Flushes and closes. While the store fails, rejects with its fault and stays open, rows kept,
   * so close() can be called again (and the exit hook still writes them). Rows the store refused
   * do not keep it open: it closes, then rejects naming them.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    let refused: RefusedRows | undefined;
    try {
      await this.buffer.flush();
    } catch (err) {
      if (!(err instanceof RefusedRows)) throw err;
      refused = err;
    }
    await this.assetStore?.flush();
    await this.store.flush();
    this.stopHooks();
    this.closed = true;
    if (this.owned) await this.store.close();
    if (refused) throw refused;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
