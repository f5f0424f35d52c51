/**
 * DuckDB data chunks ⇄ Arrow record batches, column by column.
 *
 * Fixed-width columns (numbers, TIMESTAMP) are copied as raw memory in both directions, and
 * so is validity (DuckDB's validity words and Arrow's bitmaps share the LSB-first layout).
 * Strings and blobs move as bytes (no JS string per cell on write). Lists, structs (tensors)
 * and the types only user SQL produces go through JS values: correct, slower, rare.
 */
import type { DuckDBListType, DuckDBResult, DuckDBStructType, DuckDBType, DuckDBValue } from "@duckdb/node-api";
import { blobValue, DuckDBDataChunk, DuckDBTypeId, JSDuckDBValueConverter, listValue, structValue, timestampValue } from "./duck.js";
import { type Data, type DataType, Field, makeData, RecordBatch, Schema, Struct, Type, type Vector } from "apache-arrow";
import { buildData, QuiverError, vectorToValues } from "@quiver/core";
import { B, type RawVector, VECTOR_SIZE } from "./native.js";
import { arrowTypeOf, fixedWidthCtor } from "./types.js";

// ---------------------------------------------------------------------------------------------
// reading

type FixedCtor = NonNullable<ReturnType<typeof fixedWidthCtor>>;

/** Rows per output batch; readers are sized for it so they rarely grow. */
const BATCH_ROWS = 65536;
const CAPACITY = BATCH_ROWS + VECTOR_SIZE;

interface ColumnReader {
  /** Appends `n` rows of a chunk's column. */
  add(chunk: DuckDBDataChunk, column: number, n: number): void;
  /** The rows gathered so far as Arrow Data; resets. */
  take(): Data;
}

/** Validity bits gathered across chunks, in Arrow's bitmap layout. */
class Bits {
  bytes = new Uint8Array(CAPACITY >> 3);
  nulls = 0;
  length = 0;
  addValidity(raw: Uint8Array | null, n: number): void {
    this.reserve(this.length + n);
    const pos = this.length;
    if (raw === null) {
      this.setRange(pos, n);
    } else if ((pos & 7) === 0) {
      const nb = (n + 7) >> 3;
      this.bytes.set(raw.subarray(0, nb), pos >> 3);
      for (let b = 0; b < nb; b++) {
        if (raw[b] === 0xff) continue;
        const end = Math.min(8, n - b * 8);
        for (let k = 0; k < end; k++) if (((raw[b]! >> k) & 1) === 0) this.nulls++;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const j = pos + i;
        if ((raw[i >> 3]! >> (i & 7)) & 1) this.bytes[j >> 3]! |= 1 << (j & 7);
        else {
          this.bytes[j >> 3]! &= ~(1 << (j & 7));
          this.nulls++;
        }
      }
    }
    this.length += n;
  }
  private setRange(pos: number, n: number): void {
    let i = pos;
    const end = pos + n;
    while (i < end && (i & 7) !== 0) {
      this.bytes[i >> 3]! |= 1 << (i & 7);
      i++;
    }
    if (end - i >= 8) {
      this.bytes.fill(0xff, i >> 3, end >> 3);
      i = end & ~7;
    }
    while (i < end) {
      this.bytes[i >> 3]! |= 1 << (i & 7);
      i++;
    }
  }
  private reserve(n: number): void {
    const need = (n + 7) >> 3;
    if (need <= this.bytes.length) return;
    const b = new Uint8Array(Math.max(need, this.bytes.length * 2));
    b.set(this.bytes);
    this.bytes = b;
  }
  take(): { bitmap: Uint8Array | undefined; nulls: number } {
    const out = { bitmap: this.nulls ? this.bytes.slice(0, (this.length + 7) >> 3) : undefined, nulls: this.nulls };
    this.bytes = new Uint8Array(CAPACITY >> 3);
    this.nulls = 0;
    this.length = 0;
    return out;
  }
}

function validityOf(raw: RawVector, n: number): Uint8Array | null {
  return B.vector_get_validity(raw, Math.ceil(n / 64) * 8);
}

