/**
 * One tracked call (Tracker.track / wrap): the function-result cache lookup, the call, config
 * objects unpacked into `<param>_<field>` columns, and the row it logs.
 */
import { normalizeRow, type Row } from "../arrow/batches.js";
import { QuiverError } from "../errors.js";
import { type CacheEntry, cacheKey, type FunctionCache } from "./cache.js";
import type { MetricsSampler } from "./sampler.js";
import { argsString, isLoggable, isPlainObject, isThenable } from "./stamp.js";
import { unpackArgs } from "./unpack.js";

export interface WrapOptions {
  name?: string;
  params?: Row;
  raiseOnError?: boolean;
  /** Look the call up in the tracker's cache (default true when the tracker has a `cache`). */
  cache?: boolean;
  /** Call the function even on a hit, and store its result over the entry (default: the tracker's `cacheForce`). */
  cacheForce?: boolean;
  /** Unpack config-object arguments into `<param>_<field>` columns (default true). */
  unpack?: boolean;
}

/** What a tracked call needs of its Tracker. */
export interface TrackHost {
  readonly trackId: string;
  readonly params: Row;
  readonly cache: FunctionCache | undefined;
  readonly sampler: (() => MetricsSampler) | undefined;
  readonly raiseOnError: boolean;
  readonly cacheForce: boolean;
  /** Logs the row; a failure goes to onError, never into the caller. */
  logRow(row: Row, name: string): void;
  /** Reports a problem once per distinct message (onError, else a warning). */
  warnOnce(message: string, err?: unknown): void;
}

/** The row of a call: name, time, error, args, unpacked configs, the result, params. */
function callRow(
  name: string,
  seconds: number,
  args: readonly unknown[],
  unpacked: Row | undefined,
  error: unknown,
  failed: boolean,
  result: unknown,
  params: Row | undefined,
): Row {
  const row: Row = { name, time: seconds, error: failed ? String((error as Error)?.message ?? error) : "", args: argsString(args) };
  if (unpacked) Object.assign(row, unpacked);
  if (!failed) {
    if (isPlainObject(result)) Object.assign(row, normalizeRow(result));
    else if (isLoggable(result)) row.result = result;
  }
  if (params) Object.assign(row, params);
  return row;
}

export function runTracked<A extends unknown[], T>(
  host: TrackHost,
  fn: (...args: A) => T,
  source: (...args: never[]) => unknown,
  args: A,
  opts: WrapOptions & { name: string },
): T {
  const raise = opts.raiseOnError ?? host.raiseOnError;
  const unpacked = opts.unpack === false ? undefined : unpackArgs(source, args);
  const cache = opts.cache === false ? undefined : host.cache;
  let key: string | undefined;
  if (cache) {
    if (opts.name === "anonymous") host.warnOnce("[quiver] anonymous functions are not cached (their results would share one name); name the function or pass wrap(fn, { name })");
    else {
      key = cacheKey(opts.name, args, { ...host.params, ...(opts.params ?? {}) });
      if (key === undefined) host.warnOnce(`[quiver] calls of ${opts.name} with a function, symbol or cyclic argument are not cached (they have no stable key)`);
    }
  }
  const t0 = performance.now();
  if (cache && key !== undefined && !(opts.cacheForce ?? host.cacheForce)) {
    const hit = cache.get(key);
    if (hit) {
      const row = callRow(opts.name, (performance.now() - t0) / 1000, args, unpacked, undefined, false, hit.value, opts.params);
      row.cache = hit.entry.trackId;
      host.logRow(row, opts.name);
      return (hit.entry.async ? Promise.resolve(hit.value) : hit.value) as T;
    }
  }
  const sampler = host.sampler?.();
  sampler?.start();
  const finish = (error: unknown, result: unknown, failed: boolean, async: boolean): void => {
    const row = callRow(opts.name, (performance.now() - t0) / 1000, args, unpacked, error, failed, result, opts.params);
    if (cache) row.cache = "";
    if (sampler) Object.assign(row, sampler.stop());
    host.logRow(row, opts.name);
    // Errors are never cached: the next call runs the function again.
    if (cache && key !== undefined && !failed) store(host, cache, key, opts.name, args, result, async);
  };
  let out: T;
  try {
    out = fn(...args);
  } catch (err) {
    finish(err, undefined, true, false);
    if (raise) throw err;
    return undefined as T;
  }
  if (isThenable(out)) {
    return Promise.resolve(out).then(
      (v) => {
        finish(undefined, v, false, true);
        return v;
      },
      (err: unknown) => {
        finish(err, undefined, true, true);
        if (raise) throw err;
        return undefined;
      },
    ) as T;
  }
  finish(undefined, out, false, false);
  return out;
}

function store(host: TrackHost, cache: FunctionCache, key: string, name: string, args: readonly unknown[], result: unknown, async: boolean): CacheEntry | undefined {
  try {
    return cache.set(key, { name, trackId: host.trackId, async, args: argsString(args) }, result);
  } catch (err) {
    // A result that cannot round-trip (a class instance) or a full disk: returned, not cached, said once.
    const why = err instanceof QuiverError ? err.message : String(err);
    host.warnOnce(`[quiver] ${name}: result not cached: ${why}`, err);
    return undefined;
  }
}
