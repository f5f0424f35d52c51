/**
 * Arrow batch → msgpack records, written straight from the Arrow buffers.
 *
 * A hand-rolled writer instead of msgpackr's `pack` for two reasons: it never builds a JS object
 * per row (so it is faster than packing the rows themselves), and it keeps types Python can see:
 * a Float64 column is always written as a msgpack float (1.0 stays 1.0), ints as ints, Dates as
 * the msgpack timestamp extension, binary as bin, lists as arrays, {data, shape} as a map.
 */
import { type Data, type DataType, type Float, type Int, type RecordBatch, type Timestamp, TimeUnit, Type } from "apache-arrow";
import { buildData, dataToValues, QuiverError } from "@quiver/core";
import { NL, skipValue } from "./records.js";
import { ByteWriter, keyBytes, TWO32 } from "./writer.js";

export { ByteWriter };

type Enc = (i: number) => void;
const NONE: ReadonlySet<string> = new Set();
type Valid = ((i: number) => boolean) | undefined;

/** Returns undefined when every value is valid. */
export function validity(data: Data): Valid {
  const bm = data.nullBitmap;
  if (data.typeId === Type.Null) return () => false;
  if (data.nullCount === 0 || !bm || bm.length === 0) return undefined;
  return (i) => ((bm[i >> 3]! >> (i & 7)) & 1) === 1;
}

/** Data with offset 0 (sliced batches are rebuilt once; fresh batches pass through). */
function unsliced(data: Data): Data {
  if (data.offset === 0 && data.children.every((c) => c.offset === 0)) return data;
  return buildData(data.type as DataType, dataToValues(data));
}

/** A function writing element i of `data` (the caller checks validity). */
export function encoder(data0: Data, w: ByteWriter): Enc {
  const data = unsliced(data0);
  const t = data.type as DataType;
  switch (t.typeId) {
    case Type.Null:
      return () => w.nil();
    case Type.Float: {
      const vals = data.values as Float64Array | Float32Array;
      const prec = (t as Float).precision;
      if (prec === 2) return (i) => w.float64(vals[i]!);
      if (prec === 1) return (i) => w.float32(vals[i]!);
      break;
    }
    case Type.Int: {
      const it = t as Int;
      if (it.bitWidth === 64) {
        const big = data.values as unknown as BigInt64Array;
        const u32 = new Uint32Array(big.buffer, big.byteOffset, big.length * 2);
        const i32 = new Int32Array(big.buffer, big.byteOffset, big.length * 2);
        if (it.isSigned) {
          return (i) => {
            const hi = i32[2 * i + 1]!;
            const lo = u32[2 * i]!;
            if (hi === 0 && lo < 128) {
              // positive fixint: the common small counter (step, epoch)
              w.ensure(1);
              w.buf[w.pos++] = lo;
            } else if (hi >= -2097152 && hi < 2097152) w.int(hi * TWO32 + lo);
            else w.bigint(big[i]!);
          };
        }
        return (i) => {
          const hi = u32[2 * i + 1]!;
          if (hi < 2097152) w.int(hi * TWO32 + u32[2 * i]!);
          else w.bigint((big as unknown as BigUint64Array)[i]!);
        };
      }
      const vals = data.values as Int32Array;
      return (i) => w.int(vals[i]!);
    }
    case Type.Bool: {
      const bits = data.values as Uint8Array;
      return (i) => w.bool(((bits[i >> 3]! >> (i & 7)) & 1) === 1);
    }
    case Type.Utf8: {
      const offs = data.valueOffsets as Int32Array;
      const bytes = data.values as Uint8Array;
      return (i) => w.strBytes(bytes, offs[i]!, offs[i + 1]!);
    }
    case Type.Binary: {
      const offs = data.valueOffsets as Int32Array;
      const bytes = data.values as Uint8Array;
      return (i) => w.bin(bytes.subarray(offs[i]!, offs[i + 1]!));
    }
    case Type.Timestamp: {
      const unit = (t as Timestamp).unit;
      const big = data.values as unknown as BigInt64Array;
      const u32 = new Uint32Array(big.buffer, big.byteOffset, big.length * 2);
      const i32 = new Int32Array(big.buffer, big.byteOffset, big.length * 2);
      const per = unit === TimeUnit.SECOND ? 1n : unit === TimeUnit.MILLISECOND ? 1000n : unit === TimeUnit.MICROSECOND ? 1_000_000n : 1_000_000_000n;
      const nsPer = 1_000_000_000n / per;
      return (i) => {
        const hi = i32[2 * i + 1]!;
        if (unit === TimeUnit.MICROSECOND && hi >= -2097152 && hi < 2097152) return w.timestampMicros(hi * TWO32 + u32[2 * i]!);
        // Exact, whatever the magnitude: seconds and nanoseconds in integer arithmetic.
        const v = big[i]!;
        let sec = v / per;
        let rem = v % per;
        if (rem < 0n) {
          sec -= 1n;
          rem += per;
        }
        w.timestamp(sec, Number(rem * nsPer));
      };
    }
    case Type.List: {
      const offs = data.valueOffsets as Int32Array;
      const child = data.children[0]!;
      const enc = encoder(child, w);
      const valid = validity(child);
      return (i) => {
        const a = offs[i]!;
        const b = offs[i + 1]!;
        w.arrayHeader(b - a);
        for (let j = a; j < b; j++) {
          if (valid && !valid(j)) w.nil();
          else enc(j);
        }
      };
    }
    case Type.Struct: {
      const kids = data.children.map((c, k) => ({ key: keyBytes(t.children[k]!.name), enc: encoder(c, w), valid: validity(c) }));
      return (i) => {
        w.mapHeader(kids.length);
        for (const k of kids) {
          w.raw(k.key);
          if (k.valid && !k.valid(i)) w.nil();
          else k.enc(i);
        }
      };
    }
  }
  const vals = dataToValues(data);
  return (i) => w.value(vals[i]);
}

