/** The `duckdb:` Store: one DuckDB table per Quiver table, queries pushed down as SQL. */
import { type DuckDBConnection, type DuckDBDataChunk, type DuckDBType, DuckDBTypeId, type DuckDBValue } from "@duckdb/node-api";
import { type DataType, Field, type RecordBatch, Schema, Table, Type } from "apache-arrow";
import {
  ALL_KINDS,
  BIGINT_META,
  checkQueryFields,
  checkScanOptions,
  conformBatch,
  mergeSchemas,
  normalizeRow,
  QuiverError,
  type QueryNode,
  type Row,
  rowsToBatch,
  type ScanOptions,
  type Store,
  type StoreCapabilities,
  validateColumnName,
  validateName,
  vectorToValues,
} from "@quiver/core";
import { batchToChunks, readBatches, resultShape, toDuckValue } from "./convert.js";
import { DbFile, type FileOptions, type OpKind } from "./dbfile.js";
import { ioError, messageOf } from "./errors.js";
import { compileWhere, ident, literal, param, SqlBuilder } from "./sql.js";
import { arrowTypeOf, duckTypeOf, NULL_COMMENT } from "./types.js";

/** What the store knows about a table: its Arrow schema and DuckDB column types. */
export interface TableInfo {
  name: string;
  schema: Schema;
  duckTypes: DuckDBType[];
}

const ROW_INDEX = "__quiver_idx";
const REWRITE = "__quiver_rewrite";

/** Statement types sql() runs on a read-only store (SELECT, EXPLAIN). */
const READ_STATEMENTS = new Set([1, 4]);

function sqlError(err: unknown, location: string): unknown {
  if (err instanceof QuiverError) return err;
  const msg = messageOf(err);
  if (/Parser Error|Binder Error|Catalog Error|Conversion Error|Invalid Input|Not implemented/.test(msg)) return new QuiverError("INVALID_QUERY", `sql(): ${msg}`, { cause: err });
  return ioError("sql() on", location, err);
}

/** A user column named rowid (any case) hides DuckDB's rowid pseudo-column. */
function hidesRowid(schema: Schema): boolean {
  return schema.fields.some((f) => f.name.toLowerCase() === "rowid");
}

/** `base`, or `base` with a suffix, so that it names no column of `schema` (case-insensitively, as DuckDB compares). */
function freeName(schema: Schema, base: string): string {
  const taken = new Set(schema.fields.map((f) => f.name.toLowerCase()));
  let name = base;
  for (let i = 1; taken.has(name.toLowerCase()); i++) name = `${base}_${i}`;
  return name;
}

/** Whether UPDATE on this column type is a delete + insert in DuckDB (moves the row to the end). */
function updateMovesRows(t: DuckDBType): boolean {
  if (t.typeId === DuckDBTypeId.LIST || t.typeId === DuckDBTypeId.ARRAY || t.typeId === DuckDBTypeId.MAP) return true;
  if (t.typeId === DuckDBTypeId.STRUCT) return (t as unknown as { entryTypes: DuckDBType[] }).entryTypes.some(updateMovesRows);
  return false;
}

export class DuckDBStore implements Store {
  readonly scheme = "duckdb";
  readonly capabilities: StoreCapabilities;
  private closed = false;

  constructor(
    readonly uri: string,
    private readonly file: DbFile,
    /** Opened with { readOnly: true }: writes are refused and the file is opened read-only. */
    readonly readOnly = false,
  ) {
    this.capabilities = {
      sql: true,
      update: true,
      delete: true,
      pushdown: true,
      timeIndex: false,
      concurrentWriters: !file.exclusive,
      persistent: file.location !== ":memory:",
      kinds: ALL_KINDS,
    };
  }

  /** The DuckDB file (or ":memory:") behind the store. */
  get location(): string {
    return this.file.location;
  }

  private check(): void {
    if (this.closed) throw new QuiverError("CLOSED", `${this.uri} is closed; open it again with openStore("${this.uri}")`);
  }

  private checkWritable(what: string): void {
    this.check();
    if (this.readOnly) throw new QuiverError("UNSUPPORTED", `${what}: ${this.uri} was opened with { readOnly: true }; open it without readOnly to write`);
  }

  /** Commits pending appends (call inside a session). */
  commitPending(): Promise<void> {
    return this.file.commitPending();
  }

