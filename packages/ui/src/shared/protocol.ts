/** What the server sends the page (compact JSON), shared by the server, the page and reports. */

export type Cell = number | string | boolean | null;

/** A column of the runs table: a param (one value per run) or a metric statistic. */
export interface SummaryColumn {
  /** Column of the store's table ("" for the built-in ones: rows, started, duration). */
  col: string;
  /** "value" for params and built-ins; "last" | "min" | "max" for metrics. */
  stat: "value" | "last" | "min" | "max";
  kind: "number" | "string" | "bool" | "time";
  /** Display name, also the field name in filters and sort keys: "lr", "loss", "loss:min". */
  key: string;
}

export interface ColumnInfo {
  name: string;
  kind: "number" | "string" | "bool" | "time";
  /** param: constant within every run; metric: varies; system: a sysmetrics column; axis: the step column (an x axis, not a chart). */
  role: "param" | "metric" | "system" | "axis";
}

export interface Meta {
  uri: string;
  tables: string[];
  table: string;
  /** Columns of the runs table (scalar ones). */
  columns: ColumnInfo[];
  /** Whether the table has a track_id column (else the whole table is one run). */
  hasRuns: boolean;
  /** Numeric columns that can be the x axis, besides step/relative/wall. */
  xColumns: string[];
  /** Rows in the table when the meta was read (changes mean new data). */
  rows: number;
  /** How the server decimates: "sql" (in the store) or "scan". */
  engine: "sql" | "scan";
  /** Static report: no server, data embedded. */
  embedded?: boolean;
}

export interface SummaryPage {
  columns: SummaryColumn[];
  /** Runs in the table. */
  total: number;
  /** Runs matching the filter. */
  matched: number;
  offset: number;
  ids: string[];
  /** One array per run, aligned with `columns`. */
  rows: Cell[][];
}

export interface SeriesRequest {
  table: string;
  runs: string[];
  y: string;
  /** "step" | "relative" | "wall" | a numeric column. */
  x: string;
  x0?: number;
  x1?: number;
  width: number;
  /** Group the runs by this param: mean and min–max band per group instead of one line per run. */
  group?: string;
}

export interface SeriesData {
  /** Run id, or the group's value for grouped series. */
  key: string;
  /** Points in range before decimation. */
  n: number;
  x: number[];
  y: number[];
  /** Per pixel column: mean x, mean y, count (for smoothing). */
  bx: number[];
  by: number[];
  bc: number[];
  /** Grouped: per column min and max across the group's points, and the group's runs. */
  lo?: number[];
  hi?: number[];
  runs?: number;
}

export interface SeriesResponse {
  /** The x range covered (the request's, or the data's extent). */
  x0: number;
  x1: number;
  series: SeriesData[];
  /** Milliseconds the store took. */
  ms: number;
}

export const SYSTEM_COLUMNS = ["cpu", "memory_percent", "p_memory_percent", "disk_percent", "bytes_sent", "bytes_recv", "gpu_percent", "gpu_memory_percent"];
