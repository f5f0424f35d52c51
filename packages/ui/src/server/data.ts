/**
 * What the dashboard reads from a store, with caches keyed on the table's row count (a change
 * means new rows): the runs summary, sorted and filtered pages of it, and decimated series.
 * Reads only: the store is opened read-only by the caller.
 */
import { isQuiverError, parseFilter, QuiverError, type Schema, type Store } from "@quiver/core";
import { scalarColumns } from "./columns.js";
import { cut, isSorted, type RawSeries, readRaw } from "./scan.js";
import { sqlRaw, sqlSeries } from "./sql.js";
import { cellAt, computeSummary, hasDuckSql, orderColumn, rowAt, type Summary } from "./summary.js";
import { fieldsOf, matches } from "../shared/evaluate.js";
import type { Cell, Meta, SeriesRequest, SeriesResponse, SummaryPage } from "../shared/protocol.js";

export interface PageRequest {
  table: string;
  filter?: string;
  sort?: string;
  desc?: boolean;
  offset?: number;
  limit?: number;
}

function cmp(a: Cell, b: Cell): number {
  if (a === b) return 0;
  if (a === null) return 1; // nulls last, both ways (flipped back below)
  if (b === null) return -1;
  if (typeof a === typeof b) return (a as number | string) < (b as number | string) ? -1 : 1;
  return typeof a < typeof b ? -1 : 1;
}

export class RunsData {
  private summaries = new Map<string, { rows: number; at: number; value: Promise<Summary> }>();
  private orders = new Map<string, Int32Array>();
  private raw = new Map<string, { rows: number; value: Map<string, RawSeries> }>();
  private counts = new Map<string, { at: number; value: Promise<number> }>();
  /** Raw columns of charted runs (SQL path), for zooms: key → series at a row count. */
  private zoomCache = new Map<string, { rows: number; value: RawSeries }>();
  private zoomPoints = 0;
  private prefetching = new Set<string>();
  readonly engine: "sql" | "scan";
  /** Where series came from: cut in the store's SQL, from the zoom cache, or from a scan. */
  readonly served = { sql: 0, cache: 0, scan: 0 };

  constructor(
    readonly store: Store,
    /** How long a row count is trusted before asking the store again (ms). */
    private readonly countTtl = 150,
    /** Points of raw columns kept in memory to serve zooms without the store (16 bytes each). */
    private readonly cachePoints = 4_000_000,
  ) {
    this.engine = hasDuckSql(store) ? "sql" : "scan";
  }

  /** Tables holding runs (with a track_id column), else every table. */
  async tables(): Promise<string[]> {
    return this.store.tables();
  }

  async defaultTable(): Promise<string> {
    const tables = await this.tables();
    if (tables.includes("events")) return "events";
    for (const t of tables) if ((await this.store.schema(t))?.fields.some((f) => f.name === "track_id")) return t;
    if (!tables.length) throw new QuiverError("NOT_FOUND", `${this.store.uri} has no tables yet; log runs into it with Tracker.open("${this.store.uri}")`);
    return tables[0]!;
  }

  async schema(table: string): Promise<Schema> {
    const s = await this.store.schema(table);
    if (!s) throw new QuiverError("NOT_FOUND", `${this.store.uri} has no table ${JSON.stringify(table)}; tables: ${(await this.tables()).join(", ") || "(none)"}`);
    return s;
  }

  /** The table's row count, cached for a moment (live polling and every request ask it). */
  rows(table: string, fresh = false): Promise<number> {
    const c = this.counts.get(table);
    if (!fresh && c && Date.now() - c.at < this.countTtl) return c.value;
    const value = this.store.count(table);
    this.counts.set(table, { at: Date.now(), value });
    value.then(
      (n) => {
        const last = this.seen.get(table);
        if (last && last.rows !== n) this.grew.set(table, Date.now());
        this.seen.set(table, { rows: n });
      },
      () => this.counts.delete(table),
    );
    return value;
  }

  private seen = new Map<string, { rows: number }>();
  /** When each table last grew (ms): a table being logged to is not worth caching. */
  private grew = new Map<string, number>();

  async summary(table: string): Promise<Summary> {
    const rows = await this.rows(table);
    const c = this.summaries.get(table);
    if (c && c.rows === rows) return c.value;
    const value = this.schema(table).then((s) => computeSummary(this.store, table, s));
    this.summaries.set(table, { rows, at: Date.now(), value });
    for (const k of this.orders.keys()) if (k.startsWith(`${table}\u0000`)) this.orders.delete(k);
    value.catch(() => this.summaries.delete(table));
    return value;
  }

