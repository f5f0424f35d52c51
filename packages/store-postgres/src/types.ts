/**
 * Arrow ⇄ PostgreSQL column storage.
 *
 * Each Quiver column keeps its exact Arrow type in the catalog (`_quiver_columns.type`, core's
 * type JSON) and is stored in the PostgreSQL type that holds it exactly and reads naturally in
 * SQL:
 *
 *   int8/int16/uint8 → smallint   int32/uint16 → integer   int64/uint32 → bigint   uint64 → numeric
 *   float16/float32 → real   float64 → double precision   bool → boolean   string → text
 *   binary → bytea   timestamp → timestamptz (µs)   list<scalar> → a one-dimensional array of it
 *   tensors, lists of lists, lists of nothing yet → text holding exact JSON (see json.ts)
 *   a column holding only nulls so far → text, re-typed on its first value
 *
 * PostgreSQL text cannot hold U+0000. A string column that meets a string with NUL is converted
 * once to bytea (its UTF-8 bytes; `bytes` in the catalog), a list of strings to bytea[].
 */
import { type DataType, type Float64, type Int64, Type } from "apache-arrow";

/** Scalar storages, each with its binary COPY encoding (encode.ts) and text decoding (decode.ts). */
export type Elem = "int2" | "int4" | "int8" | "numeric" | "float4" | "float8" | "bool" | "text" | "bytea" | "timestamptz";

/** How a column is stored: a scalar, a one-dimensional array of scalars, JSON text, or untyped. */
export type Storage = { kind: "scalar"; elem: Elem } | { kind: "array"; elem: Elem } | { kind: "json" } | { kind: "null" };

export const OID: Record<Elem, number> = { int2: 21, int4: 23, int8: 20, numeric: 1700, float4: 700, float8: 701, bool: 16, text: 25, bytea: 17, timestamptz: 1184 };
export const ARRAY_OID: Record<Elem, number> = {
  int2: 1005,
  int4: 1007,
  int8: 1016,
  numeric: 1231,
  float4: 1021,
  float8: 1022,
  bool: 1000,
  text: 1009,
  bytea: 1001,
  timestamptz: 1185,
};
const SQL: Record<Elem, string> = {
  int2: "smallint",
  int4: "integer",
  int8: "bigint",
  numeric: "numeric",
  float4: "real",
  float8: "double precision",
  bool: "boolean",
  text: "text",
  bytea: "bytea",
  timestamptz: "timestamptz",
};

/** The scalar storage of an Arrow type, or undefined when it is not a scalar. */
export function elemOf(t: DataType, bytes = false): Elem | undefined {
  switch (t.typeId) {
    case Type.Int: {
      const it = t as Int64;
      const w = it.bitWidth as number;
      if (it.isSigned) return w <= 16 ? "int2" : w === 32 ? "int4" : "int8";
      return w === 8 ? "int2" : w === 16 ? "int4" : w === 32 ? "int8" : "numeric";
    }
    case Type.Float:
      return (t as Float64).precision === 2 ? "float8" : "float4";
    case Type.Bool:
      return "bool";
    case Type.Utf8:
    case Type.LargeUtf8:
      return bytes ? "bytea" : "text";
    case Type.Binary:
    case Type.LargeBinary:
      return "bytea";
    case Type.Timestamp:
    case Type.Date:
      return "timestamptz";
    default:
      return undefined;
  }
}

export function storageOf(t: DataType, bytes = false): Storage {
  if (t.typeId === Type.Null) return { kind: "null" };
  const e = elemOf(t, bytes);
  if (e) return { kind: "scalar", elem: e };
  if (t.typeId === Type.List) {
    const child = t.children[0]!.type as DataType;
    const ce = elemOf(child, bytes);
    if (ce) return { kind: "array", elem: ce };
  }
  return { kind: "json" };
}

/** The SQL type text of a storage (for CREATE / ALTER TABLE). */
export function sqlTypeOf(s: Storage): string {
  switch (s.kind) {
    case "scalar":
      return SQL[s.elem];
    case "array":
      return `${SQL[s.elem]}[]`;
    default:
      return "text";
  }
}

export function sameStorage(a: Storage, b: Storage): boolean {
  return sqlTypeOf(a) === sqlTypeOf(b) && a.kind === b.kind;
}

/** Whether a column holds strings or lists of strings (what a NUL converts to bytes). */
export function isStringy(t: DataType): boolean {
  const isStr = (x: DataType) => x.typeId === Type.Utf8 || x.typeId === Type.LargeUtf8;
  return isStr(t) || (t.typeId === Type.List && isStr(t.children[0]!.type as DataType));
}
