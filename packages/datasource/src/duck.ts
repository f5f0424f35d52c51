/**
 * A private in-memory DuckDB used for file formats only (Parquet and CSV import/export), so they
 * work with every metadata store. Chosen over parquetjs-lite by the bench (see README).
 */
import {
  BIGINT,
  BLOB,
  BOOLEAN,
  DOUBLE,
  type DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  type DuckDBListType,
  type DuckDBType,
  DuckDBTypeId,
  JSToDuckDBValueConverter,
  LIST,
  TIMESTAMP,
  VARCHAR,
} from "@duckdb/node-api";
import type { Table } from "apache-arrow";
import { QuiverError, type Store, openStore } from "@quiver/core";
import "@quiver/store-duckdb";
import { type FieldType, elementType, isListType } from "./types.js";

/** Column-major data: names, field types and one JS array per column. */
export interface Columns {
  names: string[];
  types: FieldType[];
  columns: unknown[][];
}

let conn: Promise<DuckDBConnection> | undefined;
let queue: Promise<unknown> = Promise.resolve();
let tmpId = 0;

/** Runs `fn` on the shared connection, one job at a time. */
function serial<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  conn ??= DuckDBInstance.create(":memory:").then((i) => i.connect());
  const run = queue.then(async () => fn(await conn!));
  queue = run.catch(() => undefined);
  return run;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
export function quoteString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function duckType(t: FieldType): DuckDBType {
  if (isListType(t)) return LIST(duckType(elementType(t))); // multivalue fields
  switch (t) {
    case "int":
      return BIGINT;
    case "float":
      return DOUBLE;
    case "bool":
      return BOOLEAN;
    case "datetime":
      return TIMESTAMP;
    case "blob":
      return BLOB;
    default:
      return VARCHAR;
  }
}

/** How a DuckDB column is read: its field type and the SQL that yields the canonical type. */
function readAs(typeId: DuckDBTypeId, col: string): { type: FieldType; expr: string } | undefined {
  const q = quoteIdent(col);
  switch (typeId) {
    case DuckDBTypeId.BOOLEAN:
      return { type: "bool", expr: q };
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
      return { type: "int", expr: `CAST(${q} AS BIGINT)` };
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.DECIMAL:
      // 128-bit and unsigned 64-bit integers do not fit an int field: read as float.
      return { type: "float", expr: `CAST(${q} AS DOUBLE)` };
    case DuckDBTypeId.VARCHAR:
    case DuckDBTypeId.ENUM:
    case DuckDBTypeId.UUID:
      return { type: "string", expr: `CAST(${q} AS VARCHAR)` };
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
    case DuckDBTypeId.DATE:
      return { type: "datetime", expr: `CAST(${q} AS TIMESTAMP)` };
    case DuckDBTypeId.TIMESTAMP_TZ:
      return { type: "datetime", expr: `CAST(timezone('UTC', ${q}) AS TIMESTAMP)` };
    case DuckDBTypeId.BLOB:
      return { type: "blob", expr: q };
    case DuckDBTypeId.SQLNULL:
      return { type: "string", expr: `CAST(${q} AS VARCHAR)` };
    default:
      return undefined;
  }
}

/** A LIST column of one-value elements: a multivalue field. */
function readListAs(t: DuckDBListType, col: string): { type: FieldType; expr: string } | undefined {
  const e = readAs(t.valueType.typeId, col);
  if (!e || e.type === "blob" || isListType(e.type)) return undefined;
  const sql = { int: "BIGINT", float: "DOUBLE", bool: "BOOLEAN", string: "VARCHAR", datetime: "TIMESTAMP" }[e.type as "int"];
  return { type: `${e.type}[]` as FieldType, expr: `CAST(${quoteIdent(col)} AS ${sql}[])` };
}

let reader: Promise<Store> | undefined;

/**
 * Reads a Parquet file as an Arrow table with canonical column types (int64, float64, bool,
 * utf8, timestamp µs, binary), through an in-memory `duckdb:` store: its DuckDB → Arrow
 * conversion is ~7× faster than node-api's getColumnsJS. Errors name the file.
 */
export async function readParquet(file: string): Promise<Table> {
  reader ??= openStore("duckdb::memory:");
  const store = await reader;
  const src = `read_parquet(${quoteString(file)})`;
  let names: string[];
  let types: DuckDBType[];
  try {
    ({ names, types } = await serial(async (c) => {
      const d = await c.runAndReadAll(`SELECT * FROM ${src} LIMIT 0`);
      return { names: d.columnNames(), types: d.columnTypes() };
    }));
  } catch (err) {
    throw new QuiverError("INVALID_VALUE", `${file}: not a readable Parquet file (row unknown: the file's footer or schema is damaged): ${(err as Error).message}`, { cause: err });
  }
  const plan = names.map((n, i) => {
    const r = types[i]!.typeId === DuckDBTypeId.LIST ? readListAs(types[i] as DuckDBListType, n) : readAs(types[i]!.typeId, n);
    if (!r)
      throw new QuiverError(
        "INVALID_VALUE",
        `${file}: column ${JSON.stringify(n)} has type ${types[i]!.toString()}; metadata columns must be int, float, bool, string, timestamp or binary`,
      );
    return r;
  });
  try {
    return await store.sql!(`SELECT ${plan.map((p, i) => `${p.expr} AS ${quoteIdent(names[i]!)}`).join(", ")} FROM ${src}`);
  } catch (err) {
    throw new QuiverError("INVALID_VALUE", `${file}: cannot read Parquet data (a row group is damaged; nothing was imported): ${(err as Error).message}`, { cause: err });
  }
}

/** Writes columns to a Parquet or CSV file through DuckDB's COPY. */
export function writeColumns(file: string, format: "parquet" | "csv", data: Columns): Promise<void> {
  return serial(async (c) => {
    const table = `_quiver_export_${++tmpId}`;
    const dtypes = data.types.map(duckType);
    await c.run(`CREATE TABLE ${table} (${data.names.map((n, i) => `${quoteIdent(n)} ${dtypes[i]!.toString()}`).join(", ")})`);
    try {
      const app = await c.createAppender(table);
      const n = data.columns[0]?.length ?? 0;
      const CHUNK = 2048;
      for (let s = 0; s < n; s += CHUNK) {
        const e = Math.min(n, s + CHUNK);
        const chunk = DuckDBDataChunk.create(dtypes, e - s);
        chunk.setColumnsConverted(
          data.columns.map((col) => col.slice(s, e) as never[]),
          JSToDuckDBValueConverter,
        );
        app.appendDataChunk(chunk);
      }
      app.closeSync();
      const opts = format === "parquet" ? "FORMAT parquet" : "FORMAT csv, HEADER true";
      await c.run(`COPY ${table} TO ${quoteString(file)} (${opts})`);
    } finally {
      await c.run(`DROP TABLE IF EXISTS ${table}`);
    }
  });
}

/** Runs a query on the private DuckDB (tests and the bench use it to read exported files). */
export function duckQuery(sql: string): Promise<Record<string, unknown>[]> {
  return serial(async (c) => (await c.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[]);
}
