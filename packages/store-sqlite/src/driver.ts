/**
 * The `sqlite:` store driver (wrapped by core's defineStore): one SQLite table per Quiver table,
 * exact Arrow types in a catalog, each append one IMMEDIATE transaction (acknowledged once
 * COMMIT returns, with synchronous=FULL), reads paged in insertion order, time windows and run
 * summaries answered by indexes and aggregate queries. Tables other tools wrote (xetrack's) are
 * read as they are and never written.
 */
import type { RecordBatch, Schema } from "apache-arrow";
import { ALL_KINDS, evaluate, type QueryNode, queryFields, type RunSummary, type ScanOptions, type TimeRange } from "@quiver/core/store-kit";
import type { AppendOptions, Batches, DriverCapabilities, RewriteChange, SqlEngine, StoreDriver } from "@quiver/core/store-kit";
import type Database from "better-sqlite3";
import { CATALOG_DDL, createTable, dropTable, evolve, foreignWrite, hasCatalog, ident, loadTable, POS, type TableInfo, wideColumns } from "./catalog.js";
import { encodeColumn, type SqliteValue } from "./codec.js";
import { closeDatabase, isStatementError, type Opened, sqliteFault } from "./connection.js";
import { inferTable, isXetrackEvents } from "./foreign.js";
import { type Filter, pages, type Projection } from "./read.js";
import { runsOf } from "./runs.js";
import { runSql } from "./sql.js";
import { compileWhere } from "./where.js";
import { timeWindow } from "./window.js";

/** Rows per INSERT statement, and SQLite's limit on parameters per statement. */
const ROWS = 128;
const MAX_PARAMS = 32_000;

export class SqliteDriver implements StoreDriver {
  readonly scheme = "sqlite";
  readonly capabilities: DriverCapabilities;
  readonly sql: SqlEngine;
  private readonly db: Database.Database;
  private readonly cache = new Map<string, TableInfo>();
  /** PRAGMA data_version when the cache was last known current (another connection's commit changes it). */
  private seen = -1;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly dataVersion: Database.Statement;

  constructor(
    readonly uri: string,
    readonly path: string,
    private readonly opened: Opened,
    readonly readOnly: boolean,
  ) {
    this.db = opened.db;
    this.dataVersion = this.db.prepare("PRAGMA data_version").pluck();
    const memory = path === ":memory:";
    this.capabilities = { persistent: !memory, concurrentWriters: !memory, kinds: ALL_KINDS, appendReceipts: true };
    this.sql = {
      dialect: "sqlite",
      run: (text, params) => this.guard("running SQL on", () => runSql(this.db, text, params), true),
    };
  }

  /** Runs `f`, turning SQLite's errors into QuiverErrors naming the file. */
  private guard<T>(doing: string, f: () => T, userSql = false): T {
    try {
      return f();
    } catch (err) {
      if (userSql && isStatementError(err)) throw err; // runSql made it INVALID_QUERY already
      throw sqliteFault(err, doing, this.path, this.readOnly);
    } finally {
      if (userSql) this.cache.clear(); // the statement may have changed any table
    }
  }

  /** Drops cached schemas when another connection has committed since. */
  private fresh(): void {
    const v = Number(this.dataVersion.get());
    if (v !== this.seen) {
      this.cache.clear();
      this.seen = v;
    }
  }

  private catalogIdents(): Set<string> {
    if (!hasCatalog(this.db)) return new Set();
    return new Set((this.db.prepare(`SELECT lower(ident) AS i FROM _quiver_tables`).all() as { i: string }[]).map((r) => r.i));
  }

  /** SQLite tables no catalog lists (Quiver's own and SQLite's internals left out). */
  private foreignTables(): string[] {
    const mine = this.catalogIdents();
    const all = this.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[];
    return all.map((r) => r.name).filter((n) => !/^(sqlite_|_quiver_)/i.test(n) && !mine.has(n.toLowerCase()));
  }