class FixedReader implements ColumnReader {
  private buf: Uint8Array;
  private rows = 0;
  private readonly bits = new Bits();
  private readonly width: number;
  constructor(
    private readonly type: DataType,
    private readonly Ctor: FixedCtor,
  ) {
    this.width = (Ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
    this.buf = new Uint8Array(this.width * CAPACITY);
  }
  add(chunk: DuckDBDataChunk, column: number, n: number): void {
    const raw = B.data_chunk_get_vector(chunk.chunk, column);
    const need = (this.rows + n) * this.width;
    if (need > this.buf.length) {
      const b = new Uint8Array(Math.max(need, this.buf.length * 2));
      b.set(this.buf.subarray(0, this.rows * this.width));
      this.buf = b;
    }
    this.buf.set(B.vector_get_data(raw, n * this.width), this.rows * this.width);
    this.bits.addValidity(validityOf(raw, n), n);
    this.rows += n;
  }
  take(): Data {
    const n = this.rows;
    const values = new this.Ctor(this.buf.buffer as ArrayBuffer, 0, n);
    const { bitmap, nulls } = this.bits.take();
    this.buf = new Uint8Array(this.width * CAPACITY);
    this.rows = 0;
    return makeData({ type: this.type, length: n, nullCount: nulls, nullBitmap: bitmap, data: values } as never);
  }
}

class BoolReader implements ColumnReader {
  private vals = new Uint8Array(CAPACITY);
  private rows = 0;
  private readonly bits = new Bits();
  constructor(private readonly type: DataType) {}
  add(chunk: DuckDBDataChunk, column: number, n: number): void {
    const raw = B.data_chunk_get_vector(chunk.chunk, column);
    if (this.rows + n > this.vals.length) {
      const b = new Uint8Array(Math.max(this.rows + n, this.vals.length * 2));
      b.set(this.vals.subarray(0, this.rows));
      this.vals = b;
    }
    this.vals.set(B.vector_get_data(raw, n), this.rows);
    this.bits.addValidity(validityOf(raw, n), n);
    this.rows += n;
  }
  take(): Data {
    const n = this.rows;
    const packed = new Uint8Array((n + 7) >> 3);
    for (let i = 0; i < n; i++) if (this.vals[i]) packed[i >> 3]! |= 1 << (i & 7);
    const { bitmap, nulls } = this.bits.take();
    this.rows = 0;
    return makeData({ type: this.type, length: n, nullCount: nulls, nullBitmap: bitmap, data: packed } as never);
  }
}

/** VARCHAR and BLOB: duckdb_string_t is 16 bytes, inlined up to 12 bytes, else a pointer. */
class BytesReader implements ColumnReader {
  private offsets = new Int32Array(CAPACITY + 1);
  private bytes = new Uint8Array(CAPACITY * 16);
  private rows = 0;
  private readonly bits = new Bits();
  constructor(private readonly type: DataType) {}
  add(chunk: DuckDBDataChunk, column: number, n: number): void {
    const raw = B.data_chunk_get_vector(chunk.chunk, column);
    const data = B.vector_get_data(raw, n * 16);
    const dv = new DataView(data.buffer, data.byteOffset, n * 16);
    const validity = validityOf(raw, n);
    if (this.rows + n + 1 > this.offsets.length) {
      const o = new Int32Array(Math.max(this.rows + n + 1, this.offsets.length * 2));
      o.set(this.offsets.subarray(0, this.rows + 1));
      this.offsets = o;
    }
    let pos = this.offsets[this.rows]!;
    // Long strings are pointers into the vector's string heap, where consecutive strings
    // usually sit back to back: fetch each contiguous run with one native call (a call per
    // string costs ~2 µs).
    let runRow = -1;
    let runLo = 0;
    let runHi = 0;
    let runLen = 0;
    let runPos = 0;
    let prevLo = -1;
    let prevHi = -1;
    let prevLen = -1;
    let prevPos = 0;
    const flushRun = () => {
      if (runRow < 0) return;
      this.bytes.set(B.get_data_from_pointer(data.buffer as ArrayBuffer, data.byteOffset + runRow * 16 + 8, runLen), runPos);
      runRow = -1;
    };
    for (let i = 0; i < n; i++) {
      if (validity === null || (validity[i >> 3]! >> (i & 7)) & 1) {
        const off = i * 16;
        const len = dv.getUint32(off, true);
        if (pos + len > this.bytes.length) {
          flushRun();
          const b = new Uint8Array(Math.max(pos + len, this.bytes.length * 2));
          b.set(this.bytes.subarray(0, pos));
          this.bytes = b;
        }
        if (len <= 12) {
          flushRun();
          for (let k = 0; k < len; k++) this.bytes[pos + k] = data[off + 4 + k]!;
        } else {
          const lo = dv.getUint32(off + 8, true);
          const hi = dv.getUint32(off + 12, true);
          if (runRow >= 0 && hi === runHi && lo === runLo + runLen) runLen += len;
          else if (lo === prevLo && hi === prevHi && len === prevLen) {
            // The same heap bytes as the previous string (constant or dictionary vectors).
            flushRun();
            this.bytes.copyWithin(pos, prevPos, prevPos + len);
          } else {
            flushRun();
            runRow = i;
            runLo = lo;
            runHi = hi;
            runLen = len;
            runPos = pos;
          }
        }
        if (len > 12) {
          prevLo = dv.getUint32(off + 8, true);
          prevHi = dv.getUint32(off + 12, true);
          prevLen = len;
          prevPos = pos;
        }
        pos += len;
      } else flushRun();
      this.offsets[this.rows + i + 1] = pos;
    }
    flushRun();
    this.bits.addValidity(validity, n);
    this.rows += n;
  }
  take(): Data {
    const n = this.rows;
    // Hand the buffers over (no copy) and start new ones of the size this batch needed.
    const offsets = this.offsets.subarray(0, n + 1);
    const values = this.bytes.subarray(0, offsets[n]);
    const { bitmap, nulls } = this.bits.take();
    this.rows = 0;
    this.offsets = new Int32Array(CAPACITY + 1);
    this.bytes = new Uint8Array(Math.max(VECTOR_SIZE * 16, this.bytes.length));
    // A LargeUtf8 / LargeBinary column (logged from pyarrow or polars) has 64-bit offsets.
    const large = this.type.typeId === Type.LargeUtf8 || this.type.typeId === Type.LargeBinary;
    const valueOffsets = large ? BigInt64Array.from(offsets, BigInt) : offsets;
    return makeData({ type: this.type, length: n, nullCount: nulls, nullBitmap: bitmap, valueOffsets, data: values } as never);
  }
}

/** Everything else: JS values through node-api's converter, then core's buildData. */
class ValueReader implements ColumnReader {
  private values: unknown[] = [];
  constructor(
    private readonly type: DataType,
    private readonly asString: boolean,
  ) {}
  add(chunk: DuckDBDataChunk, column: number): void {
    for (const v of chunk.convertColumnValues(column, JSDuckDBValueConverter)) {
      if (v == null) this.values.push(null);
      else if (this.asString)
        this.values.push(typeof v === "string" ? v : typeof v === "object" ? JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x)) : String(v));
      else this.values.push(v instanceof Uint8Array && !(this.type.typeId === Type.Binary) ? Array.from(v) : v);
    }
  }
  take(): Data {
    const d = buildData(this.type, fixValues(this.type, this.values));
    this.values = [];
    return d;
  }
}