/** `_ts` statistics of one index block. */
export interface TsStats {
  minTs: number;
  maxTs: number;
  /** Rows whose `_ts` is a number (not null, not NaN). */
  tsCount: number;
}

/** Numeric view of a batch's `_ts` column, or undefined when it has none usable for the index. */
export function tsAccessor(batch: RecordBatch): ((i: number) => number | undefined) | undefined {
  const idx = batch.schema.fields.findIndex((f) => f.name === "_ts");
  if (idx < 0) return undefined;
  const field = batch.schema.fields[idx]!;
  const data = unsliced(batch.data.children[idx]!);
  const t = data.type as DataType;
  if (t.typeId !== Type.Float && t.typeId !== Type.Int) return undefined;
  if (field.metadata.get("quiver:bigint") === "1") return undefined;
  const valid = validity(data);
  let get: (i: number) => number;
  if (t.typeId === Type.Int && (t as Int).bitWidth === 64) {
    const big = data.values as unknown as BigInt64Array;
    const u32 = new Uint32Array(big.buffer, big.byteOffset, big.length * 2);
    const i32 = new Int32Array(big.buffer, big.byteOffset, big.length * 2);
    get = (i) => i32[2 * i + 1]! * TWO32 + u32[2 * i]!;
  } else if (t.typeId === Type.Float && (t as Float).precision === 0) {
    const vals = dataToValues(data) as number[];
    get = (i) => vals[i]!;
  } else {
    const vals = data.values as Float64Array;
    get = (i) => vals[i]!;
  }
  return valid ? (i) => (valid(i) ? get(i) : undefined) : get;
}

/** Stats of a Float64 `_ts` column without nulls (the track case), without a call per value. */
function statsOfF64(vals: Float64Array, from: number, to: number): TsStats {
  let minTs = Infinity;
  let maxTs = -Infinity;
  let tsCount = 0;
  for (let i = from; i < to; i++) {
    const v = vals[i]!;
    if (v !== v) continue;
    if (v < minTs) minTs = v;
    if (v > maxTs) maxTs = v;
    tsCount++;
  }
  return { minTs, maxTs, tsCount };
}

function blockStats(batch: RecordBatch, ts: ((i: number) => number | undefined) | undefined, from: number, to: number): TsStats {
  const k = batch.schema.fields.findIndex((f) => f.name === "_ts");
  const d = k >= 0 ? batch.data.children[k]! : undefined;
  if (
    d &&
    d.offset === 0 &&
    d.nullCount === 0 &&
    (d.type as DataType).typeId === Type.Float &&
    (d.type as Float).precision === 2 &&
    batch.schema.fields[k]!.metadata.get("quiver:bigint") !== "1"
  ) {
    return statsOfF64(d.values as Float64Array, from, to);
  }
  return statsOf(ts, from, to);
}