  /** The foreign table xetrack ≥ 0.3 names "default", shown as Quiver's "events" when there is none. */
  private xetrackAlias(foreign: readonly string[], quiver: readonly string[]): boolean {
    return foreign.includes("default") && !foreign.includes("events") && !quiver.includes("events") && isXetrackEvents(this.db, "default");
  }

  private quiverTables(): string[] {
    if (!hasCatalog(this.db)) return [];
    return (this.db.prepare(`SELECT name FROM _quiver_tables`).all() as { name: string }[]).map((r) => r.name);
  }

  /** The table's info: Quiver's (catalog), a foreign table of that name, or xetrack's "default" as "events". */
  private resolve(table: string): TableInfo | undefined {
    this.fresh();
    const cached = this.cache.get(table);
    if (cached) return cached;
    let info = hasCatalog(this.db) ? loadTable(this.db, table) : undefined;
    if (!info) {
      const foreign = this.foreignTables();
      if (foreign.includes(table)) info = inferTable(this.db, table, table);
      else if (table === "events" && this.xetrackAlias(foreign, this.quiverTables())) info = inferTable(this.db, "events", "default");
    }
    if (info) this.cache.set(table, info);
    return info;
  }

  /** The Quiver table's current entry inside a write transaction (reloaded when its version moved). */
  private current(table: string): TableInfo | undefined {
    const cached = this.cache.get(table);
    if (cached && !cached.foreign) {
      const r = this.db.prepare(`SELECT version FROM _quiver_tables WHERE name = ?`).get(table) as { version: number } | undefined;
      if (r && Number(r.version) === cached.version) return cached;
    }
    this.cache.delete(table);
    return this.resolve(table);
  }

  // ---- writes ----------------------------------------------------------------------------------

  /** Synchronous: the receipt is settled when this returns (committed, or it threw). */
  append(table: string, batch: RecordBatch, options: AppendOptions = {}): void {
    if (options.receipt) options.receipt.tracked = true;
    const wide = wideColumns(batch);
    const info = this.guard(`appending to table ${JSON.stringify(table)} of`, () =>
      this.db
        .transaction(() => {
          let info = this.current(table);
          if (info?.foreign) throw foreignWrite(this.uri, info, "writes");
          if (!info) {
            for (const s of CATALOG_DDL) this.db.exec(s);
            info = createTable(this.db, table);
          }
          info = evolve(this.db, info, batch.schema, wide);
          if (batch.numRows > 0) this.insert(info, batch);
          return info;
        })
        .immediate(),
    );
    if (options.receipt) options.receipt.committed = true;
    this.cache.set(table, info);
  }

  /** A cached statement (dropped with the cache when the schema it was made for changes). */
  private stmt(key: string, sql: () => string): Database.Statement {
    let stmt = this.statements.get(key);
    if (!stmt) {
      if (this.statements.size > 256) this.statements.clear();
      stmt = this.db.prepare(sql());
      this.statements.set(key, stmt);
    }
    return stmt;
  }

  /** INSERTs of up to ROWS rows per statement (fewer calls into SQLite than one row each). */
  private insert(info: TableInfo, batch: RecordBatch): void {
    const fields = batch.schema.fields;
    const cols = fields.map((f) => info.byName.get(f.name)!);
    const width = cols.length + 1;
    const per = Math.max(1, Math.min(ROWS, Math.floor(MAX_PARAMS / width)));
    const T = ident(info.ident);
    const list = [POS, ...cols.map((c) => c.ident)].map(ident).join(", ");
    const tuple = `(${"?, ".repeat(width - 1)}?)`;
    const key = `${info.ident}\u0000${info.version}\u0000${fields.map((f) => f.name).join("\u0000")}`;
    const values: SqliteValue[][] = cols.map((c, k) => encodeColumn(batch.getChildAt(k)!, c.storage, c.type));
    const next = Number(
      this.stmt(`next\u0000${info.ident}`, () => `SELECT coalesce(max(${ident(POS)}), -1) + 1 FROM ${T}`)
        .pluck()
        .get(),
    );
    const n = batch.numRows;
    let r = 0;
    while (r < n) {
      const m = Math.min(per, n - r);
      const stmt = this.stmt(`${key}\u0000${m}`, () => `INSERT INTO ${T} (${list}) VALUES ${`${tuple}, `.repeat(m - 1)}${tuple}`);
      const args = new Array<SqliteValue>(m * width);
      for (let j = 0, a = 0; j < m; j++, r++) {
        args[a++] = next + r;
        for (let c = 0; c < width - 1; c++) args[a++] = values[c]![r]!;
      }
      stmt.run(args);
    }
  }

