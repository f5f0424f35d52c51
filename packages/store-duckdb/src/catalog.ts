/**
 * What the store knows about a DuckDB table (its Arrow schema and DuckDB column types, read
 * from the catalog and column comments) and the DDL that creates or evolves it for a batch.
 */
import type { DuckDBConnection, DuckDBType } from "@duckdb/node-api";
import { DuckDBTypeId } from "./duck.js";
import { BIGINT_META, mergeSchemas, QuiverError } from "@quiver/core/store-kit";
import { Field, Schema, Type } from "apache-arrow";
import { ident, literal } from "./sql.js";
import { arrowTypeOf, duckTypeOf, NULL_COMMENT } from "./types.js";

export interface TableInfo {
  name: string;
  schema: Schema;
  duckTypes: DuckDBType[];
}

/** A table's info from the catalog, or undefined when it does not exist. INVALID_NAME when it exists in another case. */
export async function readInfo(conn: DuckDBConnection, table: string): Promise<TableInfo | undefined> {
  const rows = (
    await conn.runAndReadAll(
      "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE database_name = current_database() AND schema_name = 'main' AND lower(table_name) = lower($t) ORDER BY column_index",
      { t: table },
    )
  ).getRows() as [string, string, string | null][];
  if (rows.length === 0) return undefined;
  const actual = rows[0]![0];
  if (actual !== table) {
    throw new QuiverError(
      "INVALID_NAME",
      `table ${JSON.stringify(table)} differs from the existing table ${JSON.stringify(actual)} only in case; DuckDB names are case-insensitive, use ${JSON.stringify(actual)}`,
    );
  }
  const res = await conn.run(`SELECT * FROM ${ident(table)} LIMIT 0`);
  const duckTypes = res.columnTypes();
  const fields = rows.map(([, name, comment], i) => {
    if (comment === NULL_COMMENT) return new Field(name, arrowTypeOf({ typeId: DuckDBTypeId.SQLNULL } as DuckDBType), true);
    const meta = comment === BIGINT_META ? new Map([[BIGINT_META, "1"]]) : undefined;
    return new Field(name, arrowTypeOf(duckTypes[i]!), true, meta);
  });
  return { name: table, schema: new Schema(fields), duckTypes };
}

/** Columns that differ only in case (DuckDB names are case-insensitive): INVALID_NAME naming both. */
function checkCase(table: string, info: TableInfo | undefined, incoming: Schema): void {
  const lower = new Map<string, string>();
  for (const f of [...(info?.schema.fields ?? []), ...incoming.fields]) {
    const k = f.name.toLowerCase();
    const seen = lower.get(k);
    if (seen !== undefined && seen !== f.name) {
      throw new QuiverError(
        "INVALID_NAME",
        `column ${JSON.stringify(f.name)} differs from column ${JSON.stringify(seen)} of ${table} only in case; DuckDB column names are case-insensitive, log it as ${JSON.stringify(seen)} or under another name`,
      );
    }
    lower.set(k, f.name);
  }
}

/**
 * What creating the table or evolving it to hold `incoming` takes (new columns added; int →
 * float and untyped → typed columns re-typed): the table's new info and the DDL statements.
 * Everything that can refuse the batch (case clashes, types) throws here, before any change.
 */
export function planEvolve(table: string, info: TableInfo | undefined, incoming: Schema): { info: TableInfo; statements: string[] } {
  checkCase(table, info, incoming);
  const merged = mergeSchemas(info?.schema, incoming); // SCHEMA_MISMATCH before any change
  if (info && merged === info.schema) return { info, statements: [] };
  const t = ident(table);
  const tag = (f: Field) => (f.type.typeId === Type.Null ? NULL_COMMENT : f.metadata.get(BIGINT_META) === "1" ? BIGINT_META : undefined);
  const comment = (f: Field) => {
    const c = tag(f);
    return `COMMENT ON COLUMN ${t}.${ident(f.name)} IS ${c ? literal(c) : "NULL"}`;
  };
  // Plan every statement first: a type DuckDB cannot store refuses the batch before any change.
  const duckTypes: DuckDBType[] = [];
  const statements: string[] = [];
  if (!info) {
    const cols = merged.fields.map((f) => {
      const d = duckTypeOf(f.type, f.name);
      duckTypes.push(d);
      return `${ident(f.name)} ${d.toString()}`;
    });
    statements.push(`CREATE TABLE ${t} (${cols.join(", ")})`);
    for (const f of merged.fields) if (tag(f)) statements.push(comment(f));
  } else {
    for (const f of merged.fields) {
      const i = info.schema.fields.findIndex((x) => x.name === f.name);
      if (i < 0) {
        const d = duckTypeOf(f.type, f.name);
        duckTypes.push(d);
        statements.push(`ALTER TABLE ${t} ADD COLUMN ${ident(f.name)} ${d.toString()}`);
        if (tag(f)) statements.push(comment(f));
        continue;
      }
      const old = info.schema.fields[i]!;
      if (old.type !== f.type) {
        const d = duckTypeOf(f.type, f.name);
        duckTypes.push(d);
        statements.push(`ALTER TABLE ${t} ALTER COLUMN ${ident(f.name)} SET DATA TYPE ${d.toString()}`);
        if (old.type.typeId === Type.Null) statements.push(comment(f));
      } else duckTypes.push(info.duckTypes[i]!);
      if (old.metadata.get(BIGINT_META) !== f.metadata.get(BIGINT_META) && f.type.typeId !== Type.Null && old.type.typeId !== Type.Null) statements.push(comment(f));
    }
  }
  // Field metadata: keep the bigint tag of the incoming or existing column.
  const fields = merged.fields.map((f) => {
    const big = f.metadata.get(BIGINT_META) === "1" || info?.schema.fields.find((x) => x.name === f.name)?.metadata.get(BIGINT_META) === "1";
    return big && f.type.typeId === Type.Int ? new Field(f.name, f.type, true, new Map([[BIGINT_META, "1"]])) : new Field(f.name, f.type, true);
  });
  return { info: { name: table, schema: new Schema(fields), duckTypes }, statements };
}

/** A user column named rowid (any case) hides DuckDB's rowid pseudo-column. */
export function hidesRowid(schema: Schema): boolean {
  return schema.fields.some((f) => f.name.toLowerCase() === "rowid");
}

/** Whether UPDATE on this column type is a delete + insert in DuckDB (moves the row to the end). */
export function updateMovesRows(t: DuckDBType): boolean {
  if (t.typeId === DuckDBTypeId.LIST || t.typeId === DuckDBTypeId.ARRAY || t.typeId === DuckDBTypeId.MAP) return true;
  if (t.typeId === DuckDBTypeId.STRUCT) return (t as unknown as { entryTypes: DuckDBType[] }).entryTypes.some(updateMovesRows);
  return false;
}

/** The table metadata cache; `gen` changes with every change, so that the read server knows when to drop its own. */
export class TableCache extends Map<string, TableInfo | null> {
  gen = 0;
  override set(k: string, v: TableInfo | null): this {
    this.gen++;
    return super.set(k, v);
  }
  override delete(k: string): boolean {
    this.gen++;
    return super.delete(k);
  }
  override clear(): void {
    this.gen++;
    super.clear();
  }
}
