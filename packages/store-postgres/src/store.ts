/**
 * The `postgres:` store driver (wrapped by core's defineStore): one PostgreSQL table per Quiver
 * table in the store's schema, appends as binary COPY inside one transaction, queries pushed
 * down as parameterised SQL, reads decoded straight into Arrow.
 */
import { randomUUID } from "node:crypto";
import type { RecordBatch, Schema, Table } from "apache-arrow";
import { ALL_KINDS, type AppendOptions, QuiverError, type QueryNode, type RunSummary, type ScanOptions, type TimeRange } from "@quiver/core";
import type { Batches, DriverCapabilities, RewriteChange, SqlEngine, StoreDriver } from "@quiver/core/store-kit";
import { checkScanOptions, dropColumn, mergeSchemas, timeRangeScan, vectorToValues } from "@quiver/core/store-kit";
import type { Sql as TransactionSql } from "postgres";
import {
  APPEND_FN,
  addPositionIdentity,
  catalogDDL,
  columnsWithNul,
  createTable,
  evolve,
  LOCK_KEY,
  loadTable,
  loadTableSql,
  POS,
  SPANS_FN,
  TAKE_FN,
  STALE_STATE,
  type TableInfo,
} from "./catalog.js";
import { GiveUp, InDoubt, type Pool, type TxControl, type TxOptions } from "./connection.js";
import { type CopyStream, copyBehind, sendCopy } from "./copy-write.js";
import { type CopyColumn, type Encoded, encodeCopy, setPositions } from "./encode.js";
import { copyReadable, copyRows } from "./copy-read.js";
import { encodeValueJson } from "@quiver/core/store-kit";
import { valueText } from "./literal.js";
import { readRows, runSql } from "./read.js";
import { readRuns } from "./runs.js";
import { fromWhere, selectSql, whereOf } from "./select.js";
import { aboutOneRun, batchSpans, type RunShape, SHAPE_SQL, SPANS_ADD, SPANS_REBUILD, shapeOf } from "./spans.js";
import { ident, SqlBuilder } from "./sql.js";
import { Doubts, durableStatement, probeToken } from "./tokens.js";
import { sqlTypeOf } from "./types.js";
import type { Target } from "./url.js";

/** Rows fetched per round trip (and per RecordBatch) on reads. */
const CHUNK = 65536;
/** Locks a table's catalog row for the transaction and hands out `$2` positions (catalog.ts: `_quiver_take`, which first makes a table a foreign write left 'stale' dense). */
const LOCK_ROW = (S: string) => `SELECT start, version FROM ${S}._quiver_take($1, $2)`;
/**
 * Taken before the catalog row, by every writer of the table: writers queue on one advisory
 * lock and are let through one at a time. (Queued on the row itself, every waiter re-checks
 * the row after every commit: the server's work grows with the writers waiting.)
 */
const LOCK_TABLE = `SELECT pg_advisory_xact_lock(${LOCK_KEY + 1}, hashtext($1))`;
/** The append's token, written in its transaction (tokens.ts). */
const INSERT_TOKEN = (S: string) => `INSERT INTO ${S}._quiver_batches (id) VALUES ($1)`;
/** The quick append's call (catalog.ts: appendFunction). */
const APPEND_CALL = (S: string) => `SELECT ${S}._quiver_append($1, $2, $3, $4, $5, $6)`;
/** Rows per part of a big batch's COPY (fastAppend). */
const PART_ROWS = 2048;
/** Bytes of the binary COPY header (signature, flags, extension length) and trailer (-1). */
const COPY_HEADER = 19;
const TRAILER = 2;
/** Thrown out of the fast append when the table moved: the transaction rolls back, the slow path runs. */
const STALE = new GiveUp("stale schema");
/**
 * Thrown out of the slow path when, under the lock, the table already holds the batch (another
 * writer added its columns meanwhile): it rolls back at once, and the batch goes the quick way,
 * encoded outside the lock (racing first appends each held the lock to encode and COPY).
 */
const QUICK = new GiveUp("the table holds the batch now");
/** Prepared on each connection: after the first time, no Parse/Describe round trip before it is sent. */
const PREPARED = { prepare: true } as const;
type Spans = ReturnType<typeof batchSpans>;

