/** Reader: all runs of a table, read while other processes write. */
import { makeData, RecordBatch, Schema, Struct, Table } from "apache-arrow";
import { concatBatches, normalizeRow, type Row, takeRows } from "../arrow/batches.js";
import { QuiverError } from "../errors.js";
import { validateName } from "../names.js";
import { field, type QueryLike, toNode } from "../query/query.js";
import { openStore, resolveStore } from "../store/registry.js";
import { newestFirst, oldestFirst, readRows, readTable } from "../store/scan.js";
import type { ColumnSummary, RunsOptions, ScanOptions, Store, StoreOpenOptions } from "../store/contract.js";
import { listRuns } from "../store-kit/runs.js";
import { ColumnTypes } from "../arrow/column-types.js";
import type { RowTable, StoredRow } from "./row-types.js";
import { type AssetInfo, assetsTable, checkHash, getAssetValue, listAssets, removeAsset } from "./assets.js";
import { latestRun, setWhereRows } from "./run-ops.js";

export interface RunInfo {
  track_id: string;
  rows: number;
  first: Date | null;
  last: Date | null;
  /** With `runs({ columns })`: per column its last value, min and max over the run (see ColumnSummary). */
  columns?: Record<string, ColumnSummary>;
}

/**
 * Reads all runs of a table, also while other processes write. A store opened from a URI is
 * opened read-only (nothing is created or written; a missing location is NOT_FOUND); the two
 * writing methods, deleteRun and setValue, reopen it for writing when first called.
 * `R` (optional) declares the rows the runs logged, as in `Tracker.open<R>()`: reads are typed by it.
 */
export class Reader<R extends object = Row> implements AsyncDisposable {
  private constructor(
    private current: Store,
    private readonly owned: boolean,
    readonly table: string,
    /** Opens the location for writing; undefined once done, or when the store is the caller's. */
    private reopen: (() => Promise<Store>) | undefined,
  ) {}

  get store(): Store {
    return this.current;
  }

  static async open<R extends object = Row>(target?: string | Store, options: { table?: string; storeOptions?: StoreOpenOptions } = {}): Promise<Reader<R>> {
    const table = validateName(options.table ?? "events", "table name");
    const { store, owned } = await resolveStore(target, { ...options.storeOptions, readOnly: true });
    const writable = owned && options.storeOptions?.readOnly !== true ? () => openStore(store.uri, options.storeOptions) : undefined;
    return new Reader<R>(store, owned, table, writable);
  }

  /** The store, reopened for writing if it was opened read-only by this reader. */
  private async forWriting(): Promise<Store> {
    const reopen = this.reopen;
    if (reopen) {
      this.reopen = undefined;
      await this.current.close();
      this.current = await reopen();
    }
    return this.current;
  }

  private async window(opts: { trackId?: string; head?: number; tail?: number }): Promise<ScanOptions> {
    const where = opts.trackId !== undefined ? field("track_id").eq(opts.trackId).node : undefined;
    if (opts.head !== undefined) return { where, limit: opts.head };
    if (opts.tail !== undefined) {
      const newest = newestFirst(await this.store.schema(this.table), opts.tail);
      if (newest) return { where, ...newest };
      const total = await this.store.count(this.table, where);
      return { where, offset: Math.max(0, total - opts.tail), limit: opts.tail };
    }
    return { where };
  }

  /** Rows (all, or one run's), or the first `head` / newest `tail` of them by timestamp. */
  async toTable(opts: { trackId?: string; head?: number; tail?: number } = {}): Promise<RowTable<R>> {
    const w = await this.window(opts);
    const t = await readTable(this.store, this.table, w);
    if (!w.rowIndex || t.numRows === 0) return t as RowTable<R>;
    // Newest first with the index column: reverse it and drop the column.
    const one = concatBatches(t.batches, t.schema);
    const keep = one.schema.fields.map((f, i) => [f, i] as const).filter(([f]) => f.name !== w.rowIndex);
    const fields = keep.map(([f]) => f);
    const pruned = new RecordBatch(
      new Schema(fields),
      makeData({ type: new Struct(fields), length: one.numRows, nullCount: 0, children: keep.map(([, i]) => one.data.children[i]!) }),
    );
    return new Table([
      takeRows(
        pruned,
        Array.from({ length: pruned.numRows }, (_, i) => pruned.numRows - 1 - i),
      ),
    ]) as RowTable<R>;
  }