/** JS converter output → what buildData expects (bigints inside number lists, big HUGEINTs). */
function fixValues(type: DataType, values: unknown[]): unknown[] {
  if (type.typeId === Type.Int) {
    return values.map((v) => (typeof v === "bigint" && (v > 2n ** 63n - 1n || v < -(2n ** 63n)) ? BigInt.asIntN(64, v) : v));
  }
  return values;
}

function readerFor(duck: DuckDBType, arrow: DataType): ColumnReader {
  const ctor = fixedWidthCtor(duck);
  if (ctor && (arrow.typeId === Type.Int || arrow.typeId === Type.Float || arrow.typeId === Type.Timestamp)) return new FixedReader(arrow, ctor);
  if (duck.typeId === DuckDBTypeId.BOOLEAN) return new BoolReader(arrow);
  if (duck.typeId === DuckDBTypeId.VARCHAR || duck.typeId === DuckDBTypeId.BLOB) return new BytesReader(arrow);
  return new ValueReader(arrow, arrow.typeId === Type.Utf8);
}

export interface ResultShape {
  names: string[];
  duckTypes: DuckDBType[];
  /** Arrow fields (names, types, metadata) of the output. */
  schema: Schema;
}

/** The Arrow schema of a result, with field metadata taken from `known` where names match. */
export function resultShape(result: DuckDBResult, known?: Schema, nullColumns?: ReadonlySet<string>): ResultShape {
  const names = result.columnNames();
  const duckTypes = result.columnTypes();
  const fields = names.map((n, i) => {
    const k = known?.fields.find((f) => f.name === n);
    if (k) return k;
    const t = nullColumns?.has(n) ? arrowTypeOf({ typeId: DuckDBTypeId.SQLNULL } as DuckDBType) : arrowTypeOf(duckTypes[i]!);
    return new Field(n, t, true);
  });
  return { names, duckTypes, schema: new Schema(fields) };
}

