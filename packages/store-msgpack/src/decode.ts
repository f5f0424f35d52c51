/** msgpack records → Arrow batches in the table's schema (decoded by msgpackr). */
import { type Data, type DataType, Field, Int64, makeData, RecordBatch, Schema, Struct, Type } from "apache-arrow";
import { Unpackr } from "msgpackr";
import { buildData, isTensorType, mergeSchemas, QuiverError, type Row, rowsToBatch } from "@quiver/core";

/** Plain msgpack maps as JS objects; 64-bit ints as numbers when safe. */
export const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "auto" as "number" });

/** The decoded records of one index block. */
export type Segment = { kind: 0; rows: Row[]; n: number } | { kind: 1; cols: Record<string, unknown[]>; n: number };

/** A decoded msgpack map (msgpackr gives plain objects; garbage bytes decode to other things). */
export function isPlainMap(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

function corrupt(what: string): QuiverError {
  return new QuiverError("IO", `corrupt data: ${what}; the file was changed by something other than Quiver`);
}

function listDepth(t: DataType | undefined): number {
  let d = 0;
  while (t && t.typeId === Type.List) {
    d++;
    t = t.children[0]!.type;
  }
  return d;
}

function valueDepth(v: unknown): number {
  let d = 0;
  while (Array.isArray(v)) {
    d++;
    v = v.find((x) => x != null);
  }
  return d;
}

/**
 * Whether a record is columnar ({ col: [v, …] }) rather than one row. Only needed for records
 * without an index entry (recovery, files written by other tools): every value is an array of
 * one length and, where the schema knows the column, one level deeper than a row's value.
 */
export function isColumnar(rec: Record<string, unknown>, schema: Schema | undefined): boolean {
  const keys = Object.keys(rec);
  if (!keys.length) return false;
  let len = -1;
  let decided = false;
  for (const k of keys) {
    const v = rec[k];
    if (!Array.isArray(v)) return false;
    if (len >= 0 && v.length !== len) return false;
    len = v.length;
    const first = v.find((x) => x != null);
    if (first === undefined) continue;
    const t = schema?.fields.find((f) => f.name === k)?.type;
    const depth = t ? listDepth(t) : isPlainMap(first) ? 0 : Array.isArray(first) ? -1 : 0;
    if (t && isTensorType(t)) {
      if (!isPlainMap(first)) return false;
      decided = true;
      continue;
    }
    if (depth < 0) continue; // no schema and arrays inside: undecided
    if (valueDepth(first) !== depth) return false;
    decided = true;
  }
  return decided || k0IsTs(rec);
}

function k0IsTs(rec: Record<string, unknown>): boolean {
  return Array.isArray(rec._ts);
}

/** Decodes one index block; throws IO when its bytes are not what the index says. */
export function decodeSegment(buf: Buffer, kind: 0 | 1, rowsExpected?: number): Segment {
  let seg: Segment;
  try {
    if (kind === 1) {
      const cols = unpackr.unpack(buf) as Record<string, unknown[]>;
      if (!isPlainMap(cols)) throw corrupt("a columnar record is not a map");
      let n = -1;
      for (const k in cols) {
        const c = cols[k];
        if (!Array.isArray(c) || (n >= 0 && c.length !== n)) throw corrupt(`column ${JSON.stringify(k)} of a columnar record is not an array of the record's length`);
        n = c.length;
      }
      seg = { kind: 1, cols, n: Math.max(0, n) };
    } else {
      const rows = buf.length ? (unpackr.unpackMultiple(buf) as Row[]) : [];
      for (const r of rows) if (!isPlainMap(r)) throw corrupt("a record is not a map");
      seg = { kind: 0, rows, n: rows.length };
    }
  } catch (err) {
    if (err instanceof QuiverError) throw err;
    throw corrupt((err as Error).message);
  }
  if (rowsExpected !== undefined && seg.n !== rowsExpected) throw corrupt(`a block holds ${seg.n} rows where the index says ${rowsExpected}`);
  return seg;
}

export function segmentFromRecords(records: unknown[], kind: 0 | 1): Segment {
  if (kind === 1) {
    const cols = records[0] as Record<string, unknown[]>;
    let n = 0;
    for (const k in cols) {
      n = (cols[k] as unknown[]).length;
      break;
    }
    return { kind: 1, cols, n };
  }
  return { kind: 0, rows: records as Row[], n: records.length };
}

/** `_ts` of row i of a segment (undefined when missing). */
export function tsOf(seg: Segment, i: number): unknown {
  return seg.kind === 0 ? seg.rows[i]!._ts : seg.cols._ts?.[i];
}

/** Values of one column over whole segments, in order. */
export function columnOf(segs: readonly Segment[], name: string, total: number): unknown[] {
  const out = new Array<unknown>(total);
  let p = 0;
  for (const s of segs) {
    if (s.kind === 0) {
      const rows = s.rows;
      for (let i = 0; i < s.n; i++) out[p++] = rows[i]![name];
    } else {
      const col = s.cols[name];
      if (col) for (let i = 0; i < s.n; i++) out[p++] = col[i];
      else for (let i = 0; i < s.n; i++) out[p++] = null;
    }
  }
  return out;
}

export function batchOf(schema: Schema, datas: Data[], n: number): RecordBatch {
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children: datas }));
}

/** One batch of whole segments in `schema` (plus an int64 row-index column when asked). */
export function segmentsToBatch(segs: readonly Segment[], schema: Schema, rowIndex?: { name: string; firstRows: readonly number[] }): RecordBatch {
  let n = 0;
  for (const s of segs) n += s.n;
  const datas = schema.fields.map((f) => buildData(f.type, columnOf(segs, f.name, n), f.name));
  let s = schema;
  if (rowIndex) {
    const idx = new Array<number>(n);
    let p = 0;
    segs.forEach((seg, k) => {
      const base = rowIndex.firstRows[k]!;
      for (let i = 0; i < seg.n; i++) idx[p++] = base + i;
    });
    s = withIndexField(schema, rowIndex.name);
    datas.push(buildData(new Int64(), idx));
  }
  return batchOf(s, datas, n);
}

export function withIndexField(schema: Schema, name: string): Schema {
  return new Schema([...schema.fields, new Field(name, new Int64(), false)], schema.metadata);
}

/** Rows of a segment as plain objects (columnar records expanded). */
export function segmentRows(seg: Segment): Row[] {
  if (seg.kind === 0) return seg.rows;
  const keys = Object.keys(seg.cols);
  const out: Row[] = [];
  for (let i = 0; i < seg.n; i++) {
    const r: Row = {};
    for (const k of keys) {
      const v = seg.cols[k]![i];
      if (v != null) r[k] = v;
    }
    out.push(r);
  }
  return out;
}

/** A schema for records written without a sidecar (e.g. by dreamlake itself). */
export function inferSchema(segs: readonly Segment[], start?: Schema): Schema | undefined {
  let schema = start;
  for (const s of segs) {
    const rows = segmentRows(s);
    if (!rows.length) continue;
    const clean = rows.map((r) => {
      const o: Row = {};
      for (const k in r) {
        const v = r[k];
        // msgpackr hands out Buffer views; the core types them as Uint8Array binary either way
        o[k] = v;
      }
      return o;
    });
    schema = mergeSchemas(schema, rowsToBatch(clean, { schema }).schema);
  }
  return schema;
}
