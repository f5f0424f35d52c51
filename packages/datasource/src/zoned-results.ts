/**
 * Query results and the offsets of datetime fields (zones.ts): the engine is asked for each
 * selected datetime field's companion too; the companions are taken out of the table and kept
 * beside it, so rows, datapoints and CSV give `ZonedDate`s while the Arrow table holds instants.
 */
import { Schema, Table, RecordBatch, makeData, Struct } from "apache-arrow";
import { vectorToValues } from "@quiver/core";
import type { ViewSpec } from "./view.js";
import { TZ, ZonedDate } from "./zones.js";

/** Offsets per datetime field, row by row (null: UTC). */
export type Zones = Map<string, (string | null)[]>;

/** The spec with companions of the selected fields added to `select`. */
export function withZoneColumns(spec: ViewSpec, fields: readonly { name: string }[]): ViewSpec {
  if (!spec.select) return spec;
  const names = new Set(fields.map((f) => f.name));
  const extra = spec.select.filter((s) => names.has(s + TZ)).map((s) => s + TZ);
  return extra.length ? { ...spec, select: [...spec.select, ...extra] } : spec;
}

/** The table without companion columns, and their offsets. */
export function splitZones(table: Table): { table: Table; zones?: Zones } {
  const fs = table.schema.fields;
  if (!fs.some((f) => f.name.endsWith(TZ))) return { table };
  const zones: Zones = new Map();
  const keep: number[] = [];
  fs.forEach((f, i) => {
    if (!f.name.endsWith(TZ)) return void keep.push(i);
    const vals = vectorToValues(table.getChildAt(i)!) as (string | null)[];
    if (vals.some((v) => v !== null)) zones.set(f.name.slice(0, -TZ.length), vals);
  });
  const schema = new Schema(
    keep.map((i) => fs[i]!),
    table.schema.metadata,
  );
  const batches = table.batches.map(
    (b) => new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: b.numRows, nullCount: 0, children: keep.map((i) => b.data.children[i]!) })),
  );
  return { table: new Table(schema, batches), zones: zones.size ? zones : undefined };
}

/** A datetime column's values with their offsets. */
export function zonedValues(values: readonly unknown[], offsets: readonly (string | null)[]): unknown[] {
  return values.map((v, i) => (v instanceof Date && offsets[i] ? new ZonedDate(v, offsets[i]!) : v));
}
