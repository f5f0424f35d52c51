/**
 * The `duckdb:` driver: one DuckDB table per Quiver table, on a DbFile shared by every store of
 * that file in this process. Core's defineStore applies the shared rules around it (names,
 * CLOSED, read-only writes, query fields); what is here is what DuckDB does its own way: group
 * commits that acknowledge only after COMMIT, DDL planned before any change, every read as SQL
 * (scan, count, time windows, run summaries), update/delete as one transaction, and sql() in
 * DuckDB's dialect. Its errors are QuiverErrors already, naming the file and what to do.
 */
import type { DuckDBConnection, DuckDBDataChunk, DuckDBType, DuckDBValue } from "@duckdb/node-api";
import type {
  AppendOptions,
  AppendReceipt,
  DriverCapabilities,
  QueryNode,
  RewriteChange,
  RunSummary,
  ScanOptions,
  SqlEngine,
  StoreDriver,
  TimeRange,
} from "@quiver/core/store-kit";
import { conformBatch, vectorToValues } from "@quiver/core/store-kit";
import { type DataType, type RecordBatch, type Schema, type Table, Type } from "apache-arrow";
import { hidesRowid, planEvolve, readInfo, type TableInfo, updateMovesRows } from "./catalog.js";
import { batchToChunks, toDuckValue } from "./convert.js";
import type { DbFile, OpKind } from "./dbfile.js";
import { ioError } from "./errors.js";
import { execRead, type ReadContext, type ReadRequest, type ResultOf } from "./reads.js";
import { compileWhere, ident, SqlBuilder, sqlParam, toNamed } from "./sql.js";

const REWRITE = "__quiver_rewrite";

/** A single JS value converted to a column's Arrow type (int → float for widened columns). */
function castValue(v: unknown, t: DataType): unknown {
  if (v == null) return null;
  if (t.typeId === Type.Float && typeof v === "bigint") return Number(v);
  return v;
}

const of = (table: string) => `table ${JSON.stringify(table)} of`;

export class DuckDBDriver implements StoreDriver {
  readonly scheme = "duckdb";
  readonly capabilities: DriverCapabilities;
  readonly sql: SqlEngine;
  /** close() or closeSync() let go of the file (core may call both; the file counts one reference). */
  private released = false;

  constructor(
    readonly uri: string,
    readonly file: DbFile,
    /** Opened with { readOnly: true }: the file is opened read-only and sql() runs only reads. */
    readonly readOnly: boolean,
  ) {
    this.capabilities = { concurrentWriters: !file.exclusive, persistent: file.location !== ":memory:", appendReceipts: true };
    this.sql = { dialect: "duckdb", run: (text, params) => this.runSql(text, params) };
  }

  /**
   * Runs `fn` in a session on the file (holding its lock). Errors other than QuiverErrors
   * become QuiverError("IO") saying `what` failed on which file and what to do.
   */
  session<T>(fn: (conn: DuckDBConnection) => Promise<T>, what: string, kind: OpKind = "other"): Promise<T> {
    return this.file.run(fn, kind).catch((err: unknown) => {
      throw ioError(what, this.file.location, err);
    });
  }

  private async info(conn: DuckDBConnection, table: string): Promise<TableInfo | undefined> {
    const cached = this.file.tables.get(table);
    if (cached !== undefined) return cached ?? undefined;
    const info = await readInfo(conn, table);
    this.file.tables.set(table, info ?? null);
    return info;
  }

  /** Runs `fn` in one transaction: all of it is committed, or nothing (the table cache is dropped). */
  private async transaction<T>(conn: DuckDBConnection, table: string, fn: () => Promise<T>, receipts?: AppendReceipt[]): Promise<T> {
    await conn.run("BEGIN TRANSACTION");
    try {
      const out = await fn();
      await this.file.commit(conn, receipts);
      return out;
    } catch (err) {
      this.file.tables.delete(table);
      await conn.run("ROLLBACK").catch(() => undefined); // already rolled back by DuckDB, or by commit()
      throw err;
    }
  }

