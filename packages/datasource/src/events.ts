/**
 * Versioned metadata as an append-only event log.
 *
 * One event row per datapoint per change: `path`, `_seq` (int64, global order), `_ts` (commit
 * time), `_deleted` (the datapoint was deleted before this change applied), `_unset` (fields
 * cleared by this change, as "\x1fa\x1fb\x1f"), then one column per metadata field holding the
 * values this change set (null = untouched). A field's value at time T is the value of the
 * latest event with `_ts <= T` that touched it (set it, cleared it, or deleted the datapoint);
 * a path is a datapoint while any field has a value. Nothing is ever rewritten, so `asOf` is a
 * filter on `_ts`.
 */
import { Field, RecordBatch, Schema, Struct, makeData, type Data } from "apache-arrow";
import { Bool, Int64, TimestampMicrosecond, Utf8 } from "apache-arrow";
import { QuiverError, type Store, buildData, vectorToValues } from "@quiver/core";
import { BlobStore } from "./blobs.js";
import { type FieldType, arrowType, checkValue, mergeInferred, typeOfValue } from "./types.js";

export const SEP = "\u001f";
export const INTERNAL = new Set(["path", "_seq", "_ts", "_deleted", "_unset"]);

/** Column-major pending change: values `undefined` = untouched, `null` = cleared. */
export interface ChangeSet {
  paths: string[];
  fields: Map<string, unknown[]>;
  deleted?: boolean[];
  /** Extra cleared fields per row (deleteMetadata). */
  unset?: (string[] | undefined)[];
  /** Prefix for error messages, e.g. the file name. */
  source?: string;
  /** Row numbers for error messages (1-based), defaults to index + 1. */
}

export function validateFieldName(name: string): string {
  if (typeof name !== "string" || name.length === 0 || name.length > 255 || /[\u0000-\u001f]/.test(name)) {
    throw new QuiverError("INVALID_NAME", `metadata field name ${JSON.stringify(name)} must be 1-255 characters without control characters`);
  }
  if (INTERNAL.has(name)) throw new QuiverError("INVALID_NAME", `metadata field name ${JSON.stringify(name)} is reserved; choose another name`);
  return name;
}

export interface Prepared {
  batch: RecordBatch;
  newFields: [string, FieldType][];
}

let lastCommitMs = 0;
/** Commit time: strictly increasing within the process so every commit has its own asOf instant. */
export function commitTime(): Date {
  lastCommitMs = Math.max(Date.now(), lastCommitMs + 1);
  return new Date(lastCommitMs);
}

/**
 * Validates a change against the field types (inferring new ones), stores blobs, and builds the
 * events batch. Throws before anything is written.
 */
export function prepare(change: ChangeSet, types: ReadonlyMap<string, FieldType>, blobs: BlobStore, seq0: number, ts: Date): Prepared {
  const n = change.paths.length;
  const where = change.source ? `${change.source}: ` : "";
  const newFields: [string, FieldType][] = [];
  const cols: [string, FieldType, unknown[]][] = [];
  const cleared: (string[] | undefined)[] = change.unset ? change.unset.slice() : new Array(n);
  for (const [name, values] of change.fields) {
    validateFieldName(name);
    let t = types.get(name);
    if (t === undefined) {
      // First sight: infer from this batch (ints with floats make a float field).
      for (let i = 0; i < n; i++) {
        const v = values[i];
        const k = typeOfValue(v, name);
        if (k !== undefined) t = mergeInferred(t, k, name, v);
      }
      if (t === undefined) continue; // only nulls: nothing to clear, no type to fix yet
      newFields.push([name, t]);
    }
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v === undefined) out[i] = null;
      else if (v === null) {
        out[i] = null;
        (cleared[i] ??= []).push(name);
      } else out[i] = checkValue(v, t, name, change.source ? `${where}row ${i + 1}: ` : "");
    }
    cols.push([name, t, out]);
  }
  // Blobs are written only once the whole batch is valid (content-addressed, so a failed
  // commit leaves at most unreferenced files).
  for (const [, t, out] of cols) {
    if (t !== "blob") continue;
    for (let i = 0; i < n; i++) if (out[i] != null) out[i] = blobs.put(out[i] as Uint8Array);
  }
  const seq = new Array<number>(n);
  for (let i = 0; i < n; i++) seq[i] = seq0 + i;
  const unset = new Array<string | null>(n);
  for (let i = 0; i < n; i++) {
    const c = cleared[i];
    unset[i] = c && c.length ? SEP + [...new Set(c)].join(SEP) + SEP : null;
  }
  const deleted = change.deleted ?? new Array<boolean>(n).fill(false);
  const fields: Field[] = [
    new Field("path", new Utf8(), true),
    new Field("_seq", new Int64(), true),
    new Field("_ts", new TimestampMicrosecond("UTC"), true),
    new Field("_deleted", new Bool(), true),
    new Field("_unset", new Utf8(), true),
  ];
  const datas: Data[] = [
    buildData(fields[0]!.type, change.paths, "path"),
    buildData(fields[1]!.type, seq, "_seq"),
    buildData(fields[2]!.type, new Array(n).fill(ts), "_ts"),
    buildData(fields[3]!.type, deleted, "_deleted"),
    buildData(fields[4]!.type, unset, "_unset"),
  ];
  for (const [name, t, out] of cols) {
    const f = new Field(name, arrowType(t), true);
    fields.push(f);
    datas.push(buildData(f.type, out, name));
  }
  const schema = new Schema(fields);
  return { batch: new RecordBatch(schema, makeData({ type: new Struct(fields), length: n, nullCount: 0, children: datas })), newFields };
}

