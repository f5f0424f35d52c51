/**
 * defineStore(driver): a driver (what differs) wrapped into a Store (what every store must
 * do), so the rule book lives here once: names validated, CLOSED after close, writes refused
 * on read-only opens, query fields checked (a `where` on a missing table still throws
 * UNKNOWN_FIELD), scans/counts/time windows answered over `read` when the driver has no
 * accelerator, update/delete only over an atomic `rewrite`, capabilities derived from the
 * driver's methods, and a driver's own errors turned into QuiverError("IO") naming the store
 * and table with the cause kept.
 */
import type { RecordBatch, Schema, Table } from "apache-arrow";
import { conformBatch, mergeSchemas, projectSchema } from "../arrow/batches.js";
import { rowsToBatch } from "../arrow/build.js";
import { asStoreError, describeValue, QuiverError } from "../errors.js";
import { checkQueryFields, evaluate } from "../query/evaluate.js";
import { validateColumnName, validateName } from "../names.js";
import { type QueryNode, queryFields } from "../query/query.js";
import { checkScanOptions, scanBatches } from "../store/scan.js";
import type { AppendOptions, RunSummary, RunsOptions, ScanOptions, Store, StoreCapabilities, StoreOpenOptions, StorePlugin, TimeRange } from "../store/contract.js";
import { normalizeRow, type Row } from "../arrow/values.js";
import { type Batches, DRIVER_DEFAULTS, type MaybePromise, type RewriteChange, type StoreDriver } from "./driver.js";
import { summarizeRuns, summaryColumns } from "./runs.js";
import { checkTimeRange, dropColumn, timeRangeScan } from "./time.js";

export interface DefineOptions {
  /** The store was opened with `{ readOnly: true }`: writes are refused with UNSUPPORTED. */
  readOnly?: boolean;
}

/** A driver for definePlugin, which knows its scheme and URI already. */
export type PluginDriver = Omit<StoreDriver, "scheme" | "uri"> & Partial<Pick<StoreDriver, "scheme" | "uri">>;

/** The columns a scan needs from `read` (undefined: all of them). */
function neededColumns(schema: Schema, options: ScanOptions): string[] | undefined {
  if (!options.columns) return undefined;
  const need = new Set(options.columns);
  if (options.where) queryFields(options.where, need);
  for (const o of options.orderBy ?? []) need.add(o.column);
  if (options.rowIndex) need.delete(options.rowIndex);
  return schema.fields.map((f) => f.name).filter((n) => need.has(n));
}

/** The Store defineStore returns. A class so that a store may extend it (MemoryStore does). */
export class DefinedStore implements Store {
  readonly scheme: string;
  readonly uri: string;
  readonly capabilities: StoreCapabilities;
  declare readonly sql?: (text: string, params?: readonly unknown[]) => Promise<Table>;
  protected readonly driver: PluginDriver;
  /** Opened with `{ readOnly: true }`: writes are refused with UNSUPPORTED. */
  readonly readOnly: boolean;
  protected closed = false;
  private closing: Promise<void> | undefined;

  constructor(driver: PluginDriver, options: DefineOptions & { scheme?: string; uri?: string } = {}) {
    const scheme = driver.scheme ?? options.scheme;
    const uri = driver.uri ?? options.uri;
    if (typeof scheme !== "string" || typeof uri !== "string") throw new QuiverError("INVALID_VALUE", "a store driver needs a scheme and a uri (strings)");
    for (const m of ["append", "read", "schema", "tables", "drop", "flush", "close"] as const) {
      if (typeof driver[m] !== "function")
        throw new QuiverError("INVALID_VALUE", `the ${scheme}: store driver has no ${m}() method; a driver needs append, read, schema, tables, drop, flush and close`);
    }
    this.driver = driver;
    this.scheme = scheme;
    this.uri = uri;
    this.readOnly = options.readOnly === true;
    const stated = driver.capabilities ?? {};
    const engine = driver.sql;
    this.capabilities = {
      sql: engine !== undefined,
      update: driver.rewrite !== undefined,
      delete: driver.rewrite !== undefined,
      pushdown: driver.scan !== undefined,
      timeIndex: driver.readByTime !== undefined,
      concurrentWriters: stated.concurrentWriters ?? DRIVER_DEFAULTS.concurrentWriters,
      persistent: stated.persistent ?? DRIVER_DEFAULTS.persistent,
      kinds: stated.kinds ?? DRIVER_DEFAULTS.kinds,
      ...(engine ? { dialect: engine.dialect } : {}),
      ...(stated.appendReceipts ? { appendReceipts: true } : {}),
    };
    if (engine) {
      (this as { sql?: DefinedStore["sql"] }).sql = async (text: string, params: readonly unknown[] = []) => {
        this.ensureOpen();
        if (typeof text !== "string" || !text.trim()) throw new QuiverError("INVALID_QUERY", "sql() needs a SQL string");
        if (!Array.isArray(params)) throw new QuiverError("INVALID_QUERY", `sql() params must be an array, got ${describeValue(params)}`);
        return this.call("running SQL on", undefined, () => engine.run(text, params));
      };
    }
  }

