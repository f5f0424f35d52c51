/** Reading Arrow columns into plain arrays fast (numbers as Float64Array, nulls as NaN). */
import { type Data, type DataType, type Schema, type Table, type Vector, Type } from "apache-arrow";
import { vectorToValues } from "@quiver/core";
import type { ColumnInfo } from "../shared/protocol.js";

function valid(data: Data, i: number): boolean {
  const bm = data.nullBitmap;
  if (!bm || data.nullCount === 0) return true;
  const j = data.offset + i;
  return ((bm[j >> 3]! >> (j & 7)) & 1) === 1;
}

/** A numeric (or timestamp, in ms) column as Float64Array; nulls become NaN. */
export function floats(vector: Vector | null | undefined): Float64Array {
  if (!vector) return new Float64Array(0);
  const out = new Float64Array(vector.length);
  let k = 0;
  for (const data of vector.data) {
    const t = data.type as DataType;
    if (t.typeId === Type.Float && data.values instanceof Float64Array && data.nullCount === 0) {
      out.set(data.values as Float64Array, k);
      k += data.length;
      continue;
    }
    const vals = vectorToValues({ data: [data] } as unknown as Vector);
    for (let i = 0; i < data.length; i++) {
      const v = valid(data, i) ? vals[i] : null;
      out[k++] = v === null || v === undefined ? NaN : v instanceof Date ? v.getTime() : typeof v === "boolean" ? (v ? 1 : 0) : Number(v);
    }
  }
  return out;
}

/** Any column as JS values (Dates, numbers, strings, booleans, null). */
export function values(table: Table, name: string): unknown[] {
  const v = table.getChild(name);
  return v ? vectorToValues(v) : new Array<unknown>(table.numRows).fill(null);
}

/** The kind a column shows as, or undefined for values the dashboard does not chart or list (lists, blobs, tensors). */
export function kindOf(type: DataType): ColumnInfo["kind"] | undefined {
  switch (type.typeId) {
    case Type.Int:
    case Type.Float:
    case Type.Decimal:
      return "number";
    case Type.Utf8:
    case Type.LargeUtf8:
      return "string";
    case Type.Bool:
      return "bool";
    case Type.Timestamp:
    case Type.Date:
      return "time";
    default:
      return undefined;
  }
}

/** Scalar columns of a schema with their kinds. */
export function scalarColumns(schema: Schema): { name: string; kind: ColumnInfo["kind"] }[] {
  const out: { name: string; kind: ColumnInfo["kind"] }[] = [];
  for (const f of schema.fields) {
    const k = kindOf(f.type);
    if (k) out.push({ name: f.name, kind: k });
  }
  return out;
}
