/**
 * Multivalue fields in results: Arrow lists come back from the stores as typed arrays
 * (BigInt64Array for int lists); rows show them as plain arrays of numbers (bigints beyond
 * 2^53 kept). Result tables carry each field's datasource type and tags as Arrow field metadata.
 */
import { Field, RecordBatch, Schema, Table } from "apache-arrow";
import type { Row } from "@quiver/core";
import type { FieldSchema } from "./fields.js";
import { type FieldType, isListType } from "./types.js";

export const TYPE_KEY = "quiver:type";
export const TAGS_KEY = "quiver:tags";

/** A list value as a plain array (int64 elements as numbers while they are safe). */
export function plainList(v: ArrayLike<unknown>): unknown[] {
  const out = Array.from(v);
  for (let i = 0; i < out.length; i++) {
    const x = out[i];
    if (typeof x === "bigint" && x >= -9007199254740991n && x <= 9007199254740991n) out[i] = Number(x);
  }
  return out;
}

/** A result row with list fields as plain arrays and JSON-loaded fields parsed. */
export function plainRow(r: Row, types: ReadonlyMap<string, FieldType>, json: ReadonlySet<string>): Row {
  for (const k in r) {
    const v = r[k];
    if (v == null) continue;
    if (isListType(types.get(k)) && typeof v === "object" && (Array.isArray(v) || ArrayBuffer.isView(v))) r[k] = plainList(v as ArrayLike<unknown>);
    else if (json.has(k) && typeof v === "string") {
      try {
        r[k] = JSON.parse(v) as unknown;
      } catch {
        /* text that is not JSON stays text */
      }
    }
  }
  return r;
}

/** The table with `quiver:type` / `quiver:tags` on each metadata field. */
export function withFieldMetadata(table: Table, fields: readonly FieldSchema[]): Table {
  if (fields.length === 0) return table;
  const byName = new Map(fields.map((f) => [f.name, f]));
  const out = table.schema.fields.map((f) => {
    const s = byName.get(f.name);
    if (!s) return f;
    const meta = new Map(f.metadata);
    meta.set(TYPE_KEY, s.type);
    if (s.tags?.length) meta.set(TAGS_KEY, JSON.stringify(s.tags));
    return new Field(f.name, f.type, f.nullable, meta);
  });
  const schema = new Schema(out, table.schema.metadata);
  return new Table(
    schema,
    table.batches.map((b) => new RecordBatch(schema, b.data)),
  );
}
