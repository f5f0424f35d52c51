/**
 * Rows ⇄ Arrow record batches: the interchange between front-ends and stores.
 *
 * Mapping (documented in the README):
 *   integer number → Int64 (read back as number)   non-integer number → Float64
 *   bigint → Int64 tagged "quiver:bigint" (read back as bigint)
 *   boolean → Bool   string → Utf8   Date → Timestamp(µs, "UTC")   Uint8Array → Binary
 *   number[] → List<Float64> (read back as number[])   string[]/boolean[]/Date[]/bigint[] → List<…>
 *   other typed arrays → List<element type> (read back as the same typed array)
 *   { data, shape } → Struct<data: List<T>, shape: List<Int32>> (read back with its shape)
 *   nested plain objects → flattened into "a.b" columns
 * Vectors are built straight from typed arrays (no per-value builder), which is what makes
 * this faster than apache-arrow's own tableFromJSON.
 */
import { type Data, type DataType, Field, makeData, RecordBatch, Schema, Struct, Table, type TimestampMicrosecond, Type, type Vector } from "apache-arrow";
import { QuiverError } from "../errors.js";
import { mergeTypes, sameType } from "./types.js";
import { buildData } from "./build.js";
import { dataToValues, vectorToValues } from "./decode.js";
import { BIGINT_META } from "./values.js";

export { type Value, type TypedArray, type NdArray, type Row, BIGINT_META, isNdArray, normalizeRow } from "./values.js";
export { tensorType, isTensorType, typeOfValue, typeName, mergeTypes, sameType, type ValueClass, classOfType, classOfValue } from "./types.js";
export { buildData, type RowsToBatchOptions, rowsToBatch, inferColumnType } from "./build.js";
export { dataToValues, vectorToValues, type ToRowsOptions, batchToRows } from "./decode.js";

// ---------------------------------------------------------------------------------------------
// schemas and batches

/** The schema of a table after `incoming` is appended to it (new columns added, ints widened). */
export function mergeSchemas(current: Schema | undefined, incoming: Schema): Schema {
  if (!current) return incoming;
  const fields = current.fields.slice();
  let changed = false;
  for (const f of incoming.fields) {
    const i = fields.findIndex((x) => x.name === f.name);
    if (i < 0) {
      fields.push(f);
      changed = true;
    } else {
      const t = mergeTypes(fields[i]!.type, f.type, f.name);
      if (t !== fields[i]!.type) {
        fields[i] = new Field(f.name, t, true, fields[i]!.metadata);
        changed = true;
      }
    }
  }
  return changed ? new Schema(fields, current.metadata) : current;
}

/**
 * The batch with exactly the given fields (in order): missing columns as nulls, narrower
 * numeric columns cast. Returns the batch itself when nothing changes.
 */
export function conformBatch(batch: RecordBatch, schema: Schema): RecordBatch {
  const bf = batch.schema.fields;
  if (bf.length === schema.fields.length && schema.fields.every((f, i) => bf[i]!.name === f.name && sameType(bf[i]!.type, f.type))) {
    return bf.every((f, i) => f.metadata === schema.fields[i]!.metadata) ? batch : new RecordBatch(schema, batch.data);
  }
  const n = batch.numRows;
  const datas = schema.fields.map((f) => {
    const i = bf.findIndex((x) => x.name === f.name);
    if (i < 0) return buildData(f.type, new Array(n).fill(null), f.name);
    const col = batch.getChildAt(i)!;
    if (sameType(bf[i]!.type, f.type)) return col.data.length === 1 ? col.data[0]! : gather(col, bf[i]!);
    return buildData(f.type, vectorToValues(col, bf[i]), f.name);
  });
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children: datas }));
}

/** A schema with just these columns (in this order); unknown names throw UNKNOWN_FIELD. */
export function projectSchema(schema: Schema, columns: readonly string[], table = "table"): Schema {
  return new Schema(
    columns.map((c) => {
      const f = schema.fields.find((x) => x.name === c);
      if (!f) throw new QuiverError("UNKNOWN_FIELD", `${table} has no column ${JSON.stringify(c)}; columns: ${schema.fields.map((x) => x.name).join(", ")}`);
      return f;
    }),
    schema.metadata,
  );
}

