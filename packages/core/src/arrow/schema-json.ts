/**
 * A JSON form of Arrow column types, for stores that keep a schema beside plain data (msgpack's
 * sidecar, HDF5 attributes): "int64", "float32", "string", "binary", "bool", "null",
 * "timestamp[us, UTC]", "list<float32>", "tensor<uint8>", or { struct: [fields] }.
 */
import {
  Binary,
  Bool,
  type DataType,
  Field,
  type Float,
  Float16,
  Float32,
  Float64,
  type Int,
  Int8,
  Int16,
  Int32,
  Int64,
  List,
  Null,
  Struct,
  type Timestamp,
  Timestamp as TimestampType,
  type TimeUnit,
  Type,
  Uint8,
  Uint16,
  Uint32,
  Uint64,
  Utf8,
} from "apache-arrow";
import { isTensorType, tensorType } from "./batches.js";
import { QuiverError } from "../errors.js";

export type TypeJSON = string | { struct: FieldJSON[] };
export interface FieldJSON {
  name: string;
  type: TypeJSON;
  nullable?: boolean;
  metadata?: Record<string, string>;
}

const UNITS = ["s", "ms", "us", "ns"];

/** JSON form of a type; UNSUPPORTED (naming `store`) for types outside Quiver's value mapping. */
export function typeToJSON(t: DataType, store = "this store"): TypeJSON {
  switch (t.typeId) {
    case Type.Null:
      return "null";
    case Type.Bool:
      return "bool";
    case Type.Int: {
      const it = t as Int;
      return `${it.isSigned ? "int" : "uint"}${it.bitWidth}`;
    }
    case Type.Float:
      return ["float16", "float32", "float64"][(t as Float).precision]!;
    case Type.Utf8:
    case Type.LargeUtf8:
      return "string";
    case Type.Binary:
    case Type.LargeBinary:
      return "binary";
    case Type.Timestamp: {
      const ts = t as Timestamp;
      return `timestamp[${UNITS[ts.unit]}${ts.timezone ? `, ${ts.timezone}` : ""}]`;
    }
    case Type.List: {
      const inner = typeToJSON(t.children[0]!.type, store);
      if (typeof inner === "string") return `list<${inner}>`;
      break;
    }
    case Type.Struct: {
      if (isTensorType(t)) {
        const inner = typeToJSON(t.children[0]!.type.children[0]!.type, store);
        if (typeof inner === "string") return `tensor<${inner}>`;
      }
      return { struct: t.children.map((f: Field) => fieldToJSON(f, store)) };
    }
  }
  throw new QuiverError(
    "UNSUPPORTED",
    `${store} cannot hold Arrow type ${String(t)}; use numbers, strings, booleans, bigints, Dates, Uint8Array, typed arrays, arrays or { data, shape }`,
  );
}

export function fieldToJSON(f: Field, store?: string): FieldJSON {
  const out: FieldJSON = { name: f.name, type: typeToJSON(f.type, store) };
  if (!f.nullable) out.nullable = false;
  if (f.metadata.size) out.metadata = Object.fromEntries(f.metadata);
  return out;
}

const SCALARS: Record<string, () => DataType> = {
  null: () => new Null(),
  bool: () => new Bool(),
  int8: () => new Int8(),
  int16: () => new Int16(),
  int32: () => new Int32(),
  int64: () => new Int64(),
  uint8: () => new Uint8(),
  uint16: () => new Uint16(),
  uint32: () => new Uint32(),
  uint64: () => new Uint64(),
  float16: () => new Float16(),
  float32: () => new Float32(),
  float64: () => new Float64(),
  string: () => new Utf8(),
  binary: () => new Binary(),
};

/** The type a JSON form stands for; throws a plain Error on anything else (callers name the file). */
export function typeFromJSON(j: TypeJSON): DataType {
  if (typeof j === "object" && j && Array.isArray(j.struct)) return new Struct(j.struct.map(fieldFromJSON));
  if (typeof j !== "string") throw new Error(`bad type ${JSON.stringify(j)}`);
  const scalar = SCALARS[j];
  if (scalar) return scalar();
  let m = /^list<(.*)>$/.exec(j);
  if (m) return new List(new Field("item", typeFromJSON(m[1]!), true));
  m = /^tensor<(.*)>$/.exec(j);
  if (m) return tensorType(typeFromJSON(m[1]!));
  m = /^timestamp\[(s|ms|us|ns)(?:, (.*))?\]$/.exec(j);
  if (m) return new TimestampType(UNITS.indexOf(m[1]!) as TimeUnit, m[2] ?? null);
  throw new Error(`unknown type ${JSON.stringify(j)}`);
}

export function fieldFromJSON(f: FieldJSON): Field {
  return new Field(f.name, typeFromJSON(f.type), f.nullable ?? true, f.metadata ? new Map(Object.entries(f.metadata)) : undefined);
}
