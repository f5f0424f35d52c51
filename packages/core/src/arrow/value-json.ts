/**
 * Exact JSON for values a SQL store has no column type for (tensors, lists of lists, structs;
 * PostgreSQL and SQLite keep it as text, so `col::json` / `json_extract` work in SQL and
 * Python's `json.loads` reads it). The Arrow type in the store's catalog tells how to read it
 * back: floats that JSON cannot write (-0, NaN, ±Infinity) are strings, 64-bit integers are
 * decimal strings, binaries are base64, times are ms numbers (what their JS values hold).
 */
import { type DataType, type Field, type Int64, Type } from "apache-arrow";
import { isTensorType } from "./types.js";

function toJson(v: unknown, t: DataType): unknown {
  if (v === null || v === undefined) return null;
  switch (t.typeId) {
    case Type.Float: {
      const x = v as number;
      return Number.isFinite(x) && !Object.is(x, -0) ? x : Object.is(x, -0) ? "-0" : String(x);
    }
    case Type.Int:
      return (t as Int64).bitWidth === 64 ? String(v) : Number(v);
    case Type.Binary:
    case Type.LargeBinary: {
      const b = v as Uint8Array;
      return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("base64");
    }
    case Type.Timestamp:
    case Type.Date:
      return (v as Date).getTime();
    case Type.List: {
      const child = t.children[0]!.type as DataType;
      return Array.from(v as ArrayLike<unknown>, (e) => toJson(e, child));
    }
    case Type.Struct: {
      const o = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const f of t.children as Field[]) out[f.name] = toJson(o[f.name], f.type);
      return out;
    }
    default:
      return v;
  }
}

function fromJson(j: unknown, t: DataType): unknown {
  if (j === null || j === undefined) return null;
  switch (t.typeId) {
    case Type.Float:
      return Number(j);
    case Type.Int:
      return (t as Int64).bitWidth === 64 ? BigInt(j as string) : j;
    case Type.Binary:
    case Type.LargeBinary:
      return new Uint8Array(Buffer.from(j as string, "base64"));
    case Type.Timestamp:
    case Type.Date:
      return new Date(j as number);
    case Type.List: {
      const child = t.children[0]!.type as DataType;
      return (j as unknown[]).map((e) => fromJson(e, child));
    }
    case Type.Struct: {
      const o = j as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const f of t.children as Field[]) out[f.name] = fromJson(o[f.name], f.type);
      if (isTensorType(t)) out.shape = (out.shape as unknown[] | null)?.map(Number) ?? [];
      return out;
    }
    default:
      return j;
  }
}

/** JSON text of a value of type `t`. */
export function encodeValueJson(v: unknown, t: DataType): string {
  return JSON.stringify(toJson(v, t));
}

/** The value (as core's buildData takes it) of JSON text written by encodeValueJson. */
export function decodeValueJson(text: string, t: DataType): unknown {
  return fromJson(JSON.parse(text), t);
}