/** Reads a whole result as Arrow batches of about `batchRows` rows. */
export async function readBatches(result: DuckDBResult, shape: ResultShape, batchRows = BATCH_ROWS): Promise<RecordBatch[]> {
  const { duckTypes, schema } = shape;
  const readers = schema.fields.map((f, i) => (f.type.typeId === Type.Null ? undefined : readerFor(duckTypes[i]!, f.type)));
  const out: RecordBatch[] = [];
  let rows = 0;
  const emit = () => {
    const children = schema.fields.map((f, i) => readers[i]?.take() ?? makeData({ type: f.type, length: rows, nullCount: rows } as never));
    out.push(new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: rows, nullCount: 0, children })));
    rows = 0;
  };
  // Fetch the next chunk while this one is converted: DuckDB works on its threads meanwhile.
  let next = result.fetchChunk();
  next.catch(() => undefined); // a failure surfaces at the await below
  for (;;) {
    const chunk = await next;
    if (!chunk || chunk.rowCount === 0) break;
    next = result.fetchChunk();
    next.catch(() => undefined);
    const n = chunk.rowCount;
    for (let c = 0; c < readers.length; c++) readers[c]?.add(chunk, c, n);
    rows += n;
    if (rows >= batchRows) emit();
  }
  if (rows > 0) emit();
  return out;
}

// ---------------------------------------------------------------------------------------------
// writing

function chunkValidity(data: Data, start: number, n: number): Uint8Array | undefined {
  if (data.nullCount === 0 || !data.nullBitmap || data.nullBitmap.length === 0) {
    if (data.type.typeId !== Type.Null) return undefined;
    return new Uint8Array(Math.ceil(n / 64) * 8); // all null
  }
  const out = new Uint8Array(Math.ceil(n / 64) * 8);
  const bm = data.nullBitmap;
  const base = data.offset + start;
  if ((base & 7) === 0) {
    out.set(bm.subarray(base >> 3, (base >> 3) + ((n + 7) >> 3)));
    return out;
  }
  for (let i = 0; i < n; i++) {
    const j = base + i;
    if ((bm[j >> 3]! >> (j & 7)) & 1) out[i >> 3]! |= 1 << (i & 7);
  }
  return out;
}

function writeValidity(raw: RawVector, v: Uint8Array | undefined): void {
  if (!v) return;
  B.vector_ensure_validity_writable(raw);
  B.copy_data_to_vector_validity(raw, 0, v.buffer as ArrayBuffer, v.byteOffset, v.byteLength);
}

