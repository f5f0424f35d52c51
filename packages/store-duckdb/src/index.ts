/**
 * @quiver/store-duckdb — the `duckdb:` store. Importing this module registers the plugin.
 *
 *   duckdb:runs.db                      a file, shared between processes (default)
 *   duckdb:runs.db?mode=exclusive       held by this process until closed (fastest)
 *   duckdb:runs.db?lockTimeout=5000     wait at most 5 s for other processes
 *   duckdb::memory:                     an in-memory database
 *   duckdb:runs.db?readOnly=true        read only: never creates or writes the file
 */
import fs from "node:fs";
import { QuiverError, registerStore, type StoreOpenOptions, type StorePlugin } from "@quiver/core";
import { DbFile, DEFAULT_FILE_OPTIONS, type FileOptions, type LockMode } from "./dbfile.js";
import { DuckDBDriver } from "./driver.js";
import { DuckDBStore } from "./store.js";

export interface DuckDBStoreOptions extends StoreOpenOptions {
  /** "shared" (default for files): hold the file only while working; "exclusive": hold it until close. */
  mode?: LockMode;
  /** ms to wait for another process's lock before LOCKED (default 30 000). */
  lockTimeout?: number;
  /** ms a shared session stays open after the last operation (default 250; sooner when another process waits). */
  linger?: number;
  /** ms a shared session may last while another process waits (default 200). */
  maxHold?: number;
  /** ms appended rows may wait in an open transaction before they are committed (default 500). */
  commitInterval?: number;
}

function num(name: string, v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === "string" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n) || n < 0)
    throw new QuiverError("INVALID_URI", `duckdb: option ${name} must be a non-negative number of ms, got ${JSON.stringify(v)}`);
  return n;
}

/** Splits "path?key=value&…" and merges it with the options object (the object wins). */
export function parseLocation(location: string, options: DuckDBStoreOptions = {}): { path: string; file: FileOptions; readOnly: boolean } {
  let path = location;
  const q: Record<string, string> = {};
  const at = location.lastIndexOf("?");
  if (at >= 0 && /^[A-Za-z]+=/.test(location.slice(at + 1))) {
    path = location.slice(0, at);
    for (const [k, v] of new URLSearchParams(location.slice(at + 1))) q[k] = v;
  }
  for (const k of Object.keys(q)) {
    if (!["mode", "lockTimeout", "linger", "maxHold", "commitInterval", "readOnly"].includes(k)) {
      throw new QuiverError("INVALID_URI", `duckdb: unknown option ${JSON.stringify(k)}; use mode, lockTimeout, linger, maxHold, commitInterval or readOnly`);
    }
  }
  if (!path) throw new QuiverError("INVALID_URI", `duckdb: needs a file path or :memory:, e.g. "duckdb:runs.db" or "duckdb::memory:"`);
  const mode = options.mode ?? q.mode ?? DEFAULT_FILE_OPTIONS.mode;
  if (mode !== "shared" && mode !== "exclusive") throw new QuiverError("INVALID_URI", `duckdb: mode must be "shared" or "exclusive", got ${JSON.stringify(mode)}`);
  const ro = options.readOnly ?? q.readOnly ?? false;
  if (ro !== true && ro !== false && ro !== "true" && ro !== "false" && ro !== "1" && ro !== "0") {
    throw new QuiverError("INVALID_URI", `duckdb: readOnly must be true or false, got ${JSON.stringify(ro)}`);
  }
  return {
    path,
    readOnly: ro === true || ro === "true" || ro === "1",
    file: {
      mode,
      lockTimeout: num("lockTimeout", options.lockTimeout ?? q.lockTimeout) ?? DEFAULT_FILE_OPTIONS.lockTimeout,
      linger: num("linger", options.linger ?? q.linger) ?? DEFAULT_FILE_OPTIONS.linger,
      maxHold: num("maxHold", options.maxHold ?? q.maxHold) ?? DEFAULT_FILE_OPTIONS.maxHold,
      commitInterval: num("commitInterval", options.commitInterval ?? q.commitInterval) ?? DEFAULT_FILE_OPTIONS.commitInterval,
    },
  };
}

/** Opens a DuckDB store at a file path or ":memory:". */
export async function openDuckDB(location: string, options: DuckDBStoreOptions = {}): Promise<DuckDBStore> {
  const { path, file, readOnly } = parseLocation(location, options);
  if (readOnly) {
    if (path === ":memory:") throw new QuiverError("UNSUPPORTED", `duckdb: an in-memory database cannot be opened with { readOnly: true }: there is nothing to read`);
    // Checked here, before DuckDB: reading never creates the file.
    if (!fs.existsSync(path)) throw new QuiverError("NOT_FOUND", `${path} does not exist; a store opened with { readOnly: true } never creates it — check the path`);
  }
  const f = DbFile.get(path, file, readOnly);
  const store = new DuckDBStore(new DuckDBDriver(`duckdb:${location}`, f, readOnly));
  try {
    await f.warm(); // fail now on a bad path, a corrupt file or a lock held too long
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

export const duckdbPlugin: StorePlugin = {
  scheme: "duckdb",
  open: (location, options) => openDuckDB(location, options as DuckDBStoreOptions),
};

registerStore(duckdbPlugin);

export default duckdbPlugin;
export { DuckDBStore } from "./store.js";
export { toParquet, toCSV, type ExportSource } from "./export.js";
export { exportLake, type LakeOptions, type LakeReport } from "./lake.js";
export type { LockMode, FileOptions } from "./dbfile.js";