  /**
   * Resolves once the batch is committed. A refused batch (case clashes, types, values) throws
   * before anything is written; an I/O failure rolls the transaction back and rejects with IO.
   */
  async append(table: string, batch: RecordBatch, options: AppendOptions = {}): Promise<void> {
    const what = `appending ${batch.numRows} rows to ${of(table)}`;
    // Receipts: committed is set the moment the COMMIT holding the rows succeeds (or closeSync lets it finish).
    const receipt = options.receipt;
    if (receipt) receipt.tracked = true;
    const committed = await this.session(
      async (conn): Promise<{ done?: Promise<void> }> => {
        const before = await this.info(conn, table);
        const plan = planEvolve(table, before, batch.schema);
        // Convert first: a value DuckDB cannot take throws before anything is written.
        const chunks = batch.numRows > 0 ? [...batchToChunks(conformBatch(batch, plan.info.schema), plan.info.duckTypes)] : [];
        if (before && plan.info === before) {
          // The common case, no schema change: into the open append transaction, committed
          // together with the appends queued behind this one.
          if (!chunks.length) {
            if (receipt) receipt.committed = true; // nothing to store
            return {};
          }
          await this.file.beginPending(conn);
          try {
            const appender = await this.file.appender(conn, table);
            for (const chunk of chunks) appender.appendDataChunk(chunk);
            appender.flushSync();
          } catch (err) {
            const e = ioError(`${what} (the rows of the appends in the same transaction were rolled back too)`, this.file.location, err);
            await this.file.abortPending(e);
            throw e;
          }
          return { done: this.file.joinGroup(receipt) };
        }
        // Schema change: commit what is pending, then evolve and append in one transaction.
        await this.file.commitPending().catch(() => undefined); // a failure goes to those appends
        await this.transaction(
          conn,
          table,
          async () => {
            for (const sql of plan.statements) await conn.run(sql);
            if (chunks.length) await appendChunks(conn, table, chunks);
          },
          receipt ? [receipt] : [],
        );
        this.file.tables.set(table, plan.info);
        return {};
      },
      what,
      "append",
    );
    await committed.done;
  }

  /**
   * A read: on a read-only store while another process writes the file, answered by that
   * process (it serves reads, see serve.ts); else here, in a session on the file. Both run
   * execRead, i.e. the same SELECT.
   */
  private reading<R extends ReadRequest>(req: R, what: string): Promise<ResultOf<R>> {
    const local = (conn: DuckDBConnection) => execRead(this.context(conn), req);
    if (!this.readOnly) return this.session(local, what);
    return this.file.read(req, local).catch((err: unknown) => {
      throw ioError(what, this.file.location, err);
    });
  }

  private context(conn: DuckDBConnection): ReadContext {
    return { conn, location: this.file.location, info: (t) => this.info(conn, t), forget: () => this.file.tables.clear() };
  }

  read(table: string, columns: readonly string[] | undefined): Promise<RecordBatch[]> {
    return this.reading({ op: "read", table, ...(columns ? { columns } : {}) }, `reading ${of(table)}`);
  }

  scan(table: string, options: ScanOptions): Promise<RecordBatch[]> {
    return this.reading({ op: "scan", table, options }, `reading ${of(table)}`);
  }

  /** A `_ts` window as SQL (ORDER BY, LIMIT): a filter DuckDB's zone maps cut to the row groups it overlaps. */
  readByTime(table: string, range: TimeRange & { column: string }): Promise<RecordBatch[]> {
    return this.reading({ op: "readByTime", table, range }, `reading a time range of ${of(table)}`);
  }

  runs(table: string, _schema: Schema, columns: readonly string[]): Promise<RunSummary[] | undefined> {
    return this.reading({ op: "runs", table, columns }, `reading the runs of ${of(table)}`);
  }

  count(table: string, where: QueryNode | undefined): Promise<number> {
    return this.reading({ op: "count", table, ...(where ? { where } : {}) }, `counting rows of ${of(table)}`);
  }

  schema(table: string): Promise<Schema | undefined> {
    return this.reading({ op: "schema", table }, `reading the schema of ${of(table)}`);
  }

  tables(): Promise<string[]> {
    return this.reading({ op: "tables" }, "listing the tables of");
  }

  rewrite(table: string, where: QueryNode | undefined, change: RewriteChange): Promise<number> {
    if (change.op === "update") return this.session((conn) => this.update(conn, table, where, change.values), `updating ${of(table)}`);
    return this.session(
      async (conn) => {
        const info = await this.info(conn, table);
        if (!info) return 0;
        const w = compileWhere(where, new SqlBuilder(info.schema));
        const r = await conn.run(`DELETE FROM ${ident(table)}${w.sql}`, toNamed(w.params));
        return r.rowsChanged;
      },
      `deleting rows of ${of(table)}`,
    );
  }