/** A JS value (as core's vectorToValues gives it) → a DuckDB value of `type`. */
export function toDuckValue(v: unknown, type: DuckDBType): DuckDBValue {
  if (v == null) return null;
  switch (type.typeId) {
    case DuckDBTypeId.LIST: {
      const t = (type as DuckDBListType).valueType;
      return listValue(Array.from(v as ArrayLike<unknown>, (x) => toDuckValue(x, t)));
    }
    case DuckDBTypeId.STRUCT: {
      const st = type as DuckDBStructType;
      const o = v as Record<string, unknown>;
      const entries: Record<string, DuckDBValue> = {};
      st.entryNames.forEach((n, i) => (entries[n] = toDuckValue(o[n], st.entryTypes[i]!)));
      return structValue(entries);
    }
    case DuckDBTypeId.TIMESTAMP:
      return timestampValue(BigInt((v as Date).getTime()) * 1000n);
    case DuckDBTypeId.BLOB:
      return blobValue(v as Uint8Array);
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
      return typeof v === "bigint" ? v : BigInt(Math.trunc(Number(v)));
    case DuckDBTypeId.VARCHAR:
      return typeof v === "string" ? v : String(v);
    default:
      return v as DuckDBValue;
  }
}

/**
 * Strings and blobs. A native assign costs ~1-2 µs, so only distinct long values are
 * assigned; short values (≤ 12 bytes) are written inline into the 16-byte string structs,
 * and a value equal to the previous long one reuses its struct (same heap bytes).
 */
function writeStrings(raw: RawVector, data: Data, start: number, n: number): void {
  // Arrow JS slices a column's value offsets (so no data.offset here), not its validity bits.
  const offs = data.valueOffsets as Int32Array;
  const bytes = data.values as Uint8Array;
  const validity = chunkValidity(data, start, n);
  if (!validity && n > 1 && writeConstant(raw, offs, bytes, start, n)) return;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let structs: Uint8Array | undefined; // inline structs, filled lazily
  let dupOf: Int32Array | undefined; // row → row whose struct it copies (+1), 0 = none
  let refRow = -1;
  let refStart = 0;
  let refLen = -1;
  for (let i = 0; i < n; i++) {
    if (validity && ((validity[i >> 3]! >> (i & 7)) & 1) === 0) continue;
    const r = start + i;
    const a = offs[r]!;
    const len = offs[r + 1]! - a;
    if (len <= 12) {
      structs ??= new Uint8Array(n * 16);
      const o = i * 16;
      structs[o] = len & 0xff;
      for (let k = 0; k < len; k++) structs[o + 4 + k] = bytes[a + k]!;
      dupOf ??= new Int32Array(n);
      dupOf[i] = -1; // inline
      continue;
    }
    if (len === refLen) {
      let same = true;
      let k = 0;
      for (; k + 4 <= len; k += 4) {
        if (dv.getUint32(a + k) !== dv.getUint32(refStart + k)) {
          same = false;
          break;
        }
      }
      for (; same && k < len; k++) if (bytes[a + k] !== bytes[refStart + k]) same = false;
      if (same) {
        dupOf ??= new Int32Array(n);
        dupOf[i] = refRow + 1;
        continue;
      }
    }
    B.vector_assign_string_element_len(raw, i, bytes.subarray(a, a + len));
    refRow = i;
    refStart = a;
    refLen = len;
  }
  if (dupOf) {
    const cur = B.vector_get_data(raw, n * 16); // a copy holding the assigned structs
    for (let i = 0; i < n; i++) {
      const d = dupOf[i]!;
      if (d === -1) cur.set(structs!.subarray(i * 16, i * 16 + 16), i * 16);
      else if (d > 0) cur.copyWithin(i * 16, (d - 1) * 16, d * 16);
    }
    B.copy_data_to_vector(raw, 0, cur.buffer as ArrayBuffer, cur.byteOffset, n * 16);
  }
  writeValidity(raw, validity);
}

/**
 * A chunk whose values are all the same string (track_id, params): one memcmp of the bytes
 * against themselves shifted by one value proves it; then one assign and copies of its struct.
 */
