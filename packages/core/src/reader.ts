/** Reader: all runs of a table, read while other processes write. */
import type { Table } from "apache-arrow";
import { normalizeRow, type Row, vectorToValues } from "./arrow.js";
import { QuiverError } from "./errors.js";
import { validateName } from "./names.js";
import { field, type QueryLike, toNode } from "./query.js";
import { resolveStore } from "./registry.js";
import { readRows, readTable } from "./scan.js";
import type { ScanOptions, Store, StoreOpenOptions } from "./store.js";
import { ColumnTypes } from "./column-types.js";

export interface RunInfo {
  track_id: string;
  rows: number;
  first: Date | null;
  last: Date | null;
}

/** Reads all runs of a table, also while other processes write. */
export class Reader implements AsyncDisposable {
  private constructor(
    readonly store: Store,
    private readonly owned: boolean,
    readonly table: string,
  ) {}

  static async open(target?: string | Store, options: { table?: string; storeOptions?: StoreOpenOptions } = {}): Promise<Reader> {
    const table = validateName(options.table ?? "events", "table name");
    const { store, owned } = await resolveStore(target, options.storeOptions);
    return new Reader(store, owned, table);
  }

  private async window(opts: { trackId?: string; head?: number; tail?: number }): Promise<ScanOptions> {
    const where = opts.trackId !== undefined ? field("track_id").eq(opts.trackId).node : undefined;
    if (opts.head !== undefined) return { where, limit: opts.head };
    if (opts.tail !== undefined) {
      const total = await this.store.count(this.table, where);
      return { where, offset: Math.max(0, total - opts.tail), limit: opts.tail };
    }
    return { where };
  }

  async toTable(opts: { trackId?: string; head?: number; tail?: number } = {}): Promise<Table> {
    return readTable(this.store, this.table, await this.window(opts));
  }

  async toRows(opts: { trackId?: string; head?: number; tail?: number } = {}): Promise<Row[]> {
    return readRows(this.store, this.table, await this.window(opts));
  }

  async count(where?: QueryLike): Promise<number> {
    return this.store.count(this.table, where ? toNode(where) : undefined);
  }

  /** Runs in order of first appearance, with row counts and first/last timestamps. */
  async runs(): Promise<RunInfo[]> {
    const schema = await this.store.schema(this.table);
    if (!schema) return [];
    const hasTs = schema.fields.some((f) => f.name === "timestamp");
    const runs = new Map<string, RunInfo>();
    for await (const b of this.store.scan(this.table, { columns: hasTs ? ["track_id", "timestamp"] : ["track_id"] })) {
      const ids = vectorToValues(b.getChildAt(0)!);
      const ts = hasTs ? vectorToValues(b.getChildAt(1)!) : [];
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i] as string | null;
        if (id == null) continue;
        const t = (ts[i] as Date | null | undefined) ?? null;
        let r = runs.get(id);
        if (!r) runs.set(id, (r = { track_id: id, rows: 0, first: t, last: t }));
        r.rows++;
        if (t && (!r.first || t < r.first)) r.first = t;
        if (t && (!r.last || t > r.last)) r.last = t;
      }
    }
    return [...runs.values()];
  }

  async where(query: QueryLike): Promise<Table> {
    return readTable(this.store, this.table, { where: toNode(query) });
  }

  async sql(text: string, params?: readonly unknown[]): Promise<Table> {
    if (!this.store.sql) throw new QuiverError("UNSUPPORTED", `${this.store.scheme}: stores have no SQL; use duckdb: or filter with where(query)`);
    return this.store.sql(text, params);
  }

  /** Deletes every row of a run; returns rows deleted. */
  async deleteRun(trackId: string): Promise<number> {
    if (!this.store.capabilities.delete) throw new QuiverError("UNSUPPORTED", `${this.store.scheme}: stores cannot delete rows`);
    if (!(await this.store.schema(this.table))) return 0;
    return this.store.delete(this.table, field("track_id").eq(trackId).node);
  }

  /** Sets a column on every row of a run; returns rows changed. */
  async setValue(key: string, value: unknown, opts: { trackId: string }): Promise<number> {
    if (!this.store.capabilities.update) throw new QuiverError("UNSUPPORTED", `${this.store.scheme}: stores cannot update rows`);
    if (!opts || typeof opts.trackId !== "string") throw new QuiverError("INVALID_VALUE", "setValue needs { trackId }");
    const schema = await this.store.schema(this.table);
    if (!schema) return 0;
    const values = normalizeRow({ [key]: value });
    new ColumnTypes(schema).check(values);
    return this.store.update(this.table, field("track_id").eq(opts.trackId).node, values);
  }

  async close(): Promise<void> {
    if (this.owned) await this.store.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