  read(table: string, columns: readonly string[] | undefined): Batches {
    const info = this.guard(`reading table ${JSON.stringify(table)} of`, () => this.resolve(table));
    if (!info) return [];
    const cols = columns ? info.columns.filter((c) => columns.includes(c.name)) : info.columns;
    return this.paged(info, { cols });
  }

  private *paged(info: TableInfo, p: Projection, filter?: Filter): Generator<RecordBatch> {
    const it = pages(this.db, info, p, filter);
    for (;;) {
      const r = this.guard(`reading table ${JSON.stringify(info.name)} of`, () => it.next());
      if (r.done) return;
      yield r.value;
    }
  }

  schema(table: string): Schema | undefined {
    return this.guard(`reading the schema of table ${JSON.stringify(table)} of`, () => this.resolve(table)?.schema);
  }

  tables(): readonly string[] {
    return this.guard("listing the tables of", () => {
      const quiver = this.quiverTables();
      const foreign = this.foreignTables();
      const alias = this.xetrackAlias(foreign, quiver);
      return [...quiver, ...foreign.map((n) => (alias && n === "default" ? "events" : n))];
    });
  }

  drop(table: string): boolean {
    const dropped = this.guard(`dropping table ${JSON.stringify(table)} of`, () =>
      this.db
        .transaction(() => {
          const info = this.current(table);
          if (!info) return false;
          if (info.foreign) throw foreignWrite(this.uri, info, "drops");
          dropTable(this.db, info);
          return true;
        })
        .immediate(),
    );
    this.cache.delete(table);
    this.statements.clear();
    return dropped;
  }

  /**
   * Updates or deletes in one transaction: the rows `where` matches are found by core's evaluator
   * (the one every store answers queries with), then changed by position. A delete renumbers the
   * positions, so they stay the dense insertion index.
   */
  rewrite(table: string, where: QueryNode | undefined, change: RewriteChange): number {
    const info = this.guard(`changing rows of table ${JSON.stringify(table)} of`, () =>
      this.db
        .transaction(() => {
          let info = this.current(table);
          if (!info) return { info: undefined, n: 0 };
          if (info.foreign) throw foreignWrite(this.uri, info, change.op === "delete" ? "deletes rows of" : "updates");
          const T = ident(info.ident);
          const hits = where ? this.matching(info, where) : undefined;
          const n = hits ? hits.length : Number((this.db.prepare(`SELECT count(*) AS n FROM ${T}`).get() as { n: number }).n);
          if (n === 0) return { info, n };
          const filter = hits ? ` WHERE ${ident(POS)} IN (SELECT value FROM json_each(?))` : "";
          const args = hits ? [JSON.stringify(hits)] : [];
          if (change.op === "delete") {
            this.db.prepare(`DELETE FROM ${T}${filter}`).run(...args);
            this.renumber(info);
          } else {
            info = evolve(this.db, info, change.values.schema, wideColumns(change.values));
            const names = change.values.schema.fields.map((f) => f.name);
            const cols = names.map((x) => info!.byName.get(x)!);
            const vals = cols.map((c, k) => encodeColumn(change.values.getChildAt(k)!, c.storage, c.type)[0] ?? null);
            this.db.prepare(`UPDATE ${T} SET ${cols.map((c) => `${ident(c.ident)} = ?`).join(", ")}${filter}`).run(...vals, ...args);
          }
          return { info, n };
        })
        .immediate(),
    );
    if (info.info) this.cache.set(table, info.info);
    return info.n;
  }

