/** msgpack records → Arrow batches in the table's schema (decoded by msgpackr). */
import { Binary, type Data, type DataType, type Float, Field, type Float64, Int64, makeData, RecordBatch, Schema, Struct, Type } from "apache-arrow";
import { buildData, isTensorType, mergeSchemas, QuiverError, type Row, rowsToBatch } from "@quiver/core";
import { columnsNeedCare, isPlainMap, isSeparator, MSGPACK_META, NL, rowNeedsCare, unpackr, walkColumns, walkRow } from "./records.js";

export { isPlainMap, unpackr };

/**
 * The decoded records of one index block. `raw` names columns that turned out to hold values
 * only their msgpack bytes can keep (lists of maps…), found while decoding without a schema.
 */
export type Segment = ({ kind: 0; rows: Row[]; n: number } | { kind: 1; cols: Record<string, unknown[]>; n: number }) & { raw?: Set<string> };

const NO_RAW: ReadonlySet<string> = new Set();
const rawCache = new WeakMap<Schema, { set: ReadonlySet<string>; key: string }>();

/** Columns of the schema that hold msgpack-encoded values (binary + `quiver:msgpack`). */
export function rawColumns(schema: Schema | undefined): ReadonlySet<string> {
  return rawInfo(schema).set;
}

/** A short key of rawColumns (cache keys of decoded blocks). */
export function rawKey(schema: Schema | undefined): string {
  return rawInfo(schema).key;
}

