/** Arrow → JS values: column decoding and rows built by a compiled constructor per schema. */
import {
  type Data,
  type DataType,
  type Field,
  type Float64,
  Int64,
  makeData,
  makeVector,
  type RecordBatch,
  type Table,
  TimeUnit,
  type TimestampMicrosecond,
  Type,
  type Vector,
} from "apache-arrow";
import { BIGINT_META, type Row, type TypedArray } from "./values.js";
import { TWO32, isTensorType, typedCtorFor } from "./types.js";

// ignoreBOM: a string that starts with U+FEFF keeps it (the default decoder strips it).
const utf8d = new TextDecoder("utf-8", { ignoreBOM: true });

function isValidAt(data: Data, i: number): boolean {
  if (data.nullCount === 0 || !data.nullBitmap || data.nullBitmap.length === 0) return true;
  const j = data.offset + i;
  return ((data.nullBitmap[j >> 3]! >> (j & 7)) & 1) === 1;
}

function int64ToJs(lo: number, hi: number, big: bigint | undefined, asBigint: boolean, signed: boolean): number | bigint {
  if (asBigint) return big!;
  if (signed ? hi >= -2097152 && hi < 2097152 : hi >= 0 && hi < 2097152) return hi * TWO32 + lo;
  return big!;
}

/** JS values of one Arrow Data chunk. */
export function dataToValues(data: Data, asBigint = false): unknown[] {
  const n = data.length;
  const out = new Array<unknown>(n);
  const t = data.type as DataType;
  switch (t.typeId) {
    case Type.Null:
      out.fill(null);
      return out;
    case Type.Float:
    case Type.Int: {
      const vals = data.values as ArrayLike<number | bigint>;
      if (t.typeId === Type.Int && (t as Int64).bitWidth === 64) {
        const big = vals as BigInt64Array;
        const u32 = new Uint32Array(big.buffer, big.byteOffset, big.length * 2);
        const i32 = new Int32Array(big.buffer, big.byteOffset, big.length * 2);
        const signed = (t as Int64).isSigned;
        for (let i = 0; i < n; i++) {
          if (!isValidAt(data, i)) out[i] = null;
          else {
            const lo = u32[2 * i]!;
            const hi = signed ? i32[2 * i + 1]! : u32[2 * i + 1]!;
            out[i] = int64ToJs(lo, hi, asBigint || hi >= 2097152 || hi < -2097152 ? big[i] : undefined, asBigint, signed);
          }
        }
        return out;
      }
      if (data.nullCount === 0) for (let i = 0; i < n; i++) out[i] = vals[i];
      else for (let i = 0; i < n; i++) out[i] = isValidAt(data, i) ? vals[i] : null;
      return out;
    }
    case Type.Bool: {
      const bits = data.values as Uint8Array;
      for (let i = 0; i < n; i++) {
        const j = data.offset + i;
        out[i] = isValidAt(data, i) ? ((bits[j >> 3]! >> (j & 7)) & 1) === 1 : null;
      }
      return out;
    }
    case Type.Utf8:
    case Type.LargeUtf8: {
      const offs = data.valueOffsets as ArrayLike<number | bigint>;
      const bytes = data.values as Uint8Array;
      const o0 = Number(offs[0]);
      const o1 = Number(offs[n]);
      // ASCII fast path: one decode of the whole buffer, then slices.
      let ascii = true;
      for (let i = o0; i < o1; i++)
        if (bytes[i]! >= 0x80) {
          ascii = false;
          break;
        }
      if (ascii) {
        const all = utf8d.decode(bytes.subarray(o0, o1));
        for (let i = 0; i < n; i++) out[i] = isValidAt(data, i) ? all.slice(Number(offs[i]) - o0, Number(offs[i + 1]) - o0) : null;
      } else {
        for (let i = 0; i < n; i++) out[i] = isValidAt(data, i) ? utf8d.decode(bytes.subarray(Number(offs[i]), Number(offs[i + 1]))) : null;
      }
      return out;
    }
    case Type.Binary:
    case Type.LargeBinary: {
      const offs = data.valueOffsets as ArrayLike<number | bigint>;
      const bytes = data.values as Uint8Array;
      for (let i = 0; i < n; i++) out[i] = isValidAt(data, i) ? bytes.slice(Number(offs[i]), Number(offs[i + 1])) : null;
      return out;
    }
    case Type.Timestamp: {
      const unit = (t as TimestampMicrosecond).unit;
      const div = unit === TimeUnit.SECOND ? 0.001 : unit === TimeUnit.MILLISECOND ? 1 : unit === TimeUnit.MICROSECOND ? 1000 : 1e6;
      const raw = dataToValues(
        makeData({ type: new Int64(), length: n, nullCount: data.nullCount, nullBitmap: data.nullBitmap, offset: data.offset, data: data.values as BigInt64Array }),
      );
      const bdiv = BigInt(Math.max(1, div));
      for (let i = 0; i < n; i++) {
        const r = raw[i];
        if (r == null) out[i] = null;
        else if (typeof r === "number") out[i] = new Date(Math.floor(r / div));
        else {
          // Beyond ±2^53 µs (before 1685, after 2255): exact floor division in bigint.
          let q = (r as bigint) / bdiv;
          if ((r as bigint) % bdiv < 0n) q -= 1n;
          out[i] = new Date(div < 1 ? Number(r) * 1000 : Number(q));
        }
      }
      return out;
    }
    case Type.List: {
      const offs = data.valueOffsets as Int32Array;
      const child = data.children[0]!;
      const ct = child.type as DataType;
      const Typed = typedCtorFor(ct);
      const keepTyped = Typed && !(ct.typeId === Type.Float && (ct as Float64).precision === 2);
      if (keepTyped && child.offset === 0 && child.nullCount === 0) {
        const vals = child.values as TypedArray;
        for (let i = 0; i < n; i++) out[i] = isValidAt(data, i) ? vals.slice(offs[i]!, offs[i + 1]!) : null;
        return out;
      }
      const cv = dataToValues(child);
      for (let i = 0; i < n; i++) out[i] = isValidAt(data, i) ? cv.slice(offs[i]!, offs[i + 1]!) : null;
      return out;
    }
    case Type.Struct: {
      const kids = data.children.map((c, k) => [t.children[k]!.name, dataToValues(c)] as const);
      const tensor = isTensorType(t);
      for (let i = 0; i < n; i++) {
        if (!isValidAt(data, i)) {
          out[i] = null;
          continue;
        }
        const o: Record<string, unknown> = {};
        for (const [name, vals] of kids) o[name] = vals[i];
        if (tensor) {
          if (Array.isArray(o.data)) o.data = Float64Array.from(o.data as number[]);
          const s = o.shape;
          o.shape = s == null ? [] : Array.from(s as ArrayLike<number>);
        }
        out[i] = o;
      }
      return out;
    }
    default: {
      const v = makeVector(data);
      for (let i = 0; i < n; i++) {
        const x = v.get(i);
        out[i] = x != null && typeof x === "object" && "toJSON" in x ? (x as { toJSON(): unknown }).toJSON() : x;
      }
      return out;
    }
  }
}

