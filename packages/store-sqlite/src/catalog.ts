/**
 * The catalog: which SQLite table and columns hold each Quiver table and column, with their
 * exact Arrow types. Two tables in the file:
 *
 *   _quiver_tables  (name PK, ident UNIQUE, version)              one row per Quiver table
 *   _quiver_columns (tbl, name, ident, ord, type, bigint, wide)    one row per column
 *
 * A Quiver table is `CREATE TABLE "<ident>" ("_quiver_pos" INTEGER PRIMARY KEY, <columns>)`:
 * `_quiver_pos` is the 0-based insertion position (dense: a delete renumbers), the rowid, so
 * rows read in insertion order and VACUUM cannot reorder them. `version` changes with every
 * schema change, so a connection whose cached schema is stale reloads it. Tables the catalog
 * does not list (xetrack's) are read as they are: see foreign.ts.
 */
import { createHash } from "node:crypto";
import { type DataType, Field, type Int64, type RecordBatch, Schema, Type } from "apache-arrow";
import { BIGINT_META, checkNewColumns, mergeSchemas, QuiverError, typeFromJSON, typeToJSON } from "@quiver/core/store-kit";
import type Database from "better-sqlite3";
import { declaredType, type Storage, storageOf } from "./codec.js";

export const POS = "_quiver_pos";

export interface Col {
  name: string;
  /** The SQLite column name. */
  ident: string;
  type: DataType;
  storage: Storage;
  /** The field carries quiver:bigint (its values read back as bigints). */
  bigint: boolean;
  /** May hold integers beyond ±2^53: read with better-sqlite3's safeIntegers. */
  wide: boolean;
}

export interface TableInfo {
  name: string;
  ident: string;
  /** Not written by Quiver (no catalog entry): read as it is, never written. */
  foreign: boolean;
  version: number;
  columns: Col[];
  byName: Map<string, Col>;
  schema: Schema;
  /** What orders rows in insertion order ("_quiver_pos", "rowid", …), or undefined (WITHOUT ROWID). */
  order: string | undefined;
}

/** A quoted SQLite identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function makeInfo(name: string, identName: string, version: number, columns: Col[], foreign: boolean, order: string | undefined): TableInfo {
  const fields = columns.map((c) => new Field(c.name, c.type, true, c.bigint ? new Map([[BIGINT_META, "1"]]) : undefined));
  return { name, ident: identName, foreign, version, columns, byName: new Map(columns.map((c) => [c.name, c])), schema: new Schema(fields), order };
}

export const CATALOG_DDL = [
  `CREATE TABLE IF NOT EXISTS _quiver_tables (name TEXT PRIMARY KEY, ident TEXT NOT NULL UNIQUE, version INTEGER NOT NULL DEFAULT 1)`,
  `CREATE TABLE IF NOT EXISTS _quiver_columns (tbl TEXT NOT NULL, name TEXT NOT NULL, ident TEXT NOT NULL, ord INTEGER NOT NULL, type TEXT NOT NULL, "bigint" INTEGER NOT NULL DEFAULT 0, wide INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (tbl, name))`,
];

export function hasCatalog(db: Database.Database): boolean {
  return db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_quiver_columns'`).get() !== undefined;
}

/** Names SQLite keeps for itself, or that the catalog uses. */
function reserved(name: string): boolean {
  const k = name.toLowerCase();
  return k.startsWith("sqlite_") || k.startsWith("_quiver_");
}

/** A SQLite identifier for `name`: itself when it is free (SQLite folds ASCII case), else `name~hash`. */
function identFor(name: string, taken: (id: string) => boolean): string {
  if (!reserved(name) && !taken(name.toLowerCase())) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, 12);
  for (let i = 0; ; i++) {
    const id = `${reserved(name) ? `q${name}` : name}~${hash}${i ? `~${i}` : ""}`;
    if (!taken(id.toLowerCase())) return id;
  }
}

interface ColRow {
  name: string;
  ident: string;
  type: string;
  bigint: number;
  wide: number;
}

