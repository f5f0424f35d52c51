/**
 * The few raw binding calls the fast paths need: reading and writing vector memory without
 * one JS value per cell. `@duckdb/node-bindings` is resolved from `@duckdb/node-api`'s own
 * folder (it is that package's dependency, not ours).
 */
import { createRequire } from "node:module";

export type RawVector = object;
export type RawChunk = object;

export interface Bindings {
  vector_size(): number;
  data_chunk_get_vector(chunk: RawChunk, column: number): RawVector;
  vector_get_data(vector: RawVector, byteCount: number): Uint8Array;
  vector_get_validity(vector: RawVector, byteCount: number): Uint8Array | null;
  vector_ensure_validity_writable(vector: RawVector): void;
  vector_assign_string_element_len(vector: RawVector, index: number, data: Uint8Array): void;
  get_data_from_pointer(buffer: ArrayBuffer, pointerOffset: number, byteCount: number): Uint8Array;
  copy_data_to_vector(vector: RawVector, targetOffset: number, source: ArrayBuffer, sourceOffset: number, byteCount: number): void;
  copy_data_to_vector_validity(vector: RawVector, targetOffset: number, source: ArrayBuffer, sourceOffset: number, byteCount: number): void;
  /** Synchronous, and takes the connection's context lock: used to wait for a running statement. */
  get_table_names(connection: object, query: string, qualified: boolean): unknown;
}

const api = createRequire(import.meta.url).resolve("@duckdb/node-api");
export const B = createRequire(api)("@duckdb/node-bindings") as Bindings;

/** Rows per DuckDB data chunk (2048). */
export const VECTOR_SIZE = B.vector_size();
