/**
 * The driver's read operations as data: one request type, one function that answers it on a
 * DuckDB connection, and their results as bytes. The driver answers its own reads with it, and
 * the process holding the file answers other processes' reads with the same function (see
 * serve.ts), so a read through the socket is the very SELECT a direct read runs.
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import type { QueryNode, RunSummary, ScanOptions, TimeRange } from "@quiver/core/store-kit";
import { QuiverError } from "@quiver/core/store-kit";
import { type RecordBatch, type Schema, Table, tableFromIPC, tableToIPC } from "apache-arrow";
import type { TableInfo } from "./catalog.js";
import { readBatches, resultShape } from "./convert.js";
import { ioError, messageOf } from "./errors.js";
import { readRuns, selectBatches, selectSql, timeWindowSql } from "./select.js";
import { compileWhere, ident, SqlBuilder, sqlParam, toNamed } from "./sql.js";
import { fromWire, toWire } from "./wire.js";

export type ReadRequest =
  | { op: "ping" }
  | { op: "schema"; table: string }
  | { op: "tables" }
  | { op: "count"; table: string; where?: QueryNode }
  | { op: "read"; table: string; columns?: readonly string[] }
  | { op: "scan"; table: string; options: ScanOptions }
  | { op: "readByTime"; table: string; range: TimeRange & { column: string } }
  | { op: "runs"; table: string; columns: readonly string[] }
  /** `uri` names the store in a refusal; read-only stores send only these. */
  | { op: "sql"; text: string; params: readonly unknown[]; uri: string; readOnly: boolean };

export interface ReadResults {
  ping: true;
  schema: Schema | undefined;
  tables: string[];
  count: number;
  read: RecordBatch[];
  scan: RecordBatch[];
  readByTime: RecordBatch[];
  runs: RunSummary[] | undefined;
  sql: Table;
}

export type ResultOf<R extends ReadRequest> = ReadResults[R["op"]];

/** Statement types sql() runs on a read-only store (SELECT, EXPLAIN). */
const READ_STATEMENTS = new Set([1, 4]);

export function sqlError(err: unknown, location: string): unknown {
  if (err instanceof QuiverError) return err;
  const msg = messageOf(err);
  // "read-only mode": a SELECT that writes (nextval()) on a read-only open, or served by the holder.
  if (/Parser Error|Binder Error|Catalog Error|Conversion Error|Invalid Input|Not implemented|read-only mode/.test(msg))
    return new QuiverError("INVALID_QUERY", `sql(): ${msg}`, { cause: err });
  return ioError("sql() on", location, err);
}

/** UNSUPPORTED unless every statement of `text` is a SELECT or an EXPLAIN. */
async function checkReadOnlySql(conn: DuckDBConnection, text: string, uri: string, location: string): Promise<void> {
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
    throw sqlError(err, location);
  }
  if (types.some((t) => !READ_STATEMENTS.has(t))) {
    throw new QuiverError("UNSUPPORTED", `sql(): ${uri} was opened with { readOnly: true }, so only SELECT and EXPLAIN statements run; open it without readOnly to change it`);
  }
}

export interface ReadContext {
  conn: DuckDBConnection;
  /** The file (for error messages). */
  location: string;
  /** A table's info (cached by the caller), undefined when it does not exist. */
  info(table: string): Promise<TableInfo | undefined>;
  /** sql() may have changed any table: forget cached infos. */
  forget(): void;
}

/** Answers `req` on `ctx.conn`. */
export async function execRead<R extends ReadRequest>(ctx: ReadContext, req: R): Promise<ResultOf<R>> {
  return (await exec(ctx, req)) as ResultOf<R>;
}

