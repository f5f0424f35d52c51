/** Run summaries (Reader.runs): from a store that keeps them, else by scanning two columns. */
import type { RecordBatch } from "apache-arrow";
import { vectorToValues } from "../arrow/decode.js";
import type { RunSummary, Store } from "../store/contract.js";

/** Runs (rows sharing a `track_id`) in order of first appearance, from batches of `track_id` and optionally `timestamp`. */
export async function summarizeRuns(batches: AsyncIterable<RecordBatch>, hasTimestamp: boolean): Promise<RunSummary[]> {
  const runs = new Map<string, RunSummary>();
  for await (const b of batches) {
    const ids = vectorToValues(b.getChildAt(0)!);
    const ts = hasTimestamp ? vectorToValues(b.getChildAt(1)!) : [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as string | null;
      if (id == null) continue;
      const t = (ts[i] as Date | null | undefined) ?? null;
      let r = runs.get(id);
      if (!r) runs.set(id, (r = { track_id: id, rows: 0, first: t, last: t }));
      r.rows++;
      if (t && (!r.first || t < r.first)) r.first = t;
      if (t && (!r.last || t > r.last)) r.last = t;
    }
  }
  return [...runs.values()];
}

/** The runs of a table of any store: `store.runs` when it has it, else a scan of `track_id` (and `timestamp`). */
export async function listRuns(store: Store, table: string): Promise<RunSummary[]> {
  if (store.runs) return store.runs(table);
  const schema = await store.schema(table);
  if (!schema) return [];
  const hasTs = schema.fields.some((f) => f.name === "timestamp");
  return summarizeRuns(store.scan(table, { columns: hasTs ? ["track_id", "timestamp"] : ["track_id"] }), hasTs);
}
