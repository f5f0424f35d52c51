/** What the run commands share: the store options, opening the runs table, and row filters. */
import { field, type QueryNode, Reader, type Store } from "@quiver/core";
import { type OptionSpec, storeUri } from "../args.js";
import { parseFilter } from "../filter.js";
import { openExisting, requireTable, resolveRun } from "../stores.js";

export const STORE_OPT: OptionSpec = { store: { type: "string", short: "s" }, table: { type: "string", short: "t" } };
export const STORE_HELP = {
  store: "store URI (default: $QUIVER_STORE, else duckdb:quiver.db); may also be the first argument",
  table: "table of runs (default events)",
  json: "one JSON object per line instead of a table",
  "track-id": "only this run (a unique prefix will do, e.g. the short id a chart shows)",
  where: "only rows matching a filter, e.g. \"epoch > 5 and model = 'resnet'\"",
  limit: "number of rows (default 5)",
};
/** The row limit is `--limit N` / `-n N` everywhere; `--n` is read as the same. */
export const LIMIT_OPT: OptionSpec = { limit: { type: "string", short: "n" } };
export const LIMIT_ALIASES = { n: "limit" };
/** Options of commands that print rows of the runs table: which run, which rows, which columns, JSON. */
export const ROWS_OPT: OptionSpec = {
  "track-id": { type: "string" },
  where: { type: "string", short: "w" },
  columns: { type: "string", short: "c" },
  json: { type: "boolean" },
};
export const URI_NOTE = "URI is a store such as duckdb:runs.db, msgpack:./.quiver or h5:log.h5 (a bare path is read by its extension).";

/**
 * Opens the store and table named by the command line (closing the store on error); read-only
 * unless the command writes (`delete`, `set`), so that reading never creates or changes a file.
 */
export async function withRuns<T>(uri: string | undefined, table: string, fn: (store: Store, reader: Reader) => Promise<T>, mode: "read" | "write" = "read"): Promise<T> {
  const store = await openExisting(storeUri(uri), mode === "read");
  try {
    await requireTable(store, table);
    const reader = await Reader.open(store, { table });
    return await fn(store, reader);
  } finally {
    await store.close();
  }
}

/** The rows of --track-id (by full id or unique prefix) and --where; syntax errors before any read. */
export function runFilter(trackId: string | undefined, where: string | undefined): (reader: Reader) => Promise<QueryNode | undefined> {
  const filter = where !== undefined ? parseFilter(where).node : undefined;
  return async (reader) => {
    const parts: QueryNode[] = [];
    if (trackId !== undefined) parts.push(field("track_id").eq(await resolveRun(reader, trackId)).node);
    if (filter) parts.push(filter);
    return parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : { op: "and", args: parts };
  };
}