function rawInfo(schema: Schema | undefined): { set: ReadonlySet<string>; key: string } {
  if (!schema) return { set: NO_RAW, key: "" };
  let r = rawCache.get(schema);
  if (!r) {
    const names = schema.fields.filter((f) => f.metadata.get(MSGPACK_META) === "1").map((f) => f.name);
    r = names.length ? { set: new Set(names), key: names.join("\u0000") } : { set: NO_RAW, key: "" };
    rawCache.set(schema, r);
  }
  return r;
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

const TWO32 = 4294967296;

/**
 * Fast path for blocks of row records holding only scalars (the usual track point): decodes
 * straight into one array per column — no object per row, numbers stay unboxed. Returns
 * undefined for anything else (lists, maps, binary, extensions, bad bytes): msgpackr decodes it.
 */
export function decodeScalarRows(buf: Buffer): { cols: Record<string, unknown[]>; n: number } | undefined {
  const cols: Record<string, unknown[]> = Object.create(null) as Record<string, unknown[]>;
  const keyStart: number[] = [];
  const keyLen: number[] = [];
  const keyCol: unknown[][] = [];
  const len = buf.length;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  let p = 0;
  let n = 0;
  while (p < len) {
    const h = buf[p++]!;
    if (h === NL) continue; // msgpack-lines separator
    let m: number;
    if (h >= 0x80 && h <= 0x8f) m = h & 0x0f;
    else if (h === 0xde && p + 2 <= len) {
      m = buf.readUInt16BE(p);
      p += 2;
    } else return undefined;
    for (let j = 0; j < m; j++) {
      if (p >= len) return undefined;
      // key: a string, usually the same bytes as the previous record's j-th key
      const kh = buf[p]!;
      let ks: number;
      let kl: number;
      if (kh >= 0xa0 && kh <= 0xbf) {
        kl = kh & 0x1f;
        ks = p + 1;
      } else if (kh === 0xd9 && p + 1 < len) {
        kl = buf[p + 1]!;
        ks = p + 2;
      } else return undefined;
      if (ks + kl > len) return undefined;
      let col: unknown[] | undefined;
      if (j < keyCol.length && keyLen[j] === kl) {
        const o = keyStart[j]!;
        let same = true;
        for (let q = 0; q < kl; q++) {
          if (buf[o + q] !== buf[ks + q]) {
            same = false;
            break;
          }
        }
        if (same) col = keyCol[j];
      }
      if (!col) {
        const name = buf.toString("utf8", ks, ks + kl);
        col = cols[name];
        if (!col) cols[name] = col = new Array(n);
        keyStart[j] = ks;
        keyLen[j] = kl;
        keyCol[j] = col;
      }
      p = ks + kl;
      if (p >= len) return undefined;
      const b = buf[p++]!;
      let v: unknown;
      if (b <= 0x7f) v = b;
      else if (b >= 0xe0) v = b - 256;
      else if (b >= 0xa0 && b <= 0xbf) {
        const l = b & 0x1f;
        if (p + l > len) return undefined;
        v = buf.toString("utf8", p, p + l);
        p += l;
      } else {
        switch (b) {
          case 0xcb:
            if (p + 8 > len) return undefined;
            v = dv.getFloat64(p);
            p += 8;
            break;
          case 0xca:
            if (p + 4 > len) return undefined;
            v = buf.readFloatBE(p);
            p += 4;
            break;
          case 0xc0:
            v = null;
            break;
          case 0xc2:
            v = false;
            break;
          case 0xc3:
            v = true;
            break;
          case 0xcc:
            if (p + 1 > len) return undefined;
            v = buf[p++];
            break;
          case 0xcd:
            if (p + 2 > len) return undefined;
            v = buf.readUInt16BE(p);
            p += 2;
            break;
          case 0xce:
            if (p + 4 > len) return undefined;
            v = buf.readUInt32BE(p);
            p += 4;
            break;
          case 0xd0:
            if (p + 1 > len) return undefined;
            v = buf.readInt8(p);
            p += 1;
            break;
          case 0xd1:
            if (p + 2 > len) return undefined;
            v = buf.readInt16BE(p);
            p += 2;
            break;
          case 0xd2:
            if (p + 4 > len) return undefined;
            v = buf.readInt32BE(p);
            p += 4;
            break;
          case 0xcf:
          case 0xd3: {
            if (p + 8 > len) return undefined;
            const hi = b === 0xcf ? buf.readUInt32BE(p) : buf.readInt32BE(p);
            if (hi >= -2097152 && hi < 2097152) v = hi * TWO32 + buf.readUInt32BE(p + 4);
            else v = b === 0xcf ? buf.readBigUInt64BE(p) : buf.readBigInt64BE(p);
            p += 8;
            break;
          }
          case 0xd9: {
            if (p + 1 > len) return undefined;
            const l = buf[p++]!;
            if (p + l > len) return undefined;
            v = buf.toString("utf8", p, p + l);
            p += l;
            break;
          }
          case 0xda: {
            if (p + 2 > len) return undefined;
            const l = buf.readUInt16BE(p);
            p += 2;
            if (p + l > len) return undefined;
            v = buf.toString("utf8", p, p + l);
            p += l;
            break;
          }
          default:
            return undefined;
        }
      }
      col[n] = v;
    }
    n++;
  }
  for (const k in cols) if (cols[k]!.length < n) cols[k]!.length = n;
  return { cols, n };
}

/**
 * Decodes one index block; throws IO when its bytes are not what the index says. `raw`: the
 * table's msgpack-valued columns (their values come back as the bytes they are stored as).
 */
export function decodeSegment(buf: Buffer, kind: 0 | 1, rowsExpected?: number, raw: ReadonlySet<string> = NO_RAW): Segment {
  let seg: Segment;
  try {
    if (kind === 1) {
      let cols: Record<string, unknown[]> | undefined;
      let at = 0;
      if (buf.length)
        unpackr.unpackMultiple(buf, (value: unknown, start = 0, end = 0) => {
          if (isSeparator(buf, start, end)) return true;
          if (cols !== undefined) throw corrupt("a columnar block holds more than one record");
          cols = value as Record<string, unknown[]>;
          at = start;
          return true;
        });
      if (!isPlainMap(cols)) throw corrupt("a columnar record is not a map");
      let n = -1;
      for (const k in cols) {
        const c = cols[k];
        if (!Array.isArray(c) || (n >= 0 && c.length !== n)) throw corrupt(`column ${JSON.stringify(k)} of a columnar record is not an array of the record's length`);
        n = c.length;
      }
      n = Math.max(0, n);
      if (columnsNeedCare(cols, raw)) {
        const found = new Set<string>();
        seg = { kind: 1, cols: walkColumns(buf, at, n, raw, found), n };
        if (found.size) seg.raw = found;
      } else seg = { kind: 1, cols, n };
    } else {
      if (!raw.size) {
        const fast = decodeScalarRows(buf);
        if (fast) return check({ kind: 1, cols: fast.cols, n: fast.n }, rowsExpected);
      }
      const rows: Row[] = [];
      let found: Set<string> | undefined;
      if (buf.length)
        unpackr.unpackMultiple(buf, (value: unknown, start = 0, end = 0) => {
          if (isSeparator(buf, start, end)) return true;
          if (!isPlainMap(value)) throw corrupt("a record is not a map");
          if (rowNeedsCare(value, raw)) rows.push(walkRow(buf, start, raw, (found ??= new Set())));
          else rows.push(value);
          return true;
        });
      seg = { kind: 0, rows, n: rows.length };
      if (found?.size) seg.raw = found;
    }
  } catch (err) {
    if (err instanceof QuiverError) throw err;
    throw corrupt((err as Error).message);
  }
  return check(seg, rowsExpected);
}

function check(seg: Segment, rowsExpected: number | undefined): Segment {
  if (rowsExpected !== undefined && seg.n !== rowsExpected) throw corrupt(`a block holds ${seg.n} rows where the index says ${rowsExpected}`);
  return seg;
}

const NONE: unknown[] = [];

/**
 * A record's own value for a column: msgpackr's maps are plain objects, so a column named
 * "constructor" or "toString" that a record lacks must not read Object.prototype's.
 */
function own(o: Record<string, unknown>, k: string): unknown {
  return Object.hasOwn(o, k) ? o[k] : undefined;
}

/** One column of a segment, indexable by row (missing → undefined). */
export function columnValues(seg: Segment, name: string): ArrayLike<unknown> {
  if (seg.kind === 1) return (own(seg.cols, name) as unknown[] | undefined) ?? NONE;
  const out = new Array<unknown>(seg.n);
  for (let i = 0; i < seg.n; i++) out[i] = own(seg.rows[i]!, name);
  return out;
}

/** Values of one column over whole segments, in order. */
export function columnOf(segs: readonly Segment[], name: string, total: number): unknown[] {
  const out = new Array<unknown>(total);
  let p = 0;
  for (const s of segs) {
    if (s.kind === 0) {
      const rows = s.rows;
      for (let i = 0; i < s.n; i++) out[p++] = own(rows[i]!, name);
    } else {
      const col = own(s.cols, name) as unknown[] | undefined;
      if (col) for (let i = 0; i < s.n; i++) out[p++] = col[i];
      else for (let i = 0; i < s.n; i++) out[p++] = null;
    }
  }
  return out;
}

export function isFloat64(t: DataType): boolean {
  return t.typeId === Type.Float && (t as Float).precision === 2;
}

/** A Float64 column straight from the segments (no intermediate array): what buildData would make. */
function float64Data(type: Float64, segs: readonly Segment[], name: string, n: number): Data {
  const vals = new Float64Array(n);
  let bitmap: Uint8Array | undefined;
  let nulls = 0;
  let p = 0;
  const put = (v: unknown) => {
    if (typeof v === "number") vals[p] = v;
    else if (v == null) {
      bitmap ??= new Uint8Array((n + 7) >> 3).fill(0xff);
      bitmap[p >> 3]! &= ~(1 << (p & 7));
      nulls++;
    } else vals[p] = Number(v);
    p++;
  };
  for (const s of segs) {
    if (s.kind === 0) for (let i = 0; i < s.n; i++) put(own(s.rows[i]!, name));
    else {
      const col = own(s.cols, name) as unknown[] | undefined;
      if (!col) for (let i = 0; i < s.n; i++) put(null);
      else
        for (let i = 0; i < s.n; i++) {
          const v = col[i];
          if (typeof v === "number") vals[p++] = v;
          else put(v);
        }
    }
  }
  return makeData({ type, length: n, nullCount: nulls, nullBitmap: bitmap, data: vals });
}

function isInt64(t: DataType): boolean {
  return t.typeId === Type.Int && (t as Int64).bitWidth === 64 && (t as Int64).isSigned;
}

/** A signed int64 column straight from the segments; undefined if a value needs buildData's care. */
function int64Data(type: Int64, segs: readonly Segment[], name: string, n: number): Data | undefined {
  const big = new BigInt64Array(n);
  const lo = new Uint32Array(big.buffer);
  const hi = new Int32Array(big.buffer);
  let bitmap: Uint8Array | undefined;
  let nulls = 0;
  let p = 0;
  for (const s of segs) {
    const col = s.kind === 1 ? (own(s.cols, name) as unknown[] | undefined) : undefined;
    for (let i = 0; i < s.n; i++, p++) {
      const v = s.kind === 1 ? col?.[i] : own(s.rows[i]!, name);
      if (typeof v === "number") {
        if (!Number.isSafeInteger(v)) return undefined;
        const h = Math.floor(v / 4294967296);
        hi[2 * p + 1] = h;
        lo[2 * p] = v - h * 4294967296;
      } else if (v == null) {
        bitmap ??= new Uint8Array((n + 7) >> 3).fill(0xff);
        bitmap[p >> 3]! &= ~(1 << (p & 7));
        nulls++;
      } else if (typeof v === "bigint" && v >= -(2n ** 63n) && v < 2n ** 63n) big[p] = v;
      else return undefined;
    }
  }
  return makeData({ type, length: n, nullCount: nulls, nullBitmap: bitmap, data: big });
}

export function batchOf(schema: Schema, datas: Data[], n: number): RecordBatch {
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children: datas }));
}

