/**
 * Staged track points → the Arrow batch a flush writes: `_ts` order, points of equal `_ts`
 * merged (dreamlake's flush), built straight from the staged columns in the usual case.
 */
import { Field, Float64, Schema } from "apache-arrow";
import { type Data, type DataType, Int64, makeData, RecordBatch, Struct, Type } from "apache-arrow";
import { BIGINT_META, buildData, inferColumnType, mergeTypes, type Row, rowsToBatch } from "../arrow/batches.js";
import { isBigintField } from "../arrow/build.js";
import { describeValue, QuiverError } from "../errors.js";
import type { Staging } from "../write/buffer.js";
import { PointColumns } from "./points.js";

export const MAX_READ_LIMIT = 10_000;
export const TS_SCHEMA = new Schema([new Field("_ts", new Float64(), true)]);
export const INDEX = "__quiver_index";

export function checkLimit(limit: number | undefined, def: number): number {
  const l = limit ?? def;
  if (!Number.isInteger(l) || l < 0) throw new QuiverError("INVALID_VALUE", `limit must be a non-negative integer, got ${describeValue(limit)}`);
  return Math.min(l, MAX_READ_LIMIT);
}

export function checkTime(v: unknown, what: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v))
    throw new QuiverError("INVALID_TIMESTAMP", `${what} must be a finite number of seconds since the epoch, got ${describeValue(v)}`);
  return v;
}

/**
 * The points in `_ts` order (stable: equal `_ts` keep their order), those with equal `_ts`
 * merged into one (later fields win) — as dreamlake's flush sorts and merges its buffer.
 */
export function mergeEqualTs(rows: Row[]): Row[] {
  // Fast path: strictly increasing `_ts` (the usual case) has nothing to sort or merge.
  let prev = -Infinity;
  let i = 0;
  for (; i < rows.length; i++) {
    const ts = rows[i]!._ts as number;
    if (!(ts > prev)) break;
    prev = ts;
  }
  if (i === rows.length) return rows;
  const sorted = rows.map((r, k) => [r._ts as number, k] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: Row[] = [];
  let last: Row | undefined;
  for (const [ts, k] of sorted) {
    if (last && last._ts === ts) Object.assign(last, rows[k]);
    else {
      last = { ...rows[k]! };
      out.push(last);
    }
  }
  return out;
}

/** inferColumnType's answer for a column of numbers (state 1 integers, 2 with floats); undefined otherwise or on a clash. */
function numberColumnType(state: number, name: string, existing: DataType | undefined): { type: DataType; bigint: boolean } | undefined {
  if (state !== 1 && state !== 2) return undefined;
  const t = state === 1 ? new Int64() : new Float64();
  if (!existing) return { type: t, bigint: false };
  try {
    return { type: mergeTypes(existing, t, name), bigint: false };
  } catch {
    return undefined; // inference throws the error naming the value
  }
}

/**
 * The batch rowsToBatch(mergeEqualTs(points.rows()), { schema }) gives (without `merge`: the
 * points as staged), built straight from the staged columns when `_ts` strictly increases (the
 * usual case: no row objects at all).
 */
export function pointsToBatch(points: PointColumns, schema: Schema, merge = true): RecordBatch {
  if (!points.increasing()) return rowsToBatch(merge ? mergeEqualTs(points.rows()) : points.rows(), { schema });
  const n = points.length;
  const cols = new Map<string, unknown[]>([["_ts", points.ts]]);
  for (const [k, v] of points.cols) {
    if (k === "_ts") continue;
    if (v.length < n) v.length = n;
    cols.set(k, v);
  }
  const order = [...schema.fields.map((f) => f.name).filter((c) => cols.has(c)), ...[...cols.keys()].filter((c) => !schema.fields.some((f) => f.name === c))];
  const fields: Field[] = [];
  const datas: Data[] = [];
  for (const name of order) {
    const values = cols.get(name)!;
    const existing = schema.fields.find((f) => f.name === name);
    // `_ts` values are finite numbers: into a float column they keep its type (what inference returns).
    // Columns staged as all numbers get the type inference would give, without another pass.
    const existingBigint = existing !== undefined && isBigintField(existing);
    const { type, bigint } =
      name === "_ts" && existing?.type.typeId === Type.Float
        ? { type: existing.type, bigint: false }
        : ((existingBigint ? undefined : numberColumnType(points.numberState(name), name, existing?.type)) ?? inferColumnType(values, name, existing?.type, existingBigint));
    const meta = bigint || existing?.metadata.get(BIGINT_META) ? new Map([[BIGINT_META, "1"]]) : undefined;
    fields.push(new Field(name, type, true, meta));
    datas.push(buildData(type, values, name));
  }
  return new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: n, nullCount: 0, children: datas }));
}

function slicePoints(s: PointColumns, start: number, end: number): PointColumns {
  const out = new PointColumns();
  for (let i = start; i < end; i++) out.add(s.ts[i]!, s.row(i));
  return out;
}

export const POINTS: Staging<PointColumns> = { fresh: () => new PointColumns(), concat: (a, b) => PointColumns.concat(a, b), slice: slicePoints };
