/**
 * Opening stores and optional packages for commands. Store packages are never imported
 * statically: core's registry imports `@quiver/store-<scheme>` on first use, and the HDF5 and
 * datasource front-ends are imported here on demand, so `quiver head` never loads h5wasm.
 */
import { existsSync } from "node:fs";
import { importOptional, openStore, parseStoreUri, QuiverError, type Store } from "@quiver/core";

/** Location-backed schemes whose location is a file or folder that must exist before reading. */
const FILE_SCHEMES = new Set(["duckdb", "msgpack", "h5"]);

/**
 * Opens a store for reading: a missing file is NOT_FOUND (opening it would create an empty
 * store and silently show nothing).
 */
export async function openExisting(uri: string): Promise<Store> {
  const { scheme, location } = parseStoreUri(uri);
  if (FILE_SCHEMES.has(scheme) && location !== "" && !location.startsWith(":memory:") && !existsSync(location)) {
    throw new QuiverError("NOT_FOUND", `${uri}: no such ${scheme === "msgpack" ? "folder" : "file"}; check the path, or set --store / QUIVER_STORE`);
  }
  return openStore(uri);
}

/** Throws NOT_FOUND naming the tables there are when `table` does not exist. */
export async function requireTable(store: Store, table: string): Promise<void> {
  if (await store.schema(table)) return;
  const tables = await store.tables();
  const shown = tables.slice(0, 12).join(", ") + (tables.length > 12 ? `, … (${tables.length} tables)` : "");
  throw new QuiverError("NOT_FOUND", `${store.uri} has no table ${JSON.stringify(table)}${tables.length ? `; tables: ${shown} (choose one with --table)` : " (the store is empty)"}`);
}

/** Imports an optional package or throws PACKAGE_NOT_INSTALLED naming it. */
export async function requirePackage<T>(pkg: string, why: string): Promise<T> {
  const mod = await importOptional(pkg);
  if (!mod) throw new QuiverError("PACKAGE_NOT_INSTALLED", `${why} needs ${pkg}; install it with \`pnpm add ${pkg}\``);
  return mod as T;
}

/** A ROOT argument: a store URI as is, else a folder of the msgpack store. */
export function rootUri(root: string): string {
  return /^[A-Za-z][A-Za-z0-9+.-]+:/.test(root) ? root : `msgpack:${root}`;
}
