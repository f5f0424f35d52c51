/**
 * The function-result cache of track()/wrap() (`Tracker.open(uri, { cache: DIR })`): one file per
 * entry in DIR, named by the key — sha256 of a canonical encoding of the function's name, its
 * arguments and the params — holding a JSON header line (name, the track_id that computed it,
 * when, how the result is encoded) and the result's bytes (codec.ts). Entries are written to a
 * temporary file and renamed into place, so a reader (another process too) sees a whole entry
 * or none; two processes computing the same key both write whole entries and the last one wins.
 */
import { createHash, type Hash, randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { QuiverError } from "../errors.js";
import { decodeValue, encodeValue } from "./codec.js";

const EXT = ".qcache";
const KEY_RE = /^[0-9a-f]{64}$/;

export interface CacheEntry {
  key: string;
  /** The tracked function's name. */
  name: string;
  /** The run (track_id) whose call computed the result: the `cache` column of rows it serves. */
  trackId: string;
  created: Date;
  /** How the result is stored: bytes, json or v8. */
  encoding: string;
  /** Size of the stored result in bytes. */
  size: number;
  /** Whether the function returned a promise (a hit then returns one too). */
  async: boolean;
  /** The call's arguments as the `args` column shows them (at most 200 characters). */
  args: string;
}

interface Header extends Omit<CacheEntry, "key" | "created" | "size"> {
  quiver_cache: 1;
  created: string;
}

/** Feeds a canonical, type-tagged encoding of v to the hash; false when v cannot be keyed. */
function feed(h: Hash, v: unknown, seen: Set<object>): boolean {
  switch (typeof v) {
    case "undefined":
      h.update("u;");
      return true;
    case "boolean":
      h.update(v ? "t;" : "f;");
      return true;
    case "number":
      h.update(`d${Object.is(v, -0) ? "-0" : String(v)};`);
      return true;
    case "bigint":
      h.update(`b${v};`);
      return true;
    case "string":
      h.update(`s${v.length}:`).update(v);
      return true;
    case "function":
    case "symbol":
      return false;
  }
  if (v === null) {
    h.update("n;");
    return true;
  }
  const o = v as object;
  if (seen.has(o)) return false; // a cycle
  seen.add(o);
  try {
    if (o instanceof Date) h.update(`D${o.getTime()};`);
    else if (ArrayBuffer.isView(o)) {
      h.update(`T${o.constructor.name}${o.byteLength}:`).update(new Uint8Array(o.buffer, o.byteOffset, o.byteLength));
    } else if (o instanceof ArrayBuffer) h.update(`A${o.byteLength}:`).update(new Uint8Array(o));
    else if (Array.isArray(o)) {
      h.update(`[${o.length}:`);
      for (const x of o) if (!feed(h, x, seen)) return false;
    } else if (o instanceof Map || o instanceof Set) {
      // Order-insensitive: entries sorted by their own keys.
      const parts: string[] = [];
      for (const e of o instanceof Map ? o : [...o].map((x) => [x, true] as const)) {
        const sub = createHash("sha256");
        if (!feed(sub, e[0], seen) || !feed(sub, e[1], seen)) return false;
        parts.push(sub.digest("hex"));
      }
      h.update(`${o instanceof Map ? "M" : "S"}${parts.length}:${parts.sort().join(",")};`);
    } else {
      // Plain objects and class instances alike, by their own enumerable fields (sorted), so
      // two config objects with the same values share an entry; a class adds its name.
      const proto = Object.getPrototypeOf(o);
      const cls = proto === Object.prototype || proto === null ? "" : ((o as { constructor?: { name?: string } }).constructor?.name ?? "?");
      const keys = Object.keys(o).sort();
      h.update(`{${cls}:${keys.length}:`);
      for (const k of keys) {
        h.update(`${k.length}:${k}=`);
        if (!feed(h, (o as Record<string, unknown>)[k], seen)) return false;
      }
    }
    h.update(";");
    return true;
  } finally {
    seen.delete(o);
  }
}

/** The cache key of a call, or undefined when an argument cannot be keyed (a function, a cycle). */
export function cacheKey(name: string, args: readonly unknown[], params: Record<string, unknown>): string | undefined {
  const h = createHash("sha256").update("quiver-cache-1;");
  if (!feed(h, name, new Set()) || !feed(h, args, new Set()) || !feed(h, params, new Set())) return undefined;
  return h.digest("hex");
}

function checkKey(key: unknown): string {
  if (typeof key !== "string" || !KEY_RE.test(key))
    throw new QuiverError("INVALID_VALUE", `a cache key is 64 lowercase hex characters (as \`quiver cache ls\` prints them), got ${JSON.stringify(key)}`);
  return key;
}

function splitEntry(buf: Buffer): { header: Header; payload: Buffer } | undefined {
  const nl = buf.indexOf(0x0a);
  if (nl < 0) return undefined;
  try {
    const header = JSON.parse(buf.subarray(0, nl).toString("utf8")) as Header;
    if (header?.quiver_cache !== 1) return undefined;
    return { header, payload: buf.subarray(nl + 1) };
  } catch {
    return undefined;
  }
}

/** A cache folder. Opening it to write creates it; to read (list) it must exist. */
export class FunctionCache {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static open(dir: string, options: { create?: boolean } = {}): FunctionCache {
    if (typeof dir !== "string" || !dir || dir.includes("\0")) throw new QuiverError("INVALID_PATH", `cache must be a folder path, got ${JSON.stringify(dir)}`);
    const abs = resolve(dir);
    try {
      if (options.create !== false) mkdirSync(abs, { recursive: true });
      if (!statSync(abs).isDirectory()) throw new QuiverError("INVALID_PATH", `cache ${abs} is not a folder`);
    } catch (err) {
      if (err instanceof QuiverError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") throw new QuiverError("NOT_FOUND", `no cache folder ${abs}`, { cause: err });
      if (code === "EEXIST" || code === "ENOTDIR") throw new QuiverError("INVALID_PATH", `cache ${abs} is not a folder (a file is in the way)`, { cause: err });
      throw new QuiverError("IO", `cannot open the cache folder ${abs} (${code ?? (err as Error).message})`, { cause: err });
    }
    return new FunctionCache(abs);
  }

  private path(key: string): string {
    return join(this.dir, key + EXT);
  }

  /** The stored result of a key, or undefined (a missing or unreadable entry is a miss). */
  get(key: string): { value: unknown; entry: CacheEntry } | undefined {
    const path = this.path(checkKey(key));
    let buf: Buffer;
    try {
      buf = readFileSync(path);
    } catch {
      return undefined;
    }
    const e = splitEntry(buf);
    if (!e) return undefined;
    try {
      return { value: decodeValue(e.header.encoding, e.payload), entry: this.entryOf(key, e.header, e.payload.byteLength) };
    } catch {
      return undefined;
    }
  }

  /** Stores a result (INVALID_VALUE when it cannot round-trip; IO when the folder cannot take it). */
  set(key: string, meta: { name: string; trackId: string; async: boolean; args: string }, value: unknown): CacheEntry {
    checkKey(key);
    const enc = encodeValue(value, `the result of ${meta.name}`);
    const header: Header = {
      quiver_cache: 1,
      name: meta.name,
      trackId: meta.trackId,
      async: meta.async,
      args: meta.args.slice(0, 200),
      encoding: enc.encoding,
      created: new Date().toISOString(),
    };
    const tmp = join(this.dir, `.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
    try {
      writeFileSync(tmp, Buffer.concat([Buffer.from(JSON.stringify(header) + "\n", "utf8"), enc.bytes]), { flag: "wx" });
      renameSync(tmp, this.path(key));
    } catch (err) {
      try {
        unlinkSync(tmp);
      } catch {
        // nothing was written
      }
      throw new QuiverError(
        "IO",
        `cannot write the cache entry ${this.path(key)} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); the result was returned, not cached`,
        { cause: err },
      );
    }
    return this.entryOf(key, header, enc.bytes.byteLength);
  }

  private entryOf(key: string, h: Header, size: number): CacheEntry {
    return { key, name: h.name, trackId: h.trackId, created: new Date(h.created), encoding: h.encoding, size, async: h.async, args: h.args };
  }

  /** The entry of a key without its result, or undefined. */
  entry(key: string): CacheEntry | undefined {
    const p = this.path(checkKey(key));
    let fd: number;
    try {
      fd = openSync(p, "r");
    } catch {
      return undefined;
    }
    try {
      const head = Buffer.alloc(4096);
      const n = readSync(fd, head, 0, head.length, 0);
      const nl = head.subarray(0, n).indexOf(0x0a);
      // The header is short: only a header longer than 4 KiB makes us read the whole entry.
      const e = splitEntry(nl >= 0 ? head.subarray(0, nl + 1) : readFileSync(p));
      if (!e) return undefined;
      return this.entryOf(key, e.header, nl >= 0 ? statSync(p).size - (nl + 1) : e.payload.byteLength);
    } finally {
      closeSync(fd);
    }
  }

  /** Every entry, oldest first. */
  list(): CacheEntry[] {
    const out: CacheEntry[] = [];
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith(EXT) || !KEY_RE.test(f.slice(0, -EXT.length))) continue;
      const e = this.entry(f.slice(0, -EXT.length));
      if (e) out.push(e);
    }
    return out.sort((a, b) => a.created.getTime() - b.created.getTime() || (a.key < b.key ? -1 : 1));
  }

  /**
   * Deletes entries: one key, the entries a run computed (`trackId`), those of a function
   * (`name`), or all with `{ all: true }`. Returns how many were deleted.
   */
  delete(which: { key?: string; trackId?: string; name?: string; all?: boolean }): number {
    if (which.key !== undefined) {
      const path = this.path(checkKey(which.key));
      try {
        rmSync(path);
        return 1;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
        throw new QuiverError("IO", `cannot delete ${path}`, { cause: err });
      }
    }
    if (which.trackId === undefined && which.name === undefined && which.all !== true) {
      throw new QuiverError("INVALID_VALUE", "delete needs { key }, { trackId }, { name } or { all: true }");
    }
    let n = 0;
    for (const e of this.list()) {
      if ((which.trackId !== undefined && e.trackId !== which.trackId) || (which.name !== undefined && e.name !== which.name)) continue;
      n += this.delete({ key: e.key });
    }
    return n;
  }
}
