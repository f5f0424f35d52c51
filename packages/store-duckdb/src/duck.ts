/**
 * `@duckdb/node-api`, loaded with `require`. An ESM `import` of this CommonJS package runs
 * Node's export lexer over its ~120 files, which doubled its load time (≈90 ms → ≈48 ms here):
 * a one-shot script or `quiver head` pays it on every start. Types come from the package as usual.
 */
import { createRequire } from "node:module";
import type * as Api from "@duckdb/node-api";

export const duck = createRequire(import.meta.url)("@duckdb/node-api") as typeof Api;

export const {
  BIGINT,
  BLOB,
  BOOLEAN,
  DOUBLE,
  FLOAT,
  INTEGER,
  LIST,
  SMALLINT,
  STRUCT,
  TIMESTAMP,
  TINYINT,
  UBIGINT,
  UINTEGER,
  USMALLINT,
  UTINYINT,
  VARCHAR,
  DuckDBTypeId,
  DuckDBInstance,
  DuckDBDataChunk,
  JSDuckDBValueConverter,
  blobValue,
  listValue,
  structValue,
  timestampValue,
} = duck;
export type DuckDBTypeId = Api.DuckDBTypeId;
export type DuckDBInstance = Api.DuckDBInstance;
export type DuckDBDataChunk = Api.DuckDBDataChunk;
