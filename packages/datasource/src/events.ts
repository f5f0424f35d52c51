/**
 * Versioned metadata as an append-only event log.
 *
 * Table `events`: one row per datapoint per change: `path`, `_seq` (int64, global order),
 * `_unset` (fields cleared by this change as "\x1fa\x1fb\x1f"; "\x1f*\x1f" first when the
 * datapoint was deleted before the change applied), then one column per metadata field holding
 * the values this change set (null = untouched). Table `commits`: `{ seq0, seq1, ts }`, one row
 * per commit (events seq0 ≤ _seq < seq1 were written at ts).
 * A field's value at time T is the value of the latest event up to T that touched it (set it,
 * cleared it, or deleted the datapoint); a path is a datapoint while any field has a value.
 * Nothing is ever rewritten, so `asOf(T)` is `_seq < seq1 of the last commit at or before T`.
 */
import { Field, RecordBatch, Schema, Struct, makeData, type Data } from "apache-arrow";
import { Int64, Utf8 } from "apache-arrow";
import { QuiverError, type Store, buildData, sameType, vectorToValues } from "@quiver/core";
import { BlobStore } from "./blobs.js";
import { type FieldType, arrowType, checkValue, mergeInferred, typeOfValue } from "./types.js";

export const SEP = "\u001f";
export const DELETED = `${SEP}*${SEP}`;
export const INTERNAL = new Set(["path", "_seq", "_unset", "*"]);

/** Column-major pending change. JS values: `undefined` = untouched, `null` = cleared; or Arrow
 * Data already of the field's type (its nulls = untouched), passed through without copying.
 * The value arrays belong to the change: `prepare` rewrites them in place. */
