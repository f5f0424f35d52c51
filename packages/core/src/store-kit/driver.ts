/**
 * The driver contract: what a store author writes. A driver does only what differs between
 * stores (where bytes go); defineStore wraps it into a Store that applies every shared rule.
 *
 * Tables and columns a driver is handed are already validated; a `where` only names columns
 * the table has; a driver's own errors (ENOSPC, a database's error) become QuiverError("IO").
 * Any method may return a plain value instead of a promise.
 */
import type { RecordBatch, Schema, Table } from "apache-arrow";
import type { Row } from "../arrow/values.js";
import type { QueryNode } from "../query/query.js";
import { type AppendOptions, ALL_KINDS, type RunSummary, type ScanOptions, type SqlDialect, type StoreCapabilities, type TimeRange } from "../store/contract.js";

export type MaybePromise<T> = T | Promise<T>;

/** Batches of a table, async or not (an array works). */
export type Batches = AsyncIterable<RecordBatch> | Iterable<RecordBatch>;

/** What `rewrite` is asked to do to the rows a `where` matches. */
export type RewriteChange =
  | {
      op: "update";
      /** Column → new value (normalized: flat, validated); columns the table lacks are added. */
      set: Row;
      /** `set` as a one-row batch typed for the table (what an appender or a SQL cast needs). */
      values: RecordBatch;
      /** The table's schema once the new columns are added and widened. */
      schema: Schema;
    }
  | { op: "delete" };

/** Facts about a driver that cannot be seen from its methods. Unstated ones take the defaults. */
export type DriverCapabilities = Partial<Pick<StoreCapabilities, "persistent" | "concurrentWriters" | "kinds" | "appendReceipts">>;

export interface SqlEngine {
  /** The dialect its SQL is written in, e.g. "duckdb", "postgres", "sqlite". */
  dialect: SqlDialect;
  /**
   * Runs a statement with positional params. Throw QuiverError("INVALID_QUERY") for the
   * caller's SQL mistakes; other errors are reported as IO faults.
   */
  run(text: string, params: readonly unknown[]): MaybePromise<Table>;
}

export interface StoreDriver {
  /** URI scheme, lowercase, e.g. "ipc". */
  readonly scheme: string;
  /** The full URI the store was opened with, e.g. "ipc:/data/runs". */
  readonly uri: string;
  readonly capabilities?: DriverCapabilities;

  /**
   * Appends a batch, creating the table or evolving its schema (use mergeSchemas: it throws
   * SCHEMA_MISMATCH before anything changes). Resolve only once the batch is committed; on a
   * fault keep what was stored before intact and stay usable for a retry.
   */
  append(table: string, batch: RecordBatch, options: AppendOptions): MaybePromise<void>;
  /**
   * Every batch of the table in insertion order (none for a missing table). Batches may have
   * an older, narrower schema: core conforms them. `columns` is a hint: the columns needed,
   * more may come back.
   */
  read(table: string, columns: readonly string[] | undefined): MaybePromise<Batches>;
  /** The table's schema, or undefined when it does not exist. */
  schema(table: string): MaybePromise<Schema | undefined>;
  /** Table names (core sorts them). */
  tables(): MaybePromise<readonly string[]>;
  /** Removes a table; returns whether it existed. */
  drop(table: string): MaybePromise<boolean>;
  /** Makes everything appended durable; resolve only once it is. */
  flush(): MaybePromise<void>;
  /** Flushes and lets go of every file, connection and lock. */
  close(): MaybePromise<void>;
  /** Process exit only: release files and locks synchronously; must not throw. */
  closeSync?(): void;

  // ---- optional accelerators: each replaces a general path core has ----------------------

  /**
   * Pushdown: answers ScanOptions inside the store (options are checked against `schema`
   * already). Return undefined for options it does not handle; core then scans `read`.
   */
  scan?(table: string, options: ScanOptions, schema: Schema): MaybePromise<Batches | undefined>;
  /** Counts matching rows without reading them; undefined hands it back to core. */
  count?(table: string, where: QueryNode | undefined, schema: Schema): MaybePromise<number | undefined>;
  /**
   * Updates or deletes the rows `where` matches (all rows without one), atomically: a crash or
   * a fault leaves the table as before or as after, never in between. Returns rows changed.
   * rewriteBatches() does the row work for stores that keep batches. Without it the store
   * declares update/delete false: core never emulates it with a drop and an append.
   */
  rewrite?(table: string, where: QueryNode | undefined, change: RewriteChange, schema: Schema): MaybePromise<number>;
  sql?: SqlEngine;
  /**
   * A time window served by an index (capabilities.timeIndex). `range.column` is set. Return
   * undefined for a range it does not serve (another column, say); core then scans.
   */
  readByTime?(table: string, range: TimeRange & { column: string }, schema: Schema): MaybePromise<Batches | undefined>;
  /**
   * Run summaries from the store (Reader.runs without a scan): one aggregate query, or a summary
   * kept up to date by appends. `columns` are the scalar columns to summarize (resolved and
   * checked by core; empty for none); each RunSummary then carries `columns` with every one of
   * them. Undefined hands it back to core's scan.
   */
  runs?(table: string, schema: Schema, columns: readonly string[]): MaybePromise<RunSummary[] | undefined>;
}

/** Defaults of the capabilities a driver may state; a flag added later gets one here (appendReceipts: absent, i.e. false). */
export const DRIVER_DEFAULTS: Required<Omit<DriverCapabilities, "appendReceipts">> = {
  // Data is assumed to outlive the process: the exit path then writes a store's buffered rows
  // rather than skipping them, which is the safe mistake.
  persistent: true,
  concurrentWriters: false,
  kinds: ALL_KINDS,
};
