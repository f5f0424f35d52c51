/**
 * The hot state: a datasource's current metadata kept in this process, column by column
 * (columns.ts), and maintained incrementally from the event log — never rebuilt by a write.
 *
 *  - Rows are datapoints in the order they were first seen; `order` (when not null) lists them
 *    in path order (UTF-8 bytes, as DuckDB sorts), so `ORDER BY path` costs nothing and
 *    `head(n)` stops after n matches.
 *  - A commit of this process is applied from the batches it appended (nothing is read back);
 *    commits of other processes are read from the store: the events at `_seq >= bound` only.
 *  - A query reads only the columns it filters on and returns, and builds its Arrow result by
 *    copying bytes (no per-value conversion).
 *
 * It is a cache: the store's event log stays the truth. Anything it cannot follow (a range of
 * events spread over several events tables, a state beyond MAX_CELLS) drops it, and the query
 * runs in SQL as before.
 */
import { type Data, DataType, Field, RecordBatch, Schema, Struct, Table, TimeUnit, Type, Utf8, makeData } from "apache-arrow";
import type { OrderBy, QueryNode } from "@quiver/core";
import { AnyColumn, BoolColumn, type Column, F64Column, I64Column, StrColumn, cmpBytes, increasingData, ones } from "./columns.js";
import { DELETED, type FieldRec, SEP } from "./events.js";
import { T, compileKernel } from "./kernels.js";
import type { EventLog, LogState } from "./log.js";
import { type FieldType, arrowType, isListType } from "./types.js";

/** Rows × (fields + 1) beyond which the state is not kept in memory (the SQL engine serves). */
export const MAX_CELLS = 64_000_000;
const CHUNK = 65_536;
const dec = new TextDecoder("utf-8", { ignoreBOM: true });

function newColumn(t: FieldType): Column {
  const at = arrowType(t);
  if (isListType(t)) return new AnyColumn(at);
  switch (t) {
    case "int":
    case "datetime":
      return new I64Column(at);
    case "float":
      return new F64Column(at);
    case "bool":
      return new BoolColumn(at);
    default:
      return new StrColumn(at);
  }
}

/** Whether an Arrow column can be read by the column of this field type directly. */
function layoutOk(t: FieldType, d: Data): boolean {
  if (isListType(t)) return d.type.typeId === Type.List;
  switch (t) {
    case "int":
      return DataType.isInt(d.type) && d.type.bitWidth === 64 && d.type.isSigned;
    case "datetime":
      return DataType.isTimestamp(d.type) && d.type.unit === TimeUnit.MICROSECOND;
    case "float":
      return d.type.typeId === Type.Float && d.values instanceof Float64Array;
    case "bool":
      return d.type.typeId === Type.Bool;
    default:
      return d.type.typeId === Type.Utf8;
  }
}

export class HotError extends Error {}

export class HotState {
  readonly path = new StrColumn(new Utf8());
  readonly cols = new Map<string, { rec: FieldRec; col: Column }>();
  /** Path order of the rows, or null when the rows are in path order already. */
  private order: Int32Array | null = null;
  /** 1 while the row has any field set (a datapoint). */
  private alive = new Uint8Array(16);
  private dead = 0;

  constructor(
    /** Events below this `_seq` are applied. */
    public bound: number,
  ) {}

  get rows(): number {
    return this.path.n;
  }

  get cells(): number {
    return this.path.n * (this.cols.size + 1);
  }

  /** Adds columns (all null) for fields not seen yet. */
  ensureFields(fields: readonly FieldRec[]): void {
    for (const f of fields) {
      if (this.cols.has(f.name)) continue;
      const col = newColumn(f.type);
      col.pushNulls(this.path.n);
      this.cols.set(f.name, { rec: f, col });
    }
  }

  private rank(r: number): number {
    return this.order ? this.order[r]! : r;
  }