/** One batch of whole segments in `schema` (plus an int64 row-index column when asked). */
export function segmentsToBatch(segs: readonly Segment[], schema: Schema, rowIndex?: { name: string; firstRows: readonly number[] }): RecordBatch {
  let n = 0;
  for (const s of segs) n += s.n;
  const datas = schema.fields.map(
    (f) =>
      (isFloat64(f.type) ? float64Data(f.type as Float64, segs, f.name, n) : isInt64(f.type) ? int64Data(f.type as Int64, segs, f.name, n) : undefined) ??
      buildData(f.type, columnOf(segs, f.name, n), f.name),
  );
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
    const r = Object.create(null) as Row; // a column may be named "__proto__"
    for (const k of keys) {
      const v = seg.cols[k]![i];
      if (v != null) r[k] = v;
    }
    out.push(r);
  }
  return out;
}

/**
 * A schema for records written without a sidecar (e.g. by dreamlake itself), merged into
 * `start`. Columns whose values only their msgpack bytes keep (see records.ts) are binary with
 * `quiver:msgpack` metadata; the caller decodes the blocks again with those columns as raw.
 */
export function inferSchema(segs: readonly Segment[], start?: Schema): Schema | undefined {
  let schema = start;
  for (const s of segs) {
    const rows = segmentRows(s);
    if (!rows.length) continue;
    // rowsToBatch types the values as the core would (a msgpackr Buffer is a Uint8Array: binary)
    schema = mergeSchemas(schema, rowsToBatch(rows, { schema }).schema);
  }
  return schema;
}

/** Columns found holding msgpack-only values in any of the segments. */
export function rawFound(segs: readonly Segment[]): Set<string> {
  const out = new Set<string>();
  for (const s of segs) if (s.raw) for (const k of s.raw) out.add(k);
  return out;
}

/** `schema` with the given columns as msgpack-valued binary columns (added when missing). */
export function withRawColumns(schema: Schema | undefined, names: ReadonlySet<string>): Schema {
  const fields = (schema?.fields ?? []).map((f) => (names.has(f.name) ? rawField(f.name) : f));
  for (const n of names) if (!fields.some((f) => f.name === n)) fields.push(rawField(n));
  return new Schema(fields, schema?.metadata);
}

function rawField(name: string): Field {
  return new Field(name, new Binary(), true, new Map([[MSGPACK_META, "1"]]));
}
