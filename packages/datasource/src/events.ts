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
import { type Data, type DataType, Field, RecordBatch, Schema, Struct, makeData, makeVector } from "apache-arrow";
import { Int64, Utf8 } from "apache-arrow";
import { QuiverError, type Store, buildData, sameType, vectorToValues } from "@quiver/core";
import { BlobStore } from "./blobs.js";
import { markCounting } from "./delta.js";
import type { LogState } from "./log.js";
import { type FieldType, LIST_FAST, arrowType, checkValue, mergeInferred, typeOfValue, wellFormed } from "./types.js";

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

/** Rows of a change (without decoding paths that came as Arrow data). */
export function changeSize(change: ChangeSet): number {
  return change.pathData ? change.pathData.length : change.paths.length;
}

export function validateFieldName(name: string): string {
  if (typeof name !== "string" || name.length === 0 || name.length > 255 || /[\u0000-\u001f]/.test(name) || !wellFormed(name)) {
    throw new QuiverError("INVALID_NAME", `metadata field name ${JSON.stringify(name)} must be 1-255 characters without control characters or lone surrogates`);
  }
  if (INTERNAL.has(name)) throw new QuiverError("INVALID_NAME", `metadata field name ${JSON.stringify(name)} is reserved; choose another name`);
  return name;
}

/** A field as the log knows it: its type and the events table ("shard") holding its column. */
export interface FieldRec {
  name: string;
  type: FieldType;
  shard: number;
}

/**
 * Fields per events table. A table holding every field made each commit cost O(all fields)
 * (a store writes, and a scan pads, every column of every row): 1,000 one-field updates took
 * 21 s. Past this width new fields go to the next table, so a commit costs O(its own tables).
 */
export const SHARD_WIDTH = 64;

export interface Prepared {
  /** One batch per events table the commit writes (shard 0 always, with every path). */
  batches: Map<number, RecordBatch>;
  newFields: FieldRec[];
  /** Blob contents by hash, to be stored before the events are appended. */
  blobs: Map<string, Uint8Array>;
}

/** The fields known so far, indexed by name, by lower-cased name and by shard fill (kept across commits). */
export class FieldIndex {
  readonly list: FieldRec[] = [];
  readonly byName = new Map<string, FieldRec>();
  private readonly lower = new Map<string, string>();
  private lastShard = 0;
  private lastWidth = 0;

  add(f: FieldRec): void {
    if (this.byName.has(f.name)) return;
    this.list.push(f);
    this.byName.set(f.name, f);
    if (!this.lower.has(f.name.toLowerCase())) this.lower.set(f.name.toLowerCase(), f.name);
    if (f.shard > this.lastShard) (this.lastShard = f.shard), (this.lastWidth = 0);
    if (f.shard === this.lastShard) this.lastWidth++;
  }

  /** The shard new fields go to first. */
  get last(): number {
    return this.lastShard;
  }

  /**
   * Shards for new fields: the last shard until it is SHARD_WIDTH wide, then a new one; or from
   * `start` on (a shard with no columns yet).
   */
  shardPlanner(start?: number): () => number {
    let last = start ?? this.lastShard;
    let used = start === undefined ? this.lastWidth : 0;
    return () => {
      if (used >= SHARD_WIDTH) last++, (used = 0);
      used++;
      return last;
    };
  }

  /** A known field whose name differs from `name` only in case. */
  caseTwin(name: string): string | undefined {
    const other = this.lower.get(name.toLowerCase());
    return other !== undefined && other !== name ? other : undefined;
  }
}

/** A new field whose name differs only in case from another: DuckDB's columns are case-insensitive. */
function caseError(name: string, other: string): QuiverError {
  return new QuiverError(
    "INVALID_NAME",
    `metadata field ${JSON.stringify(name)} differs only in case from the field ${JSON.stringify(other)}; nothing of this batch was written. Use the same spelling or another name`,
  );
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
  string: (v) => typeof v === "string" && wellFormed(v),
  datetime: (v) => v instanceof Date && !Number.isNaN(v.getTime()),
  blob: () => false, // hashed and stored below
  ...LIST_FAST, // multivalue: every element is checked
};

function isData(x: unknown): x is Data {
  return !Array.isArray(x);
}

/**
 * Validates a change against the field types (inferring new ones), stores blobs, and builds the
 * events batch. Throws before anything is written.
 */
