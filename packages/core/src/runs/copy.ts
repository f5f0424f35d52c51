/** copy: merge the runs of one store's table into another's, idempotently. */
import { batchToRows, mergeSchemas, type Row, rowsToBatch } from "../arrow/batches.js";
import { validateName } from "../names.js";
import { resolveStore } from "../store/registry.js";
import type { Store } from "../store/contract.js";

function rowKey(row: Row, columns: readonly string[]): string {
  return JSON.stringify(
    columns.map((c) => row[c] ?? null),
    (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : ArrayBuffer.isView(v) ? Array.from(v as Uint8Array) : v),
  );
}

export interface CopyOptions {
  source: string | Store;
  target: string | Store;
  table?: string;
  /** Called after each written batch with rows added so far. */
  onProgress?: (added: number) => void;
}

/**
 * Merges the rows of one store's table into another's (any schemes). Rows already present in
 * the target (same values in every source column) are skipped, so copying again adds 0.
 */
export async function copy(options: CopyOptions): Promise<number> {
  const table = validateName(options.table ?? "events", "table name");
  // The source is only read: a missing one is NOT_FOUND, never created.
  const src = await resolveStore(options.source, { readOnly: true });
  try {
    const dst = await resolveStore(options.target);
    try {
      const schema = await src.store.schema(table);
      if (!schema) return 0;
      const columns = schema.fields.map((f) => f.name);
      const have = new Map<string, number>();
      if (await dst.store.schema(table)) {
        const dschema = (await dst.store.schema(table))!;
        const shared = columns.filter((c) => dschema.fields.some((f) => f.name === c));
        for await (const b of dst.store.scan(table, { columns: shared })) {
          for (const r of batchToRows(b)) {
            const k = rowKey(r, columns);
            have.set(k, (have.get(k) ?? 0) + 1);
          }
        }
      }
      let added = 0;
      let targetSchema = await dst.store.schema(table);
      for await (const b of src.store.scan(table)) {
        const fresh: Row[] = [];
        for (const r of batchToRows(b)) {
          const k = rowKey(r, columns);
          const n = have.get(k) ?? 0;
          if (n > 0) have.set(k, n - 1);
          else fresh.push(r);
        }
        if (!fresh.length) continue;
        const batch = rowsToBatch(fresh, { schema: targetSchema ? mergeSchemas(targetSchema, schema) : schema });
        await dst.store.append(table, batch);
        targetSchema = mergeSchemas(targetSchema, batch.schema);
        added += fresh.length;
        options.onProgress?.(added);
      }
      await dst.store.flush();
      return added;
    } finally {
      if (dst.owned) await dst.store.close();
    }
  } finally {
    if (src.owned) await src.store.close();
  }
}
