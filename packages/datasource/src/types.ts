/**
 * Metadata field types. A field's type is fixed the first time a value is seen (inference) and
 * enforced afterwards: the seed's "typed schema created automatically".
 */
import { Bool, type DataType, type Dictionary, Float64, Int64, TimestampMicrosecond, Type, Utf8 } from "apache-arrow";
import { QuiverError, describeValue } from "@quiver/core";

export type FieldType = "int" | "float" | "bool" | "string" | "datetime" | "blob";
export const FIELD_TYPES: readonly FieldType[] = ["int", "float", "bool", "string", "datetime", "blob"];

/** Arrow type a field is stored and returned as (blobs as their sha256 hex hash). */
export function arrowType(t: FieldType): DataType {
  switch (t) {
    case "int":
      return new Int64();
    case "float":
      return new Float64();
    case "bool":
      return new Bool();
    case "datetime":
      return new TimestampMicrosecond("UTC");
    case "string":
    case "blob":
      return new Utf8();
  }
}

/** No lone surrogates (Arrow's UTF-8 encoding would turn them into U+FFFD). */
export function wellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

/** Field type of one JS value; undefined for null/undefined. */
export function typeOfValue(v: unknown, field: string): FieldType | undefined {
  switch (typeof v) {
    case "undefined":
      return undefined;
    case "number":
      // Only safe integers make an int: 1e19 or 2**64 as int64 would wrap (core's rule too).
      return Number.isSafeInteger(v) ? "int" : "float";
    case "bigint":
      return "int";
    case "boolean":
      return "bool";
    case "string":
      if (!wellFormed(v))
        throw new QuiverError(
          "INVALID_VALUE",
          `field ${JSON.stringify(field)}: the string has a lone surrogate (it would be stored as U+FFFD); fix the text or store it as a blob`,
        );
      return "string";
  }
  if (v === null) return undefined;
  if (v instanceof Date) {
    if (isNaN(v.getTime())) throw new QuiverError("INVALID_VALUE", `field ${JSON.stringify(field)}: invalid Date`);
    return "datetime";
  }
  if (v instanceof Uint8Array) return "blob";
  throw new QuiverError(
    "INVALID_VALUE",
    `field ${JSON.stringify(field)}: ${describeValue(v)} is not a metadata value; use an int, float, boolean, string, Date or Uint8Array (blob)`,
  );
}

/** Field type of an Arrow column type. */
export function typeOfArrow(t: DataType, field: string): FieldType {
  switch (t.typeId) {
    case Type.Int:
      return "int";
    case Type.Float:
      return "float";
    case Type.Bool:
      return "bool";
    case Type.Utf8:
    case Type.LargeUtf8:
      return "string";
    case Type.Timestamp:
    case Type.Date:
      return "datetime";
    case Type.Binary:
    case Type.LargeBinary:
    case Type.FixedSizeBinary:
      return "blob";
    case Type.Null:
      return "string";
    case Type.Dictionary:
      return typeOfArrow((t as Dictionary).dictionary, field);
    default:
      throw new QuiverError("INVALID_VALUE", `column ${JSON.stringify(field)} has Arrow type ${String(t)}; metadata columns must be int, float, bool, string, timestamp or binary`);
  }
}

/** Type of a new field seen in one batch: ints and floats together make a float field. */
export function mergeInferred(a: FieldType | undefined, b: FieldType, field: string, value: unknown): FieldType {
  if (a === undefined || a === b) return b;
  if ((a === "int" && b === "float") || (a === "float" && b === "int")) return "float";
  throw mismatch(field, a, b, value);
}

export function mismatch(field: string, has: FieldType, got: FieldType, value: unknown, where = ""): QuiverError {
  return new QuiverError(
    "SCHEMA_MISMATCH",
    `${where}field ${JSON.stringify(field)} is ${has} but got ${got} ${describeValue(value)}; nothing of this batch was written. Convert the value to ${has} or use another field name`,
  );
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Checks a non-null value against the field's type; returns the value to store. */
export function checkValue(v: unknown, t: FieldType, field: string, where = ""): unknown {
  const got = typeOfValue(v, field);
  if (got === undefined) return null;
  if (got === "int" && typeof v === "bigint" && (v < INT64_MIN || v > INT64_MAX)) {
    throw new QuiverError(
      "INVALID_VALUE",
      `${where}field ${JSON.stringify(field)}: ${v} does not fit an int64; nothing of this batch was written. Store it as a float or a string`,
    );
  }
  if (got === t) return got === "int" && typeof v === "bigint" && v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
  if (t === "float" && got === "int") return Number(v);
  throw mismatch(field, t, got, v, where);
}
