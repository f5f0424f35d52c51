/**
 * The update/delete algorithm for stores that keep a table as batches (memory, a file per
 * table): batches no row of which matches are kept as they are; the others are rebuilt.
 */
import type { RecordBatch, Schema } from "apache-arrow";
import { mergeSchemas, takeRows } from "../arrow/batches.js";
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
    const nb = rowsToBatch(rows, { schema: out });
    out = mergeSchemas(out, nb.schema);
    next.push(nb);
  }
  return { batches: next, schema: out, changed };
}