export function prepare(change: ChangeSet, known: FieldIndex, declared: ReadonlyMap<string, FieldType> | undefined, blobs: BlobStore, seq0: number, startShard?: number): Prepared {
  const n = changeSize(change);
  const where = change.source ? `${change.source}: ` : "";
  const newFields: FieldRec[] = [];
  const nextShard = known.shardPlanner(startShard);
  const lower = new Map<string, string>();
  const addField = (name: string, type: FieldType): void => {
    const twin = known.caseTwin(name) ?? lower.get(name.toLowerCase());
    if (twin !== undefined) throw caseError(name, twin);
    lower.set(name.toLowerCase(), name);
    newFields.push({ name, type, shard: nextShard() });
  };
  const cols: [string, FieldType, unknown[] | Data][] = [];
  const cleared: (string[] | undefined)[] = change.unset ? change.unset.slice() : [];
  const deleted = change.deleted;
  for (const [name, values] of change.fields) {
    validateFieldName(name);
    let t = known.byName.get(name)?.type;
    if (isData(values)) {
      // Arrow data of the field's type: checked by type once, not per value.
      t ??= declared?.get(name);
      if (t === undefined) throw new QuiverError("INVALID_VALUE", `field ${JSON.stringify(name)} has no type`);
      if (!sameType(values.type, arrowType(t))) throw new QuiverError("SCHEMA_MISMATCH", `${where}field ${JSON.stringify(name)} is ${t} but the column is ${String(values.type)}`);
      if (!known.byName.has(name)) addField(name, t);
      cols.push([name, t, values]);
      continue;
    }
    if (t === undefined && declared?.has(name) && values.some((v) => v != null)) {
      t = declared.get(name)!;
      addField(name, t);
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
      addField(name, t!);
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
      else if (ft === "blob" && typeof v === "string" && blobs.has(v))
        out[i] = v; // the hash of a stored blob (e.g. a re-uploaded export)
      else out[i] = checkValue(v, ft, name, change.source ? `${where}row ${i + 1}: ` : "");
    }
    cols.push([name, ft, out]);
  }
  // Blobs are hashed here and written by the commit, once everything else is known to be valid.
  const pendingBlobs = new Map<string, Uint8Array>();
  for (const [, t, out] of cols) {
    if (t !== "blob" || isData(out)) continue;
    for (let i = 0; i < n; i++) {
      const b = out[i];
      if (!(b instanceof Uint8Array)) continue;
      const h = BlobStore.hash(b);
      pendingBlobs.set(h, b);
      out[i] = h;
    }
  }
  // Nothing cleared or deleted (an upload, a scan): no `_unset` column, and no pass over the rows for it.
  const clears = deleted?.some((d) => d) || cleared.some((c) => c?.length);
  const unset = clears ? new Array<string | null>(n) : undefined;
  for (let i = 0; unset && i < n; i++) {
    const c = cleared[i];
    const del = deleted?.[i] === true;
    unset[i] = c?.length ? (del ? DELETED.slice(0, -1) : "") + SEP + [...new Set(c)].join(SEP) + SEP : del ? DELETED : null;
  }
  const shardOf = new Map<string, number>();
  for (const f of newFields) shardOf.set(f.name, f.shard);
  const byShard = new Map<number, [string, FieldType, unknown[] | Data][]>([[0, []]]);
  for (const c of cols) {
    const sh = known.byName.get(c[0])?.shard ?? shardOf.get(c[0]) ?? 0;
    let l = byShard.get(sh);
    if (!l) byShard.set(sh, (l = []));
    l.push(c);
  }
  const batches = new Map<number, RecordBatch>();
  for (const [sh, list] of byShard) {
    // Shard 0 holds every path of the commit (and what it cleared); the others only the rows
    // that set one of their fields.
    const rows = sh === 0 ? undefined : rowsWithValues(list, n);
    if (rows && rows.length === 0) continue;
    batches.set(sh, buildBatch(change, list, seq0, n, sh === 0 ? unset : undefined, rows));
  }
  return { batches, newFields, blobs: pendingBlobs };
}

function rowsWithValues(list: readonly [string, FieldType, unknown[] | Data][], n: number): number[] | undefined {
  const has = new Uint8Array(n);
  for (const [, , out] of list) {
    if (isData(out)) {
      const v = makeVector(out);
      for (let i = 0; i < n; i++) if (v.isValid(i)) has[i] = 1;
    } else for (let i = 0; i < n; i++) if (out[i] !== null) has[i] = 1;
  }
  const rows: number[] = [];
  for (let i = 0; i < n; i++) if (has[i]) rows.push(i);
  return rows.length === n ? undefined : rows;
}

/** One events batch: path, _seq, _unset (when given and not all null), then the fields; `rows` picks a subset. */
function buildBatch(
  change: ChangeSet,
  list: readonly [string, FieldType, unknown[] | Data][],
  seq0: number,
  total: number,
  unset: (string | null)[] | undefined,
  rows: number[] | undefined,
): RecordBatch {
  const pick = <T>(a: readonly T[]): T[] => (rows ? rows.map((i) => a[i]!) : (a as T[]));
  const n = rows ? rows.length : total;
  const fields: Field[] = [new Field("path", new Utf8(), true), new Field("_seq", new Int64(), true)];
  const datas: Data[] = [change.pathData && !rows ? change.pathData : buildData(fields[0]!.type, pick(change.paths), "path"), seqData(fields[1]!.type, seq0, n, rows)];
  // `_unset` only when this change clears something: a batch without it reads as null (schema
  // evolution), and plain uploads write one column less.
  if (unset?.some((u) => u !== null)) {
    fields.push(new Field("_unset", new Utf8(), true));
    datas.push(buildData(fields[2]!.type, pick(unset), "_unset"));
  }
  for (const [name, t, out] of list) {
    const f = new Field(name, arrowType(t), true);
    fields.push(f);
    if (isData(out)) datas.push(rows ? buildData(f.type, pick(vectorToValues(makeVector(out), f)), name) : out);
    else datas.push(buildData(f.type, pick(out), name));
  }
  const schema = new Schema(fields);
  return new RecordBatch(schema, makeData({ type: new Struct(fields), length: n, nullCount: 0, children: datas }));
}

