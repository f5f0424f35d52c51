/**
 * sql(): a statement in SQLite's dialect over the file's tables (Quiver's carry their names, so
 * `SELECT * FROM events` works, as in xetrack), its result as an Arrow Table. A result column's
 * type comes from its values: integers → int64 (bigints beyond ±2^53), with reals → float64,
 * text → string, blobs → binary, a mix of kinds → string.
 */
import { Binary, type DataType, Field, Float64, Int64, makeData, Null, RecordBatch, Schema, Struct, Table, Utf8 } from "apache-arrow";
import { BIGINT_META, buildData, QuiverError } from "@quiver/core/store-kit";
import type Database from "better-sqlite3";
import { isStatementError, messageOf } from "./connection.js";
import { timeText } from "./codec.js";

/** A param as better-sqlite3 binds it: booleans as 0/1, Dates as TIMESTAMP text (µs, UTC). */
function bindable(v: unknown): unknown {
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v instanceof Date) return timeText(v.getTime() * 1000, 2);
  if (v === undefined) return null;
  return v;
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function column(name: string, vals: unknown[]): { field: Field; data: ReturnType<typeof buildData> } {
  let ints = 0;
  let reals = 0;
  let texts = 0;
  let blobs = 0;
  let big = false;
  for (const v of vals) {
    if (v === null) continue;
    if (typeof v === "bigint") {
      ints++;
      if (v > SAFE || v < -SAFE) big = true;
    } else if (typeof v === "number") reals++;
    else if (typeof v === "string") texts++;
    else blobs++;
  }
  const kinds = (ints ? 1 : 0) + (reals ? 1 : 0) + (texts ? 1 : 0) + (blobs ? 1 : 0);
  let type: DataType;
  let out: unknown[] = vals;
  let meta: Map<string, string> | undefined;
  if (kinds === 0) type = new Null();
  else if (texts || blobs) {
    if (kinds === 1 && blobs) type = new Binary();
    else {
      type = new Utf8();
      out = vals.map((v) => (v === null ? null : v instanceof Uint8Array ? Buffer.from(v).toString("base64") : String(v)));
    }
  } else if (reals || (ints && !big)) {
    type = ints && !reals ? new Int64() : new Float64();
    out = vals.map((v) => (v === null ? null : Number(v)));
  } else {
    type = new Int64();
    meta = new Map([[BIGINT_META, "1"]]);
  }
  return { field: new Field(name, type, true, meta), data: buildData(type, out, name) };
}

export function runSql(db: Database.Database, text: string, params: readonly unknown[]): Table {
  let stmt: Database.Statement;
  try {
    stmt = db.prepare(text);
  } catch (err) {
    if (isStatementError(err) || /syntax|no such|incomplete|more than one statement/i.test(messageOf(err)))
      throw new QuiverError("INVALID_QUERY", `sql(): ${messageOf(err)} — in ${JSON.stringify(text)}`, { cause: err });
    throw err;
  }
  const args = params.map(bindable);
  try {
    if (!stmt.reader) {
      stmt.run(...args);
      return new Table(new Schema([]));
    }
    stmt.raw(true);
    stmt.safeIntegers(true);
    const rows = stmt.all(...args) as unknown[][];
    const names = stmt.columns().map((c) => c.name);
    const used = new Map<string, number>();
    const cols = names.map((n, k) => {
      // Duplicate result names (SELECT 1, 1) get a suffix, as DuckDB does.
      const seen = used.get(n) ?? 0;
      used.set(n, seen + 1);
      return column(
        seen ? `${n}_${seen}` : n,
        rows.map((r) => r[k] ?? null),
      );
    });
    const fields = cols.map((c) => c.field);
    const batch = new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: rows.length, nullCount: 0, children: cols.map((c) => c.data) }));
    return new Table([batch]);
  } catch (err) {
    if (isStatementError(err)) throw new QuiverError("INVALID_QUERY", `sql(): ${messageOf(err)} — in ${JSON.stringify(text)}`, { cause: err });
    throw err;
  }
}
