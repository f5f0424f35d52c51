/**
 * Scanning helpers for stores without pushdown: filter, order, page and project batches with
 * the core evaluator, so every store answers ScanOptions the same way.
 */
import { Field, Int64, makeData, RecordBatch, Schema, Struct, Table } from "apache-arrow";
import { batchToRows, buildData, concatBatches, conformBatch, projectSchema, takeRows, vectorToValues } from "../arrow/batches.js";
import { QuiverError } from "../errors.js";
import { checkQueryFields, evaluate } from "../query/evaluate.js";
import type { OrderBy, ScanOptions, Store } from "./contract.js";

/** Throws on ScanOptions that name unknown columns or carry bad numbers. */
export function checkScanOptions(schema: Schema | undefined, options: ScanOptions, table: string): void {
  if (options.where) checkQueryFields(options.where, schema, table);
  const names = new Set(schema?.fields.map((f) => f.name) ?? []);
  for (const c of [...(options.columns ?? []), ...(options.orderBy ?? []).map((o) => o.column)]) {
    if (!names.has(c) && c !== options.rowIndex) {
      throw new QuiverError("UNKNOWN_FIELD", `${table} has no column ${JSON.stringify(c)}; columns: ${[...names].join(", ") || "(none)"}`);
    }
  }
  for (const k of ["limit", "offset"] as const) {
    const v = options[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw new QuiverError("INVALID_VALUE", `${k} must be a non-negative integer, got ${v}`);
  }
  for (const o of options.orderBy ?? []) {
    if (o.direction !== undefined && o.direction !== "asc" && o.direction !== "desc") {
      throw new QuiverError("INVALID_VALUE", `orderBy direction must be "asc" or "desc", got ${JSON.stringify(o.direction)}`);
    }
  }
}

function select(batch: RecordBatch, columns: readonly string[]): RecordBatch {
  const idx = columns.map((c) => batch.schema.fields.findIndex((f) => f.name === c));
  const fields = idx.map((i) => batch.schema.fields[i]!);
  const children = idx.map((i) => batch.data.children[i]!); // a batch's columns are single Data chunks
  return new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: batch.numRows, nullCount: 0, children }));
}

function addIndex(batch: RecordBatch, name: string, base: number): RecordBatch {
  const vals = new Array<number>(batch.numRows);
  for (let i = 0; i < vals.length; i++) vals[i] = base + i;
  const fields = [...batch.schema.fields, new Field(name, new Int64(), false)];
  const children = [...batch.data.children, buildData(new Int64(), vals)];
  return new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: batch.numRows, nullCount: 0, children }));
}

function compareValues(a: unknown, b: unknown): number {
  if (a == null) return b == null ? 0 : 1; // nulls last
  if (b == null) return -1;
  const x = a instanceof Date ? a.getTime() : a;
  const y = b instanceof Date ? b.getTime() : b;
  return (x as number) < (y as number) ? -1 : (x as number) > (y as number) ? 1 : 0;
}

/** Sorted permutation of a batch's rows (stable; nulls last in both directions). */
export function sortIndices(batch: RecordBatch, orderBy: readonly OrderBy[]): Uint32Array {
  const keys = orderBy.map((o) => {
    const i = batch.schema.fields.findIndex((f) => f.name === o.column);
    return { vals: vectorToValues(batch.getChildAt(i)!, batch.schema.fields[i]), desc: o.direction === "desc" };
  });
  const idx = Array.from({ length: batch.numRows }, (_, i) => i);
  idx.sort((a, b) => {
    for (const k of keys) {
      const va = k.vals[a];
      const vb = k.vals[b];
      if (va == null || vb == null) {
        const c = compareValues(va, vb);
        if (c !== 0) return c;
        continue;
      }
      const c = compareValues(va, vb);
      if (c !== 0) return k.desc ? -c : c;
    }
    return a - b;
  });
  return Uint32Array.from(idx);
}