export class PostgresDriver implements StoreDriver {
  readonly scheme = "postgres";
  readonly capabilities: DriverCapabilities = { persistent: true, concurrentWriters: true, kinds: ALL_KINDS, appendReceipts: true };
  readonly sql: SqlEngine;
  /** The schema, quoted. */
  private readonly S: string;
  private readonly cache = new Map<string, TableInfo>();
  private readonly doubts = new Doubts();
  /** Tokens of acknowledged appends: the next append's durable statement deletes them. */
  private acked: string[] = [];
  /** Whether this writer deleted the tokens older than a day yet (once per open). */
  private pruned = false;

  constructor(
    readonly uri: string,
    private readonly target: Target,
    private readonly pool: Pool,
  ) {
    this.S = ident(target.schema);
    this.sql = { dialect: "postgres", run: (text, params) => this.runSql(text, params) };
  }

  /** Creates the schema and catalog unless they exist (under a lock: racing first writers are safe). */
  async bootstrap(): Promise<void> {
    await this.pool.op(`opening schema ${this.target.schema}`, async () => {
      const ready = async (q: TransactionSql): Promise<boolean> => {
        const [r] = await q.unsafe<{ ok: boolean }[]>(
          `SELECT to_regclass($1) IS NOT NULL AND to_regclass($3) IS NOT NULL AND to_regprocedure($2) IS NOT NULL AND to_regprocedure($4) IS NOT NULL AND to_regprocedure($5) IS NOT NULL AND to_regprocedure($6) IS NOT NULL AS ok`,
          [
            `${this.S}._quiver_columns`,
            `${this.S}._quiver_utf8_array(text[])`,
            `${this.S}._quiver_batches`,
            `${this.S}.${APPEND_FN}`,
            `${this.S}.${SPANS_FN}`,
            `${this.S}.${TAKE_FN}`,
          ],
        );
        return r!.ok;
      };
      if (await ready(this.pool.sql)) return;
      await this.pool.tx(async (tx) => {
        await tx.unsafe(`SELECT pg_advisory_xact_lock(${LOCK_KEY}, hashtext($1))`, [`schema:${this.target.schema}`]);
        // Asked again under the lock: of many first writers racing, one creates the catalog and
        // the others find it (each re-running the DDL queued 64 openers behind one another).
        if (await ready(tx)) return;
        for (const stmt of catalogDDL(this.S)) await tx.unsafe(stmt);
      });
    });
  }

