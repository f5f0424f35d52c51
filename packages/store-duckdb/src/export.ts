/** Export through DuckDB's own COPY: Parquet and CSV files that DuckDB (and others) read back. */
import path from "node:path";
import { QuiverError, type Store } from "@quiver/core";
import { ioError, messageOf } from "./errors.js";
import { DuckDBStore } from "./store.js";
import { ident, literal, sqlParam } from "./sql.js";

/** A table name, or a SELECT (with `$1`… parameters) whose result is exported. */
export type ExportSource = string | { table: string } | { sql: string; params?: readonly unknown[] };

async function copyTo(store: Store, source: ExportSource, file: string, format: string): Promise<number> {
  if (!(store instanceof DuckDBStore)) throw new QuiverError("UNSUPPORTED", `toParquet/toCSV need a duckdb: store, got ${store?.scheme ?? typeof store}:`);
  if (typeof file !== "string" || !file) throw new QuiverError("INVALID_PATH", "export needs a target file path");
  const target = path.resolve(file);
  let select: string;
  let params: readonly unknown[] = [];
  if (typeof source === "string") {
    const tables = await store.tables();
    if (tables.includes(source)) source = { table: source };
    else if (/^\s*(select|with|from|values|\()/i.test(source)) source = { sql: source };
    else throw new QuiverError("NOT_FOUND", `${store.uri} has no table ${JSON.stringify(source)}; tables: ${tables.join(", ") || "(none)"}`);
  }
  if ("table" in source) {
    if (!(await store.schema(source.table))) throw new QuiverError("NOT_FOUND", `${store.uri} has no table ${JSON.stringify(source.table)}`);
    select = `SELECT * FROM ${ident(source.table)}`;
  } else {
    select = source.sql.trim().replace(/;\s*$/, "");
    params = source.params ?? [];
  }
  // COPY cannot be prepared: the query runs first into a temp table (with parameters), then is copied.
  return store.session(async (conn) => {
    const tmp = ident("__quiver_export");
    try {
      const prep = await conn.prepare(select);
      const cols = Array.from({ length: prep.columnCount }, (_, i) => `${ident(prep.columnName(i))} ${prep.columnType(i).toString()}`);
      prep.destroySync();
      await conn.run(`CREATE OR REPLACE TEMP TABLE ${tmp} (${cols.join(", ")})`);
      await conn.run(`INSERT INTO temp.main.${tmp} ${select}`, params.length ? (params.map(sqlParam) as never) : undefined);
      const r = await conn.run(`COPY (SELECT * FROM temp.main.${tmp}) TO ${literal(target)} (${format})`);
      return r.rowsChanged;
    } catch (err) {
      if (err instanceof QuiverError) throw err;
      const msg = messageOf(err);
      if (/Parser Error|Binder Error|Catalog Error|Conversion Error|Invalid Input|Not implemented/.test(msg)) {
        throw new QuiverError("INVALID_QUERY", `export to ${target} failed: ${msg}`, { cause: err });
      }
      throw ioError(`exporting to ${target} from`, store.location, err);
    } finally {
      await conn.run(`DROP TABLE IF EXISTS temp.main.${tmp}`).catch(() => undefined);
    }
  }, `exporting to ${target} from`);
}

/** Writes a table or query result to a Parquet file; returns rows written. */
export function toParquet(store: Store, source: ExportSource, file: string): Promise<number> {
  return copyTo(store, source, file, "FORMAT parquet");
}

/** Writes a table or query result to a CSV file with a header; returns rows written. */
export function toCSV(store: Store, source: ExportSource, file: string): Promise<number> {
  return copyTo(store, source, file, "FORMAT csv, HEADER true");
}
