/**
 * A session's params: a key-value record. `set()` is synchronous — it merges into the record
 * and buffers one `{ _ts, key, value }` row per key (value as JSON text, so a param may hold any
 * JSON value, `null` included, and change type between sets); rows are written with the
 * session's flush. `get()` folds the stored rows in `_ts` order, so sets from several processes
 * merge key by key instead of overwriting each other.
 *
 * Tables written before this layout hold one column per key; their rows are still read.
 */
import { rowsToBatch, type Row } from "../arrow/batches.js";
import { type BufferOptions, type Staging, WriteBuffer, exitStoreOf } from "../write/buffer.js";
import { describeValue, QuiverError } from "../errors.js";
import { isPlainObject } from "../arrow/values.js";
import { readRows } from "../store/scan.js";
import type { AppendReceipt, Store } from "../store/contract.js";
import type { SessionSidecars } from "./sidecars.js";

const ROWS: Staging<Row[]> = { fresh: () => [], concat: (a, b) => a.concat(b), slice: (s, a, b) => s.slice(a, b) };
const push = (row: Row, rows: Row[]): void => void rows.push(row);

function refuse(key: string, value: unknown, why: string): QuiverError {
  return new QuiverError(
    "INVALID_VALUE",
    `param ${JSON.stringify(key)}: ${describeValue(value)} is not a JSON value (${why}); params hold null, booleans, finite numbers, strings, arrays and objects of them`,
  );
}

/** Throws unless `v` survives JSON.stringify → JSON.parse unchanged. */
function checkJson(key: string, v: unknown, seen: object[]): void {
  if (v === null || typeof v === "boolean") return;
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw refuse(key, v, "JSON has no NaN or Infinity");
    if (Object.is(v, -0)) throw refuse(key, v, "JSON has no -0");
    return;
  }
  if (typeof v === "string") {
    // String.prototype.isWellFormed is in Node 20, not in TypeScript's ES2022 lib.
    if (!(v as unknown as { isWellFormed(): boolean }).isWellFormed()) throw refuse(key, v, "a lone surrogate");
    return;
  }
  if (typeof v !== "object") throw refuse(key, v, `a ${typeof v}`);
  if (seen.includes(v)) throw refuse(key, v, "a cyclic reference");
  seen.push(v);
  if (Array.isArray(v)) {
    for (const e of v) checkJson(key, e === undefined ? null : e, seen);
  } else if (isPlainObject(v)) {
    for (const [k, x] of Object.entries(v)) if (x !== undefined) checkJson(`${key}.${k}`, x, seen);
  } else throw refuse(key, v, `an instance of ${v.constructor?.name ?? "a class"}; convert it (e.g. a Date to toISOString())`);
  seen.pop();
}

/** Nested plain objects become "a.b" keys (as API.md says); arrays and empty objects are values. */
function flatten(values: Row, prefix: string, out: Map<string, unknown>): void {
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined) continue;
    const key = prefix + k;
    if (key === "") throw new QuiverError("INVALID_NAME", "a param name must be a non-empty string");
    if (v !== null && typeof v === "object" && !Array.isArray(v) && isPlainObject(v) && Object.keys(v).length > 0) flatten(v as Row, `${key}.`, out);
    else {
      checkJson(key, v, []);
      out.set(key, v);
    }
  }
}

/** A stored row's contribution: a key-value row, or (older tables) one column per key. */
function foldRow(into: Row, r: Row): void {
  const { _ts, key, value, ...rest } = r;
  if (typeof key === "string" && typeof value === "string" && Object.values(rest).every((x) => x === null || x === undefined)) {
    into[key] = JSON.parse(value);
    return;
  }
  for (const [k, v] of Object.entries(r)) if (k !== "_ts" && v !== null && v !== undefined) into[k] = v;
}

export class SessionParams {
  private record: Row = {};
  private lastTs = 0;
  private readonly buffer: WriteBuffer<Row[]>;

  constructor(
    private readonly store: () => Store,
    readonly table: string,
    private readonly ensureOpen: () => void,
    options: BufferOptions,
    /** The store's mirror (msgpack: dreamlake's parameters.json), read over the table. */
    private readonly sidecars?: SessionSidecars,
  ) {
    this.buffer = new WriteBuffer(
      (rows, receipt) => this.write(rows, receipt),
      ROWS,
      { ...options, flushInterval: 0, flushDelay: 0 },
      `params ${JSON.stringify(table)}`,
      exitStoreOf(store),
    );
  }

  private async write(rows: Row[], receipt?: AppendReceipt): Promise<void> {
    const store = this.store();
    await store.append(this.table, rowsToBatch(rows, { schema: await store.schema(this.table) }), { receipt });
    this.mirror(rows);
  }

  /** The rows' values into the sidecar (after the table: a retry writes both again, which folds the same). */
  private mirror(rows: Row[]): void {
    if (!this.sidecars || !rows.length) return;
    const values: Row = {};
    for (const r of rows) values[r.key as string] = JSON.parse(r.value as string);
    this.sidecars.writeParams(values);
  }

  /** @internal Reads the stored record (once, when the session opens). */
  async load(): Promise<void> {
    this.record = await this.storedAll();
  }

  private async stored(): Promise<Row> {
    const store = this.store();
    const out: Row = {};
    if (!(await store.schema(this.table))) return out;
    const rows = await readRows(store, this.table, { orderBy: [{ column: "_ts" }] });
    for (const r of rows) foldRow(out, r);
    return out;
  }

  /** The stored rows folded, then what the sidecar holds (dreamlake's sets, and ours) over them. */
  private async storedAll(): Promise<Row> {
    const out = await this.stored();
    Object.assign(out, this.sidecars?.readParams());
    return out;
  }

  /** Merges values into the params (nested keys flattened with "."); returns the merged record. */
  set(values: Row): Row {
    this.ensureOpen();
    if (values === null || typeof values !== "object" || Array.isArray(values))
      throw new QuiverError("INVALID_VALUE", `params.set expects an object, got ${describeValue(values)}`);
    const flat = new Map<string, unknown>();
    flatten(values, "", flat); // throws before anything is staged
    // Strictly increasing, so a later set of the same key always folds after an earlier one.
    const now = Date.now() / 1000;
    const ts = (this.lastTs = now > this.lastTs ? now : this.lastTs + 1e-6);
    for (const [key, v] of flat) {
      const value = JSON.stringify(v);
      this.buffer.stage(push, { _ts: ts, key, value });
      this.record[key] = JSON.parse(value);
    }
    return structuredClone(this.record);
  }

  /** The params as stored (sets of other processes included), merged with this session's. */
  async get(): Promise<Row> {
    this.ensureOpen();
    await this.buffer.flush();
    this.record = await this.storedAll();
    return structuredClone(this.record);
  }

  /** @internal */
  flush(): Promise<void> {
    return this.buffer.flush();
  }

  /** @internal */
  get pending(): number {
    return this.buffer.pending;
  }

  /** @internal At exit: the staged rows, and apart those of a write in flight its store could not settle (appended again with its token). */
  takeRows(): { inDoubt?: { items: Row[]; token: string }; rest: Row[] } {
    this.buffer.stop();
    const parts = this.buffer.takeParts();
    const rows = parts.inDoubt ? [...parts.inDoubt.items, ...parts.rest] : parts.rest;
    try {
      this.mirror(rows);
    } catch (err) {
      process.stderr.write(`[quiver] params not written to ${this.sidecars?.location}: ${(err as Error).message}\n`);
    }
    return parts;
  }
}