  /**
   * Runs `fn` in a session on the file (holding its lock). Errors other than QuiverErrors
   * become QuiverError("IO") saying `what` failed on which file and what to do.
   */
  session<T>(fn: (conn: DuckDBConnection) => Promise<T>, what = "reading", kind: OpKind = "other"): Promise<T> {
    this.check();
    return this.file.run(fn, kind).catch((err: unknown) => {
      throw ioError(what, this.file.location, err);
    });
  }

  // ------------------------------------------------------------------------------------------
  // table metadata

  private async info(conn: DuckDBConnection, table: string): Promise<TableInfo | undefined> {
    const cached = this.file.tables.get(table);
    if (cached !== undefined) return cached ?? undefined;
    const rows = (
      await conn.runAndReadAll(
        "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' AND lower(table_name) = lower($t) ORDER BY column_index",
        { t: table },
      )
    ).getRows() as [string, string, string | null][];
    if (rows.length === 0) {
      this.file.tables.set(table, null);
      return undefined;
    }
    const actual = rows[0]![0];
    if (actual !== table) {
      throw new QuiverError("INVALID_NAME", `table ${JSON.stringify(table)} differs from the existing table ${JSON.stringify(actual)} only in case; DuckDB names are case-insensitive, use ${JSON.stringify(actual)}`);
    }
    const res = await conn.run(`SELECT * FROM ${ident(table)} LIMIT 0`);
    const duckTypes = res.columnTypes();
    const fields = rows.map(([, name, comment], i) => {
      if (comment === NULL_COMMENT) return new Field(name, arrowTypeOf({ typeId: DuckDBTypeId.SQLNULL } as DuckDBType), true);
      const meta = comment === BIGINT_META ? new Map([[BIGINT_META, "1"]]) : undefined;
      return new Field(name, arrowTypeOf(duckTypes[i]!), true, meta);
    });
    const info = { name: table, schema: new Schema(fields), duckTypes };
    this.file.tables.set(table, info);
    return info;
  }

  /**
   * What creating the table or evolving it to hold `incoming` takes (new columns added; int →
   * float and untyped → typed columns re-typed): the table's new info and the DDL statements.
   * Everything that can refuse the batch (names, types) throws here, before any change.
   */
  private planEvolve(table: string, info: TableInfo | undefined, incoming: Schema): { info: TableInfo; statements: string[] } {
    for (const f of incoming.fields) validateColumnName(f.name);
    const lower = new Map<string, string>();
    for (const f of [...(info?.schema.fields ?? []), ...incoming.fields]) {
      const k = f.name.toLowerCase();
      const seen = lower.get(k);
      if (seen !== undefined && seen !== f.name) {
        throw new QuiverError(
          "INVALID_NAME",
          `column ${JSON.stringify(f.name)} differs from column ${JSON.stringify(seen)} of ${table} only in case; DuckDB column names are case-insensitive, log it as ${JSON.stringify(seen)} or under another name`,
        );
      }
      lower.set(k, f.name);
    }
    const merged = mergeSchemas(info?.schema, incoming); // SCHEMA_MISMATCH before any change
    if (info && merged === info.schema) return { info, statements: [] };
    const t = ident(table);
    const tag = (f: Field) => (f.type.typeId === Type.Null ? NULL_COMMENT : f.metadata.get(BIGINT_META) === "1" ? BIGINT_META : undefined);
    const comment = (f: Field) => {
      const c = tag(f);
      return `COMMENT ON COLUMN ${t}.${ident(f.name)} IS ${c ? literal(c) : "NULL"}`;
    };
    // Plan every statement first: a type DuckDB cannot store refuses the batch before any change.
    const duckTypes: DuckDBType[] = [];
    const statements: string[] = [];
    if (!info) {
      const cols = merged.fields.map((f) => {
        const d = duckTypeOf(f.type, f.name);
        duckTypes.push(d);
        return `${ident(f.name)} ${d.toString()}`;
      });
      statements.push(`CREATE TABLE ${t} (${cols.join(", ")})`);
      for (const f of merged.fields) if (tag(f)) statements.push(comment(f));
    } else {
      for (const f of merged.fields) {
        const i = info.schema.fields.findIndex((x) => x.name === f.name);
        if (i < 0) {
          const d = duckTypeOf(f.type, f.name);
          duckTypes.push(d);
          statements.push(`ALTER TABLE ${t} ADD COLUMN ${ident(f.name)} ${d.toString()}`);
          if (tag(f)) statements.push(comment(f));
          continue;
        }
        const old = info.schema.fields[i]!;
        if (old.type !== f.type) {
          const d = duckTypeOf(f.type, f.name);
          duckTypes.push(d);
          statements.push(`ALTER TABLE ${t} ALTER COLUMN ${ident(f.name)} SET DATA TYPE ${d.toString()}`);
          if (old.type.typeId === Type.Null) statements.push(comment(f));
        } else duckTypes.push(info.duckTypes[i]!);
        if (old.metadata.get(BIGINT_META) !== f.metadata.get(BIGINT_META) && f.type.typeId !== Type.Null && old.type.typeId !== Type.Null) statements.push(comment(f));
      }
    }
    // Field metadata: keep the bigint tag of the incoming or existing column.
    const fields = merged.fields.map((f) => {
      const big = f.metadata.get(BIGINT_META) === "1" || info?.schema.fields.find((x) => x.name === f.name)?.metadata.get(BIGINT_META) === "1";
      return big && f.type.typeId === Type.Int ? new Field(f.name, f.type, true, new Map([[BIGINT_META, "1"]])) : new Field(f.name, f.type, true);
    });
    return { info: { name: table, schema: new Schema(fields), duckTypes }, statements };
  }

