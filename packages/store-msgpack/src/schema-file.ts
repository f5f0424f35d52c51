/**
 * The schema sidecar (`.quiver-schema.json`): the Arrow column types of a table, so values that
 * msgpack cannot tell apart (int64 vs bigint, float32 lists, Dates, tensors) read back exactly,
 * while data.msgpack stays plain msgpack for Python.
 */
import { Schema } from "apache-arrow";
import { type FieldJSON, fieldFromJSON, fieldToJSON, QuiverError, typeToJSON } from "@quiver/core";

export interface SchemaJson {
  format: "quiver-msgpack-schema";
  version: 1;
  fields: FieldJSON[];
}

const STORE = "the msgpack store";

/** Throws UNSUPPORTED for column types the store cannot write. */
export function checkSchemaTypes(schema: Schema): void {
  for (const f of schema.fields) typeToJSON(f.type, STORE);
}

export function schemaToJson(schema: Schema): string {
  const j: SchemaJson = { format: "quiver-msgpack-schema", version: 1, fields: schema.fields.map((f) => fieldToJSON(f, STORE)) };
  return JSON.stringify(j, null, 1) + "\n";
}

export function schemaFromJson(text: string, path: string): Schema {
  try {
    const j = JSON.parse(text) as SchemaJson;
    if (!j || !Array.isArray(j.fields)) throw new Error("no fields");
    return new Schema(j.fields.map(fieldFromJSON));
  } catch (err) {
    throw new QuiverError("IO", `${path} is not a valid schema sidecar (${(err as Error).message}); delete it to have the schema inferred from data.msgpack again`, { cause: err });
  }
}