/** The Quiver table's catalog entry, or undefined when the catalog does not list it. */
export function loadTable(db: Database.Database, name: string): TableInfo | undefined {
  const t = db.prepare(`SELECT ident, version FROM _quiver_tables WHERE name = ?`).get(name) as { ident: string; version: number } | undefined;
  if (!t) return undefined;
  const rows = db.prepare(`SELECT name, ident, type, "bigint", wide FROM _quiver_columns WHERE tbl = ? ORDER BY ord`).all(name) as ColRow[];
  const cols = rows.map((r): Col => {
    const type = typeFromJSON(JSON.parse(r.type));
    return { name: r.name, ident: r.ident, type, storage: storageOf(type), bigint: r.bigint === 1, wide: r.wide === 1 };
  });
  return makeInfo(name, t.ident, Number(t.version), cols, false, POS);
}

/** Creates the table (in the caller's write transaction) and returns its empty entry. */
export function createTable(db: Database.Database, name: string): TableInfo {
  const taken = new Set((db.prepare(`SELECT lower(name) AS n FROM sqlite_master`).all() as { n: string }[]).map((r) => r.n));
  const id = identFor(name, (x) => taken.has(x));
  db.exec(`CREATE TABLE ${ident(id)} (${ident(POS)} INTEGER PRIMARY KEY)`);
  db.prepare(`INSERT INTO _quiver_tables (name, ident) VALUES (?, ?)`).run(name, id);
  return makeInfo(name, id, 1, [], false, POS);
}

/** Names of the batch's Int64/Uint64 columns holding a value beyond ±2^53. */
export function wideColumns(batch: RecordBatch): Set<string> {
  const out = new Set<string>();
  batch.schema.fields.forEach((f, i) => {
    if (f.type.typeId !== Type.Int || (f.type as Int64).bitWidth !== 64) return;
    for (const d of batch.getChildAt(i)!.data) {
      const hi = new Int32Array((d.values as BigInt64Array).buffer, (d.values as BigInt64Array).byteOffset, d.values.length * 2);
      for (let k = 0; k < d.length; k++) {
        const h = hi[2 * k + 1]!; // values come sliced (Arrow JS): data.offset counts only in the validity
        if (h >= 2097152 || h < -2097152) {
          out.add(f.name);
          break;
        }
      }
    }
  });
  return out;
}

function indexName(table: string, column: string): string {
  return ident(`_quiver_idx_${table}_${column}`);
}

/** Tracks read by time, runs by id: index what their queries filter on. */
function indexes(col: Col): boolean {
  return (col.name === "_ts" || col.name === "track_id") && col.storage !== "null";
}

/** The expression that converts a column's old values to a new storage. */
function converted(id: string, from: Storage, to: Storage): string {
  if (from === "null") return "NULL";
  if (to === "uint64" || to === "text") return `CAST(${id} AS TEXT)`;
  return id; // int → float: integers are exact in a column of no declared type
}

/**
 * Brings the table to hold `incoming` (columns added, numbers widened, untyped columns typed), in
 * the caller's write transaction. SCHEMA_MISMATCH / INVALID_NAME before any change.
 */
