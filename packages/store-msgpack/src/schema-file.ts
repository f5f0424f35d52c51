/**
 * The schema sidecar (`.quiver-schema.json`): the Arrow column types of a table, so values that
 * msgpack cannot tell apart (int64 vs bigint, float32 lists, Dates, tensors) read back exactly,
 * while data.msgpack stays plain msgpack for Python.
 */
import {
  Binary,
  Bool,
  type DataType,
  Field,
  Float16,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Int64,
  List,
  Null,
  Schema,
  Struct,
  type Timestamp,
  Timestamp as TimestampType,
  TimeUnit,
  Type,
  Uint8,
  Uint16,
  Uint32,
  Uint64,
  Utf8,
  type Int,
  type Float,
} from "apache-arrow";
import { isTensorType, QuiverError } from "@quiver/core";

type TypeJson = string | { struct: FieldJson[] };
interface FieldJson {
  name: string;
  type: TypeJson;
  nullable?: boolean;
  metadata?: Record<string, string>;
}
export interface SchemaJson {
  format: "quiver-msgpack-schema";
  version: 1;
  fields: FieldJson[];
}

const UNITS = ["s", "ms", "us", "ns"];

function typeToJson(t: DataType): TypeJson {
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
      const inner = typeToJson(t.children[0]!.type);
      if (typeof inner !== "string") break;
      return `list<${inner}>`;
    }
    case Type.Struct: {
      if (isTensorType(t)) {
        const inner = typeToJson(t.children[0]!.type.children[0]!.type);
        if (typeof inner === "string") return `tensor<${inner}>`;
      }
      return { struct: t.children.map(fieldToJson) };
    }
  }
  throw new QuiverError("UNSUPPORTED", `the msgpack store cannot hold Arrow type ${String(t)}; use numbers, strings, booleans, bigints, Dates, Uint8Array, typed arrays, arrays or { data, shape }`);
}

function fieldToJson(f: Field): FieldJson {
  const out: FieldJson = { name: f.name, type: typeToJson(f.type) };
  if (!f.nullable) out.nullable = false;
  if (f.metadata.size) out.metadata = Object.fromEntries(f.metadata);
  return out;
}

/** Throws UNSUPPORTED for column types the store cannot write. */
export function checkSchemaTypes(schema: Schema): void {
  for (const f of schema.fields) typeToJson(f.type);
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

function listOf(t: DataType): List {
  return new List(new Field("item", t, true));
}

function typeFromJson(j: TypeJson): DataType {
  if (typeof j === "object" && j && Array.isArray(j.struct)) return new Struct(j.struct.map(fieldFromJson));
  if (typeof j !== "string") throw new Error(`bad type ${JSON.stringify(j)}`);
  const scalar = SCALARS[j];
  if (scalar) return scalar();
  let m = /^list<(.*)>$/.exec(j);
  if (m) return listOf(typeFromJson(m[1]!));
  m = /^tensor<(.*)>$/.exec(j);
  if (m) return new Struct([new Field("data", listOf(typeFromJson(m[1]!)), true), new Field("shape", listOf(new Int32()), true)]);
  m = /^timestamp\[(s|ms|us|ns)(?:, (.*))?\]$/.exec(j);
  if (m) return new TimestampType(UNITS.indexOf(m[1]!) as TimeUnit, m[2] ?? null);
  throw new Error(`unknown type ${JSON.stringify(j)}`);
}

function fieldFromJson(f: FieldJson): Field {
  return new Field(f.name, typeFromJson(f.type), f.nullable ?? true, f.metadata ? new Map(Object.entries(f.metadata)) : undefined);
}

export function schemaToJson(schema: Schema): string {
  const j: SchemaJson = { format: "quiver-msgpack-schema", version: 1, fields: schema.fields.map(fieldToJson) };
  return JSON.stringify(j, null, 1) + "\n";
}

export function schemaFromJson(text: string, path: string): Schema {
  try {
    const j = JSON.parse(text) as SchemaJson;
    if (!j || !Array.isArray(j.fields)) throw new Error("no fields");
    return new Schema(j.fields.map(fieldFromJson));
  } catch (err) {
    throw new QuiverError("IO", `${path} is not a valid schema sidecar (${(err as Error).message}); delete it to have the schema inferred from data.msgpack again`, { cause: err });
  }
}