  /** Runs `fn` in one transaction: all of it is committed, or nothing (the table cache is dropped). */
  private async transaction<T>(conn: DuckDBConnection, table: string, fn: () => Promise<T>): Promise<T> {
    await conn.run("BEGIN TRANSACTION");
    try {
      const out = await fn();
      await this.file.commit(conn);
      return out;
    } catch (err) {
      this.file.tables.delete(table);
      await conn.run("ROLLBACK").catch(() => undefined); // already rolled back by DuckDB, or by commit()
      throw err;
    }
  }

  // ------------------------------------------------------------------------------------------
  // Store

  /**
   * Resolves once the batch is committed. A refused batch (names, types, values) throws before
   * anything is written; an I/O failure rolls the transaction back and rejects with IO.
   */
  async append(table: string, batch: RecordBatch): Promise<void> {
    this.checkWritable("append()");
    validateName(table, "table name");
    for (const f of batch.schema.fields) validateColumnName(f.name);
    const what = `appending ${batch.numRows} rows to table ${JSON.stringify(table)} of`;
    const committed = await this.session(
      async (conn): Promise<{ done?: Promise<void> }> => {
        const before = await this.info(conn, table);
        const plan = this.planEvolve(table, before, batch.schema);
        // Convert first: a value DuckDB cannot take throws before anything is written.
        const chunks = batch.numRows > 0 ? [...batchToChunks(conformBatch(batch, plan.info.schema), plan.info.duckTypes)] : [];
        if (before && plan.info === before) {
          // The common case, no schema change: into the open append transaction, committed
          // together with the appends queued behind this one.
          if (!chunks.length) return {};
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
          return { done: this.file.joinGroup() };
        }
        // Schema change: commit what is pending, then evolve and append in one transaction.
        await this.file.commitPending().catch(() => undefined); // a failure goes to those appends
        await this.transaction(conn, table, async () => {
          for (const sql of plan.statements) await conn.run(sql);
          if (chunks.length) await this.appendChunks(conn, table, chunks);
        });
        this.file.tables.set(table, plan.info);
        return {};
      },
      what,
      "append",
    );
    await committed.done;
  }