/** A Table of batches, conformed to one schema (the union of theirs unless given). */
export function batchesToTable(batches: readonly RecordBatch[], schema?: Schema): Table {
  let s = schema;
  if (!s) for (const b of batches) s = mergeSchemas(s, b.schema);
  if (!s) return new Table();
  const final = s;
  if (batches.length === 0) return new Table(final);
  return new Table(batches.map((b) => conformBatch(b, final)));
}

/** Rows `indices` of a batch, as a new batch (values exactly as stored). */
export function takeRows(batch: RecordBatch, indices: ArrayLike<number>): RecordBatch {
  const fields = batch.schema.fields;
  const datas = fields.map((f, c) => gather(batch.getChildAt(c)!, f, indices));
  return new RecordBatch(batch.schema, makeData({ type: new Struct(fields), length: indices.length, nullCount: 0, children: datas }));
}

/** One batch holding the rows of several batches of the same schema. */
export function concatBatches(batches: readonly RecordBatch[], schema: Schema): RecordBatch {
  if (batches.length === 1) return conformBatch(batches[0]!, schema);
  const total = batches.reduce((a, b) => a + b.numRows, 0);
  const conformed = batches.map((b) => conformBatch(b, schema));
  const datas = schema.fields.map((f, c) =>
    gatherChunks(
      conformed.flatMap((b) => b.getChildAt(c)!.data),
      f,
    ),
  );
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: total, nullCount: 0, children: datas }));
}

/** Rows `indices` (all rows when absent) of a column, as one Data. */
function gather(col: Vector, field: Field, indices?: ArrayLike<number>): Data {
  return gatherChunks(col.data, field, indices);
}

function gatherChunks(chunks: readonly Data[], field: Field, indices?: ArrayLike<number>): Data {
  // Timestamps are copied as their stored integers: through Date they would lose every digit
  // below the millisecond (µs/ns columns from Arrow tables, SQLite or DuckDB files).
  if (field.type.typeId === Type.Timestamp) return gatherInt64(chunks, field.type, indices);
  const asBig = field.metadata.get(BIGINT_META) === "1";
  const vals = chunks.length === 1 ? dataToValues(chunks[0]!, asBig) : chunks.flatMap((d) => dataToValues(d, asBig));
  if (!indices) return buildData(field.type, vals, field.name);
  const picked = new Array<unknown>(indices.length);
  for (let i = 0; i < indices.length; i++) picked[i] = vals[indices[i]!];
  return buildData(field.type, picked, field.name);
}

function gatherInt64(chunks: readonly Data[], type: DataType, indices?: ArrayLike<number>): Data {
  const starts: number[] = [];
  let total = 0;
  for (const d of chunks) {
    starts.push(total);
    total += d.length;
  }
  const n = indices ? indices.length : total;
  const out = new BigInt64Array(n);
  const valid = new Uint8Array((n + 7) >> 3);
  let nulls = 0;
  let c = 0;
  for (let i = 0; i < n; i++) {
    const g = indices ? indices[i]! : i;
    // Indices mostly ascend: step the chunk cursor, and search again only when they jump back.
    if (g < starts[c]!) c = 0;
    while (c + 1 < chunks.length && g >= starts[c + 1]!) c++;
    const d = chunks[c]!;
    const j = g - starts[c]!;
    if (d.nullCount > 0 && !d.getValid(j)) {
      nulls++;
      continue;
    }
    out[i] = (d.values as BigInt64Array)[j]!; // values come sliced (Arrow JS); the offset is the validity's
    valid[i >> 3]! |= 1 << (i & 7);
  }
  return makeData({ type: type as TimestampMicrosecond, length: n, nullCount: nulls, nullBitmap: nulls ? valid : undefined, data: out });
}

export { Schema, Field, RecordBatch, Table };