  async meta(table?: string): Promise<Meta> {
    const t = table ?? (await this.defaultTable());
    const schema = await this.schema(t);
    const [summary, tables, rows] = await Promise.all([this.summary(t), this.tables(), this.rows(t)]);
    const xColumns = scalarColumns(schema)
      .filter((c) => c.kind === "number" && c.name !== "track_id")
      .map((c) => c.name);
    return { uri: this.store.uri, tables, table: t, columns: summary.columns, hasRuns: schema.fields.some((f) => f.name === "track_id"), xColumns, rows, engine: this.engine };
  }

  /** A window of the runs table, filtered with the CLI's filter language and sorted. */
  async page(req: PageRequest): Promise<SummaryPage> {
    const s = await this.summary(req.table);
    const order = this.order(s, req);
    const offset = Math.max(0, Math.floor(req.offset ?? 0));
    const limit = Math.min(2000, Math.max(0, Math.floor(req.limit ?? 200)));
    const ids: string[] = [];
    const rows: Cell[][] = [];
    for (let i = offset; i < Math.min(order.length, offset + limit); i++) {
      ids.push(s.ids[order[i]!]!);
      rows.push(rowAt(s, order[i]!));
    }
    return { columns: s.sumCols, total: s.ids.length, matched: order.length, offset, ids, rows };
  }

  private order(s: Summary, req: PageRequest): Int32Array {
    const key = `${req.table}\u0000${req.filter ?? ""}\u0000${req.sort ?? ""}\u0000${req.desc ? 1 : 0}`;
    const cached = this.orders.get(key);
    if (cached) return cached;
    let idx = Array.from(s.ids, (_, i) => i);
    if (req.filter?.trim()) {
      const node = parseFilter(req.filter).node;
      const unknown = [...fieldsOf(node)].filter((f) => f !== "track_id" && !s.byKey.has(f));
      if (unknown.length) {
        throw new QuiverError(
          "UNKNOWN_FIELD",
          `no column ${unknown.map((u) => JSON.stringify(u)).join(", ")} in the runs table; filter on params, metrics (last value; name:min, name:max), rows, started, duration or track_id`,
        );
      }
      const timeKeys = new Set(s.sumCols.filter((c) => c.kind === "time").map((c) => c.key));
      idx = idx.filter((r) =>
        matches(
          node,
          (f) => (f === "track_id" ? s.ids[r]! : cellAt(s, r, s.byKey.get(f)!)),
          (f) => timeKeys.has(f),
        ),
      );
    }
    if (req.sort) {
      const c = s.byKey.get(req.sort);
      if (c === undefined && req.sort !== "track_id") throw new QuiverError("UNKNOWN_FIELD", `cannot sort by ${JSON.stringify(req.sort)}: no such column in the runs table`);
      const get = (r: number): Cell => (c === undefined ? s.ids[r]! : cellAt(s, r, c));
      const dir = req.desc ? -1 : 1;
      idx.sort((a, b) => {
        const va = get(a);
        const vb = get(b);
        if (va === null || vb === null) return va === vb ? a - b : va === null ? 1 : -1;
        return cmp(va, vb) * dir || a - b;
      });
    }
    const out = Int32Array.from(idx);
    this.orders.set(key, out);
    if (this.orders.size > 64) this.orders.delete(this.orders.keys().next().value!);
    return out;
  }

  /** Decimated series of the selected runs for one metric. */
  async series(req: SeriesRequest): Promise<SeriesResponse> {
    const t0 = performance.now();
    const schema = await this.schema(req.table);
    const names = new Set(schema.fields.map((f) => f.name));
    for (const c of [req.y, ...(req.group ? [req.group] : [])]) {
      if (!names.has(c)) throw new QuiverError("UNKNOWN_FIELD", `${this.store.uri} table ${JSON.stringify(req.table)} has no column ${JSON.stringify(c)}`);
    }
    if (!["step", "relative", "wall"].includes(req.x) && !names.has(req.x))
      throw new QuiverError("UNKNOWN_FIELD", `x axis ${JSON.stringify(req.x)}: no such column; use step, relative, wall or a numeric column`);
    if ((req.x === "relative" || req.x === "wall") && !names.has("timestamp"))
      throw new QuiverError("UNKNOWN_FIELD", `x axis ${req.x} needs a timestamp column, which ${JSON.stringify(req.table)} has not`);
    const width = Math.min(8192, Math.max(1, Math.floor(req.width || 1000)));
    let result: { x0: number; x1: number; series: Map<string, Omit<SeriesResponse["series"][number], "key">> };
    if (req.runs.length === 0) return { x0: req.x0 ?? 0, x1: req.x1 ?? 1, series: [], ms: 0 };
    if (this.engine === "sql") {
      const rows = await this.rows(req.table);
      const cached = req.group ? undefined : this.cached(req, rows);
      if (cached) {
        this.served.cache++;
        result = cut(cached, req.x0, req.x1, width, false);
        const keys = req.runs.filter((r) => result.series.has(r));
        return { x0: result.x0, x1: result.x1, series: keys.map((k) => ({ key: k, ...result.series.get(k)! })), ms: performance.now() - t0 };
      }
      try {
        const o = { ...req, width, schema, order: orderColumn(schema) };
        result = await sqlSeries(this.store, o);
        this.served.sql++;
        if (!req.group) this.prefetch(o, rows);
      } catch (err) {
        if (isQuiverError(err, "INVALID_QUERY"))
          throw new QuiverError("INVALID_QUERY", `cannot chart ${JSON.stringify(req.y)} against ${JSON.stringify(req.x)}: ${err.message}`, { cause: err });
        throw err;
      }
    } else {
      const raw = await this.rawSeries(req, schema);
      this.served.scan++;
      result = cut(raw, req.x0, req.x1, width, !!req.group);
    }
    const keys = req.group ? [...result.series.keys()] : req.runs.filter((r) => result.series.has(r));
    const series = keys.map((k) => ({ key: k, ...result.series.get(k)! }));
    return { x0: result.x0, x1: result.x1, series, ms: performance.now() - t0 };
  }