  private async appendChunks(conn: DuckDBConnection, table: string, chunks: Iterable<DuckDBDataChunk>): Promise<void> {
    const appender = await conn.createAppender(table);
    try {
      for (const chunk of chunks) appender.appendDataChunk(chunk);
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  }

  async *scan(table: string, options: ScanOptions = {}): AsyncGenerator<RecordBatch> {
    this.check();
    validateName(table, "table name");
    const batches = await this.session(async (conn) => {
      const info = await this.info(conn, table);
      if (!info) {
        if (options.where) checkQueryFields(options.where, undefined, table);
        return [];
      }
      checkScanOptions(info.schema, options, table);
      if (options.limit === 0) return [];
      const { sql, params, schema } = this.selectSql(info, options);
      const result = await conn.stream(sql, params as Record<string, DuckDBValue>);
      return readBatches(result, { ...resultShape(result), schema });
    }, `reading table ${JSON.stringify(table)} of`);
    yield* batches;
  }

  /**
   * A scan as SQL. Row indexes are `row_number() OVER ()` of a plain scan: with DuckDB's
   * preserve_insertion_order that streaming window runs in table order (and costs a fifth of
   * `OVER (ORDER BY rowid)`); it also works when a user column named `rowid` hides DuckDB's
   * pseudo-column, which `orderBy` otherwise uses to break ties in insertion order.
   */
  private selectSql(info: TableInfo, options: ScanOptions): { sql: string; params: Record<string, DuckDBValue>; schema: Schema } {
    const idx = options.rowIndex;
    const outCols = [...(options.columns ?? info.schema.fields.map((f) => f.name))];
    if (idx && !outCols.includes(idx)) outCols.push(idx);
    const fields = outCols.map((c) => (c === idx ? new Field(c, arrowTypeOf({ typeId: DuckDBTypeId.BIGINT } as DuckDBType), false) : info.schema.fields.find((f) => f.name === c)!));
    const numbered = idx !== undefined || (hidesRowid(info.schema) && !!options.orderBy?.length);
    const rowIndex = ident(freeName(info.schema, ROW_INDEX));
    const select = outCols.map((c) => (c === idx ? `${rowIndex} AS ${ident(c)}` : ident(c))).join(", ");
    const from = numbered ? `(SELECT *, row_number() OVER () - 1 AS ${rowIndex} FROM ${ident(info.name)}) AS q` : ident(info.name);
    const w = compileWhere(options.where, info.schema, info.name, new SqlBuilder(info.schema));
    let sql = `SELECT ${select} FROM ${from}${w.sql}`;
    if (options.orderBy?.length) {
      const keys = options.orderBy.map((o) => `${o.column === idx ? rowIndex : ident(o.column)} ${o.direction === "desc" ? "DESC" : "ASC"} NULLS LAST`);
      sql += ` ORDER BY ${keys.join(", ")}, ${numbered ? rowIndex : "rowid"}`;
    }
    // Without ORDER BY, DuckDB (preserve_insertion_order) returns rows in table order.
    if (options.limit !== undefined) sql += ` LIMIT ${options.limit}`;
    if (options.offset) sql += ` OFFSET ${options.offset}`;
    return { sql, params: toNamed(w.params), schema: new Schema(fields) };
  }

  async count(table: string, where?: QueryNode): Promise<number> {
    validateName(table, "table name");
    return this.session(async (conn) => {
      const info = await this.info(conn, table);
      if (where) checkQueryFields(where, info?.schema, table);
      if (!info) return 0;
      const w = compileWhere(where, info.schema, table);
      const r = await conn.runAndReadAll(`SELECT count(*) FROM ${ident(table)}${w.sql}`, toNamed(w.params));
      return Number(r.getRows()[0]![0]);
    }, `counting rows of table ${JSON.stringify(table)} of`);
  }

  async schema(table: string): Promise<Schema | undefined> {
    validateName(table, "table name");
    return this.session(async (conn) => (await this.info(conn, table))?.schema, `reading the schema of table ${JSON.stringify(table)} of`);
  }

  async tables(): Promise<string[]> {
    return this.session(async (conn) => {
      const r = await conn.runAndReadAll("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary");
      return (r.getRows() as [string][]).map((x) => x[0]).sort();
    }, "listing the tables of");
  }

  /** Adding the columns and setting them is one transaction: a refused or failed update changes nothing. */
  async update(table: string, where: QueryNode | undefined, values: Row): Promise<number> {
    this.checkWritable("update()");
    validateName(table, "table name");
    const set = normalizeRow(values);
    for (const k of Object.keys(set)) validateColumnName(k);
    return this.session(async (conn) => {
      const before = await this.info(conn, table);
      if (where) checkQueryFields(where, before?.schema, table);
      if (!before) return 0;
      const names = Object.keys(set).filter((k) => set[k] !== undefined);
      const w0 = compileWhere(where, before.schema, table);
      if (names.length === 0) {
        const r = await conn.runAndReadAll(`SELECT count(*) FROM ${ident(table)}${w0.sql}`, toNamed(w0.params));
        return Number(r.getRows()[0]![0]);
      }
      // Everything that can refuse the update runs before the transaction starts.
      const vb = rowsToBatch([Object.fromEntries(names.map((k) => [k, set[k]]))], { schema: before.schema });
      const { info, statements } = this.planEvolve(table, before, vb.schema);
      const w = compileWhere(where, info.schema, table, new SqlBuilder(info.schema));
      const assigns: { col: string; slot: string }[] = [];
      const types: Record<string, DuckDBType> = {};
      const params = toNamed(w.params);
      let moves = false;
      vb.schema.fields.forEach((f, c) => {
        const i = info.schema.fields.findIndex((x) => x.name === f.name);
        const duck = info.duckTypes[i]!;
        const value = vectorToValues(vb.getChildAt(c)!, f)[0];
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
    }, `updating table ${JSON.stringify(table)} of`);
  }

  async delete(table: string, where: QueryNode | undefined): Promise<number> {
    this.checkWritable("delete()");
    validateName(table, "table name");
    return this.session(async (conn) => {
      const info = await this.info(conn, table);
      if (where) checkQueryFields(where, info?.schema, table);
      if (!info) return 0;
      const w = compileWhere(where, info.schema, table);
      const r = await conn.run(`DELETE FROM ${ident(table)}${w.sql}`, toNamed(w.params));
      return r.rowsChanged;
    }, `deleting rows of table ${JSON.stringify(table)} of`);
  }

  async drop(table: string): Promise<boolean> {
    this.checkWritable("drop()");
    validateName(table, "table name");
    return this.session(async (conn) => {
      const info = await this.info(conn, table);
      if (!info) return false;
      await conn.run(`DROP TABLE ${ident(table)}`);
      this.file.tables.set(table, null);
      return true;
    }, `dropping table ${JSON.stringify(table)} of`);
  }

  /** Any SQL; a read-only store runs only SELECT and EXPLAIN statements. */
  async sql(text: string, params: readonly unknown[] = []): Promise<Table> {
    this.check();
    if (typeof text !== "string" || !text.trim()) throw new QuiverError("INVALID_QUERY", "sql() needs a SQL string");
    return this.session(async (conn) => {
      if (this.readOnly) await this.checkReadOnlySql(conn, text);
      this.file.tables.clear(); // the statement may change any table
      let batches: RecordBatch[];
      let schema: Schema;
      try {
        const result = await conn.stream(text, params.map((p) => sqlParam(p)));
        const shape = resultShape(result);
        schema = shape.schema;
        batches = await readBatches(result, shape);
      } catch (err) {
        throw sqlError(err, this.file.location);
      }
      return batches.length ? new Table(batches) : new Table(schema);
    }, "sql() on");
  }

  private async checkReadOnlySql(conn: DuckDBConnection, text: string): Promise<void> {
    let types: number[];
    try {
      const st = await conn.extractStatements(text);
      types = [];
      for (let i = 0; i < st.count; i++) {
        const p = await st.prepare(i);
        types.push(p.statementType as number);
        p.destroySync();
      }
    } catch (err) {
      throw sqlError(err, this.file.location);
    }
    if (types.some((t) => !READ_STATEMENTS.has(t))) {
      throw new QuiverError("UNSUPPORTED", `sql(): ${this.uri} was opened with { readOnly: true }, so only SELECT and EXPLAIN statements run; open it without readOnly to change it`);
    }
  }

  /** Commits pending appends: once this resolves they are in the WAL and survive a crash. */
  async flush(): Promise<void> {
    this.check();
    if (this.readOnly) return;
    await this.session(() => this.file.commitPending(), "committing appended rows to", "flush");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.unref(this.readOnly);
  }

  /** For process exit: lets go of the file and its lock synchronously (see DbFile.closeSync). */
  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.file.closeSync(this.readOnly);
    } catch {
      /* never throws */
    }
  }
}

function toNamed(params: DuckDBValue[]): Record<string, DuckDBValue> {
  const out: Record<string, DuckDBValue> = {};
  params.forEach((v, i) => (out[`p${i + 1}`] = v));
  return out;
}

/** A value of sql() params: primitives as in queries, Uint8Array as BLOB. */
export function sqlParam(v: unknown): DuckDBValue {
  if (v === null || v === undefined) return null;
  if (v instanceof Date || typeof v === "number" || typeof v === "bigint" || typeof v === "string" || typeof v === "boolean") return param(v);
  if (v instanceof Uint8Array) return toDuckValue(v, { typeId: DuckDBTypeId.BLOB } as DuckDBType);
  throw new QuiverError("INVALID_QUERY", `sql() parameters must be numbers, bigints, strings, booleans, Dates, Uint8Array or null`);
}

/** A single JS value converted to a column's Arrow type (int → float for widened columns). */
function castValue(v: unknown, t: DataType): unknown {
  if (v == null) return null;
  if (t.typeId === Type.Float && typeof v === "bigint") return Number(v);
  return v;
}

export type { FileOptions };
