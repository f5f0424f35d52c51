/**
 * Assets: values that are not columns (a model, a config, a large buffer), stored once by
 * content hash in the table `<table>_assets` of the tracker's own store — so they work on every
 * store that holds binary values — while the row holds the hash (a 64-hex string).
 */
import type { RecordBatch } from "apache-arrow";
import { batchToRows, type Row, rowsToBatch } from "../arrow/batches.js";
import { asStoreError, QuiverError } from "../errors.js";
import { validateName } from "../names.js";
import { field } from "../query/query.js";
import { readRows } from "../store/scan.js";
import type { Store } from "../store/contract.js";
import { contentHash, decodeValue, type Encoded, encodeValue } from "./codec.js";

/** Marks a logged value as an asset: `tracker.log({ model: asset(weights) })` stores the hash. */
export class Asset {
  constructor(readonly value: unknown) {}
}

export function asset(value: unknown): Asset {
  return new Asset(value);
}

/** The assets table of a runs table. */
export function assetsTable(table: string): string {
  return validateName(`${table}_assets`, "table name");
}

export interface AssetInfo {
  hash: string;
  encoding: string;
  size: number;
  created: Date | null;
}

const HASH_RE = /^[0-9a-f]{64}$/;

export function checkHash(hash: unknown): string {
  if (typeof hash !== "string" || !HASH_RE.test(hash)) {
    throw new QuiverError("INVALID_VALUE", `an asset hash is 64 lowercase hex characters (as a row holds it), got ${JSON.stringify(hash)}`);
  }
  return hash;
}

function needBinary(store: Store): void {
  if (!store.capabilities.kinds.includes("binary")) {
    throw new QuiverError("UNSUPPORTED", `${store.scheme}: stores hold no binary values, so they cannot hold assets; use duckdb:, msgpack: or memory:`);
  }
}

/** The assets of one runs table on one store: staged by log(), written before the rows. */
export class AssetStore {
  /** Encoded assets not yet written, by hash. */
  private readonly pending = new Map<string, Encoded & { created: Date }>();
  /** Hashes known to be stored already. */
  private readonly known = new Set<string>();
  readonly table: string;

  constructor(
    private readonly store: Store,
    runs: string,
  ) {
    this.table = assetsTable(runs);
  }

  /** Encodes and hashes a value (INVALID_VALUE for what cannot round-trip); returns its hash. */
  stage(value: unknown, what: string): string {
    needBinary(this.store);
    const e = encodeValue(value, what);
    const hash = contentHash(e);
    if (!this.known.has(hash) && !this.pending.has(hash)) this.pending.set(hash, { ...e, created: new Date() });
    return hash;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  private rows(): Row[] {
    return [...this.pending].map(([hash, e]) => ({ hash, encoding: e.encoding, size: e.bytes.byteLength, created: e.created, bytes: e.bytes }));
  }

  /** Writes the staged assets the store does not hold yet (de-duplicated by hash). */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const hashes = [...this.pending.keys()];
    if (await this.store.schema(this.table)) {
      for await (const b of this.store.scan(this.table, { where: field("hash").in(hashes).node, columns: ["hash"] })) {
        for (const r of batchToRows(b)) {
          this.known.add(r.hash as string);
          this.pending.delete(r.hash as string);
        }
      }
    }
    if (this.pending.size === 0) return;
    const rows = this.rows();
    await this.store.append(this.table, rowsToBatch(rows), { layout: "rows" });
    for (const r of rows) {
      this.known.add(r.hash as string);
      this.pending.delete(r.hash as string);
    }
  }

  /** At process exit: the staged assets as one batch (the exit writer appends it before the rows). */
  takeSync(): RecordBatch | undefined {
    if (this.pending.size === 0) return undefined;
    const batch = rowsToBatch(this.rows());
    this.pending.clear();
    return batch;
  }

  async get(hash: string): Promise<unknown> {
    const r = await this.getBytes(hash);
    return decodeValue(r.encoding, r.bytes);
  }

  async getBytes(hash: string): Promise<{ encoding: string; bytes: Uint8Array }> {
    checkHash(hash);
    const p = this.pending.get(hash);
    if (p) return { encoding: p.encoding, bytes: p.bytes };
    return readAsset(this.store, this.table, hash);
  }

