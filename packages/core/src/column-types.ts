/** Column classes seen so far, so a bad value is refused when it is logged, naming the value. */
import { type Schema, Type } from "apache-arrow";
import { classOfType, classOfValue, type Row, typeName, typeOfValue, type ValueClass } from "./arrow.js";
import { QuiverError, describeValue } from "./errors.js";

/** Column classes seen so far: a cheap per-row type check that names the offending value. */
export class ColumnTypes {
  private readonly classes = new Map<string, { cls: ValueClass; type: string }>();
  constructor(schema?: Schema) {
    if (schema) this.learn(schema);
  }
  learn(schema: Schema): void {
    for (const f of schema.fields) if (f.type.typeId !== Type.Null) this.classes.set(f.name, { cls: classOfType(f.type), type: typeName(f.type) });
  }
  /**
   * check() for the keys of a logged row that reach storage as given: keys in `skip` (params,
   * which setParams already checked) and the stamped timestamp/track_id are overwritten.
   */
  checkLogged(row: Row, skip: ReadonlySet<string>): void {
    for (const k in row) {
      const v = row[k];
      if (v == null || k === "timestamp" || k === "track_id" || skip.has(k)) continue;
      const cls = classOfValue(v);
      const seen = this.classes.get(k);
      if (seen === undefined || seen.cls !== cls) this.check({ [k]: v });
    }
  }
  /** The class a column was first seen with, if any. */
  classOf(name: string): ValueClass | undefined {
    return this.classes.get(name)?.cls;
  }
  /** Throws SCHEMA_MISMATCH for a value whose kind differs from its column's. */
  check(row: Row): void {
    for (const k in row) {
      const v = row[k];
      if (v == null) continue;
      const cls = classOfValue(v);
      const seen = this.classes.get(k);
      if (!seen) this.classes.set(k, { cls, type: typeName(typeOfValue(v, k)) });
      else if (seen.cls !== cls) {
        throw new QuiverError(
          "SCHEMA_MISMATCH",
          `column ${JSON.stringify(k)} holds ${seen.type} but got ${typeName(typeOfValue(v, k))} (value ${describeValue(v)}); log it under another column name or convert it to ${seen.type}`,
        );
      }
    }
  }
}

/** A row object whose values are all primitives (normalizeRow would return it unchanged). */
