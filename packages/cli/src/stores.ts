/**
 * Opening stores and optional packages for commands. Store packages are never imported
 * statically: core's registry imports `@quiver/store-<scheme>` on first use, and the HDF5 and
 * datasource front-ends are imported here on demand, so `quiver head` never loads h5wasm.
 */
import { existsSync } from "node:fs";
import { importOptional, isQuiverError, openStore, parseStoreUri, QuiverError, type Reader, type Store } from "@quiver/core";
import { knownSchemes, storeUri } from "./args.js";
import { didYouMean } from "./suggest.js";

/** Store packages the CLI depends on; imported on demand from the CLI's own folder. */
const BUNDLED = new Set(["duckdb", "msgpack", "h5", "postgres", "postgresql", "sqlite"]);
/** The package of a scheme (postgresql: is an alias the postgres package registers). */
const PACKAGE: Record<string, string> = { postgresql: "postgres" };

function isModuleNotFound(err: unknown, pkg: string): boolean {
  const e = err as { code?: string; message?: string };
  return (e?.code === "ERR_MODULE_NOT_FOUND" || e?.code === "MODULE_NOT_FOUND") && String(e.message).includes(pkg);
}

/**
 * Registers the store package for a URI's scheme by importing it from here. Core's lazy import
 * also finds it next to the `quiver` entry script; this covers callers that embed `main()` in
 * another process (the tests, other tools), whose entry script is not the CLI's.
 */
export async function loadStoreFor(uri: string): Promise<void> {
  const { scheme } = parseStoreUri(uri);
  if (!BUNDLED.has(scheme)) return;
  const pkg = `@quiver/store-${PACKAGE[scheme] ?? scheme}`;
  try {
    await import(pkg);
  } catch (err) {
    if (!isModuleNotFound(err, pkg)) throw err;
  }
}

/** openStore after loading the CLI's store package for the scheme; a mistyped scheme gets a suggestion. */
export async function openAny(uri: string, readOnly = false): Promise<Store> {
  await loadStoreFor(uri);
  try {
    return await openStore(uri, readOnly ? { readOnly: true } : undefined);
  } catch (err) {
    if (!isQuiverError(err) || err.code !== "STORE_NOT_INSTALLED") throw err;
    const { scheme, location } = parseStoreUri(uri);
    const hint = didYouMean(scheme, knownSchemes(), (c) => `${c}:${location}`);
    if (!hint) throw err;
    throw new QuiverError("INVALID_URI", `unknown store scheme "${scheme}:" in ${uri}${hint} (schemes: ${knownSchemes().sort().join(", ")})`, { cause: err });
  }
}

/** Location-backed schemes whose location is a file or folder that must exist before reading. */
const FILE_SCHEMES = new Set(["duckdb", "msgpack", "h5", "sqlite"]);

/**
 * Opens an existing store: a missing file is NOT_FOUND (opening it would create an empty
 * store and silently show nothing). `readOnly` (every command that only reads) opens it with
 * the stores' `readOnly`, so that nothing is created, locked or repaired.
 */
export async function openExisting(uri: string, readOnly = false): Promise<Store> {
  const { scheme, location } = parseStoreUri(uri);
  const path = location.replace(/\?[^/]*$/, ""); // "runs.db?mode=exclusive"
  if (FILE_SCHEMES.has(scheme) && path !== "" && !path.startsWith(":memory:") && !existsSync(path)) {
    throw new QuiverError("NOT_FOUND", `${uri}: no such ${scheme === "msgpack" ? "folder" : "file"}; check the path, or set --store / QUIVER_STORE`);
  }
  return openAny(uri, readOnly);
}

/** Throws NOT_FOUND naming the tables there are when `table` does not exist. */
export async function requireTable(store: Store, table: string): Promise<void> {
  if (await store.schema(table)) return;
  const tables = await store.tables();
  const shown = tables.slice(0, 12).join(", ") + (tables.length > 12 ? `, … (${tables.length} tables)` : "");
  throw new QuiverError(
    "NOT_FOUND",
    `${store.uri} has no table ${JSON.stringify(table)}${tables.length ? `; tables: ${shown} (choose one with --table)` : " (the store is empty)"}`,
  );
}

/** Imports an optional package or throws PACKAGE_NOT_INSTALLED naming it. */
export async function requirePackage<T>(pkg: string, why: string): Promise<T> {
  let mod: Record<string, unknown> | undefined;
  try {
    mod = (await import(pkg)) as Record<string, unknown>;
  } catch (err) {
    if (!isModuleNotFound(err, pkg)) throw err;
    mod = await importOptional(pkg);
  }
  if (!mod) throw new QuiverError("PACKAGE_NOT_INSTALLED", `${why} needs ${pkg}; install it with \`pnpm add ${pkg}\``);
  return mod as T;
}

/** A ROOT argument: a store URI as is, a .db/.h5 file by its extension, else a msgpack folder. */
export function rootUri(root: string): string {
  return storeUri(root);
}

/**
 * The full run id for `id`: the id itself, or the one run whose id starts with it (the short ids
 * charts print). An unknown id is NOT_FOUND; a prefix of several runs is INVALID_VALUE naming them.
 */
export async function resolveRun(reader: Reader, id: string): Promise<string> {
  const ids = (await reader.runs()).map((r) => String(r.track_id));
  if (ids.includes(id)) return id;
  const matches = id === "" ? [] : ids.filter((x) => x.startsWith(id));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    const shown = matches.slice(0, 5).join(", ") + (matches.length > 5 ? `, … (${matches.length} runs)` : "");
    throw new QuiverError("INVALID_VALUE", `run id ${JSON.stringify(id)} is the start of ${matches.length} runs (${shown}); give more of it`);
  }
  throw new QuiverError("NOT_FOUND", `no run ${JSON.stringify(id)} in ${reader.store.uri}${didYouMean(id, ids)}; list runs with \`quiver ls\``);
}
