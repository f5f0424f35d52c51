/**
 * Metadata field types. A field's type is fixed the first time a value is seen (inference) or
 * declared (`ds.metadataField(name).setType(t)`) and enforced afterwards: the seed's "typed
 * schema created automatically". A multivalue field (DagsHub's `multiple`) holds a list of
 * values of one scalar type: `"string[]"`, stored as an Arrow List of that type.
 */
import { Bool, type DataType, type Dictionary, Field, Float64, Int64, List, TimestampMicrosecond, Type, Utf8 } from "apache-arrow";
import { QuiverError, describeValue } from "@quiver/core";

/** The types of one value. */
export type ScalarType = "int" | "float" | "bool" | "string" | "datetime" | "blob";
/** Multivalue fields: a list of values of one scalar type (blobs cannot be listed). */
export type ListType = "int[]" | "float[]" | "bool[]" | "string[]" | "datetime[]";
export type FieldType = ScalarType | ListType;
export const FIELD_TYPES: readonly FieldType[] = ["int", "float", "bool", "string", "datetime", "blob", "int[]", "float[]", "bool[]", "string[]", "datetime[]"];

export function isListType(t: FieldType | undefined): t is ListType {
  return t?.endsWith("[]") === true;
}
/** The element type of a list type (a scalar type is its own). */
export function elementType(t: FieldType): ScalarType {
  return (isListType(t) ? t.slice(0, -2) : t) as ScalarType;
}
export function listTypeOf(t: ScalarType, field: string): ListType {
  if (t === "blob") throw new QuiverError("INVALID_VALUE", `field ${JSON.stringify(field)}: a multivalue field cannot hold blobs; store one blob per field`);
  return `${t}[]` as ListType;
}

/** Values of list fields are never in their stored form as given: every one is checked (events.ts' fast path). */
export const LIST_FAST: Record<ListType, (v: unknown) => boolean> = {
  "int[]": () => false,
  "float[]": () => false,
  "bool[]": () => false,
  "string[]": () => false,
  "datetime[]": () => false,
};

/** Arrow type a field is stored and returned as (blobs as their sha256 hex hash). */
export function arrowType(t: FieldType): DataType {
  if (isListType(t)) return new List(new Field("item", arrowType(elementType(t)), true));
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

/** Field type of one JS value; undefined for null/undefined. An array is a multivalue (list) value. */
export function typeOfValue(v: unknown, field: string): FieldType | undefined {
  if (Array.isArray(v)) return typeOfList(v, field);
  return typeOfScalar(v, field);
}

/** The list type of an array: its elements' type (ints with floats make floats); `[]` alone says string[]. */
export function typeOfList(v: readonly unknown[], field: string): ListType {
  let t: ScalarType | undefined;
  for (const e of v) {
    if (e === null || e === undefined || Array.isArray(e))
      throw new QuiverError("INVALID_VALUE", `field ${JSON.stringify(field)}: a multivalue list holds values, got ${describeValue(e)} in it; remove it`);
    const k = typeOfScalar(e, field)!;
    t = t === undefined ? k : (mergeInferred(t, k, field, e) as ScalarType);
  }
  return listTypeOf(t ?? "string", field);
}

function typeOfScalar(v: unknown, field: string): ScalarType | undefined {
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
    case Type.List: {
      const e = typeOfArrow((t as List).children[0]!.type, field);
      if (isListType(e)) throw new QuiverError("INVALID_VALUE", `column ${JSON.stringify(field)} is a list of lists; a multivalue field holds a list of values`);
      return listTypeOf(e, field);
    }
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

/**
 * Field type of an Arrow field: its type, or (with `useMetadata`) the `quiver:type` a query
 * result put there, so a blob field (its hashes are Utf8, its loaded bytes Binary) stays a blob
 * when a result is uploaded into another datasource.
 */
export function typeOfArrowField(f: Field, useMetadata = true): FieldType {
  const physical = typeOfArrow(f.type, f.name);
  const declared = useMetadata ? (f.metadata.get("quiver:type") as FieldType | undefined) : undefined;
  if (declared === "blob" && (physical === "string" || physical === "blob")) return "blob";
  return physical;
}

/** Type of a new field seen in one batch: ints and floats together make a float field. */
export function mergeInferred(a: FieldType | undefined, b: FieldType, field: string, value: unknown): FieldType {
  if (a === undefined || a === b) return b;
  if ((a === "int" && b === "float") || (a === "float" && b === "int")) return "float";
  if (isListType(a) || isListType(b)) {
    // Lists with lists or one values of their kind (a list of one): a list field.
    const e = mergeInferred(elementType(a), elementType(b), field, value) as ScalarType;
    return listTypeOf(e, field);
  }
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

/**
 * Checks a non-null value against the field's type; returns the value to store. A list field
 * takes an array of its element type, or one value (a list of one, as DagsHub's client does).
 */
export function checkValue(v: unknown, t: FieldType, field: string, where = ""): unknown {
  if (isListType(t)) {
    const e = elementType(t);
    const items = Array.isArray(v) ? v : [v];
    return items.map((x) => {
      if (x === null || x === undefined || Array.isArray(x))
        throw new QuiverError("INVALID_VALUE", `${where}field ${JSON.stringify(field)}: a multivalue list holds values, got ${describeValue(x)} in it; remove it`);
      return checkValue(x, e, field, where);
    });
  }
  if (Array.isArray(v))
    throw new QuiverError(
      "SCHEMA_MISMATCH",
      `${where}field ${JSON.stringify(field)} is ${t} (one value) but got a list ${describeValue(v)}; nothing of this batch was written. Store one value, or use a new field for lists (a multivalue field, ${t}[])`,
    );
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