/**
 * Applies ScanOptions to batches of one table. `schema` is the table's schema; every batch is
 * conformed to it. `rowIndex` counts rows of the source in order, before filtering.
 */
export async function* scanBatches(
  source: AsyncIterable<RecordBatch> | Iterable<RecordBatch>,
  schema: Schema,
  options: ScanOptions = {},
  table = "table",
): AsyncGenerator<RecordBatch> {
  checkScanOptions(schema, options, table);
  const outCols = [...(options.columns ?? schema.fields.map((f) => f.name))];
  if (options.rowIndex && !outCols.includes(options.rowIndex)) outCols.push(options.rowIndex);
  let base = 0;
  let skip = options.offset ?? 0;
  let left = options.limit ?? Infinity;
  if (left === 0) return;
  const sorted: RecordBatch[] = [];
  for await (const raw of source) {
    let b = conformBatch(raw, schema);
    const start = base;
    base += b.numRows;
    if (options.rowIndex) b = addIndex(b, options.rowIndex, start);
    if (options.where) {
      const mask = evaluate(options.where, b);
      let count = 0;
      for (let i = 0; i < mask.length; i++) count += mask[i]!;
      if (count === 0) continue;
      if (count < b.numRows) {
        const idx = new Uint32Array(count);
        for (let i = 0, j = 0; i < mask.length; i++) if (mask[i]) idx[j++] = i;
        b = takeRows(b, idx);
      }
    }
    if (options.orderBy?.length) {
      sorted.push(b);
      continue;
    }
    if (skip >= b.numRows) {
      skip -= b.numRows;
      continue;
    }
    if (skip > 0 || b.numRows - skip > left) {
      const end = Math.min(b.numRows, skip + left);
      b = b.slice(skip, end);
      skip = 0;
    }
    left -= b.numRows;
    yield select(b, outCols);
    if (left <= 0) return;
  }
  if (sorted.length) {
    const all = concatBatches(sorted, sorted[0]!.schema);
    const perm = sortIndices(all, options.orderBy!);
    const from = Math.min(skip, perm.length);
    const to = Math.min(perm.length, from + left);
    if (to > from) yield select(takeRows(all, perm.subarray(from, to)), outCols);
  }
}

/** Everything a scan yields, as one Table (with the projected schema even when empty). */
export async function readTable(store: Store, table: string, options: ScanOptions = {}): Promise<Table> {
  const batches: RecordBatch[] = [];
  for await (const b of store.scan(table, options)) batches.push(b);
  if (batches.length) return new Table(batches);
  const schema = await store.schema(table);
  if (!schema) return new Table();
  const cols = options.columns ? projectSchema(schema, options.columns, table) : schema;
  return new Table(cols);
}

/** Everything a scan yields, as rows. */
export async function readRows(store: Store, table: string, options: ScanOptions = {}, omitNulls = false): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for await (const b of store.scan(table, options)) for (const r of batchToRows(b, { omitNulls })) out.push(r);
  return out;
}

const NEWEST_INDEX = "__quiver_index";

/** ScanOptions for the newest `n` rows by `timestamp` (insertion order breaks ties), when there is one. */
export function newestFirst(schema: Schema | undefined, n: number): { orderBy: { column: string; direction: "desc" }[]; limit: number; rowIndex: string } | undefined {
  if (!schema?.fields.some((f) => f.name === "timestamp")) return undefined;
  return {
    orderBy: [
      { column: "timestamp", direction: "desc" },
      { column: NEWEST_INDEX, direction: "desc" },
    ],
    limit: n,
    rowIndex: NEWEST_INDEX,
  };
}

/** Rows of a newestFirst scan, oldest first and without the index column. */
export function oldestFirst(rows: Record<string, unknown>[]): Record<string, unknown>[] {
  for (const r of rows) delete r[NEWEST_INDEX];
  return rows.reverse();
}
