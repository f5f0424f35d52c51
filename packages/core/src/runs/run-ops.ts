/** Table-wide operations of runs shared by Tracker and Reader: create on open, the newest run, set-where. */
import type { Schema, Table } from "apache-arrow";
import { normalizeRow, type Row, rowsToBatch } from "../arrow/batches.js";
import { ColumnTypes } from "../arrow/column-types.js";
import { QuiverError } from "../errors.js";
import { field, type QueryNode } from "../query/query.js";
import { readTable } from "../store/scan.js";
import type { Store } from "../store/contract.js";
import { listRuns } from "../store-kit/runs.js";

/**
 * Creates a runs table with no rows: `timestamp`, `track_id` and the params' columns, typed as
 * log() would type them. Every store takes an empty batch (append creates or evolves the table).
 */
export async function createTable(store: Store, table: string, params: Row): Promise<Schema | undefined> {
  // xetrack's order: timestamp, track_id, the params; logged columns follow as they come.
  const sample = rowsToBatch([{ timestamp: new Date(), track_id: "", ...params }], { normalized: true });
  await store.append(table, sample.slice(0, 0), { layout: "rows" });
  return store.schema(table);
}

/** The rows of the newest run (greatest last timestamp; the later one on a tie), or an empty table. */
export async function latestRun(store: Store, table: string): Promise<Table> {
  const runs = await listRuns(store, table);
  if (!runs.length) return readTable(store, table, { limit: 0 });
  let best = runs[0]!;
  for (const r of runs) if ((r.last?.getTime() ?? -Infinity) >= (best.last?.getTime() ?? -Infinity)) best = r;
  return readTable(store, table, { where: field("track_id").eq(best.track_id).node });
}

/** Sets `key` on the rows `where` matches, through the store's update; returns rows changed. */
export async function setWhereRows(store: Store, table: string, key: string, value: unknown, where: QueryNode | undefined): Promise<number> {
  if (!store.capabilities.update) throw new QuiverError("UNSUPPORTED", `${store.scheme}: stores cannot update rows; use a store with update (duckdb:, memory:, msgpack:)`);
  const schema = await store.schema(table);
  if (!schema) return 0;
  const values = normalizeRow({ [key]: value });
  new ColumnTypes(schema).check(values);
  return store.update(table, where, values);
}
