/**
 * @quiver/store-sqlite — the `sqlite:` store on better-sqlite3. Importing this module registers it.
 *
 *   sqlite:runs.db                     a file (created on first open), shared between processes
 *   sqlite:xetrack.db                  a database xetrack wrote: its tables read as they are
 *   sqlite:runs.db?busyTimeout=30000   wait up to 30 s for another process's write (default 10 000)
 *   sqlite::memory:                    an in-memory database (gone when closed)
 */
import { QuiverError, registerStore, type StoreOpenOptions, type StorePlugin } from "@quiver/core";
import { definePlugin } from "@quiver/core/store-kit";
import { openDatabase } from "./connection.js";
import { SqliteDriver } from "./driver.js";

export interface SqliteStoreOptions extends StoreOpenOptions {
  /** ms to wait for another connection's write lock before LOCKED (default 10 000). */
  busyTimeout?: number;
}

/** Splits "path?key=value&…" and merges it with the options object (the object wins). */
export function parseLocation(location: string, options: SqliteStoreOptions = {}): { path: string; readOnly: boolean; busyTimeout: number } {
  let path = location;
  const q: Record<string, string> = {};
  const at = location.lastIndexOf("?");
  if (at >= 0 && /^[A-Za-z]+=/.test(location.slice(at + 1))) {
    path = location.slice(0, at);
    for (const [k, v] of new URLSearchParams(location.slice(at + 1))) q[k] = v;
  }
  for (const k of Object.keys(q)) {
    if (k !== "busyTimeout" && k !== "readOnly") throw new QuiverError("INVALID_URI", `sqlite: unknown option ${JSON.stringify(k)}; use busyTimeout or readOnly`);
  }
  if (!path) throw new QuiverError("INVALID_URI", `sqlite: needs a file path or :memory:, e.g. "sqlite:runs.db" or "sqlite::memory:"`);
  const raw = options.busyTimeout ?? q.busyTimeout ?? 10_000;
  const busyTimeout = typeof raw === "string" ? Number(raw) : raw;
  if (typeof busyTimeout !== "number" || !Number.isFinite(busyTimeout) || busyTimeout < 0)
    throw new QuiverError("INVALID_URI", `sqlite: busyTimeout must be a non-negative number of ms, got ${JSON.stringify(raw)}`);
  const ro = options.readOnly ?? q.readOnly ?? false;
  if (![true, false, "true", "false", "1", "0"].includes(ro as never)) throw new QuiverError("INVALID_URI", `sqlite: readOnly must be true or false, got ${JSON.stringify(ro)}`);
  return { path, readOnly: ro === true || ro === "true" || ro === "1", busyTimeout };
}

/** Opens the driver at a location; core wraps it into a Store. */
export function openDriver(location: string, options: SqliteStoreOptions = {}): SqliteDriver {
  const { path, readOnly, busyTimeout } = parseLocation(location, options);
  const opened = openDatabase(path, readOnly, busyTimeout);
  // The catalog is created with the first table: opening a file (xetrack's) adds nothing to it.
  return new SqliteDriver(`sqlite:${location}`, path, opened, readOnly);
}

export const sqlitePlugin: StorePlugin = definePlugin("sqlite", (location, options) => openDriver(location, options as SqliteStoreOptions));

registerStore(sqlitePlugin);

export default sqlitePlugin;
export { SqliteDriver } from "./driver.js";