/** Current (or as-of) state folded from the events in JS: any store. */
export interface State {
  paths: string[];
  columns: Map<string, unknown[]>;
}

export async function foldEvents(store: Store, table: string, fieldNames: readonly string[], asOf?: Date): Promise<State> {
  const index = new Map<string, number>();
  const paths: string[] = [];
  const columns = new Map<string, unknown[]>(fieldNames.map((f) => [f, []]));
  const schema = await store.schema(table);
  if (!schema) return { paths, columns };
  const present = new Set(schema.fields.map((f) => f.name));
  const where = asOf ? { op: "le" as const, field: "_ts", value: asOf } : undefined;
  // Events come in insertion order, which is _seq order for a single writer; sort if not.
  const batches: RecordBatch[] = [];
  for await (const b of store.scan(table, { where })) batches.push(b);
  const evs: { seq: number[]; path: unknown[]; del: unknown[]; unset: unknown[]; vals: (unknown[] | undefined)[] }[] = [];
  let sorted = true;
  let last = -Infinity;
  for (const b of batches) {
    const col = (name: string): unknown[] | undefined => {
      const i = b.schema.fields.findIndex((f) => f.name === name);
      return i < 0 ? undefined : vectorToValues(b.getChildAt(i)!, b.schema.fields[i]);
    };
    const seq = col("_seq") as number[];
    for (const s of seq) {
      if (s < last) sorted = false;
      last = s;
    }
    evs.push({ seq, path: col("path")!, del: col("_deleted")!, unset: col("_unset")!, vals: fieldNames.map((f) => (present.has(f) ? col(f) : undefined)) });
  }
  let order: [number, number][] | undefined;
  if (!sorted) {
    order = [];
    evs.forEach((e, bi) => e.seq.forEach((_, r) => order!.push([bi, r])));
    order.sort((a, b) => evs[a[0]]!.seq[a[1]]! - evs[b[0]]!.seq[b[1]]!);
  }
  const arrs = fieldNames.map((f) => columns.get(f)!);
  const apply = (e: (typeof evs)[number], r: number): void => {
    const p = e.path[r] as string;
    let idx = index.get(p);
    if (idx === undefined) {
      idx = paths.length;
      index.set(p, idx);
      paths.push(p);
      for (const a of arrs) a.push(null);
    }
    if (e.del[r] === true) for (const a of arrs) a[idx] = null;
    const u = e.unset[r] as string | null;
    if (u) for (const name of u.slice(1, -1).split(SEP)) {
      const k = fieldNames.indexOf(name);
      if (k >= 0) arrs[k]![idx] = null;
    }
    for (let k = 0; k < arrs.length; k++) {
      const v = e.vals[k]?.[r];
      if (v !== null && v !== undefined) arrs[k]![idx] = v;
    }
  };
  if (order) for (const [bi, r] of order) apply(evs[bi]!, r);
  else for (const e of evs) for (let r = 0; r < e.seq.length; r++) apply(e, r);
  // A path is a datapoint while it has a file (size) or any metadata.
  const keep: number[] = [];
  for (let i = 0; i < paths.length; i++) if (arrs.some((a) => a[i] !== null)) keep.push(i);
  if (keep.length === paths.length) return { paths, columns };
  return { paths: keep.map((i) => paths[i]!), columns: new Map(fieldNames.map((f, k) => [f, keep.map((i) => arrs[k]![i])])) };
}