export function statsOf(ts: ((i: number) => number | undefined) | undefined, from: number, to: number): TsStats {
  let minTs = Infinity;
  let maxTs = -Infinity;
  let tsCount = 0;
  if (ts) {
    for (let i = from; i < to; i++) {
      const v = ts(i);
      if (v === undefined || v !== v) continue;
      if (v < minTs) minTs = v;
      if (v > maxTs) maxTs = v;
      tsCount++;
    }
  }
  return { minTs, maxTs, tsCount };
}

/** One encoded index block: bytes [start, end) of the writer, `rows` rows. */
export interface EncodedBlock extends TsStats {
  start: number;
  end: number;
  rows: number;
  kind: 0 | 1;
}

interface Col {
  key: Uint8Array;
  enc: Enc;
  valid: Valid;
  /** The values when the column is Float64 (written in one tight loop). */
  f64: Float64Array | undefined;
  /** Low/high 32-bit words when the column is a plain signed int64. */
  i64: Uint32Array | undefined;
}

/** A binary column of msgpack-encoded values: each value goes out as the bytes it is. */
function rawEncoder(data: Data, w: ByteWriter): Enc {
  const offs = data.valueOffsets as Int32Array;
  const bytes = data.values as Uint8Array;
  return (i) => w.raw(bytes.subarray(offs[i]!, offs[i + 1]!));
}

/**
 * INVALID_VALUE unless every value of the msgpack-valued columns is exactly one msgpack value
 * (anything else would corrupt the records around it). Runs before any byte is written.
 */
export function checkRawValues(batch: RecordBatch, raw: ReadonlySet<string>): void {
  if (!raw.size) return;
  batch.schema.fields.forEach((f, c) => {
    if (!raw.has(f.name)) return;
    const data = unsliced(batch.data.children[c]!);
    if ((data.type as DataType).typeId !== Type.Binary) return; // mergeSchemas refuses other types
    const offs = data.valueOffsets as Int32Array;
    const bytes = data.values as Uint8Array;
    const valid = validity(data);
    for (let i = 0; i < data.length; i++) {
      if (valid && !valid(i)) continue;
      const a = offs[i]!;
      const b = offs[i + 1]!;
      if (b === a || skipValue(bytes, a, b) !== b) {
        throw new QuiverError(
          "INVALID_VALUE",
          `column ${JSON.stringify(f.name)} holds msgpack-encoded values (it was written by another tool with values a column cannot type, such as lists of maps); row ${i} is not exactly one msgpack value — pass msgpack bytes (msgpackr's pack()) or use another column`,
        );
      }
    }
  });
}

function columnsOf(batch: RecordBatch, w: ByteWriter, raw: ReadonlySet<string>): Col[] {
  return batch.schema.fields.map((f, c) => {
    const data = unsliced(batch.data.children[c]!);
    const t = data.type as DataType;
    if (raw.has(f.name) && t.typeId === Type.Binary) return { key: keyBytes(f.name), enc: rawEncoder(data, w), valid: validity(data), f64: undefined, i64: undefined };
    const f64 = t.typeId === Type.Float && (t as Float).precision === 2 ? (data.values as Float64Array) : undefined;
    let i64: Uint32Array | undefined;
    if (t.typeId === Type.Int && (t as Int).bitWidth === 64 && (t as Int).isSigned) {
      const big = data.values as unknown as BigInt64Array;
      i64 = new Uint32Array(big.buffer, big.byteOffset, big.length * 2);
    }
    return { key: keyBytes(f.name), enc: encoder(data, w), valid: validity(data), f64, i64 };
  });
}