function writeConstant(raw: RawVector, offs: Int32Array, bytes: Uint8Array, r0: number, n: number): boolean {
  const a0 = offs[r0]!;
  const len = offs[r0 + 1]! - a0;
  if (len <= 12) return false; // inline path is already cheap
  for (let i = 1; i <= n; i++) if (offs[r0 + i]! - a0 !== i * len) return false;
  const total = n * len;
  const x = Buffer.from(bytes.buffer, bytes.byteOffset + a0, total - len);
  const y = Buffer.from(bytes.buffer, bytes.byteOffset + a0 + len, total - len);
  if (!x.equals(y)) return false;
  B.vector_assign_string_element_len(raw, 0, bytes.subarray(a0, a0 + len));
  const structs = B.vector_get_data(raw, n * 16);
  for (let i = 1; i < n; i++) structs.copyWithin(i * 16, 0, 16);
  B.copy_data_to_vector(raw, 0, structs.buffer as ArrayBuffer, structs.byteOffset, n * 16);
  return true;
}

function writeColumn(chunk: DuckDBDataChunk, c: number, data: Data, duck: DuckDBType, field: Field, start: number, n: number, values: () => unknown[]): void {
  const raw = B.data_chunk_get_vector(chunk.chunk, c);
  const t = data.type as DataType;
  if (t.typeId === Type.Null) {
    writeValidity(raw, chunkValidity(data, start, n));
    return;
  }
  const ctor = fixedWidthCtor(duck);
  if (ctor && (t.typeId === Type.Int || t.typeId === Type.Float || t.typeId === Type.Timestamp)) {
    const vals = data.values as ArrayBufferView & { BYTES_PER_ELEMENT: number };
    const w = vals.BYTES_PER_ELEMENT;
    if (w === (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT) {
      // Fixed-width values come sliced (Arrow JS): data.offset counts only in the validity bits.
      B.copy_data_to_vector(raw, 0, vals.buffer as ArrayBuffer, vals.byteOffset + start * w, n * w);
      writeValidity(raw, chunkValidity(data, start, n));
      return;
    }
  }
  if (duck.typeId === DuckDBTypeId.BOOLEAN && t.typeId === Type.Bool) {
    const bits = data.values as Uint8Array;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const j = data.offset + start + i;
      out[i] = (bits[j >> 3]! >> (j & 7)) & 1;
    }
    B.copy_data_to_vector(raw, 0, out.buffer, 0, n);
    writeValidity(raw, chunkValidity(data, start, n));
    return;
  }
  if ((duck.typeId === DuckDBTypeId.VARCHAR && t.typeId === Type.Utf8) || (duck.typeId === DuckDBTypeId.BLOB && t.typeId === Type.Binary)) {
    writeStrings(raw, data, start, n);
    return;
  }
  // Generic path: JS values → DuckDB values.
  const all = values();
  const slice = new Array<DuckDBValue>(n);
  for (let i = 0; i < n; i++) slice[i] = toDuckValue(all[start + i], duck);
  try {
    chunk.setColumnValues(c, slice);
  } catch (err) {
    throw new QuiverError("INVALID_VALUE", `column ${JSON.stringify(field.name)}: cannot be written to DuckDB ${duck.toString()}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * The batch as DuckDB data chunks of the given column types (the batch's columns must already
 * be in the table's order and of types that map onto them: see conformBatch).
 */
export function* batchToChunks(batch: RecordBatch, duckTypes: readonly DuckDBType[]): Generator<DuckDBDataChunk> {
  const n = batch.numRows;
  const fields = batch.schema.fields;
  const cols = fields.map((f, c) => {
    const vec = batch.getChildAt(c)! as Vector;
    let data = vec.data.length === 1 ? vec.data[0]! : buildData(f.type, vectorToValues(vec, f), f.name);
    let cached: unknown[] | undefined;
    return { data, values: () => (cached ??= vectorToValues(vec, f)), setData: (d: Data) => (data = d) };
  });
  for (let start = 0; start < n; start += VECTOR_SIZE) {
    const len = Math.min(VECTOR_SIZE, n - start);
    const chunk = DuckDBDataChunk.create(duckTypes as DuckDBType[]);
    chunk.rowCount = len;
    for (let c = 0; c < fields.length; c++) writeColumn(chunk, c, cols[c]!.data, duckTypes[c]!, fields[c]!, start, len, cols[c]!.values);
    yield chunk;
  }
}
