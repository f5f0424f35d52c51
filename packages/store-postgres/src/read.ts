/** Reads: result rows (raw text values) → Arrow RecordBatches, for scans and for user SQL. */
import { type Data, type DataType, Field, Int64, makeData, RecordBatch, Schema, Struct, Table } from "apache-arrow";
import { BIGINT_META, QuiverError } from "@quiver/core";
import type { ColInfo } from "./catalog.js";
import type { Pool } from "./connection.js";
import { decodeColumn, type RawValue, resultColumn } from "./decode.js";
import { floatText, timeText } from "./literal.js";
import { ARRAY_OID, OID, type Storage } from "./types.js";

/** An output column of a scan: a table column, or the rowIndex (`_quiver_pos`). */
export interface Column {
  name: string;
  col?: ColInfo;
  rowIndex?: boolean;
}

const INDEX_STORAGE: Storage = { kind: "scalar", elem: "int8" };

/** The type OID a column's storage comes back as. */
function expectedOid(s: Storage): number | undefined {
  if (s.kind === "scalar") return OID[s.elem];
  if (s.kind === "array") return ARRAY_OID[s.elem];
  return 25;
}

function batchOf(fields: Field[], datas: Data[], n: number): RecordBatch {
  return new RecordBatch(new Schema(fields), makeData({ type: new Struct(fields), length: n, nullCount: 0, children: datas }));
}

type RawRows = RawValue[][] & { columns?: { type: number }[] };

/**
 * Batches of a SELECT, fetched `chunk` rows per round trip through a cursor. A column whose
 * type changed since the catalog was read (a writer widened it meanwhile) is reported as IO,
 * which the caller's retry then reads with the new schema.
 */
export async function* readRows(pool: Pool, what: string, text: string, params: (string | null)[], columns: Column[], chunk: number): AsyncGenerator<RecordBatch> {
  const fields = columns.map((c) =>
    c.rowIndex ? new Field(c.name, new Int64(), false) : new Field(c.name, c.col!.type, true, c.col!.bigint ? new Map([[BIGINT_META, "1"]]) : undefined),
  );
  const release = pool.hold();
  try {
    const cursor = pool.sql.unsafe(text, params).raw().cursor(chunk) as unknown as AsyncIterable<RawRows>;
    let checked = false;
    for await (const rows of cursor) {
      if (!checked && rows.columns) {
        checked = true;
        rows.columns.forEach((rc, i) => {
          const c = columns[i];
          if (!c?.col) return;
          const want = expectedOid(c.col.storage);
          if (want !== undefined && rc.type !== want)
            throw new QuiverError("IO", `${what}: column ${JSON.stringify(c.name)} changed type while being read (another writer widened it); read again`);
        });
      }
      const n = rows.length;
      const datas = columns.map((c, k) => {
        const vals = new Array<RawValue>(n);
        for (let i = 0; i < n; i++) vals[i] = rows[i]![k]!;
        return c.rowIndex ? decodeColumn(vals, fields[k]!.type, INDEX_STORAGE) : decodeColumn(vals, c.col!.type, c.col!.storage, c.col!.bigint);
      });
      if (n > 0) yield batchOf(fields, datas, n);
    }
  } catch (err) {
    throw pool.fault(err, what);
  } finally {
    release();
  }
}

/** A sql() parameter in its text form: numbers exact, Dates to the µs in UTC, bytes as hex. */
export function sqlParam(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case "number":
      return floatText(v);
    case "bigint":
      return String(v);
    case "boolean":
      return v ? "t" : "f";
    case "string":
      if (v.includes("\u0000")) throw new QuiverError("INVALID_QUERY", "sql() parameter strings cannot hold NUL (PostgreSQL text cannot); pass the bytes as a Uint8Array");
      return v;
  }
  if (v instanceof Date) return timeText(v);
  if (v instanceof Uint8Array) return `\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("hex")}`;
  throw new QuiverError("INVALID_QUERY", "sql() parameters must be numbers, bigints, strings, booleans, Dates, Uint8Array or null");
}

/** Runs user SQL (on the store's search path) and returns its rows as an Arrow Table. */
export async function runSql(pool: Pool, text: string, params: readonly unknown[]): Promise<Table> {
  const rows = (await pool.sql.unsafe(text, params.map(sqlParam)).raw()) as unknown as RawRows;
  const cols = (rows.columns ?? []) as unknown as { name: string; type: number }[];
  const shapes = cols.map((c) => resultColumn(c.type));
  const fields = cols.map((c, k) => new Field(c.name, shapes[k]!.type as DataType, true));
  if (cols.length === 0) return new Table();
  const n = rows.length;
  if (n === 0) return new Table(new Schema(fields));
  const datas = shapes.map((s, k) => {
    const vals = new Array<RawValue>(n);
    for (let i = 0; i < n; i++) vals[i] = rows[i]![k]!;
    return decodeColumn(vals, s.type, s.storage);
  });
  return new Table([batchOf(fields, datas, n)]);
}