async function exec(ctx: ReadContext, req: ReadRequest): Promise<ReadResults[keyof ReadResults]> {
  const { conn } = ctx;
  switch (req.op) {
    case "ping":
      return true;
    case "schema":
      return (await ctx.info(req.table))?.schema;
    case "tables": {
      const r = await conn.runAndReadAll("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' AND NOT temporary");
      return (r.getRows() as [string][]).map((x) => x[0]);
    }
    case "count": {
      const info = await ctx.info(req.table);
      if (!info) return 0;
      const w = compileWhere(req.where, new SqlBuilder(info.schema));
      const r = await conn.runAndReadAll(`SELECT count(*) FROM ${ident(req.table)}${w.sql}`, toNamed(w.params));
      return Number(r.getRows()[0]![0]);
    }
    case "read": {
      const info = await ctx.info(req.table);
      if (!info) return [];
      const cols = req.columns?.length ? req.columns.filter((c) => info.schema.fields.some((f) => f.name === c)) : undefined;
      return selectBatches(conn, selectSql(info, { columns: cols }));
    }
    case "scan": {
      const info = await ctx.info(req.table);
      if (!info || req.options.limit === 0) return [];
      return selectBatches(conn, selectSql(info, req.options));
    }
    case "readByTime": {
      const info = await ctx.info(req.table);
      if (!info || req.range.limit === 0) return [];
      return selectBatches(conn, await timeWindowSql(conn, info, req.range));
    }
    case "runs": {
      const info = await ctx.info(req.table);
      return info ? readRuns(conn, info, req.columns) : [];
    }
    case "sql": {
      if (req.readOnly) await checkReadOnlySql(conn, req.text, req.uri, ctx.location);
      ctx.forget(); // the statement may change any table
      let batches: RecordBatch[];
      let schema: Schema;
      try {
        const result = await conn.stream(
          req.text,
          req.params.map((p) => sqlParam(p)),
        );
        const shape = resultShape(result);
        schema = shape.schema;
        batches = await readBatches(result, shape);
      } catch (err) {
        throw sqlError(err, ctx.location);
      }
      return batches.length ? new Table(batches) : new Table(schema);
    }
    default:
      throw new QuiverError("UNSUPPORTED", `no read operation ${JSON.stringify((req as { op: unknown }).op)}`);
  }
}

// ---- on the wire --------------------------------------------------------------------------------

/** A request as a JSON header (values tagged exactly, see wire.ts). */
export function encodeRequest(req: ReadRequest): unknown {
  return toWire(req);
}

/** A count the SQL holds as a literal (LIMIT, OFFSET): a non-negative integer or absent. */
function checkCount(v: unknown, what: string): void {
  if (v !== undefined && !(typeof v === "number" && Number.isSafeInteger(v) && v >= 0)) throw new QuiverError("INVALID_VALUE", `${what} must be a non-negative integer`);
}

export function decodeRequest(j: unknown): ReadRequest {
  const req = fromWire(j) as ReadRequest;
  // Only reads exist in the protocol: whatever a client sends, sql() text is checked, and
  // what the SQL holds as literals is checked here (core checks it in the client already).
  if (req.op === "sql") return { ...req, readOnly: true };
  if (req.op === "scan") for (const k of ["limit", "offset"] as const) checkCount(req.options?.[k], k);
  if (req.op === "readByTime") for (const k of ["limit", "offset"] as const) checkCount(req.range?.[k], k);
  return req;
}

/** A result as a JSON value and, for tables and batches, Arrow IPC bytes. */
export function encodeResult(op: ReadRequest["op"], v: ReadResults[keyof ReadResults]): { value: unknown; body?: Uint8Array } {
  switch (op) {
    case "schema":
      return v === undefined ? { value: null } : { value: true, body: tableToIPC(new Table(v as Schema), "stream") };
    case "read":
    case "scan":
    case "readByTime": {
      const batches = v as RecordBatch[];
      return batches.length ? { value: batches.length, body: tableToIPC(new Table(batches), "stream") } : { value: 0 };
    }
    case "sql":
      return { value: true, body: tableToIPC(v as Table, "stream") };
    default:
      return { value: toWire(v) };
  }
}

export function decodeResult<R extends ReadRequest>(op: R["op"], value: unknown, body: Uint8Array | undefined): ResultOf<R> {
  return decode(op, value, body) as ResultOf<R>;
}

function decode(op: ReadRequest["op"], value: unknown, body: Uint8Array | undefined): ReadResults[keyof ReadResults] {
  const ipc = () => {
    if (!body) throw new Error(`the answer to ${op} has no body`);
    return tableFromIPC(body);
  };
  switch (op) {
    case "schema":
      return value === null ? undefined : ipc().schema;
    case "read":
    case "scan":
    case "readByTime":
      return value === 0 ? [] : ipc().batches;
    case "sql":
      return ipc();
    default:
      return fromWire(value) as ReadResults[keyof ReadResults];
  }
}