/** Layout "rows": one map per row (nulls omitted), split into index blocks of `blockRows`. */
export function encodeRows(batch: RecordBatch, w: ByteWriter, blockRows: number, raw: ReadonlySet<string> = NONE): EncodedBlock[] {
  const cols = columnsOf(batch, w, raw);
  const n = batch.numRows;
  const ts = tsAccessor(batch);
  const blocks: EncodedBlock[] = [];
  const dense = cols.every((c) => !c.valid);
  const nc = cols.length;
  for (let from = 0; from < n; from += blockRows) {
    const to = Math.min(n, from + blockRows);
    w.maybeSpill();
    const start = w.at;
    if (dense && nc < 16) {
      denseRows(cols, w, from, to);
      blocks.push({ start, end: w.at, rows: to - from, kind: 0, ...blockStats(batch, ts, from, to) });
      continue;
    }
    for (let i = from; i < to; i++) {
      if (dense) {
        w.mapHeader(nc);
        for (let c = 0; c < nc; c++) {
          const col = cols[c]!;
          w.raw(col.key);
          col.enc(i);
        }
        w.newline();
      } else {
        let m = 0;
        for (let c = 0; c < nc; c++) if (!cols[c]!.valid || cols[c]!.valid!(i)) m++;
        w.mapHeader(m);
        for (let c = 0; c < nc; c++) {
          const col = cols[c]!;
          if (col.valid && !col.valid(i)) continue;
          w.raw(col.key);
          col.enc(i);
        }
        w.newline();
      }
    }
    blocks.push({ start, end: w.at, rows: to - from, kind: 0, ...blockStats(batch, ts, from, to) });
  }
  return blocks;
}

/**
 * Rows without nulls, fewer than 16 columns: the hot loop of Track.append. Float64 and int64
 * columns are written inline (one bounds check per row); other columns through their encoder.
 */
function denseRows(cols: Col[], w: ByteWriter, from: number, to: number): void {
  const nc = cols.length;
  const kinds = cols.map((c) => (c.f64 ? 1 : c.i64 ? 2 : 0));
  let fixed = 2; // map header and the newline
  for (const c of cols) fixed += c.key.length + (c.f64 || c.i64 ? 9 : 0);
  const header = 0x80 | nc;
  for (let i = from; i < to; i++) {
    w.ensure(fixed);
    let buf = w.buf;
    let dv = w.dv;
    let p = w.pos;
    buf[p++] = header;
    for (let c = 0; c < nc; c++) {
      const col = cols[c]!;
      const key = col.key;
      for (let q = 0; q < key.length; q++) buf[p++] = key[q]!;
      const kind = kinds[c];
      if (kind === 1) {
        buf[p] = 0xcb;
        dv.setFloat64(p + 1, col.f64![i]!);
        p += 9;
      } else if (kind === 2) {
        const u = col.i64!;
        const lo = u[2 * i]!;
        const hi = u[2 * i + 1]!;
        if (hi === 0 && lo < 128) buf[p++] = lo;
        else if (hi === 0 && lo < 65536) {
          buf[p] = lo < 256 ? 0xcc : 0xcd;
          if (lo < 256) {
            buf[p + 1] = lo;
            p += 2;
          } else {
            buf[p + 1] = lo >>> 8;
            buf[p + 2] = lo & 0xff;
            p += 3;
          }
        } else {
          w.pos = p;
          col.enc(i);
          buf = w.buf;
          dv = w.dv;
          p = w.pos;
        }
      } else {
        w.pos = p;
        col.enc(i);
        // the encoder may have grown the buffer
        buf = w.buf;
        dv = w.dv;
        p = w.pos;
        if (p + fixed > buf.length) {
          w.pos = p;
          w.ensure(fixed);
          buf = w.buf;
          dv = w.dv;
        }
      }
    }
    buf[p++] = NL;
    w.pos = p;
  }
}

/** Layout "columns": ONE map { column: [values...] } for the whole batch. */
export function encodeColumns(batch: RecordBatch, w: ByteWriter, raw: ReadonlySet<string> = NONE): EncodedBlock {
  const cols = columnsOf(batch, w, raw);
  const n = batch.numRows;
  const start = w.at;
  w.mapHeader(cols.length);
  for (const col of cols) {
    w.raw(col.key);
    w.arrayHeader(n);
    if (!col.valid && col.f64) w.float64s(col.f64, 0, n);
    else if (!col.valid && col.i64) {
      const u = col.i64;
      for (let i = 0; i < n; i++) {
        const lo = u[2 * i]!;
        if (u[2 * i + 1] === 0 && lo < 128) {
          if (w.pos + 1 > w.buf.length) w.ensure(1);
          w.buf[w.pos++] = lo;
        } else col.enc(i);
      }
    } else if (!col.valid) for (let i = 0; i < n; i++) col.enc(i);
    else for (let i = 0; i < n; i++) col.valid(i) ? col.enc(i) : w.nil();
  }
  w.newline();
  return { start, end: w.at, rows: n, kind: 1, ...blockStats(batch, tsAccessor(batch), 0, n) };
}