  async remove(hash: string): Promise<boolean> {
    checkHash(hash);
    const staged = this.pending.delete(hash);
    this.known.delete(hash);
    return (await removeAsset(this.store, this.table, hash)) || staged;
  }
}

/** An asset's bytes from a store (NOT_FOUND when the table or the hash is not there). */
export async function readAsset(store: Store, table: string, hash: string): Promise<{ encoding: string; bytes: Uint8Array }> {
  checkHash(hash);
  if (!(await store.schema(table))) throw new QuiverError("NOT_FOUND", `no asset ${hash} in ${store.uri}: it has no assets table ${JSON.stringify(table)}`);
  const [row] = await readRows(store, table, { where: field("hash").eq(hash).node, columns: ["encoding", "bytes"], limit: 1 });
  if (!row) throw new QuiverError("NOT_FOUND", `no asset ${hash} in ${store.uri} table ${JSON.stringify(table)}; list them with \`quiver assets ls\``);
  return { encoding: row.encoding as string, bytes: row.bytes as Uint8Array };
}

export async function getAssetValue(store: Store, table: string, hash: string): Promise<unknown> {
  const r = await readAsset(store, table, hash);
  return decodeValue(r.encoding, r.bytes);
}

/** Deletes an asset (every copy of its hash); returns whether there was one. */
export async function removeAsset(store: Store, table: string, hash: string): Promise<boolean> {
  checkHash(hash);
  if (!(await store.schema(table))) return false;
  if (!store.capabilities.delete) throw new QuiverError("UNSUPPORTED", `${store.scheme}: stores cannot delete rows, so assets cannot be removed`);
  return (await store.delete(table, field("hash").eq(hash).node)) > 0;
}

/** The assets of a table, one entry per hash, in the order they were stored. */
export async function listAssets(store: Store, table: string): Promise<AssetInfo[]> {
  if (!(await store.schema(table))) return [];
  const seen = new Map<string, AssetInfo>();
  for await (const b of store.scan(table, { columns: ["hash", "encoding", "size", "created"] })) {
    for (const r of batchToRows(b)) {
      const h = r.hash as string;
      if (!seen.has(h)) seen.set(h, { hash: h, encoding: r.encoding as string, size: Number(r.size), created: (r.created as Date | null) ?? null });
    }
  }
  return [...seen.values()];
}

/** Copies the assets of `table` that `dst` lacks (by hash); returns how many were added. */
export async function copyAssets(src: Store, dst: Store, table: string): Promise<number> {
  if (!(await src.schema(table))) return 0;
  needBinary(dst);
  const have = new Set((await listAssets(dst, table)).map((a) => a.hash));
  let added = 0;
  for await (const b of src.scan(table)) {
    const fresh = batchToRows(b).filter((r) => {
      const h = r.hash as string;
      if (have.has(h)) return false;
      have.add(h);
      return true;
    });
    if (!fresh.length) continue;
    try {
      await dst.append(table, rowsToBatch(fresh.map((r) => ({ hash: r.hash, encoding: r.encoding, size: r.size, created: r.created, bytes: r.bytes }))));
    } catch (err) {
      throw asStoreError(err, `copying ${fresh.length} assets to ${dst.uri} table ${JSON.stringify(table)}`);
    }
    added += fresh.length;
  }
  return added;
}

/**
 * A row with every Asset (at any depth of plain objects) replaced by its staged hash, or the
 * row itself when it holds none. Only rows that are not flat primitives get here; a cycle is
 * left as it is, for normalizeRow to refuse.
 */
export function swapAssets(row: Row, stage: (value: unknown, what: string) => string, prefix = "", seen = new Set<object>()): Row {
  if (seen.has(row)) return row;
  seen.add(row);
  let out: Row | undefined;
  for (const k in row) {
    const v = row[k];
    let nv: unknown = v;
    if (v instanceof Asset) nv = stage(v.value, `asset ${JSON.stringify(prefix + k)}`);
    else if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) nv = swapAssets(v as Row, stage, `${prefix}${k}.`, seen);
    if (nv !== v) {
      out ??= { ...row };
      out[k] = nv;
    }
  }
  seen.delete(row);
  return out ?? row;
}