/** `_seq` (seq0 + row, of `rows` or of every row) as Arrow Int64 data, written as 32-bit words (buildData converts each to a BigInt: 1M took 77 ms). */
function seqData(type: DataType, seq0: number, n: number, rows: readonly number[] | undefined): Data {
  const w = new Int32Array(2 * n);
  if (rows)
    for (let i = 0; i < n; i++) {
      const x = seq0 + rows[i]!;
      const hi = Math.floor(x / 4294967296);
      w[2 * i] = (x - hi * 4294967296) | 0;
      w[2 * i + 1] = hi;
    }
  else {
    // seq0, seq0 + 1, …: the low word counts up, carrying into the high one
    let hi = Math.floor(seq0 / 4294967296);
    let lo = seq0 - hi * 4294967296;
    for (let i = 0; i < 2 * n; i += 2) {
      w[i] = lo | 0;
      w[i + 1] = hi;
      if (++lo === 4294967296) (lo = 0), hi++;
    }
  }
  const values = new BigInt64Array(w.buffer);
  if (!rows) markCounting(values, seq0); // the segment writer need not check that they count up
  return makeData({ type: type as Int64, length: n, nullCount: 0, data: values as never });
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

/** What foldEvents reads the events through (log.ts's EventLog). */
export interface EventSource {
  scanEvents(shard: number, st: LogState, read: { from?: number; to: number }): AsyncIterable<RecordBatch>;
}

/** Current (or as-of) state folded from the events in JS: any store. */
export interface State {
  paths: string[];
  columns: Map<string, unknown[]>;
}

/**
 * Folds the events of every shard with `_seq < bound` (the committed ones) into the state. Rows
 * of one change share their `_seq`; shard 0's (which carry what the change cleared) go first.
 */
export async function foldEvents(log: EventSource, st: LogState, fields: readonly FieldRec[], bound: number): Promise<State> {
  const index = new Map<string, number>();
  const paths: string[] = [];
  const fieldNames = fields.map((f) => f.name);
  const columns = new Map<string, unknown[]>(fieldNames.map((f) => [f, []]));
  const slot = new Map<string, number>(fieldNames.map((f, k) => [f, k]));
  type Ev = { seq: number[]; path: unknown[]; unset: unknown[] | undefined; vals: [number, unknown[]][] };
  const evs: Ev[] = [];
  let sorted = true;
  let last = -Infinity;
  const shards = fields.reduce((m, f) => Math.max(m, f.shard), 0) + 1;
  for (let sh = 0; sh < shards; sh++) {
    for await (const b of log.scanEvents(sh, st, { to: bound })) {
      const mine = fields.filter((f) => f.shard === sh && b.schema.fields.some((x) => x.name === f.name));
      const col = (name: string): unknown[] | undefined => {
        const i = b.schema.fields.findIndex((f) => f.name === name);
        if (i < 0) return undefined;
        const v = b.getChildAt(i)!;
        return v.nullCount === v.length ? undefined : vectorToValues(v, b.schema.fields[i]);
      };
      const seq = col("_seq") as number[] | undefined;
      if (!seq) continue;
      for (const s of seq) {
        if (s < last) sorted = false;
        last = s;
      }
      const vals: [number, unknown[]][] = [];
      for (const f of mine) {
        const v = col(f.name);
        if (v) vals.push([slot.get(f.name)!, v]);
      }
      evs.push({ seq, path: col("path")!, unset: sh === 0 ? col("_unset") : undefined, vals });
    }
  }
  let order: [number, number][] | undefined;
  if (!sorted) {
    // Stable: equal seqs keep shard order (shard 0, with its clears, first).
    order = [];
    evs.forEach((e, bi) => e.seq.forEach((_, r) => order!.push([bi, r])));
    order.sort((a, b) => evs[a[0]]!.seq[a[1]]! - evs[b[0]]!.seq[b[1]]!);
  }
  const arrs = fieldNames.map((f) => columns.get(f)!);
  const apply = (e: Ev, r: number): void => {
    const p = e.path[r] as string;
    let idx = index.get(p);
    if (idx === undefined) {
      idx = paths.length;
      index.set(p, idx);
      paths.push(p);
      for (const a of arrs) a.push(null);
    }
    const u = e.unset?.[r] as string | null | undefined;
    if (u?.startsWith(DELETED)) for (const a of arrs) a[idx] = null;
    if (u)
      for (const name of u.slice(1, -1).split(SEP)) {
        const k = slot.get(name);
        if (k !== undefined) arrs[k]![idx] = null;
      }
    for (const [k, vs] of e.vals) {
      const v = vs[r];
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
