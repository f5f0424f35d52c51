/**
 * The update/delete algorithm for stores that keep a table as batches (memory, a file per
 * table): batches no row of which matches are kept as they are; the others are rebuilt.
 */
import { makeData, RecordBatch, type Schema, Struct } from "apache-arrow";
import { mergeSchemas, normalizeRow, sameType, takeRows } from "../arrow/batches.js";
import { rowsToBatch } from "../arrow/build.js";
import { evaluate } from "../query/evaluate.js";
import type { QueryNode } from "../query/query.js";
import { batchToRows } from "../arrow/decode.js";
import type { RewriteChange } from "./driver.js";

export interface Rewritten {
  batches: RecordBatch[];
  /** The table's schema afterwards (new columns of an update added). */
  schema: Schema;
  /** Rows updated or deleted. */
  changed: number;
}

/**
 * Applies a change to the rows of `batches` that `where` matches (every row without one).
 * Pure: the inputs are not modified, so a store swaps the result in (or writes it and renames)
 * only once it is complete. A value that does not fit throws before anything is returned.
 */
export function rewriteBatches(batches: readonly RecordBatch[], schema: Schema, where: QueryNode | undefined, change: RewriteChange): Rewritten {
  let changed = 0;
  let out = schema;
  const next: RecordBatch[] = [];
  for (const b of batches) {
    const mask = where ? evaluate(where, b) : undefined;
    let hits = b.numRows;
    if (mask) {
      hits = 0;
      for (let i = 0; i < mask.length; i++) hits += mask[i]!;
    }
    if (hits === 0) {
      next.push(b);
      continue;
    }
    changed += hits;
    if (change.op === "delete") {
      if (hits === b.numRows) continue;
      const keep = new Uint32Array(b.numRows - hits);
      for (let i = 0, j = 0; i < mask!.length; i++) if (!mask![i]) keep[j++] = i;
      next.push(takeRows(b, keep));
      continue;
    }
    const rows = batchToRows(b);
    for (let i = 0; i < rows.length; i++) if (!mask || mask[i]) Object.assign(rows[i]!, change.set);
    const nb = keepUntouched(rowsToBatch(rows, { schema: out }), b, new Set(Object.keys(normalizeRow(change.set))));
    out = mergeSchemas(out, nb.schema);
    next.push(nb);
  }
  return { batches: next, schema: out, changed };
}

/**
 * The rebuilt batch with every column the update does not set taken from the original as
 * stored: rows are JS values, and a Date would cut a µs/ns timestamp to milliseconds.
 */
function keepUntouched(rebuilt: RecordBatch, original: RecordBatch, set: ReadonlySet<string>): RecordBatch {
  let kept = false;
  const datas = rebuilt.schema.fields.map((f, c) => {
    const i = set.has(f.name) ? -1 : original.schema.fields.findIndex((x) => x.name === f.name);
    if (i < 0 || !sameType(original.schema.fields[i]!.type, f.type)) return rebuilt.getChildAt(c)!.data[0]!;
    kept = true;
    return original.data.children[i]!;
  });
  if (!kept) return rebuilt;
  return new RecordBatch(rebuilt.schema, makeData({ type: new Struct(rebuilt.schema.fields), length: rebuilt.numRows, nullCount: 0, children: datas }));
}