export function evolve(db: Database.Database, info: TableInfo, incoming: Schema, wide: ReadonlySet<string>): TableInfo {
  const added = incoming.fields.filter((f) => !info.byName.has(f.name)).map((f) => f.name);
  checkNewColumns(
    added,
    info.columns.map((c) => c.name),
  );
  const merged = mergeSchemas(info.schema, incoming);
  const widened = [...wide].some((n) => !info.byName.get(n)?.wide);
  if (merged === info.schema && !widened) return info;
  for (const f of merged.fields) typeToJSON(f.type, "sqlite:"); // UNSUPPORTED before any change
  const T = ident(info.ident);
  const taken = new Set(info.columns.map((c) => c.ident.toLowerCase()));
  taken.add(POS);
  const upsert = db.prepare(`INSERT OR REPLACE INTO _quiver_columns (tbl, name, ident, ord, type, "bigint", wide) VALUES (?, ?, ?, ?, ?, ?, ?)`);
  const columns: Col[] = [];
  merged.fields.forEach((f, ord) => {
    const old = info.byName.get(f.name);
    const inc = incoming.fields.find((x) => x.name === f.name);
    const storage = storageOf(f.type);
    // A column holding only nulls so far takes the bigint tag of its first values.
    const bigint = old?.bigint || ((!old || old.storage === "null") && inc?.metadata.get(BIGINT_META) === "1" && f.type.typeId === Type.Int);
    const isWide = (old?.wide ?? false) || bigint || wide.has(f.name);
    let col: Col;
    if (!old) {
      const id = f.name.toLowerCase() === POS || taken.has(f.name.toLowerCase()) ? `${f.name}~${ord}` : f.name;
      taken.add(id.toLowerCase());
      col = { name: f.name, ident: id, type: f.type, storage, bigint, wide: isWide };
      db.exec(`ALTER TABLE ${T} ADD COLUMN ${ident(id)} ${declaredType(storage)}`);
      if (indexes(col)) db.exec(`CREATE INDEX IF NOT EXISTS ${indexName(info.ident, id)} ON ${T} (${ident(id)}, ${ident(POS)})`);
    } else {
      col = { ...old, type: f.type, storage, bigint, wide: isWide };
      if (old.storage !== storage) {
        // SQLite cannot change a column's type: a new column takes the values, then the name.
        const id = ident(old.ident);
        const tmp = ident(`${old.ident}~retype`);
        db.exec(`DROP INDEX IF EXISTS ${indexName(info.ident, old.ident)}`);
        db.exec(`ALTER TABLE ${T} ADD COLUMN ${tmp} ${declaredType(storage)}`);
        if (old.storage !== "null") db.exec(`UPDATE ${T} SET ${tmp} = ${converted(id, old.storage, storage)}`);
        db.exec(`ALTER TABLE ${T} DROP COLUMN ${id}`);
        db.exec(`ALTER TABLE ${T} RENAME COLUMN ${tmp} TO ${id}`);
        if (indexes(col)) db.exec(`CREATE INDEX IF NOT EXISTS ${indexName(info.ident, old.ident)} ON ${T} (${id}, ${ident(POS)})`);
      } else if (old.type === f.type && old.bigint === bigint && old.wide === isWide) {
        columns.push(old);
        return;
      }
    }
    upsert.run(info.name, f.name, col.ident, ord, JSON.stringify(typeToJSON(f.type, "sqlite:")), col.bigint ? 1 : 0, col.wide ? 1 : 0);
    columns.push(col);
  });
  const v = db.prepare(`UPDATE _quiver_tables SET version = version + 1 WHERE name = ? RETURNING version`).get(info.name) as { version: number };
  return makeInfo(info.name, info.ident, Number(v.version), columns, false, POS);
}

/** Removes a Quiver table and its catalog entry (in the caller's transaction). */
export function dropTable(db: Database.Database, info: TableInfo): void {
  db.exec(`DROP TABLE ${ident(info.ident)}`);
  db.prepare(`DELETE FROM _quiver_columns WHERE tbl = ?`).run(info.name);
  db.prepare(`DELETE FROM _quiver_tables WHERE name = ?`).run(info.name);
}

/** The refusal of a write to a table Quiver did not create. */
export function foreignWrite(uri: string, info: TableInfo, doing: string): QuiverError {
  const alias = info.name !== info.ident ? ` (the SQLite table ${JSON.stringify(info.ident)})` : "";
  return new QuiverError(
    "UNSUPPORTED",
    `table ${JSON.stringify(info.name)}${alias} of ${uri} was not written by Quiver (xetrack's, or another tool's): Quiver reads it as it is but never ${doing} it; copy it into a store of Quiver's own first, e.g. \`quiver copy ${uri} duckdb:runs.db${info.name === "events" ? "" : ` --table ${info.name}`}\``,
  );
}
