/** The Store interface: the whole contract between front-ends and storage plugins. */
import type { RecordBatch, Schema, Table } from "apache-arrow";
import type { Row } from "../arrow/batches.js";
import type { QueryNode } from "../query/query.js";

/** Value kinds a store may hold; a store lists the ones it supports in `capabilities.kinds`. */
export type ValueKind = "int" | "float" | "bigint" | "bool" | "string" | "timestamp" | "binary" | "list" | "tensor";
export const ALL_KINDS: readonly ValueKind[] = ["int", "float", "bigint", "bool", "string", "timestamp", "binary", "list", "tensor"];

export interface StoreCapabilities {
  /** `sql(text, params)` is available. */
  sql: boolean;
  /** `update()` is available. */
  update: boolean;
  /** `delete()` and `drop()` are available. */
  delete: boolean;
  /** `where`, `orderBy` and `limit` run inside the store rather than over every batch. */
  pushdown: boolean;
  /**
   * Range reads on `_ts` are served through an index (`readByTime`): for a time column that grows
   * with insertion, the cost follows the window, not the table. See each store's README for its limits.
   */
  timeIndex: boolean;
  /** Several processes may append to one table at once without losing rows. */
  concurrentWriters: boolean;
  /** Data outlives the process (close + reopen finds it). */
  persistent: boolean;
  /** Value kinds the store can hold. */
  kinds: readonly ValueKind[];
  /** The SQL dialect `sql()` speaks, when `sql` is true ("duckdb", "postgres", "sqlite", …). */
  dialect?: SqlDialect;
  /** `append` reports through `options.receipt` and `closeSync` settles appends in flight (see AppendReceipt). */
  appendReceipts?: boolean;
}

/** Names of SQL dialects; a store may name another. */
export type SqlDialect = "duckdb" | "postgres" | "sqlite" | (string & {});

export interface OrderBy {
  column: string;
  direction?: "asc" | "desc";
}

export interface ScanOptions {
  /** Only rows where the query holds (SQL three-valued logic: null never matches). */
  where?: QueryNode;
  /** Only these columns, in this order. Unknown names throw UNKNOWN_FIELD. */
  columns?: readonly string[];
  /** Sort keys; nulls last. Without it rows come in insertion order. */
  orderBy?: readonly OrderBy[];
  offset?: number;
  limit?: number;
  /**
   * Add a column of this name (int64) holding each row's 0-based position in the table's
   * insertion order, counted before filtering. Used by tracks for their `index`.
   */
  rowIndex?: string;
}

/**
 * A time window of a table: rows with `start ≤ column < end`, ordered by that column (newest
 * first with `reverse`), ties in insertion order (reversed too). Exactly what a scan with that
 * where, `orderBy: [column, rowIndex]`, offset and limit returns; with neither bound, rows with
 * a null time come last.
 */
export interface TimeRange {
  /** The time column, "_ts" unless given (float seconds in tracks; a timestamp column works too). */
  column?: string;
  start?: number | Date;
  end?: number | Date;
  reverse?: boolean;
  offset?: number;
  limit?: number;
  /** Only these columns, in this order. */
  columns?: readonly string[];
  /** Add each row's insertion position under this name (as ScanOptions.rowIndex). */
  rowIndex?: string;
}

/** One run of a table (rows sharing a `track_id`): its row count and first/last `timestamp`. */
export interface RunSummary {
  track_id: string;
  rows: number;
  first: Date | null;
  last: Date | null;
  /** Asked for with `runs(table, { columns })`: each summarized column of the run. */
  columns?: Record<string, ColumnSummary>;
}

/** A value in a run summary, as the column reads back (bigint for `quiver:bigint` columns, Date for timestamps). */
export type SummaryValue = number | bigint | boolean | string | Date;

/**
 * One column over the rows of a run, nulls left out: the value of its last row that has one
 * (insertion order), and its smallest and largest (numbers with NaN above every other number,
 * false < true, strings by code point — UTF-8 byte order, as SQL's binary collation). All null
 * when no row of the run has a value. A column whose values never change within a run (min
 * equals max) is what a dashboard shows as a param, the others are metrics.
 */
export interface ColumnSummary {
  last: SummaryValue | null;
  min: SummaryValue | null;
  max: SummaryValue | null;
}

export interface RunsOptions {
  /**
   * Also summarize these columns (ColumnSummary per run): the scalar columns (numbers, bigints,
   * booleans, strings, timestamps) among them; others, and names the table lacks, are left out.
   * "all": every scalar column but `track_id` and `timestamp`.
   */
  columns?: readonly string[] | "all";
}

