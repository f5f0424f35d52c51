/** copy: merge the runs of one store's table into another's, idempotently. */
import { type RecordBatch, type TimestampMicrosecond, TimeUnit, Type } from "apache-arrow";
import { conformBatch, mergeSchemas, takeRows, vectorToValues } from "../arrow/batches.js";
import { QuiverError } from "../errors.js";
import { validateName } from "../names.js";
import { resolveStore } from "../store/registry.js";
import type { Store } from "../store/contract.js";
import { assetsTable, copyAssets } from "./assets.js";

/** ns per unit of a timestamp column, so keys of a µs source and an ms target compare. */
const NS_PER = { [TimeUnit.SECOND]: 1_000_000_000n, [TimeUnit.MILLISECOND]: 1_000_000n, [TimeUnit.MICROSECOND]: 1000n, [TimeUnit.NANOSECOND]: 1n };

/** A column's values for row keys: timestamps as exact integers (a Date keeps only ms). */
function keyColumn(batch: RecordBatch, name: string): unknown[] {
  const i = batch.schema.fields.findIndex((f) => f.name === name);
  if (i < 0) return new Array(batch.numRows).fill(null);
  const f = batch.schema.fields[i]!;
  const col = batch.getChildAt(i)!;
  if (f.type.typeId !== Type.Timestamp) return vectorToValues(col, f);
  const per = NS_PER[(f.type as TimestampMicrosecond).unit];
  const out: unknown[] = [];
  for (const d of col.data) {
    const raw = d.values as BigInt64Array;
    // The values come sliced (Arrow JS): the data's offset counts only in its validity bits.
    for (let j = 0; j < d.length; j++) out.push(d.nullCount > 0 && !d.getValid(j) ? null : raw[j]! * per);
  }
  return out;
}

/** One key per row of the batch: the values of `columns` (null where the batch lacks one). */
function rowKeys(batch: RecordBatch, columns: readonly string[]): string[] {
  const cols = columns.map((c) => keyColumn(batch, c));
  const keys = new Array<string>(batch.numRows);
  for (let r = 0; r < batch.numRows; r++) {
    keys[r] = JSON.stringify(
      cols.map((c) => c[r] ?? null),
      (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : ArrayBuffer.isView(v) ? Array.from(v as Uint8Array) : v),
    );
  }
  return keys;
}

export interface CopyOptions {
  source: string | Store;
  target: string | Store;
  /** One table (default "events"). */
  table?: string;
  /** Several tables in one call (with `table` too, if given); each is copied as `table` is. */
  tables?: readonly string[];
  /** Also copy each table's assets (`<table>_assets`), de-duplicated by hash (default true). */
  assets?: boolean;
  /** Called after each written batch with rows added so far (over all tables). */
  onProgress?: (added: number) => void;
  /** Called once per table copied with the rows (and assets) it added. */
  onTable?: (table: string, added: number, assets: number) => void;
}

function tablesOf(options: CopyOptions): string[] {
  if (options.tables !== undefined && (!Array.isArray(options.tables) || options.tables.length === 0)) {
    throw new QuiverError("INVALID_VALUE", 'copy: tables must be a non-empty array of table names (or leave it out for "events")');
  }
  const names = [...(options.table !== undefined ? [options.table] : []), ...(options.tables ?? [])];
  if (!names.length) names.push("events");
  return [...new Set(names.map((t) => validateName(t, "table name")))];
}

/**
 * Merges the rows of one store's tables into another's (any schemes). Rows already present in
 * the target (same values in every source column) are skipped, so copying again adds 0. Each
 * table's assets come along unless `assets: false`. Returns the rows added over all tables.
 */
export async function copy(options: CopyOptions): Promise<number> {
  const tables = tablesOf(options);
  // The source is only read: a missing one is NOT_FOUND, never created.
  const src = await resolveStore(options.source, { readOnly: true });
  try {
    const dst = await resolveStore(options.target);
    try {
      let total = 0;
      for (const table of tables) {
        const base = total;
        const added = await copyTable(src.store, dst.store, table, (n) => options.onProgress?.(base + n));
        const assets = options.assets === false ? 0 : await copyAssets(src.store, dst.store, assetsTable(table));
        total += added;
        options.onTable?.(table, added, assets);
      }
      await dst.store.flush();
      return total;
    } finally {
      if (dst.owned) await dst.store.close();
    }
  } finally {
    if (src.owned) await src.store.close();
  }
}

async function copyTable(src: Store, dst: Store, table: string, onProgress: (added: number) => void): Promise<number> {
  const schema = await src.schema(table);
  if (!schema) return 0;
  const columns = schema.fields.map((f) => f.name);
  const have = new Map<string, number>();
  let targetSchema = await dst.schema(table);
  if (targetSchema) {
    const dschema = targetSchema;
    const shared = columns.filter((c) => dschema.fields.some((f) => f.name === c));
    for await (const b of dst.scan(table, { columns: shared })) {
      for (const k of rowKeys(b, columns)) have.set(k, (have.get(k) ?? 0) + 1);
    }
  }
  let added = 0;
  for await (const b of src.scan(table)) {
    const fresh: number[] = [];
    rowKeys(b, columns).forEach((k, i) => {
      const n = have.get(k) ?? 0;
      if (n > 0) have.set(k, n - 1);
      else fresh.push(i);
    });
    if (!fresh.length) continue;
    // The source's own Arrow data, not rows: values (sub-ms timestamps too) arrive as stored.
    const picked = fresh.length === b.numRows ? b : takeRows(b, fresh);
    const batch = conformBatch(picked, targetSchema ? mergeSchemas(targetSchema, schema) : schema);
    await dst.append(table, batch);
    targetSchema = mergeSchemas(targetSchema, batch.schema);
    added += fresh.length;
    onProgress(added);
  }
  return added;
}