/** JS values of a whole column (vector or named column of a batch/table). */
export function vectorToValues(vector: Vector, field?: Field): unknown[] {
  const asBig = field?.metadata.get(BIGINT_META) === "1";
  if (vector.data.length === 1) return dataToValues(vector.data[0]!, asBig);
  const out: unknown[] = [];
  for (const d of vector.data) for (const v of dataToValues(d, asBig)) out.push(v);
  return out;
}

export interface ToRowsOptions {
  /** Leave out null fields instead of setting them to null. */
  omitNulls?: boolean;
}

/** Rows of a batch or table: exact inverse of rowsToBatch for flat rows. */
export function batchToRows(batch: RecordBatch | Table, options: ToRowsOptions = {}): Row[] {
  const n = batch.numRows;
  const fields = batch.schema.fields;
  const cols = fields.map((f, i) => vectorToValues(batch.getChildAt(i)!, f));
  const rows = new Array<Row>(n);
  if (options.omitNulls === true) {
    for (let r = 0; r < n; r++) {
      const row: Row = {};
      for (let c = 0; c < fields.length; c++) {
        const v = cols[c]![r];
        if (v !== null) row[fields[c]!.name] = v;
      }
      rows[r] = row;
    }
    return rows;
  }
  const make = rowMaker(fields.map((f) => f.name));
  for (let r = 0; r < n; r++) rows[r] = make(cols, r);
  return rows;
}

const makers = new Map<string, (cols: unknown[][], r: number) => Row>();
/**
 * A compiled row builder for a fixed column list: object literals with constant keys get
 * V8's fast object shape, which makes building millions of rows ~3x faster than keyed stores.
 */
function rowMaker(names: string[]): (cols: unknown[][], r: number) => Row {
  const key = JSON.stringify(names);
  let m = makers.get(key);
  if (!m) {
    if (names.length > 200 || names.includes("__proto__")) {
      m = (cols, r) => {
        const row: Row = {};
        for (let c = 0; c < names.length; c++) Object.defineProperty(row, names[c]!, { value: cols[c]![r], enumerable: true, writable: true, configurable: true });
        return row;
      };
    } else {
      const body = names.map((nm, c) => `${JSON.stringify(nm)}: cols[${c}][r]`).join(", ");
      m = new Function("cols", "r", `return { ${body} };`) as (cols: unknown[][], r: number) => Row;
    }
    if (makers.size > 1000) makers.clear();
    makers.set(key, m);
  }
  return m;
}
