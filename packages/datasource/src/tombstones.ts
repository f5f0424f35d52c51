/**
 * Deleted datapoints stay deleted when their file is still there: DagsHub's "datasource scanning
 * will not add these datapoints back" (re-adding takes an explicit metadata update). A path is
 * deleted when its last committed event in the events table (which gets a row for every path of
 * every change) is a deletion and it holds no metadata now.
 */
import type { QueryNode, Store } from "@quiver/core";
import { vectorToValues } from "@quiver/core";
import { DELETED } from "./events.js";

/** Of `candidates`, the paths whose last event below `bound` deleted them. */
export async function deletedPaths(store: Store, events: string, bound: number, candidates: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  if (candidates.length === 0) return out;
  const schema = await store.schema(events);
  if (!schema?.fields.some((f) => f.name === "_unset")) return out; // nothing was ever cleared or deleted
  const committed: QueryNode = { op: "lt", field: "_seq", value: bound };
  const lastDeletion = new Map<string, number>();
  const want = new Set(candidates);
  const where: QueryNode = { op: "and", args: [committed, { op: "startsWith", field: "_unset", value: DELETED }] };
  for await (const b of store.scan(events, { where, columns: ["path", "_seq"] })) {
    const ps = vectorToValues(b.getChild("path")!) as string[];
    const seq = vectorToValues(b.getChild("_seq")!) as number[];
    ps.forEach((p, i) => want.has(p) && lastDeletion.set(p, Math.max(lastDeletion.get(p) ?? -1, Number(seq[i]))));
  }
  if (lastDeletion.size === 0) return out;
  const last = new Map<string, number>();
  const again: QueryNode = { op: "and", args: [committed, { op: "in", field: "path", values: [...lastDeletion.keys()] }] };
  for await (const b of store.scan(events, { where: again, columns: ["path", "_seq"] })) {
    const ps = vectorToValues(b.getChild("path")!) as string[];
    const seq = vectorToValues(b.getChild("_seq")!) as number[];
    ps.forEach((p, i) => last.set(p, Math.max(last.get(p) ?? -1, Number(seq[i]))));
  }
  for (const [p, s] of lastDeletion) if (last.get(p) === s) out.add(p);
  return out;
}
