/**
 * Deleted datapoints stay deleted when their file is still there: DagsHub's "datasource scanning
 * will not add these datapoints back" (re-adding takes an explicit metadata update). A path is
 * deleted when its last committed event in the events table (which gets a row for every path of
 * every change) is a deletion and it holds no metadata now.
 */
import type { QueryNode } from "@quiver/core";
import { vectorToValues } from "@quiver/core";
import { DELETED } from "./events.js";
import type { EventLog, LogState } from "./log.js";

/** Of `candidates`, the paths whose last event below `st.bound` deleted them (shard 0: its table and segments). */
export async function deletedPaths(log: EventLog, st: LogState, candidates: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  if (candidates.length === 0) return out;
  const bound = st.bound;
  const schema = await log.store.schema(log.shardTable(0));
  const unsetSomewhere = schema?.fields.some((f) => f.name === "_unset") || log.shardSegments(st, 0).some((g) => g.columns.includes("_unset"));
  if (!unsetSomewhere) return out; // nothing was ever cleared or deleted
  const lastDeletion = new Map<string, number>();
  const want = new Set(candidates);
  const where: QueryNode = { op: "startsWith", field: "_unset", value: DELETED };
  for await (const b of log.scanEvents(0, st, { to: bound, where, columns: ["path", "_seq"] })) {
    const ps = vectorToValues(b.getChild("path")!) as string[];
    const seq = vectorToValues(b.getChild("_seq")!) as number[];
    ps.forEach((p, i) => want.has(p) && lastDeletion.set(p, Math.max(lastDeletion.get(p) ?? -1, Number(seq[i]))));
  }
  if (lastDeletion.size === 0) return out;
  const last = new Map<string, number>();
  const again: QueryNode = { op: "in", field: "path", values: [...lastDeletion.keys()] };
  for await (const b of log.scanEvents(0, st, { to: bound, where: again, columns: ["path", "_seq"] })) {
    const ps = vectorToValues(b.getChild("path")!) as string[];
    const seq = vectorToValues(b.getChild("_seq")!) as number[];
    ps.forEach((p, i) => last.set(p, Math.max(last.get(p) ?? -1, Number(seq[i]))));
  }
  for (const [p, s] of lastDeletion) if (last.get(p) === s) out.add(p);
  return out;
}