  private zoomKey(req: SeriesRequest, run: string): string {
    return JSON.stringify([req.table, req.y, req.x, run]);
  }

  /** The runs' raw columns when every one is cached at this row count. */
  private cached(req: SeriesRequest, rows: number): Map<string, RawSeries> | undefined {
    const out = new Map<string, RawSeries>();
    for (const run of req.runs) {
      const key = this.zoomKey(req, run);
      const c = this.zoomCache.get(key);
      if (!c || c.rows !== rows) return undefined;
      // Refresh its place in the LRU order.
      this.zoomCache.delete(key);
      this.zoomCache.set(key, c);
      out.set(run, c.value);
    }
    return out;
  }

  /**
   * After a chart was cut in SQL, its runs' raw (x, y) are read once in the background, so
   * zooming and re-opening cut memory (binary search on a sorted x) instead of re-querying.
   * Bounded by cachePoints; a table that grows (live) invalidates by its row count.
   */
  private prefetch(o: Parameters<typeof sqlRaw>[1], rows: number): void {
    const runs = o.runs.filter((r) => {
      const c = this.zoomCache.get(this.zoomKey(o, r));
      return !(c && c.rows === rows) && !this.prefetching.has(this.zoomKey(o, r));
    });
    // A run still logging would be re-read at every flush: cache only tables quiet for 3 s.
    if (!runs.length || Date.now() - (this.grew.get(o.table) ?? 0) < 3000) return;
    for (const r of runs) this.prefetching.add(this.zoomKey(o, r));
    this.pending.push({ o, rows, runs });
    // Only once the page's first requests are answered: DuckDB runs one statement at a time.
    clearTimeout(this.idle);
    this.idle = setTimeout(() => void this.drain(), 200);
    this.idle.unref?.();
  }

  private pending: { o: Parameters<typeof sqlRaw>[1]; rows: number; runs: string[] }[] = [];
  private idle: ReturnType<typeof setTimeout> | undefined;

  private async drain(): Promise<void> {
    for (let job = this.pending.shift(); job; job = this.pending.shift()) await this.fill(job.o, job.rows, job.runs);
  }

  private async fill(o: Parameters<typeof sqlRaw>[1], rows: number, runs: string[]): Promise<void> {
    try {
      for (const run of runs) {
        const got = await sqlRaw(this.store, { ...o, runs: [run] });
        const v = got.get(run);
        if (!v || v.x.length > this.cachePoints / 2) continue;
        const key = this.zoomKey(o, run);
        const old = this.zoomCache.get(key);
        if (old) this.zoomPoints -= old.value.x.length;
        this.zoomCache.set(key, { rows, value: { x: v.x, y: v.y, group: null, sorted: isSorted(v.x) } });
        this.zoomPoints += v.x.length;
        while (this.zoomPoints > this.cachePoints) {
          const [k, e] = this.zoomCache.entries().next().value!;
          this.zoomCache.delete(k);
          this.zoomPoints -= e.value.x.length;
        }
      }
    } catch {
      // Only a cache: the next request asks the store again.
    } finally {
      for (const r of runs) this.prefetching.delete(this.zoomKey(o, r));
    }
  }

  private async rawSeries(req: SeriesRequest, schema: Schema): Promise<Map<string, RawSeries>> {
    const rows = await this.rows(req.table);
    const key = JSON.stringify([req.table, req.y, req.x, req.group ?? "", [...req.runs].sort()]);
    const c = this.raw.get(key);
    if (c && c.rows === rows) return c.value;
    const start = req.x === "relative" ? (await this.summary(req.table)).start : new Map<string, number>();
    const value = await readRaw(this.store, { ...req, schema, start });
    this.raw.set(key, { rows, value });
    if (this.raw.size > 16) this.raw.delete(this.raw.keys().next().value!);
    return value;
  }
}