  /**
   * Adding the columns and setting them is one transaction: a refused or failed update changes
   * nothing. `values` is the one-row batch of the new values, typed for the table by core.
   */
  private async update(conn: DuckDBConnection, table: string, where: QueryNode | undefined, values: RecordBatch): Promise<number> {
    const before = await this.info(conn, table);
    if (!before) return 0;
    // Everything that can refuse the update runs before the transaction starts.
    const { info, statements } = planEvolve(table, before, values.schema);
    const w = compileWhere(where, new SqlBuilder(info.schema));
    const assigns: { col: string; slot: string }[] = [];
    const types: Record<string, DuckDBType> = {};
    const params: Record<string, DuckDBValue> = toNamed(w.params);
    let moves = false;
    values.schema.fields.forEach((f, c) => {
      const i = info.schema.fields.findIndex((x) => x.name === f.name);
      const duck = info.duckTypes[i]!;
      const value = vectorToValues(values.getChildAt(c)!, f)[0];
      const slot = `v${c}`;
      if (value != null) {
        params[slot] = toDuckValue(castValue(value, info.schema.fields[i]!.type), duck);
        types[slot] = duck;
      }
      assigns.push({ col: ident(f.name), slot });
      if (updateMovesRows(duck)) moves = true;
    });
    const typed = (a: { slot: string; col: string }) => (types[a.slot] ? `CAST($${a.slot} AS ${types[a.slot]!.toString()})` : "NULL");
    const changed = await this.transaction(conn, table, async () => {
      for (const sql of statements) await conn.run(sql);
      if (!moves) {
        const r = await conn.run(`UPDATE ${ident(table)} SET ${assigns.map((a) => `${a.col} = ${typed(a)}`).join(", ")}${w.sql}`, params, types);
        return r.rowsChanged;
      }
      // UPDATE of list columns is a delete + insert in DuckDB, which would move the rows to
      // the end: rewrite the table in order instead (a user column named rowid hides the
      // pseudo-column; a plain scan is in table order too).
      const cond = w.sql ? `COALESCE(${w.sql.slice(" WHERE ".length)}, FALSE)` : "TRUE";
      const n = await conn.runAndReadAll(`SELECT count(*) FROM ${ident(table)}${w.sql}`, toNamed(w.params));
      const tmp = `temp.main.${ident(REWRITE)}`;
      await conn.run(`CREATE OR REPLACE TEMP TABLE ${ident(REWRITE)} AS SELECT * FROM ${ident(table)} LIMIT 0`);
      const repl = assigns.map((a) => `CASE WHEN ${cond} THEN ${typed(a)} ELSE ${a.col} END AS ${a.col}`).join(", ");
      const order = hidesRowid(info.schema) ? "" : " ORDER BY rowid";
      await conn.run(`INSERT INTO ${tmp} SELECT * REPLACE (${repl}) FROM ${ident(table)}${order}`, params, types);
      await conn.run(`DELETE FROM ${ident(table)}`);
      await conn.run(`INSERT INTO ${ident(table)} SELECT * FROM ${tmp}`);
      await conn.run(`DROP TABLE ${tmp}`);
      return Number(n.getRows()[0]![0]);
    });
    this.file.tables.set(table, info);
    return changed;
  }

  drop(table: string): Promise<boolean> {
    return this.session(
      async (conn) => {
        const info = await this.info(conn, table);
        if (!info) return false;
        await conn.run(`DROP TABLE ${ident(table)}`);
        this.file.tables.set(table, null);
        return true;
      },
      `dropping ${of(table)}`,
    );
  }

  /** Any SQL; a read-only store runs only SELECT and EXPLAIN statements. */
  private runSql(text: string, params: readonly unknown[]): Promise<Table> {
    if (this.readOnly) for (const p of params) sqlParam(p); // refused here as in a session, before anything is sent
    return this.reading({ op: "sql", text, params, uri: this.uri, readOnly: this.readOnly }, "sql() on");
  }

  /** Commits pending appends: once this resolves they are in the WAL and survive a crash. */
  async flush(): Promise<void> {
    await this.session(() => this.file.commitPending(), "committing appended rows to", "flush");
  }

  async close(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.file.unref(this.readOnly);
  }

  /** For process exit: lets go of the file and its lock synchronously (see DbFile.closeSync). */
  closeSync(): void {
    if (this.released) return;
    this.released = true;
    try {
      this.file.closeSync(this.readOnly);
    } catch {
      /* never throws */
    }
  }
}

async function appendChunks(conn: DuckDBConnection, table: string, chunks: Iterable<DuckDBDataChunk>): Promise<void> {
  const appender = await conn.createAppender(table);
  try {
    for (const chunk of chunks) appender.appendDataChunk(chunk);
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}