  async toRows(opts: { trackId?: string; head?: number; tail?: number } = {}): Promise<StoredRow<R>[]> {
    const w = await this.window(opts);
    const rows = await readRows(this.store, this.table, w);
    return (w.rowIndex ? oldestFirst(rows) : rows) as StoredRow<R>[];
  }

  async count(where?: QueryLike): Promise<number> {
    return this.store.count(this.table, where ? toNode(where) : undefined);
  }

  /**
   * Runs in order of first appearance, with row counts and first/last timestamps, and with
   * `{ columns: [...] | "all" }` per column its last value, min and max (params are the columns
   * whose min equals max). Stores answer it without reading every row where they can: one
   * aggregate query (duckdb:, postgres:), a summary kept by appends (msgpack:).
   */
  async runs(options?: RunsOptions): Promise<RunInfo[]> {
    return listRuns(this.store, this.table, options);
  }

  async where(query: QueryLike): Promise<RowTable<R>> {
    return (await readTable(this.store, this.table, { where: toNode(query) })) as RowTable<R>;
  }

  async sql(text: string, params?: readonly unknown[]): Promise<Table> {
    if (!this.store.sql) throw new QuiverError("UNSUPPORTED", `${this.store.scheme}: stores have no SQL; use duckdb: or filter with where(query)`);
    return this.store.sql(text, params);
  }

  /** Deletes every row of a run; returns rows deleted. */
  async deleteRun(trackId: string): Promise<number> {
    if (!this.store.capabilities.delete) throw new QuiverError("UNSUPPORTED", `${this.store.scheme}: stores cannot delete rows`);
    if (!(await this.store.schema(this.table))) return 0;
    const store = await this.forWriting();
    return store.delete(this.table, field("track_id").eq(trackId).node);
  }

  /** Sets a column on every row of a run; returns rows changed. */
  async setValue(key: string, value: unknown, opts: { trackId: string }): Promise<number> {
    if (!this.store.capabilities.update) throw new QuiverError("UNSUPPORTED", `${this.store.scheme}: stores cannot update rows`);
    if (!opts || typeof opts.trackId !== "string") throw new QuiverError("INVALID_VALUE", "setValue needs { trackId }");
    const schema = await this.store.schema(this.table);
    if (!schema) return 0;
    const values = normalizeRow({ [key]: value });
    new ColumnTypes(schema).check(values);
    const store = await this.forWriting();
    return store.update(this.table, field("track_id").eq(opts.trackId).node, values);
  }

  async close(): Promise<void> {
    if (this.owned) await this.store.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // xetrack's Reader additions (run-ops.ts, assets.ts).

  /** The rows of the newest run (the one with the latest timestamp), or an empty table. */
  async latest(): Promise<RowTable<R>> {
    return (await latestRun(this.store, this.table)) as RowTable<R>;
  }

  /** Sets a column on the rows a query matches (any run); returns rows changed. */
  async setWhere(key: string, value: unknown, query: QueryLike): Promise<number> {
    if (!(await this.store.schema(this.table))) return 0;
    return setWhereRows(await this.forWriting(), this.table, key, value, toNode(query));
  }

  /** An asset's value by hash (NOT_FOUND when the table has none of that hash). */
  async getAsset(hash: string): Promise<unknown> {
    return getAssetValue(this.store, assetsTable(this.table), hash);
  }

  /** Deletes an asset (rows keep the hash); returns whether it existed. */
  async removeAsset(hash: string): Promise<boolean> {
    checkHash(hash);
    if (!(await this.store.schema(assetsTable(this.table)))) return false;
    return removeAsset(await this.forWriting(), assetsTable(this.table), hash);
  }

  async listAssets(): Promise<AssetInfo[]> {
    return listAssets(this.store, assetsTable(this.table));
  }
}
