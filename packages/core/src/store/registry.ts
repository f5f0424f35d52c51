/** URI scheme → store plugin, with lazy import of `@quiver/store-<scheme>`. */
import { createRequire } from "node:module";
import { realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { QuiverError } from "../errors.js";
import { memoryPlugin } from "./memory.js";
import type { Store, StoreOpenOptions, StorePlugin } from "./contract.js";

const plugins = new Map<string, StorePlugin>([["memory", memoryPlugin]]);

export const DEFAULT_STORE_URI = "duckdb:quiver.db";

/** Schemes served by another scheme's package (libpq's two spellings share one store). */
const SCHEME_ALIASES: Record<string, string> = { postgresql: "postgres" };

/** Registers a store plugin for its scheme (replacing any earlier one). */
export function registerStore(plugin: StorePlugin): void {
  if (!plugin || typeof plugin.open !== "function" || typeof plugin.scheme !== "string" || !/^[a-z][a-z0-9+.-]*$/.test(plugin.scheme)) {
    throw new QuiverError("INVALID_VALUE", "registerStore expects { scheme: lowercase string, open(location, options) }");
  }
  plugins.set(plugin.scheme, plugin);
}

export function registeredSchemes(): string[] {
  return [...plugins.keys()].sort();
}

/** Splits "scheme:location". The location may itself contain colons ("duckdb::memory:"). */
export function parseStoreUri(uri: string): { scheme: string; location: string } {
  if (typeof uri !== "string") throw new QuiverError("INVALID_URI", `a store URI must be a string such as "duckdb:runs.db", got ${typeof uri}`);
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(uri);
  if (!m || m[1]!.length < 2) {
    throw new QuiverError("INVALID_URI", `${JSON.stringify(uri)} is not a store URI; write SCHEME:LOCATION, e.g. "duckdb:runs.db", "msgpack:./.quiver", "h5:log.h5" or "memory:"`);
  }
  if (m[2]!.includes("\u0000")) throw new QuiverError("INVALID_URI", `store URI ${JSON.stringify(uri)} contains NUL`);
  return { scheme: m[1]!.toLowerCase(), location: m[2]! };
}

function isNotFound(err: unknown, pkg: string): boolean {
  const e = err as { code?: string; message?: string };
  return (e?.code === "ERR_MODULE_NOT_FOUND" || e?.code === "MODULE_NOT_FOUND") && String(e.message).includes(pkg);
}

/** Folders an app's packages may be resolved from: its working directory and its entry script's folder. */
function appFolders(): string[] {
  const out = [process.cwd()];
  // The exit writer runs as its own script: it resolves stores as the app that spawned it would.
  for (const entry of [process.env.QUIVER_APP_ENTRY, process.argv[1]]) {
    if (!entry) continue;
    try {
      out.push(dirname(realpathSync(entry)));
    } catch {
      out.push(dirname(entry));
    }
  }
  return [...new Set(out)];
}

/**
 * Imports an optional package: first as core sees it, then from the app (its working directory,
 * then its entry script's folder), so a store installed by the app is found even when core
 * lives elsewhere (a pnpm store, a monorepo package).
 */
export async function importOptional(pkg: string): Promise<Record<string, unknown> | undefined> {
  try {
    return (await import(pkg)) as Record<string, unknown>;
  } catch (err) {
    if (!isNotFound(err, pkg)) throw err;
  }
  for (const dir of appFolders()) {
    let resolved: string;
    try {
      resolved = createRequire(join(dir, "noop.js")).resolve(pkg);
    } catch (err) {
      if (isNotFound(err, pkg)) continue;
      throw err;
    }
    try {
      return (await import(pathToFileURL(resolved).href)) as Record<string, unknown>;
    } catch (err) {
      if (!isNotFound(err, pkg)) throw err;
    }
  }
  return undefined;
}

async function pluginFor(scheme: string): Promise<StorePlugin> {
  const known = plugins.get(scheme);
  if (known) return known;
  const pkg = `@quiver/store-${SCHEME_ALIASES[scheme] ?? scheme}`;
  const mod = await importOptional(pkg);
  if (!mod) {
    throw new QuiverError(
      "STORE_NOT_INSTALLED",
      `no store is registered for "${scheme}:" and ${pkg} is not installed; install it with \`pnpm add ${pkg}\` (or npm i ${pkg}), or call registerStore() with your own plugin`,
    );
  }
  const plugin = (plugins.get(scheme) ?? mod.default) as StorePlugin | undefined;
  if (!plugin || typeof plugin.open !== "function") throw new QuiverError("STORE_NOT_INSTALLED", `${pkg} does not export a store plugin as its default export`);
  plugins.set(scheme, plugin);
  return plugin;
}

/** Opens a store by URI: argument → QUIVER_STORE → "duckdb:quiver.db". */
export async function openStore(uri?: string, options?: StoreOpenOptions): Promise<Store> {
  const u = uri ?? process.env.QUIVER_STORE ?? DEFAULT_STORE_URI;
  const { scheme, location } = parseStoreUri(u);
  const plugin = await pluginFor(scheme);
  return plugin.open(location, options);
}

/** A uri or an already opened store, and whether the caller owns (must close) it. */
export async function resolveStore(target: string | Store | undefined, options?: StoreOpenOptions): Promise<{ store: Store; owned: boolean }> {
  if (target !== undefined && typeof target !== "string") {
    if (typeof (target as Store).scan !== "function") throw new QuiverError("INVALID_URI", "expected a store URI string or an opened Store");
    return { store: target, owned: false };
  }
  return { store: await openStore(target, options), owned: true };
}