  /** For read-only opens: NOT_FOUND unless the schema holds a Quiver catalog. */
  async requireCatalog(): Promise<void> {
    const [r] = await this.pool.op(`opening schema ${this.target.schema}`, () =>
      this.pool.sql.unsafe<{ ok: boolean }[]>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`${this.S}._quiver_tables`]),
    );
    if (!r!.ok) {
      throw new QuiverError(
        "NOT_FOUND",
        `schema ${JSON.stringify(this.target.schema)} of database ${JSON.stringify(this.target.database)} on ${this.target.where} holds no Quiver store; check ?schema= in the URL, or write to it first`,
      );
    }
  }

  /** The table's catalog entry, current (one round trip when the cache is). */
  private async info(table: string): Promise<TableInfo | undefined> {
    const cached = this.cache.get(table);
    const rows = await this.pool.sql.unsafe<{ version: string }[]>(`SELECT version FROM ${this.S}._quiver_tables WHERE name = $1`, [table]);
    if (rows.length === 0) {
      this.cache.delete(table);
      return undefined;
    }
    if (cached && cached.version === Number(rows[0]!.version)) return cached;
    const info = await loadTable(this.pool.sql, this.S, this.target.schema, table);
    if (info) this.cache.set(table, info);
    else this.cache.delete(table);
    return info;
  }

  /** Locks the table's catalog row for this transaction and hands out `n` positions. */
  private async lockRow(tx: TransactionSql, table: string, n: number): Promise<{ start: number; version: number } | undefined> {
    const queued = tx.unsafe(LOCK_TABLE, [`${this.target.schema}.${table}`], PREPARED).execute();
    queued.catch(() => undefined);
    const r = await tx.unsafe<{ start: string; version: string }[]>(LOCK_ROW(this.S), [table, n], PREPARED);
    await queued;
    return r.length ? { start: Number(r[0]!.start), version: Number(r[0]!.version) } : undefined;
  }

  /** A transaction holding the table's catalog row, with its current info; creates the table when `create`. */
  private async locked<T>(tx: TransactionSql, table: string, n: number, create: boolean, fn: (info: TableInfo, start: number) => Promise<T>): Promise<T | undefined> {
    const locking = this.lockRow(tx, table, n);
    // The table's info read right behind the lock (so as of after it), in the same round trip.
    const loading = loadTable(tx, this.S, this.target.schema, table);
    loading.catch(() => undefined); // fails with the lock, awaited below
    let r = await locking;
    let info = this.cache.get(table);
    if (!r) {
      if (!create) return undefined;
      await createTable(tx, this.S, this.target.schema, table);
      r = (await this.lockRow(tx, table, n))!;
      info = (await loadTable(tx, this.S, this.target.schema, table))!;
    } else if (!info || info.version !== r.version) info = (await loading)!;
    else await loading;
    return fn(info, r.start);
  }

  private commit(table: string, info: TableInfo | undefined): void {
    if (info) this.cache.set(table, info);
    else this.cache.delete(table);
  }

  /**
   * Appends in one transaction, committed asynchronously (the table's row lock goes at once,
   * so racing writers' commits share WAL flushes) and made durable by the token update sent
   * right behind COMMIT (tokens.ts): resolves only once the append is committed and flushed.
   */
  async append(table: string, batch: RecordBatch, options: AppendOptions = {}): Promise<void> {
    const what = `appending to ${table}`;
    // The receipt names this append's token at once: at process exit closeSync cannot learn
    // whether a COMMIT on the wire landed, so the exit writer appends again with the token.
    const token = randomUUID();
    const receipt = options.receipt;
    if (receipt) {
      receipt.tracked = true;
      receipt.token = token;
    }
    if (options.token !== undefined && (await this.pool.op(what, () => probeToken(this.pool, this.S, options.token!))) === "committed") {
      if (receipt) receipt.committed = true;
      return; // the exit writer's copy of an append that committed after all
    }
    const rest = await this.pool.op(what, () => this.doubts.settle(table, batch, (t) => probeToken(this.pool, this.S, t)));
    if (!rest) {
      if (receipt) receipt.committed = true;
      return; // the batch is the retry of one that committed after all
    }
    let after: TableInfo;
    try {
      after = await this.pool.op(what, () => this.write(table, rest, token));
    } catch (err) {
      this.cache.delete(table); // whatever was learnt in the rolled-back transaction is void
      if ((err as Error).cause instanceof InDoubt) {
        const state = await probeToken(this.pool, this.S, token).catch(() => undefined);
        if (state === "committed") {
          this.acked.push(token);
          if (receipt) receipt.committed = true;
          return;
        }
        if (state === undefined) this.doubts.add(table, token, rest);
      }
      throw err;
    }
    this.acked.push(token);
    if (receipt) receipt.committed = true;
    this.commit(table, after);
  }

  private asyncCommit(token: string): TxOptions {
    return {
      asyncCommit: {
        durable: (q) => {
          const prune = !this.pruned;
          this.pruned = true;
          return durableStatement(q, this.S, token, this.acked.splice(0), prune);
        },
      },
    };
  }

  private async write(table: string, batch: RecordBatch, token: string, retried = false): Promise<TableInfo> {
    const n = batch.numRows;
    const nul = columnsWithNul(batch);
    const spans = batchSpans(batch);
    // The common case: the cached schema holds the batch. Encoded before the transaction and sent
    // at once: the quick append holds the table's lock for no round trip to us; a big batch
    // (fastAppend, in parts, with positions from the lock's answer) for one.
    const pre = this.cache.get(table);
    if (pre?.seq && n > 0 && n <= PART_ROWS && this.pool.behind && this.fits(pre, batch, nul)) {
      const encoded = this.encode(pre, batch, false);
      let begun: Promise<unknown> | undefined;
      try {
        await this.pool.tx((tx, control) => {
          begun = this.quickAppend(tx, control, pre, batch, encoded, token, spans);
          return Promise.resolve();
        }, this.asyncCommit(token));
        return pre;
      } catch (err) {
        // Answered with ROLLBACK: the function's answer came before it (the driver settles in order).
        if ((err as { code?: string }).code !== "ROLLED_BACK" || !begun) throw err;
        const why = await begun.then(
          () => undefined,
          (e: unknown) => e,
        );
        if ((why as { code?: string } | undefined)?.code !== STALE_STATE) throw why ?? err;
      }
    } else if (pre?.seq && n > 0 && this.fits(pre, batch, nul)) {
      // A big batch is encoded and sent in parts, so the server stores one while the next is encoded.
      const encoded = this.encode(pre, n > PART_ROWS ? batch.slice(0, PART_ROWS) : batch);
      try {
        await this.pool.tx((tx, control) => this.fastAppend(tx, control, pre, batch, encoded, token, spans), this.asyncCommit(token));
        return pre;
      } catch (err) {
        if (err !== STALE) throw err;
      }
    }
    const quickable = !retried && n > 0 && n <= PART_ROWS && this.pool.behind !== undefined;
    return this.pool
      .tx(async (tx, control) => {
        await this.warm(tx, table);
        const ins = tx.unsafe(INSERT_TOKEN(this.S), [token], PREPARED).execute();
        ins.catch(() => undefined); // its failure fails what follows it, and is awaited below
        return (await this.locked(tx, table, n, true, async (found, start) => {
          await ins;
          // A table made before positions were an identity gets one (the quick append needs it).
          const info = found.seq ? found : await addPositionIdentity(tx, this.S, this.target.schema, found);
          if (quickable && info === found && this.fits(info, batch, nul)) {
            this.cache.set(table, info);
            throw QUICK;
          }
          const next = await evolve(tx, this.S, info, batch.schema, nul);
          if (n > 0) {
            this.addSpans(tx, next, n, spans);
            const encoded = this.encode(next, batch);
            setPositions(encoded, start);
            if (this.pool.behind) copyBehind(this.pool, tx, control, this.copySql(next, batch), encoded.buf);
            else {
              const stream = (await tx.unsafe(this.copySql(next, batch)).writable()) as CopyStream;
              await sendCopy(stream, encoded.buf, control);
            }
          }
          return next;
        }))!;
      }, this.asyncCommit(token))
      .catch((err: unknown) => {
        if (err === QUICK) return this.write(table, batch, token, true);
        throw err;
      });
  }

  /**
   * Prepares the append statements on the transaction's connection before the lock is taken. A
   * prepared statement's first use on a connection waits for a Parse/Describe round trip and
   * queues what follows behind it: under the lock, that was the cost of every connection's first
   * append (64 writers starting at once queued on one another's round trips). Once per slow
   * append, which is rare (a table's first append, new columns), and outside the lock.
   */
  private async warm(tx: TransactionSql, table: string): Promise<void> {
    const lock = `${this.target.schema}.${table}`;
    // The same kinds of parameters as when they run (the driver keys statements by them).
    await Promise.all([
      tx.unsafe(INSERT_TOKEN(this.S), [""]).describe(),
      tx.unsafe(LOCK_TABLE, [lock]).describe(),
      tx.unsafe(LOCK_ROW(this.S), [table, 0]).describe(),
      tx.unsafe(loadTableSql(this.S), [table, this.target.schema]).describe(),
      tx.unsafe(APPEND_CALL(this.S), [lock, "", table, 0, 0, ""]).describe(),
    ]);
  }

  /**
   * The common append (a batch of at most PART_ROWS rows the cached schema holds), sent at once
   * and answered by the server alone: `_quiver_append` queues on the table's lock, writes the
   * token, takes the catalog row, checks the schema version and sets the positions' sequence;
   * the COPY (rows without positions: the identity gives them, in lock order) has its data
   * written right behind it on the socket (Pool.behind), and COMMIT behind that. So the lock is
   * never held across a round trip to the client. Returns the function call's answer: it
   * rejects with STALE_STATE when the table moved (the transaction then rolls back).
   */
  private quickAppend(tx: TransactionSql, control: TxControl, info: TableInfo, batch: RecordBatch, encoded: Encoded, token: string, spans: Spans): Promise<unknown> {
    const quiet = <P extends Promise<unknown>>(p: P): P => (p.catch(() => undefined), p);
    const begun = quiet(tx.unsafe(APPEND_CALL(this.S), [`${this.target.schema}.${info.name}`, info.seq!, info.name, batch.numRows, info.version, token], PREPARED).execute());
    this.addSpans(tx, info, batch.numRows, spans);
    copyBehind(this.pool, tx, control, this.copySql(info, batch, false), encoded.buf);
    return begun;
  }

  /** Token, lock and COPY sent at once; the data once the lock's answer gives the positions. STALE when the schema moved. */
  private async fastAppend(tx: TransactionSql, control: TxControl, info: TableInfo, batch: RecordBatch, encoded: Encoded, token: string, spans: Spans): Promise<void> {
    const quiet = <P extends Promise<unknown>>(p: P): P => (p.catch(() => undefined), p);
    quiet(tx.unsafe(LOCK_TABLE, [`${this.target.schema}.${info.name}`], PREPARED).execute()); // fails what follows if it fails
    // The token and the table's catalog row in one statement.
    const lock = quiet(
      tx
        .unsafe<{ start: string; version: string }[]>(
          `WITH token AS (INSERT INTO ${this.S}._quiver_batches (id) VALUES ($3)) ${LOCK_ROW(this.S)}`,
          [info.name, batch.numRows, token],
          PREPARED,
        )
        .execute(),
    );
    this.addSpans(tx, info, batch.numRows, spans);
    const copy = tx.unsafe(this.copySql(info, batch));
    const writable = quiet(copy.writable() as Promise<unknown> as Promise<CopyStream>);
    copy.execute();
    const r = (await lock)[0];
    if (!r) throw STALE; // the table was dropped: the COPY failed, the slow path creates it
    const stream = await writable;
    if (Number(r.version) !== info.version) {
      stream.on("error", () => undefined);
      stream.destroy(new Error("the table's schema changed")); // CopyFail: nothing is written
      throw STALE;
    }
    const start = Number(r.start);
    setPositions(encoded, start);
    const n = batch.numRows;
    if (n <= PART_ROWS) return sendCopy(stream, encoded.buf, control);
    let failed: unknown;
    stream.on("error", (err) => (failed ??= err));
    try {
      stream.write(encoded.buf.subarray(0, encoded.buf.length - TRAILER)); // header and the first rows
      for (let a = PART_ROWS; a < n; a += PART_ROWS) {
        await new Promise((resolve) => setImmediate(resolve)); // the socket sends what it holds
        if (failed) throw failed;
        const b = Math.min(n, a + PART_ROWS);
        const part = this.encode(info, batch.slice(a, b));
        setPositions(part, start + a);
        const rows = part.buf.subarray(COPY_HEADER, b === n ? part.buf.length : part.buf.length - TRAILER);
        if (b === n) return await sendCopy(stream, rows, control);
        stream.write(rows);
      }
    } catch (err) {
      // A value refused while encoding (after some parts went): CopyFail, nothing is written.
      if (!stream.destroyed) stream.destroy(err as Error);
      throw err;
    }
  }

  /**
   * Records the append's spans (catalog.ts), in its transaction after the catalog row took its
   * positions; not awaited: were it to fail, the transaction fails with it.
   */
  private addSpans(tx: TransactionSql, info: TableInfo, n: number, spans: Spans): void {
    if (!spans || !info.spans) return;
    tx.unsafe(SPANS_ADD(this.S), [info.name, String(n), ...spans], PREPARED)
      .execute()
      .catch(() => undefined);
  }

  private copySql(info: TableInfo, batch: RecordBatch, positions = true): string {
    const list = [...(positions ? [POS] : []), ...this.columnsOf(info, batch).map((c) => c.ident)].map(ident).join(", ");
    return `COPY ${this.S}.${ident(info.ident)} (${list}) FROM STDIN (FORMAT binary)`;
  }

  /** Whether `info` holds the batch as it is (no column to add, widen or move to bytes). */
  private fits(info: TableInfo, batch: RecordBatch, nul: ReadonlySet<string>): boolean {
    for (const name of nul) if (!info.byName.get(name)?.bytes) return false;
    try {
      return mergeSchemas(info.schema, batch.schema) === info.schema;
    } catch {
      return false; // the transaction reports it
    }
  }

  private columnsOf(info: TableInfo, batch: RecordBatch): (CopyColumn & { ident: string })[] {
    return batch.schema.fields.map((f, index) => {
      const c = info.byName.get(f.name)!;
      return { index, storage: c.storage, type: c.type, ident: c.ident };
    });
  }

  private encode(info: TableInfo, batch: RecordBatch, positions = true): Encoded {
    return encodeCopy(batch, this.columnsOf(info, batch), positions);
  }

  async read(table: string): Promise<Batches> {
    return this.scan(table, {});
  }

  async schema(table: string): Promise<Schema | undefined> {
    return (await this.pool.op(`reading the schema of ${table}`, () => this.info(table)))?.schema;
  }

  async tables(): Promise<readonly string[]> {
    const rows = await this.pool.op("listing tables", () => this.pool.sql.unsafe<{ name: string }[]>(`SELECT name FROM ${this.S}._quiver_tables`));
    return rows.map((r) => r.name);
  }

  async drop(table: string): Promise<boolean> {
    return this.pool.op(`dropping ${table}`, async () => {
      const dropped = await this.pool.tx(async (tx) => {
        const info = await this.locked(tx, table, 0, false, async (i) => i);
        if (!info) return false;
        await tx.unsafe(`DROP TABLE ${this.S}.${ident(info.ident)}`);
        await tx.unsafe(`DELETE FROM ${this.S}._quiver_tables WHERE name = $1`, [table]);
        return true;
      });
      this.cache.delete(table);
      return dropped;
    });
  }

  /** Appends resolve once committed: there is nothing left to flush. */
  flush(): void {}

  async close(): Promise<void> {
    await this.pool.end();
  }

  /**
   * Process exit: destroys the sockets at once, so the server ends the sessions (an append in
   * flight rolls back and its row lock goes) before the exit writer connects. Nothing else is
   * held: every acknowledged append is already committed.
   */
  closeSync(): void {
    this.pool.destroy();
  }

  // ---- accelerators --------------------------------------------------------------------------

  async scan(table: string, options: ScanOptions): Promise<Batches> {
    const info = await this.pool.op(`reading ${table}`, () => this.info(table));
    if (!info) return [];
    checkScanOptions(info.schema, options, table);
    if (options.limit === 0) return [];
    const shape = await this.pool.op(`reading ${table}`, () => this.runShape(info, options.where));
    // Binary COPY when every column decodes from it (its parameters go as settings: COPY takes
    // none): 2-3× the text rows of a SELECT, which the driver hands over as a Buffer per value.
    const viaCopy = selectSql(this.S, info, options, "settings", shape);
    // Batches no larger than the limit: their arrays are allocated whole (a window of 10k rows
    // filled 64k-row arrays, and their garbage was a fifth of the read).
    const cap = Math.min(CHUNK, options.limit ?? CHUNK);
    if (copyReadable(viaCopy.columns) && !viaCopy.params.includes(null))
      return copyRows(this.pool, `reading ${table}`, `${this.S}.${ident(info.ident)}`, viaCopy.text, viaCopy.columns, cap, viaCopy.params as string[]);
    const q = selectSql(this.S, info, options, "params", shape);
    return readRows(this.pool, `reading ${table}`, q.text, q.params, q.columns, cap);
  }

  async count(table: string, where: QueryNode | undefined): Promise<number> {
    return this.pool.op(`counting rows of ${table}`, async () => {
      const info = await this.info(table);
      if (!info) return 0;
      const b = new SqlBuilder(info.byName);
      const from = fromWhere(this.S, info, where, b, await this.runShape(info, where));
      const [r] = await this.pool.sql.unsafe<{ n: string }[]>(`SELECT count(*) AS n FROM ${from}`, b.params);
      return Number(r!.n);
    });
  }

  /** A time window through the `_ts` index (an ordinary scan with a where, pushed down). */
  async readByTime(table: string, range: TimeRange & { column: string }): Promise<Batches | undefined> {
    const { options, strip } = timeRangeScan(range);
    const batches = (await this.scan(table, options)) as AsyncIterable<RecordBatch>;
    if (!strip) return batches;
    return (async function* () {
      for await (const b of batches) yield dropColumn(b, strip);
    })();
  }

  /** Runs in one aggregate query (Reader.runs, `quiver ls`, the dashboard), first-seen order: runs.ts. */
  async runs(table: string, schema: Schema, columns: readonly string[] = []): Promise<RunSummary[] | undefined> {
    const info = await this.pool.op(`reading the runs of ${table}`, () => this.info(table));
    if (!info?.byName.has("track_id")) return undefined;
    const id = info.byName.get("track_id")!;
    if (id.storage.kind !== "scalar" || id.storage.elem !== "text") return undefined;
    const ts = info.byName.get("timestamp");
    const hasTs = ts?.storage.kind === "scalar" && ts.storage.elem === "timestamptz" && schema.fields.some((f) => f.name === "timestamp");
    return this.pool.op(`reading the runs of ${table}`, () => readRuns(this.pool.sql, `${this.S}.${ident(info.ident)}`, info, id, hasTs ? ts : undefined, columns));
  }

  async rewrite(table: string, where: QueryNode | undefined, change: RewriteChange): Promise<number> {
    const nul = change.op === "update" ? columnsWithNul(change.values) : new Set<string>();
    let after: TableInfo | undefined;
    const n = await this.pool.op(`${change.op === "update" ? "updating" : "deleting"} rows of ${table}`, () =>
      this.pool.tx(async (tx) => {
        const r = await this.locked(tx, table, 0, false, async (info) => {
          if (change.op === "delete") {
            const b = new SqlBuilder(info.byName);
            const T = `${this.S}.${ident(info.ident)}`;
            const res = await tx.unsafe(`DELETE FROM ${T}${whereOf(this.S, info, where, b)}`, b.params);
            if (res.count > 0) await this.renumber(tx, info);
            return { info, n: res.count };
          }
          const next = await evolve(tx, this.S, info, change.values.schema, nul);
          const b = new SqlBuilder(next.byName);
          const w = whereOf(this.S, next, where, b);
          const sets = change.values.schema.fields.map((f, i) => {
            const c = next.byName.get(f.name)!;
            const v = vectorToValues(change.values.getChildAt(i)!, f)[0];
            const text = valueText(v, c.storage, (x) => encodeValueJson(x, c.type));
            return `${ident(c.ident)} = ${b.param(text, sqlTypeOf(c.storage))}`;
          });
          const res = await tx.unsafe(`UPDATE ${this.S}.${ident(next.ident)} SET ${sets.join(", ")}${w}`, b.params);
          // Rows moved to other runs: the spans are found again from the rows.
          if (res.count > 0 && next.spans && change.values.schema.fields.some((f) => f.name === "track_id")) await tx.unsafe(SPANS_REBUILD(this.S), [next.name]);
          return { info: next, n: res.count };
        });
        after = r?.info;
        return r?.n ?? 0;
      }),
    );
    this.commit(table, after);
    return n;
  }

  /** After a delete: positions dense again (0…n-1 in the same order), and the row counter. */
  private async renumber(tx: TransactionSql, info: TableInfo): Promise<void> {
    // 0 … count-1 again, in position order, and the catalog's count (catalog.ts: _quiver_dense).
    await tx.unsafe(`SELECT ${this.S}._quiver_dense($1, 0)`, [info.name]);
    if (info.spans) await tx.unsafe(SPANS_REBUILD(this.S), [info.name]); // positions moved
  }

  /** How a read of one run goes (spans.ts), from its spans; undefined when it is not about one. */
  private async runShape(info: TableInfo, where: QueryNode | undefined): Promise<RunShape | undefined> {
    const id = aboutOneRun(info, where);
    if (id === undefined) return undefined;
    const [r] = await this.pool.sql.unsafe<{ n: number; covered: number; width: number }[]>(SHAPE_SQL(this.S), [info.name, id], PREPARED);
    return shapeOf(r);
  }

  private async runSql(text: string, params: readonly unknown[]): Promise<Table> {
    try {
      return await this.pool.op("sql()", () => runSql(this.pool, text, params));
    } finally {
      this.cache.clear(); // the statement may have changed any table
    }
  }
}
