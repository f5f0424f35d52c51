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
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { QuiverError, type Store, batchToRows, isQuiverError, openStore, rowsToBatch } from "@quiver/core";
import { withLock as withFileLock } from "@quiver/core/store-kit";

export interface StoreRef {
  store: Store;
  release(): Promise<void>;
  /** The root's default store (`duckdb:<root>/datasources.db`), not one given by URI or object. */
  defaultStore?: boolean;
}

const cache = new Map<string, { store: Promise<Store>; refs: number }>();

export function defaultStoreUri(root: string): string {
  return `duckdb:${join(resolve(root), "datasources.db")}`;
}

/** What to do about an I/O error code. */
export function ioAdvice(code: string | undefined): string {
  switch (code) {
    case "ENOSPC":
    case "EDQUOT":
      return "free disk space and retry";
    case "EROFS":
      return "the file system is read-only: remount it read-write and retry";
    case "EACCES":
    case "EPERM":
      return "check the permissions and retry";
    case "ENOENT":
      return "the file or folder is missing: check the path";
    default:
      return "check the disk and retry";
  }
}

/**
 * A raw I/O error (errno from fs, a store's own error) as QuiverError("IO") saying what failed,
 * on which file, and what to do; QuiverErrors pass through unchanged.
 */
export function ioError(err: unknown, what: string, path?: string): QuiverError {
  if (isQuiverError(err)) return err;
  const e = err as NodeJS.ErrnoException;
  const where = e?.path ?? path;
  const file = where ? ` ${where}` : "";
  return new QuiverError("IO", `${what}${file}: ${e?.message ?? String(err)}; ${ioAdvice(e?.code)}`, { cause: err });
}

/** Runs a synchronous file operation, turning its errno into QuiverError("IO") naming the file. */
export function fsOp<T>(what: string, file: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isQuiverError(err)) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new QuiverError("IO", `${what} ${file}: ${e?.code ?? e?.message ?? String(err)}; ${ioAdvice(e?.code)}`, { cause: err });
  }
}

/**
 * Runs `fn` holding a lock file under the root (a datasource's commits, the registry), so that
 * writers in several processes take turns. It is core's one lock (store-kit): a lock whose
 * process is gone is taken over without a race (it is judged again under a second lock, so a
 * lock another process has just taken is never removed); a live holder is waited for up to
 * `timeoutMs`, then LOCKED naming it.
 */
export async function withLock<T>(file: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  fsOp("cannot create the lock folder", dirname(file), () => mkdirSync(dirname(file), { recursive: true }));
  const what = file.endsWith("registry.lock") ? "the datasource registry" : "the datasource";
  return withFileLock(file, { timeout: timeoutMs, what }, () => fn());
}

/**
 * Whether the root has anything to read: for the default store, its DuckDB file. Reading a root
 * that does not exist must not create it (nor an empty database in it).
 */
export function rootExists(root: string, store?: string | Store): boolean {
  if (store !== undefined && typeof store !== "string") return true;
  const uri = store ?? process.env.QUIVER_DATASOURCE_STORE;
  if (uri !== undefined) return true; // another store: it says NOT_FOUND itself when opened read-only
  return existsSync(join(resolve(root), "datasources.db"));
}

/**
 * Opens (or shares) the store for a root: one open store per URI (and mode) in the process.
 * `readOnly` opens it to read only: nothing is created, not even the root folder.
 */
export async function acquireStore(root: string, store?: string | Store, readOnly = false): Promise<StoreRef> {
  if (store !== undefined && typeof store !== "string") return { store, release: async () => {} };
  const uri = store ?? process.env.QUIVER_DATASOURCE_STORE ?? defaultStoreUri(root);
  if (!readOnly) fsOp("cannot create the datasource root", resolve(root), () => mkdirSync(resolve(root), { recursive: true }));
  const key = `${readOnly ? "ro" : "rw"}\u0000${uri}`;
  let entry = cache.get(key);
  if (!entry) {
    const opened = openStore(uri, readOnly ? { readOnly: true } : undefined).catch((err: unknown) => {
      throw ioError(err, `cannot open the datasource store ${uri}`);
    });
    entry = { store: opened, refs: 0 };
    cache.set(key, entry);
    entry.store.catch(() => cache.delete(key));
  }
  entry.refs++;
  let s: Store;
  try {
    s = await entry.store;
  } catch (err) {
    entry.refs--;
    throw err;
  }
  let released = false;
  return {
    store: s,
    defaultStore: store === undefined && process.env.QUIVER_DATASOURCE_STORE === undefined,
    release: async () => {
      if (released) return;
      released = true;
      const e = cache.get(key);
      if (!e || --e.refs > 0) return;
      cache.delete(key);
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