  /** Positions of the rows `where` matches. */
  private matching(info: TableInfo, where: QueryNode): number[] {
    const need = queryFields(where);
    const cols = info.columns.filter((c) => need.has(c.name));
    const out: number[] = [];
    for (const b of pages(this.db, info, { cols, rowIndex: "__quiver_pos" })) {
      const mask = evaluate(where, b);
      const pos = b.getChild("__quiver_pos")!;
      for (let i = 0; i < mask.length; i++) if (mask[i]) out.push(Number(pos.get(i)));
    }
    return out;
  }

  private renumber(info: TableInfo): void {
    const T = ident(info.ident);
    const P = ident(POS);
    this.db.exec(`UPDATE ${T} SET ${P} = -1 - ${P}`);
    this.db.exec(`UPDATE ${T} SET ${P} = r.rn FROM (SELECT ${P} AS p, row_number() OVER (ORDER BY ${P} DESC) - 1 AS rn FROM ${T}) AS r WHERE ${T}.${P} = r.p`);
  }

  /** Appends commit before they resolve: nothing is left to flush. */
  flush(): void {}

  close(): void {
    this.guard("closing", () => closeDatabase(this.opened));
  }

  /** Process exit: the connection closes at once (every acknowledged append is committed already). */
  closeSync(): void {
    try {
      closeDatabase(this.opened);
    } catch {
      /* must not throw */
    }
  }

  // ---- accelerators --------------------------------------------------------------------------

  /**
   * Pushdown of scans in insertion order: the where as SQL, the columns, offset and limit. Sorted
   * scans, row indexes and queries that do not compile are core's.
   */
  scan(table: string, options: ScanOptions): Batches | undefined {
    if (options.orderBy?.length || options.rowIndex !== undefined) return undefined;
    const info = this.guard(`scanning table ${JSON.stringify(table)} of`, () => this.resolve(table));
    if (!info) return [];
    const w = options.where ? compileWhere(info, options.where) : undefined;
    if (options.where && !w) return undefined;
    const cols = options.columns ? options.columns.map((n) => info.byName.get(n)!) : info.columns;
    return this.paged(info, { cols }, { sql: w?.sql, params: w?.params, offset: options.offset, limit: options.limit });
  }

  /** count(*), with the where as SQL when it compiles (else core evaluates it over the named columns). */
  count(table: string, where: QueryNode | undefined): number | undefined {
    return this.guard(`counting rows of table ${JSON.stringify(table)} of`, () => {
      const info = this.resolve(table);
      if (!info) return 0;
      const w = where ? compileWhere(info, where) : undefined;
      if (where && !w) return undefined;
      const sql = `SELECT count(*) FROM ${ident(info.ident)}${w ? ` WHERE ${w.sql}` : ""}`;
      return Number(
        this.db
          .prepare(sql)
          .pluck()
          .get(...(w?.params ?? [])),
      );
    });
  }

  readByTime(table: string, range: TimeRange & { column: string }): Batches | undefined {
    const info = this.guard(`reading a time range of table ${JSON.stringify(table)} of`, () => this.resolve(table));
    if (!info) return [];
    const w = timeWindow(this.db, info, range);
    if (!w) return undefined;
    const it = w();
    const self = this;
    return (function* () {
      for (;;) {
        const r = self.guard(`reading a time range of table ${JSON.stringify(table)} of`, () => it.next());
        if (r.done) return;
        yield r.value;
      }
    })();
  }

  /** Runs in one GROUP BY over the track_id index (Reader.runs, `quiver ls`), in first-seen order. */
  runs(table: string, _schema: Schema, columns: readonly string[]): RunSummary[] | undefined {
    return this.guard(`reading the runs of table ${JSON.stringify(table)} of`, () => {
      const info = this.resolve(table);
      return info ? runsOf(this.db, info, columns) : undefined;
    });
  }
}