export interface ChangeSet {
  paths: string[];
  /** The paths as Arrow Utf8 data when they came that way and are already clean. */
  pathData?: Data;
  fields: Map<string, unknown[] | Data>;
  deleted?: boolean[];
  /** Extra cleared fields per row (deleteMetadata). */
  unset?: (string[] | undefined)[];
  /** Prefix for error messages, e.g. the file name. */
  source?: string;
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
/** Commit time: never decreasing within the process, and never ahead of the clock (so asOf(new
 * Date()) right after a commit sees it). Commits within one millisecond share their instant. */
export function commitTime(): Date {
  lastCommitMs = Math.max(Date.now(), lastCommitMs);
  return new Date(lastCommitMs);
}

/** Values already in their stored form for each type (anything else goes through checkValue). */
const FAST: Record<FieldType, (v: unknown) => boolean> = {
  int: (v) => typeof v === "number" && Number.isSafeInteger(v),
  float: (v) => typeof v === "number",
  bool: (v) => typeof v === "boolean",
  string: (v) => typeof v === "string",
  datetime: (v) => v instanceof Date && !Number.isNaN(v.getTime()),
  blob: () => false, // hashed and stored below
};

function isData(x: unknown): x is Data {
  return !Array.isArray(x);
}

/**
 * Validates a change against the field types (inferring new ones), stores blobs, and builds the
 * events batch. Throws before anything is written.
 */
export function prepare(change: ChangeSet, types: ReadonlyMap<string, FieldType>, declared: ReadonlyMap<string, FieldType> | undefined, blobs: BlobStore, seq0: number): Prepared {
  const n = change.paths.length;
  const where = change.source ? `${change.source}: ` : "";
  const newFields: [string, FieldType][] = [];
  const cols: [string, FieldType, unknown[] | Data][] = [];
  const cleared: (string[] | undefined)[] = change.unset ? change.unset.slice() : new Array(n);
  const deleted = change.deleted;
  for (const [name, values] of change.fields) {
    validateFieldName(name);
    let t = types.get(name);
    if (isData(values)) {
      // Arrow data of the field's type: checked by type once, not per value.
      t ??= declared?.get(name);
      if (t === undefined) throw new QuiverError("INVALID_VALUE", `field ${JSON.stringify(name)} has no type`);
      if (!sameType(values.type, arrowType(t))) throw new QuiverError("SCHEMA_MISMATCH", `${where}field ${JSON.stringify(name)} is ${t} but the column is ${String(values.type)}`);
      if (!types.has(name)) newFields.push([name, t]);
      cols.push([name, t, values]);
      continue;
    }
    if (t === undefined && declared?.has(name) && values.some((v) => v != null)) {
      t = declared.get(name)!;
      newFields.push([name, t]);
    } else if (t === undefined) {
      // First sight: infer from this batch (ints with floats make a float field). A typed
      // check of the first value's kind is tried first: one pass in the common case.
      let first: unknown;
      for (let i = 0; i < n && first === undefined; i++) if (values[i] != null) first = values[i];
      if (first === undefined) continue; // only nulls: nothing to clear, no type to fix yet
      t = typeOfValue(first, name)!;
      const ok = FAST[t];
      let uniform = true;
      for (let i = 0; i < n && uniform; i++) {
        const v = values[i];
        if (v != null && !ok(v)) uniform = false;
      }
      if (!uniform) {
        t = undefined;
        for (let i = 0; i < n; i++) {
          const v = values[i];
          const k = typeOfValue(v, name);
          if (k !== undefined) t = mergeInferred(t, k, name, v);
        }
      }
      newFields.push([name, t!]);
    }
    const ft = t!;
    const ok = FAST[ft];
    const out = values; // change sets hold arrays built for this commit: checked in place
    for (let i = 0; i < n; i++) {
      const v = values[i];
      if (v === undefined) out[i] = null;
      else if (v === null) {
        out[i] = null;
        (cleared[i] ??= []).push(name);
      } else if (ok(v)) out[i] = v;
      else if (ft === "blob" && typeof v === "string" && blobs.has(v)) out[i] = v; // the hash of a stored blob (e.g. a re-uploaded export)
      else out[i] = checkValue(v, ft, name, change.source ? `${where}row ${i + 1}: ` : "");
    }
    cols.push([name, ft, out]);
  }
  // Blobs are written only once the whole batch is valid (content-addressed, so a failed
  // commit leaves at most unreferenced files).
  for (const [, t, out] of cols) {
    if (t !== "blob" || isData(out)) continue;
    for (let i = 0; i < n; i++) if (out[i] instanceof Uint8Array) out[i] = blobs.put(out[i] as Uint8Array);
  }
  const seq = new Array<number>(n);
  for (let i = 0; i < n; i++) seq[i] = seq0 + i;
  const unset = new Array<string | null>(n);
  for (let i = 0; i < n; i++) {
    const c = cleared[i];
    const del = deleted?.[i] === true;
    unset[i] = c && c.length ? (del ? DELETED.slice(0, -1) : "") + SEP + [...new Set(c)].join(SEP) + SEP : del ? DELETED : null;
  }
  const fields: Field[] = [new Field("path", new Utf8(), true), new Field("_seq", new Int64(), true)];
  const datas: Data[] = [change.pathData ?? buildData(fields[0]!.type, change.paths, "path"), buildData(fields[1]!.type, seq, "_seq")];
  // `_unset` only when this change clears something: a batch without it reads as null (schema
  // evolution), and plain uploads write one column less.
  if (unset.some((u) => u !== null)) {
    fields.push(new Field("_unset", new Utf8(), true));
    datas.push(buildData(fields[2]!.type, unset, "_unset"));
  }
  for (const [name, t, out] of cols) {
    const f = new Field(name, arrowType(t), true);
    fields.push(f);
    datas.push(isData(out) ? out : buildData(f.type, out, name));
  }
  const schema = new Schema(fields);
  return { batch: new RecordBatch(schema, makeData({ type: new Struct(fields), length: n, nullCount: 0, children: datas })), newFields };
}

/** The first seq not visible at `asOf` (events of later commits are ignored). */
export async function seqBound(store: Store, commits: string, asOf: Date): Promise<number> {
  let bound = 0;
  if (!(await store.schema(commits))) return 0;
  for await (const b of store.scan(commits, { where: { op: "le", field: "ts", value: asOf } })) {
    for (const s of vectorToValues(b.getChild("seq1")!) as number[]) bound = Math.max(bound, s);
  }
  return bound;
}

/** Current (or as-of) state folded from the events in JS: any store. */
export interface State {
  paths: string[];
  columns: Map<string, unknown[]>;
}

export async function foldEvents(store: Store, table: string, fieldNames: readonly string[], bound?: number): Promise<State> {
  const index = new Map<string, number>();
  const paths: string[] = [];
  const columns = new Map<string, unknown[]>(fieldNames.map((f) => [f, []]));
  const schema = await store.schema(table);
  if (!schema) return { paths, columns };
  const present = new Set(schema.fields.map((f) => f.name));
  const where = bound !== undefined ? { op: "lt" as const, field: "_seq", value: bound } : undefined;
  // Events come in insertion order, which is _seq order for a single writer; sort if not.
  const batches: RecordBatch[] = [];
  for await (const b of store.scan(table, { where })) batches.push(b);
  const evs: { seq: number[]; path: unknown[]; unset: unknown[]; vals: (unknown[] | undefined)[] }[] = [];
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
    evs.push({ seq, path: col("path")!, unset: col("_unset") ?? new Array(seq.length).fill(null), vals: fieldNames.map((f) => (present.has(f) ? col(f) : undefined)) });
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
    const u = e.unset[r] as string | null;
    if (u && u.startsWith(DELETED)) for (const a of arrs) a[idx] = null;
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