  /** The row of a path (binary search in path order), or -1. */
  private find(key: Uint8Array): number {
    let lo = 0;
    let hi = this.path.n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const row = this.rank(mid);
      const c = cmpBytes(this.path.at(row), key);
      if (c === 0) return row;
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /**
   * The row of every path of `pd` (creating rows for new paths, in order of first sight) and
   * `first`: for each new row, the index in `pd` of its first occurrence.
   */
  private locate(pd: Data): { rows: Int32Array | null; first: Int32Array | null; added: number } {
    const k = pd.length;
    const n0 = this.path.n;
    const po = pd.valueOffsets as Int32Array;
    const pb = pd.values as Uint8Array;
    const key = (i: number): Uint8Array => pb.subarray(po[i]!, po[i + 1]!);
    const sorted = increasingData(pd);
    // Distinct paths, all after the last one: appended as they are (a first upload, a scan); rows null: row i is n0 + i.
    if (sorted && k > 0 && (n0 === 0 || cmpBytes(this.path.at(this.rank(n0 - 1)), key(0)) < 0)) {
      this.path.append(pd, null, k);
      this.grow(k, true);
      if (this.order) this.order = extendOrder(this.order, n0, k);
      return { rows: null, first: null, added: k };
    }
    const rows = new Int32Array(k);
    const fresh = new Map<string, number>();
    const first: number[] = [];
    for (let i = 0; i < k; i++) {
      const b = key(i);
      let r = this.find(b);
      if (r < 0) {
        const s = dec.decode(b);
        r = fresh.get(s) ?? -1;
        if (r < 0) {
          r = n0 + first.length;
          fresh.set(s, r);
          first.push(i);
        }
      }
      rows[i] = r;
    }
    const added = first.length;
    if (added === 0) return { rows, first: new Int32Array(0), added };
    const idx = Int32Array.from(first);
    this.path.append(pd, idx, added);
    this.grow(added, false);
    // The new rows sorted among themselves, then merged into the path order.
    const fresh2 = Int32Array.from({ length: added }, (_, j) => n0 + j).sort((a, b) => cmpBytes(this.path.at(a), this.path.at(b)));
    const merged = new Int32Array(n0 + added);
    let a = 0;
    let b = 0;
    let identity = true;
    for (let r = 0; r < n0 + added; r++) {
      let pick: number;
      if (b >= added || (a < n0 && cmpBytes(this.path.at(this.rank(a)), this.path.at(fresh2[b]!)) < 0)) pick = this.rank(a++);
      else pick = fresh2[b++]!;
      merged[r] = pick;
      if (pick !== r) identity = false;
    }
    this.order = identity ? null : merged;
    return { rows, first: idx, added };
  }

  private grow(k: number, live: boolean): void {
    const n = this.path.n;
    if (this.alive.length < n) {
      const a = new Uint8Array(Math.max(n, this.alive.length * 2));
      a.set(this.alive);
      this.alive = a;
    }
    this.alive.fill(live ? 1 : 0, n - k, n);
    if (!live) this.dead += k;
    for (const { col } of this.cols.values()) if (col.n < n - k) col.pushNulls(n - k - col.n);
  }

  private setAlive(r: number, v: number): void {
    if (this.alive[r] === v) return;
    this.alive[r] = v;
    this.dead += v ? -1 : 1;
  }

  private recompute(r: number): void {
    let v = 0;
    for (const { col } of this.cols.values()) if (col.valid[r]) v = 1;
    this.setAlive(r, v);
  }

  /**
   * Applies one events batch of one commit (`path`, `_seq`, maybe `_unset`, field columns;
   * nulls = untouched), rows in `_seq` order. Shard 0's batch goes first (it carries the clears).
   */
  applyBatch(batch: RecordBatch, fields: ReadonlyMap<string, FieldRec>): void {
    const k = batch.numRows;
    if (k === 0) return;
    const names = batch.schema.fields.map((f) => f.name);
    const child = (name: string): Data | undefined => {
      const i = names.indexOf(name);
      const v = i < 0 ? undefined : batch.getChildAt(i);
      if (!v) return undefined;
      if (v.data.length !== 1) throw new HotError("a column in several chunks");
      return v.data[0];
    };
    const pd = child("path");
    if (!pd || pd.type.typeId !== Type.Utf8 || pd.nullCount > 0) throw new HotError("no path column");
    const sets: [Column, Data, Uint8Array][] = [];
    for (const name of names) {
      if (name === "path" || name === "_seq" || name === "_unset") continue;
      const rec = fields.get(name);
      const d = child(name)!;
      if (!rec) {
        if (d.nullCount === d.length) continue; // a column no committed field owns (left by a failed commit)
        throw new HotError(`field ${name} is not committed`);
      }
      if (d.nullCount === d.length) continue;
      if (!layoutOk(rec.type, d)) throw new HotError(`field ${name} has layout ${String(d.type)}`);
      this.ensureFields([rec]);
      sets.push([this.cols.get(name)!.col, d, validFlags(d)]);
    }
    const ud = child("_unset");
    const unset = ud && ud.nullCount < ud.length ? ud : undefined;
    const { rows: located, first, added } = this.locate(pd);
    const n0 = this.path.n - added;
    const isFirst = first === null ? ones(k) : new Uint8Array(k);
    if (first !== null) for (let j = 0; j < added; j++) isFirst[first[j]!] = 1;
    // New rows: their first occurrence's values are appended column by column.
    if (added > 0) {
      const touched = new Set<Column>();
      for (const [col, d] of sets) {
        col.append(d, first, added);
        touched.add(col);
      }
      for (const { col } of this.cols.values()) if (!touched.has(col) && col.n < this.path.n) col.pushNulls(this.path.n - col.n);
      // alive: any value set on the first occurrence (every row when a column has no nulls)
      const full = first === null && sets.some(([, d]) => d.nullCount === 0);
      for (let j = 0; j < added && !full; j++) {
        const i = first ? first[j]! : j;
        let v = 0;
        for (const [, , ok] of sets) if (ok[i]) v = 1;
        this.setAlive(n0 + j, v);
      }
    }
    // Every other row (existing paths, repeated paths) in order: clears first, then sets.
    let us: Int32Array | undefined;
    let ub: Uint8Array | undefined;
    if (unset) {
      us = unset.valueOffsets as Int32Array;
      ub = unset.values as Uint8Array;
    }
    const uvalid = unset ? validFlags(unset) : undefined;
    // Only new paths and nothing cleared (an upload, a scan): every row was appended above.
    if (first === null && !unset) return;
    const rows = located ?? Int32Array.from({ length: k }, (_, i) => n0 + i);
    for (let i = 0; i < k; i++) {
      const r = rows[i]!;
      const u = unset && uvalid![i] ? dec.decode(ub!.subarray(us![i]!, us![i + 1]!)) : undefined;
      if (isFirst[i] && !u) continue;
      let cleared = false;
      if (u) {
        if (u.startsWith(DELETED)) for (const { col } of this.cols.values()) col.clear(r);
        for (const name of u.slice(1, -1).split(SEP)) this.cols.get(name)?.col.clear(r);
        cleared = true;
        // A new row's own values were appended before its clears: set them again.
        if (isFirst[i]) for (const [col, d, ok] of sets) if (ok[i]) col.setFrom(r, d, i);
      }
      if (!isFirst[i]) {
        let any = false;
        for (const [col, d, ok] of sets) {
          if (ok[i]) {
            col.setFrom(r, d, i);
            any = true;
          }
        }
        if (any && !cleared) this.setAlive(r, 1);
      }
      if (cleared) this.recompute(r);
    }
  }

  /**
   * Reads and applies the events of other processes, `bound` ≤ `_seq` < `to`, from the store.
   * Throws HotError when they cannot be followed (the caller reloads).
   */
  async catchUp(log: EventLog, st: LogState, fields: readonly FieldRec[], to: number): Promise<void> {
    if (to === this.bound) return;
    if (to < this.bound) throw new HotError("the log shrank");
    const byName = new Map(fields.map((f) => [f.name, f]));
    this.ensureFields(fields);
    const shards = fields.reduce((m, f) => Math.max(m, f.shard), 0) + 1;
    const per: RecordBatch[][] = [];
    for (let sh = 0; sh < shards; sh++) {
      const got: RecordBatch[] = [];
      for await (const b of log.scanEvents(sh, st, { from: this.bound, to })) if (b.numRows) got.push(b);
      per.push(got);
    }
    // Events spread over several tables would have to be merged in `_seq` order: reload instead.
    if (per.slice(1).some((g) => g.length)) throw new HotError("events in several tables");
    // The table's rows, then each segment's: in `_seq` order once the batches are (checked below).
    const first = (b: RecordBatch): number => Number(b.getChild("_seq")!.get(0));
    const batches = (per[0] ?? []).sort((a, b) => first(a) - first(b));
    let last = -1;
    for (const b of batches) {
      const seq = b.getChild("_seq")!.toArray() as ArrayLike<bigint | number>;
      for (let i = 0; i < seq.length; i++) {
        const s = Number(seq[i]);
        if (s < last) throw new HotError("events out of order");
        last = s;
      }
    }
    for (const b of batches) this.applyBatch(singleChunk(b), byName);
    this.bound = to;
  }

  /**
   * Runs a query on the state: matching datapoints in path order, up to `limit`, with the
   * columns of `schema` (path first). Undefined when the query cannot run here.
   */
  query(where: QueryNode | undefined, limit: number | undefined, schema: Schema, orderBy: readonly OrderBy[] = []): Table | undefined {
    const cols = new Map<string, Column>([["path", this.path]]);
    for (const [name, { col }] of this.cols) cols.set(name, col);
    const kernel = where ? compileKernel(where, cols) : undefined;
    if (where && !kernel) return undefined;
    for (const f of schema.fields) if (!cols.has(f.name)) return undefined;
    const sorter = orderBy.length ? compileOrder(orderBy, cols) : undefined;
    if (orderBy.length && !sorter) return undefined;
    const n = this.path.n;
    // Sorted by other keys: every match first, then the sort (ties stay in path order).
    const max = Math.min(sorter ? n : (limit ?? n), n);
    const picked = new Int32Array(max);
    let m = 0;
    const rows = new Int32Array(Math.min(CHUNK, n));
    const state = new Uint8Array(rows.length);
    // In path order, a chunk at a time, until `limit` matches; chunks start small (a head(n)
    // reads about n rows) and grow to CHUNK.
    let size = Math.min(CHUNK, Math.max(256, 4 * max));
    for (let start = 0; start < n && m < max; start += size, size = Math.min(CHUNK, size * 4)) {
      const len = Math.min(size, n - start);
      if (this.order) rows.set(this.order.subarray(start, start + len));
      else for (let i = 0; i < len; i++) rows[i] = start + i;
      if (kernel) kernel(rows, len, state);
      const alive = this.alive;
      const all = this.dead === 0;
      for (let i = 0; i < len && m < max; i++) {
        const r = rows[i]!;
        if ((!kernel || state[i] === T) && (all || alive[r])) picked[m++] = r;
      }
    }
    let sel: Int32Array = picked.subarray(0, m);
    if (sorter) sel = sorter(sel).subarray(0, Math.min(limit ?? m, m));
    const datas = schema.fields.map((f) => cols.get(f.name)!.gather(sel));
    const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: sel.length, nullCount: 0, children: datas }));
    return new Table([batch]);
  }

  /** Field columns in a fresh state from an Arrow table of the state (path + fields, any order). */
  static fromTable(bound: number, table: Table, fields: readonly FieldRec[]): HotState {
    const h = new HotState(bound);
    h.ensureFields(fields);
    const byName = new Map(fields.map((f) => [f.name, f]));
    for (const b of table.batches) {
      // Arrow's own batches may hold columns in several chunks: rebuild as one per column.
      h.applyBatch(singleChunk(b), byName);
    }
    return h;
  }
}