export interface AppendOptions {
  /** How the rows were produced; stores with a choice of layout may honour it (msgpack rows vs columns). */
  layout?: "rows" | "columns";
  /**
   * Optional: told synchronously how the append ends (see AppendReceipt). The write buffers pass
   * one, so that a write still in flight when the process exits is handed to the exit writer
   * when the store says it was not committed.
   */
  receipt?: AppendReceipt;
  /**
   * Optional: the token a receipt gave this batch in an earlier append whose end was not known
   * (see AppendReceipt.token). A store that gives tokens writes the batch only if that append did
   * not commit, so handing the same batch over again never stores it twice.
   */
  token?: string;
}

/**
 * What a store tells, synchronously, about one append. A store that supports it sets `tracked`
 * when the append starts and `committed` the moment its rows are committed (before append
 * resolves); its `closeSync()` settles every append in flight — committed (a commit it let
 * finish) or not (rolled back). An append whose receipt is tracked and not committed after
 * closeSync stored nothing. A store that leaves `tracked` false promises nothing.
 */
export interface AppendReceipt {
  tracked: boolean;
  committed: boolean;
  /**
   * Set by a store whose closeSync cannot settle an append in flight (a server's COMMIT may be
   * on the wire): an append not known to be committed is appended again with `{ token }`, and
   * the store stores it only if the first one did not commit.
   */
  token?: string;
}

export interface Store {
  /** URI scheme, e.g. "duckdb". */
  readonly scheme: string;
  /** The full URI this store was opened with. */
  readonly uri: string;
  readonly capabilities: StoreCapabilities;
  /**
   * Appends a batch to a table, creating it or evolving its schema (new columns are added,
   * old rows read them as null; an integer column receiving floats becomes float). A value of
   * an incompatible type throws SCHEMA_MISMATCH and nothing of the batch is written.
   * Resolves only once the batch is committed (a reader, or a reopen after a crash, sees it);
   * an I/O failure (disk full, read-only, …) rejects with QuiverError("IO") naming the file,
   * keeps what was stored before intact, and leaves the store usable for a retry.
   */
  append(table: string, batch: RecordBatch, options?: AppendOptions): Promise<void>;
  /** Batches of the table, each with the table's current schema (or the projected columns). */
  scan(table: string, options?: ScanOptions): AsyncIterable<RecordBatch>;
  count(table: string, where?: QueryNode): Promise<number>;
  /** The table's schema, or undefined when it does not exist. */
  schema(table: string): Promise<Schema | undefined>;
  /** Table names, sorted. */
  tables(): Promise<string[]>;
  /** Sets columns on matching rows (adding columns as needed); returns rows changed. */
  update(table: string, where: QueryNode | undefined, values: Row): Promise<number>;
  /** Deletes matching rows; returns rows deleted. */
  delete(table: string, where: QueryNode | undefined): Promise<number>;
  /** Removes a table; returns whether it existed. */
  drop(table: string): Promise<boolean>;
  /** Runs SQL (stores with `capabilities.sql`, in `capabilities.dialect`). */
  sql?(text: string, params?: readonly unknown[]): Promise<Table>;
  /**
   * Optional: a time window (see TimeRange), through the store's time index when it has one
   * (`capabilities.timeIndex`). Stores made with defineStore always have it (falling back to a
   * scan); for any store, `readTimeRange(store, table, range)` from the store kit works.
   */
  readByTime?(table: string, range: TimeRange): AsyncIterable<RecordBatch>;
  /**
   * Optional: the table's runs in order of first appearance (what Reader.runs lists), with the
   * column summaries `options.columns` asks for — computed inside the store (one aggregate query,
   * a maintained summary) rather than by reading every row. `listRuns(store, table, options)`
   * of the store kit answers for any store (falling back to a scan).
   */
  runs?(table: string, options?: RunsOptions): Promise<RunSummary[]>;
  /**
   * Makes everything appended so far durable. Resolves only once it is; an I/O failure rejects
   * with QuiverError("IO") naming the file (cause kept), and a later call retries.
   */
  flush(): Promise<void>;
  close(): Promise<void>;
  /**
   * Optional, used only at process exit (`process.exit()`, an uncaught exception), where no
   * promise can settle: lets go of every file handle and lock at once, synchronously, so that
   * another process can open the same location and write what was still buffered. Must not
   * throw and must be idempotent; the store is closed afterwards. Stores that hold nothing
   * between calls need not implement it.
   */
  closeSync?(): void;
}

export interface StoreOpenOptions {
  /**
   * Open only to read (Reader, copy's source, the CLI's read commands): the store never creates,
   * truncates, rewrites or locks anything, fails with NOT_FOUND when the location does not
   * exist, and refuses writes with UNSUPPORTED. A torn tail left by a crashed writer is skipped,
   * not repaired (repair is a writer's job, under its lock).
   */
  readOnly?: boolean;
  [key: string]: unknown;
}

/** What a store package exports by default and what `registerStore` takes. */
export interface StorePlugin {
  /** URI scheme, lowercase: "duckdb", "msgpack", … */
  scheme: string;
  /** Opens the store at `location` (the URI without "scheme:"). */
  open(location: string, options?: StoreOpenOptions): Promise<Store>;
}