  // ---- the rule book ------------------------------------------------------------------------

  protected ensureOpen(): void {
    if (this.closed) throw new QuiverError("CLOSED", `${this.uri} is closed; open it again with openStore("${this.uri}")`);
  }

  protected writable(): void {
    this.ensureOpen();
    if (this.readOnly) throw new QuiverError("UNSUPPORTED", `${this.uri} was opened read-only; open it without readOnly to write`);
  }

  /** A driver failure as a QuiverError: Quiver's own pass through, others become IO. */
  protected fault(err: unknown, doing: string, table?: string): QuiverError {
    return asStoreError(err, `${doing} ${this.uri}${table === undefined ? "" : ` table ${JSON.stringify(table)}`}`);
  }

  private async call<T>(doing: string, table: string | undefined, f: () => MaybePromise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw this.fault(err, doing, table);
    }
  }

  private schemaOf(table: string): Promise<Schema | undefined> {
    return this.call("reading the schema of", table, () => this.driver.schema(table));
  }

  private async *iterate(src: Batches, table: string): AsyncGenerator<RecordBatch> {
    try {
      for await (const b of src) yield b;
    } catch (err) {
      throw this.fault(err, "reading", table);
    }
  }

  /** The driver's rewrite, or UNSUPPORTED: a drop + append could lose the table on a crash. */
  private rewriter(what: string): NonNullable<StoreDriver["rewrite"]> {
    const rewrite = this.driver.rewrite;
    if (!rewrite) throw new QuiverError("UNSUPPORTED", `${this.scheme}: stores cannot ${what} rows (capabilities.${what} is false); use a store that can, e.g. memory: or duckdb:`);
    return rewrite.bind(this.driver);
  }

  /** Batches answering `options` (already checked): the driver's pushdown, else `read` + scanBatches. */
  private async *batches(table: string, schema: Schema, options: ScanOptions): AsyncGenerator<RecordBatch> {
    const d = this.driver;
    let src: Batches | undefined = d.scan ? await this.call("scanning", table, () => d.scan!(table, options, schema)) : undefined;
    if (src === undefined) {
      const cols = neededColumns(schema, options);
      const raw = await this.call("reading", table, () => d.read(table, cols));
      src = scanBatches(raw, cols ? projectSchema(schema, cols, table) : schema, options, table);
    }
    yield* this.iterate(src, table);
  }

  // ---- Store --------------------------------------------------------------------------------

  async append(table: string, batch: RecordBatch, options: AppendOptions = {}): Promise<void> {
    this.writable();
    validateName(table, "table name");
    const fields = batch.schema.fields;
    for (let i = 0; i < fields.length; i++) validateColumnName(fields[i]!.name);
    try {
      await this.driver.append(table, batch, options);
    } catch (err) {
      throw this.fault(err, "appending to", table);
    }
  }

  async *scan(table: string, options: ScanOptions = {}): AsyncGenerator<RecordBatch> {
    this.ensureOpen();
    validateName(table, "table name");
    const schema = await this.schemaOf(table);
    if (!schema) {
      if (options.where) checkQueryFields(options.where, undefined, table);
      return;
    }
    checkScanOptions(schema, options, table);
    yield* this.batches(table, schema, options);
  }

  async count(table: string, where?: QueryNode): Promise<number> {
    this.ensureOpen();
    validateName(table, "table name");
    const schema = await this.schemaOf(table);
    if (where) checkQueryFields(where, schema, table);
    if (!schema) return 0;
    const d = this.driver;
    if (d.count) {
      const n = await this.call("counting rows of", table, () => d.count!(table, where, schema));
      if (n !== undefined) return n;
    }
    const cols = where ? [...queryFields(where)] : [];
    const proj = where ? projectSchema(schema, cols, table) : undefined;
    let n = 0;
    for await (const b of this.iterate(await this.call("reading", table, () => d.read(table, cols)), table)) {
      if (!where) {
        n += b.numRows;
        continue;
      }
      const mask = evaluate(where, conformBatch(b, proj!));
      for (let i = 0; i < mask.length; i++) n += mask[i]!;
    }
    return n;
  }

  async schema(table: string): Promise<Schema | undefined> {
    this.ensureOpen();
    validateName(table, "table name");
    return this.schemaOf(table);
  }

  async tables(): Promise<string[]> {
    this.ensureOpen();
    const names = await this.call("listing the tables of", undefined, () => this.driver.tables());
    return [...names].sort();
  }

  async update(table: string, where: QueryNode | undefined, values: Row): Promise<number> {
    this.writable();
    validateName(table, "table name");
    const rewrite = this.rewriter("update");
    const given = normalizeRow(values);
    const set: Row = {};
    for (const k of Object.keys(given)) if (given[k] !== undefined) set[validateColumnName(k)] = given[k];
    const schema = await this.schemaOf(table);
    if (where) checkQueryFields(where, schema, table);
    if (!schema) return 0;
    if (Object.keys(set).length === 0) return this.count(table, where);
    // Typed against the table: SCHEMA_MISMATCH (or a case clash) before the driver is called.
    const batch = rowsToBatch([set], { schema, normalized: true });
    const change: RewriteChange = { op: "update", set, values: batch, schema: mergeSchemas(schema, batch.schema) };
    return this.call("updating rows of", table, () => rewrite(table, where, change, schema));
  }

  async delete(table: string, where: QueryNode | undefined): Promise<number> {
    this.writable();
    validateName(table, "table name");
    const rewrite = this.rewriter("delete");
    const schema = await this.schemaOf(table);
    if (where) checkQueryFields(where, schema, table);
    if (!schema) return 0;
    return this.call("deleting rows of", table, () => rewrite(table, where, { op: "delete" }, schema));
  }

  async drop(table: string): Promise<boolean> {
    this.writable();
    validateName(table, "table name");
    return this.call("dropping", table, () => this.driver.drop(table));
  }

  /**
   * A time window: through the driver's time index when it serves the range, else as the
   * equivalent scan (which a pushdown driver answers inside the store).
   */
  async *readByTime(table: string, range: TimeRange = {}): AsyncGenerator<RecordBatch> {
    this.ensureOpen();
    validateName(table, "table name");
    const r = checkTimeRange(range);
    const schema = await this.schemaOf(table);
    if (!schema) return;
    const { options, strip } = timeRangeScan(r);
    checkScanOptions(schema, options, table);
    const d = this.driver;
    const indexed = d.readByTime ? await this.call("reading a time range of", table, () => d.readByTime!(table, r, schema)) : undefined;
    if (indexed !== undefined) return yield* this.iterate(indexed, table);
    for await (const b of this.batches(table, schema, options)) yield strip ? dropColumn(b, strip) : b;
  }

  /** Runs of the table (rows sharing a `track_id`), from the driver when it keeps or computes them. */
  async runs(table: string, options: RunsOptions = {}): Promise<RunSummary[]> {
    this.ensureOpen();
    validateName(table, "table name");
    if (options.columns !== undefined && options.columns !== "all" && !(Array.isArray(options.columns) && options.columns.every((c) => typeof c === "string")))
      throw new QuiverError("INVALID_VALUE", `runs(): columns must be an array of column names or "all", got ${describeValue(options.columns)}`);
    const schema = await this.schemaOf(table);
    if (!schema) return [];
    const cols = summaryColumns(schema, options);
    const d = this.driver;
    if (d.runs) {
      const kept = await this.call("reading the runs of", table, () => d.runs!(table, schema, cols));
      if (kept !== undefined) {
        // Exactly what was asked: `columns` on every run when asked for, on none otherwise.
        for (const r of kept) {
          if (options.columns === undefined) delete r.columns;
          else r.columns ??= {};
        }
        return kept;
      }
    }
    const hasTs = schema.fields.some((f) => f.name === "timestamp");
    const scan: ScanOptions = { columns: ["track_id", ...(hasTs ? ["timestamp"] : []), ...cols.filter((c) => c !== "track_id" && c !== "timestamp")] };
    checkScanOptions(schema, scan, table);
    return summarizeRuns(this.batches(table, schema, scan), hasTs, options.columns === undefined ? undefined : cols);
  }

  async flush(): Promise<void> {
    this.ensureOpen();
    if (this.readOnly) return; // nothing was written; a read-only open never writes
    await this.call("flushing", undefined, () => this.driver.flush());
  }

  /** Closes once (later calls wait for the same close); a failed close may be retried. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closed = true;
      const closing = this.call("closing", undefined, () => this.driver.close());
      this.closing = closing;
      closing.catch(() => {
        // Still open: the store stays usable and close() can be retried.
        if (this.closing === closing) {
          this.closing = undefined;
          this.closed = false;
        }
      });
    }
    return this.closing;
  }

  closeSync(): void {
    this.closed = true;
    this.closing ??= Promise.resolve();
    try {
      this.driver.closeSync?.();
    } catch {
      /* must not throw: the exit path reports whatever lock the exit writer then meets */
    }
  }
}

/** Wraps a driver into a Store that applies the rule book (see the module comment). */
export function defineStore(driver: StoreDriver, options: DefineOptions = {}): Store {
  return new DefinedStore(driver, options);
}

/**
 * A StorePlugin for registerStore: `open` builds the driver for a location (and must fail with
 * NOT_FOUND, creating nothing, when `options.readOnly` is set and there is nothing there).
 * The store's URI is `scheme:location` unless the driver names another.
 */
export function definePlugin(scheme: string, open: (location: string, options: StoreOpenOptions) => MaybePromise<PluginDriver>): StorePlugin {
  return {
    scheme,
    async open(location: string, options: StoreOpenOptions = {}): Promise<Store> {
      const driver = await open(location, options);
      return new DefinedStore(driver, { scheme, uri: `${scheme}:${location}`, readOnly: options.readOnly === true });
    },
  };
}
