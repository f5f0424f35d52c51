/**
 * Where a root's metadata lives. Layout inside the store (table names):
 *   datasources                 registry rows {name, id, path, created, _deleted}; the last row per name wins
 *   datasets                    saved queries {name, source, spec, _deleted}; the last row per name wins
 *   datasource/<id>/fields      field types {field, type}, one row per field, appended on first sight
 *   datasource/<id>/events      append-only metadata events (see events.ts)
 *   datasource/<id>/commits     {seq0, seq1, ts, fresh}, one row per commit
 *   datasource/<id>/current     DuckDB only: the materialised state (+ current_state), see engine.ts
 * and on disk: <root>/blobs/<2 hex>/<sha256> for blob values.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Store, batchToRows, openStore, rowsToBatch } from "@quiver/core";

export interface StoreRef {
  store: Store;
  release(): Promise<void>;
}

const cache = new Map<string, { store: Promise<Store>; refs: number }>();

export function defaultStoreUri(root: string): string {
  return `duckdb:${join(resolve(root), "datasources.db")}`;
}

/** Opens (or shares) the store for a root: one open store per URI in the process. */
export async function acquireStore(root: string, store?: string | Store): Promise<StoreRef> {
  mkdirSync(resolve(root), { recursive: true });
  if (store !== undefined && typeof store !== "string") return { store, release: async () => {} };
  const uri = store ?? process.env.QUIVER_DATASOURCE_STORE ?? defaultStoreUri(root);
  let entry = cache.get(uri);
  if (!entry) {
    entry = { store: openStore(uri), refs: 0 };
    cache.set(uri, entry);
    entry.store.catch(() => cache.delete(uri));
  }
  entry.refs++;
  const s = await entry.store;
  let released = false;
  return {
    store: s,
    release: async () => {
      if (released) return;
      released = true;
      const e = cache.get(uri);
      if (!e || --e.refs > 0) return;
      cache.delete(uri);
      await s.close();
    },
  };
}

/** The last row per key of a registry table, without rows marked deleted. */
export async function readRegistry(store: Store, table: string, key = "name"): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  if (!(await store.schema(table))) return out;
  for await (const b of store.scan(table)) {
    for (const r of batchToRows(b)) {
      const k = r[key] as string;
      if (r._deleted === true) out.delete(k);
      else out.set(k, r);
    }
  }
  return out;
}

export async function appendRows(store: Store, table: string, rows: Record<string, unknown>[]): Promise<void> {
  if (rows.length) await store.append(table, rowsToBatch(rows, { schema: await store.schema(table) }), { layout: "rows" });
}
