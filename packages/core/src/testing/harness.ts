/** The injected test runner and small assertion helpers shared by the conformance groups. */
import assert from "node:assert/strict";
import type { RecordBatch } from "apache-arrow";
import { batchToRows, type Row } from "../arrow/batches.js";
import { QuiverError, type QuiverErrorCode } from "../errors.js";
import type { ScanOptions, Store } from "../store/contract.js";

/** The parts of a test runner the suite needs (vitest, jest, mocha and node:test all fit). */
export interface TestApi {
  describe(name: string, fn: () => void): void;
  it(name: string, fn: () => Promise<void> | void, timeout?: number): void;
  /** Optional hooks (a store's own setup and teardown around the suite, e.g. a server or a tmpfs). */
  beforeAll?(fn: () => Promise<void> | void, timeout?: number): void;
  afterAll?(fn: () => Promise<void> | void, timeout?: number): void;
}

export interface ConformanceTarget {
  /** Shown in test names, e.g. "duckdb". */
  name: string;
  /** A fresh, empty store (a new file, folder or in-memory instance per call). */
  create(): Promise<Store>;
  /** The same location opened again after `closed.close()`; required for persistent stores. */
  reopen?(closed: Store): Promise<Store>;
  /** Per-test timeout in ms (default 30 000). */
  timeout?: number;
}

export async function withStore<T>(target: ConformanceTarget, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await target.create();
  try {
    return await fn(store);
  } finally {
    await store.close().catch(() => undefined);
  }
}

export async function rowsOf(store: Store, table: string, options: ScanOptions = {}): Promise<Row[]> {
  const out: Row[] = [];
  for await (const b of store.scan(table, options)) for (const r of batchToRows(b as RecordBatch)) out.push(r);
  return out;
}

/** Awaits `p` and checks that it rejects (or throws) with a QuiverError of `code`. */
export async function rejectsWith(p: Promise<unknown> | (() => unknown), code: QuiverErrorCode, includes?: string[]): Promise<QuiverError> {
  let err: unknown;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof QuiverError, `expected QuiverError ${code}, got ${err === undefined ? "no error" : String(err)}`);
  assert.equal(err.code, code, `expected code ${code}, got ${err.code}: ${err.message}`);
  for (const s of includes ?? []) assert.ok(err.message.includes(s), `message should mention ${JSON.stringify(s)}: ${err.message}`);
  return err;
}

/** Comparable form of a stored value: Dates → ms, typed arrays → [ctor, values]. */
export function plain(v: unknown): unknown {
  if (v instanceof Date) return { date: v.getTime() };
  if (typeof v === "bigint") return { bigint: v.toString() };
  if (ArrayBuffer.isView(v)) return { [v.constructor.name]: Array.from(v as Uint8Array, (x) => (typeof x === "bigint" ? String(x) : x)) };
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

export { assert };
