/** Column kinds and names seen so far, so a bad value or name is refused when it is logged, naming it. */
import { type DataType, type Schema, Type } from "apache-arrow";
import { classOfType, classOfValue, mergeTypes, type Row, typeName, typeOfValue, type ValueClass } from "./batches.js";
import { isBigintField } from "./build.js";
import { QuiverError, describeValue } from "../errors.js";
import { caseClash, columnNameKey, validateColumnName } from "../names.js";
import { isWellFormed, scalarError } from "./values.js";

interface Seen {
  cls: ValueClass;
  /** The column's type; for lists and tensors it narrows as element types become known. */
  type: DataType;
  /** A bigint column: takes bigints only (numbers take no bigints). */
  big: boolean;
}

/**
 * Column kinds seen so far: a cheap per-row check that names the offending value. It also learns
 * each column name once — valid, and not equal to another column's name up to case — which is
 * what makes the name check reachable from every logging path at no per-row cost.
 */
export class ColumnTypes {
  private readonly cols = new Map<string, Seen>();
  /** Every column name seen (null-only columns too), by columnNameKey. */
  private readonly names = new Map<string, string>();
  /** What the row being checked taught so far, undone if the row is refused (a refused row teaches nothing). */
  private readonly undo: (() => void)[] = [];
  constructor(schema?: Schema) {
    if (schema) this.learn(schema);
  }
  /** Learns a stored schema (its names are taken as they are, even if two of them clash). */
  learn(schema: Schema): void {
    for (const f of schema.fields) {
      this.names.set(columnNameKey(f.name), f.name);
      if (f.type.typeId !== Type.Null) this.cols.set(f.name, { cls: classOfType(f.type), type: f.type, big: isBigintField(f) });
    }
  }
  /**
   * check() for the keys of a logged row that reach storage as given: keys in `skip` (params,
   * which setParams already checked) and the stamped timestamp/track_id are overwritten. Values
   * of a known column of numbers, booleans or (well-formed) strings pass without a lookup beyond
   * the column's.
   */
  checkLogged(row: Row, skip: ReadonlySet<string>): void {
    try {
      this.checkLoggedKeys(row, skip);
    } catch (err) {
      this.rollback();
      throw err;
    }
    this.undo.length = 0;
  }

  private checkLoggedKeys(row: Row, skip: ReadonlySet<string>): void {
    for (const k in row) {
      if (k === "timestamp" || k === "track_id" || skip.has(k)) continue;
      const v = row[k];
      const seen = this.cols.get(k);
      if (seen !== undefined) {
        switch (typeof v) {
          case "number":
            if (seen.cls === "num" && !seen.big) continue;
            break;
          case "string":
            if (seen.cls === "str" && isWellFormed(v)) continue;
            break;
          case "boolean":
            if (seen.cls === "bool") continue;
            break;
          case "undefined":
            continue;
          default:
            if (v === null) continue;
        }
      }
      this.checkOne(k, v);
    }
  }
  /**
   * The class a column was first seen with, if any — what a compiled check may test with typeof.
   * A bigint column answers "other": no typeof test tells its values from numbers' exactly.
   */
  classOf(name: string): ValueClass | undefined {
    const seen = this.cols.get(name);
    return seen === undefined ? undefined : seen.big ? "other" : seen.cls;
  }
  /**
   * Throws INVALID_NAME for a bad or case-clashing column name, SCHEMA_MISMATCH for a value whose
   * kind differs from its column's (bigints vs numbers, list element types included), and
   * INVALID_VALUE for a string, bigint or Date that cannot be stored exactly.
   */
  check(row: Row): void {
    try {
      for (const k in row) this.checkOne(k, row[k]);
    } catch (err) {
      this.rollback();
      throw err;
    }
    this.undo.length = 0;
  }

  private rollback(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) this.undo[i]!();
    this.undo.length = 0;
  }

  private checkOne(k: string, v: unknown): void {
    if (!this.cols.has(k)) this.learnName(k);
    if (v == null) return;
    if (typeof v === "string" || typeof v === "bigint" || v instanceof Date) {
      const err = scalarError(k, v);
      if (err) throw err;
    }
    const cls = classOfValue(v);
    const big = typeof v === "bigint";
    const seen = this.cols.get(k);
    if (!seen) {
      this.cols.set(k, { cls, type: typeOfValue(v, k), big });
      this.undo.push(() => this.cols.delete(k));
      return;
    }
    if (seen.cls !== cls) {
      const t = typeOfValue(v, k);
      throw new QuiverError(
        "SCHEMA_MISMATCH",
        `column ${JSON.stringify(k)} holds ${kindName(seen)} but got ${typeName(t)} (value ${describeValue(v)}); log it under another column name or convert it to ${kindName(seen)}`,
      );
    }
    if (cls === "num") {
      if (seen.big !== big) {
        throw new QuiverError(
          "SCHEMA_MISMATCH",
          `column ${JSON.stringify(k)} holds ${seen.big ? "bigints" : "numbers"} but got ${describeValue(v)}; a column keeps bigints or numbers, not both (one would come back as the other) — ${seen.big ? "log BigInt(x)" : "log Number(x) if it is within ±2^53, else use another column name"}`,
        );
      }
      return;
    }
    if (cls === "list" || cls === "tensor") {
      // Element types must agree (a Float32Array column takes no Int32Array); mergeTypes names both.
      const t = mergeTypes(seen.type, typeOfValue(v, k), k, v);
      if (t !== seen.type) {
        const before = seen.type;
        seen.type = t;
        this.undo.push(() => (seen.type = before));
      }
    }
  }

  private learnName(k: string): void {
    const key = columnNameKey(k);
    const other = this.names.get(key);
    if (other === k) return;
    validateColumnName(k);
    if (other !== undefined) throw caseClash(k, other);
    this.names.set(key, k);
    this.undo.push(() => this.names.delete(key));
  }
}

function kindName(seen: Seen): string {
  return seen.big ? "bigint" : typeName(seen.type);
}