/**
 * Sorts rows (given in path order) by the keys, as SQL's ORDER BY … NULLS LAST, path: a stable
 * comparison on each key's column, ties kept in path order. Undefined for a key it cannot compare.
 */
function compileOrder(keys: readonly OrderBy[], cols: ReadonlyMap<string, Column>): ((rows: Int32Array) => Int32Array) | undefined {
  const cmps: ((a: number, b: number) => number)[] = [];
  for (const k of keys) {
    const col = cols.get(k.column);
    const sign = k.direction === "desc" ? -1 : 1;
    let c: ((a: number, b: number) => number) | undefined;
    if (col instanceof I64Column) {
      const w = col.words;
      c = (a, b) => {
        const ha = w[2 * a + 1]!;
        const hb = w[2 * b + 1]!;
        if (ha !== hb) return ha < hb ? -1 : 1;
        const la = w[2 * a]! >>> 0;
        const lb = w[2 * b]! >>> 0;
        return la < lb ? -1 : la > lb ? 1 : 0;
      };
    } else if (col instanceof F64Column) {
      const v = col.vals;
      c = (a, b) => {
        const x = v[a]!;
        const y = v[b]!;
        if (x !== x) return y !== y ? 0 : 1; // NaN above every number
        if (y !== y) return -1;
        return x < y ? -1 : x > y ? 1 : 0;
      };
    } else if (col instanceof BoolColumn) {
      const v = col.vals;
      c = (a, b) => v[a]! - v[b]!;
    } else if (col instanceof StrColumn) {
      c = (a, b) => cmpBytes(col.at(a), col.at(b));
    }
    if (!col || !c) return undefined;
    const valid = col.valid;
    const cmp = c;
    cmps.push((a, b) => {
      const va = valid[a]!;
      const vb = valid[b]!;
      if (!va || !vb) return va === vb ? 0 : va ? -1 : 1; // nulls last either way
      return sign * cmp(a, b);
    });
  }
  return (rows) => {
    const pos = Array.from({ length: rows.length }, (_, j) => j);
    pos.sort((i, j) => {
      const a = rows[i]!;
      const b = rows[j]!;
      for (const c of cmps) {
        const d = c(a, b);
        if (d !== 0) return d;
      }
      return i - j;
    });
    return Int32Array.from(pos, (j) => rows[j]!);
  };
}

/** One byte per row, 1 where valid (read only: a column without nulls shares `ones`). */
function validFlags(d: Data): Uint8Array {
  const n = d.length;
  const bm = d.nullBitmap;
  if (!bm || d.nullCount === 0) return ones(n);
  const out = new Uint8Array(n);
  if (d.nullCount === n) return out;
  const o = d.offset;
  for (let i = 0; i < n; i++) out[i] = (bm[(o + i) >> 3]! >> ((o + i) & 7)) & 1;
  return out;
}

function extendOrder(order: Int32Array, n0: number, k: number): Int32Array {
  const out = new Int32Array(n0 + k);
  out.set(order);
  for (let i = 0; i < k; i++) out[n0 + i] = n0 + i;
  return out;
}

function singleChunk(b: RecordBatch): RecordBatch {
  const ok = b.schema.fields.every((_, i) => b.getChildAt(i)!.data.length === 1);
  if (ok) return b;
  const fields = b.schema.fields.map((f) => new Field(f.name, f.type, true));
  const datas = b.schema.fields.map((_, i) => b.getChildAt(i)!.data[0]!);
  return new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: b.numRows, nullCount: 0, children: datas }));
}
