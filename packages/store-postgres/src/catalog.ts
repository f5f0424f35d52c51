/**
 * The catalog: which PostgreSQL table and columns hold each Quiver table and column, with
 * their exact Arrow types. Two tables in the store's schema:
 *
 *   _quiver_tables  (name PK, ident UNIQUE, rows, version)   one row per Quiver table
 *   _quiver_columns (tbl, name, ident, ord, type, bigint, bytes)   one row per column
 *   _quiver_batches (id, at, done)   the token of each recent append (tokens.ts)
 *
 * `rows` is the next row's `_quiver_pos` (positions are dense, 0-based, in insertion order);
 * `version` changes with every schema change. A writer queues on its table's advisory lock,
 * then locks the table's catalog row (`UPDATE … RETURNING`), both for the whole append
 * transaction: appends of one table commit one after another (so positions are dense and
 * ordered), schema changes by racing writers are serialised, and a writer whose cached schema
 * is stale sees the new version and reloads.
 */
import { createHash } from "node:crypto";
import { Field, type RecordBatch, Schema, Type } from "apache-arrow";
import { BIGINT_META, checkNewColumns, mergeSchemas, typeFromJSON, typeToJSON } from "@quiver/core";
import type { Sql } from "postgres";

type TransactionSql = Sql;
import { ident, type SqlColumn } from "./sql.js";
import { isStringy, sameStorage, type Storage, sqlTypeOf, storageOf } from "./types.js";

export interface ColInfo extends SqlColumn {
  name: string;
  bigint: boolean;
  /** Strings kept as UTF-8 bytea (a string with NUL was met). */
  bytes: boolean;
}

export interface TableInfo {
  name: string;
  ident: string;
  version: number;
  columns: ColInfo[];
  byName: Map<string, ColInfo>;
  schema: Schema;
}

type Q = Sql | TransactionSql;

/** Every advisory lock of Quiver uses this first key ("QVER"). */
export const LOCK_KEY = 0x51564552;
export const POS = "_quiver_pos";
const MAX_IDENT = 63;
/** PostgreSQL's system columns: a key of that name gets another identifier. */
const SYSTEM_COLUMNS = new Set(["tableoid", "xmin", "cmin", "xmax", "cmax", "ctid", "oid"]);

export function makeInfo(name: string, identName: string, version: number, columns: ColInfo[]): TableInfo {
  const fields = columns.map((c) => new Field(c.name, c.type, true, c.bigint ? new Map([[BIGINT_META, "1"]]) : undefined));
  return { name, ident: identName, version, columns, byName: new Map(columns.map((c) => [c.name, c])), schema: new Schema(fields) };
}

/** SQL for the catalog in schema `S` (quoted). Idempotent; run under the bootstrap lock. */
export function catalogDDL(S: string): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${S}`,
    `CREATE TABLE IF NOT EXISTS ${S}._quiver_tables (name text PRIMARY KEY, ident text NOT NULL UNIQUE, rows bigint NOT NULL DEFAULT 0, version bigint NOT NULL DEFAULT 1)`,
    `CREATE TABLE IF NOT EXISTS ${S}._quiver_columns (tbl text NOT NULL REFERENCES ${S}._quiver_tables (name) ON DELETE CASCADE, name text NOT NULL, ident text NOT NULL, ord integer NOT NULL, type text NOT NULL, "bigint" boolean NOT NULL DEFAULT false, bytes boolean NOT NULL DEFAULT false, PRIMARY KEY (tbl, name), UNIQUE (tbl, ident))`,
    // One row per append, written in its transaction: a writer that lost COMMIT's answer
    // learns from it whether the append committed (tokens.ts).
    `CREATE TABLE IF NOT EXISTS ${S}._quiver_batches (id text PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), done boolean NOT NULL DEFAULT false)`,
    // Lists of strings that meet a NUL become bytea[]; ALTER … USING cannot hold a subquery.
    `CREATE OR REPLACE FUNCTION ${S}._quiver_utf8_array(a text[]) RETURNS bytea[] LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN a IS NULL THEN NULL ELSE coalesce((SELECT array_agg(convert_to(e, 'UTF8') ORDER BY o) FROM unnest(a) WITH ORDINALITY AS u(e, o)), '{}') END $$`,
  ];
}

/** A PostgreSQL identifier for `name`: itself when it fits and is free, else a short reversible one. */
export function identFor(name: string, taken: (id: string) => boolean): string {
  const fits = Buffer.byteLength(name, "utf8") <= MAX_IDENT && !name.startsWith("_quiver_");
  if (fits && !taken(name)) return name;
  // Prefix (whole characters, ≤ 44 bytes) + "~" + hash: readable in psql, mapped back by the catalog.
  let prefix = "";
  for (const ch of name) {
    if (Buffer.byteLength(prefix + ch, "utf8") > 44) break;
    prefix += ch;
  }
  if (prefix.startsWith("_quiver_")) prefix = prefix.slice(1);
  const hash = createHash("sha256").update(name).digest("hex");
  for (let i = 0; ; i++) {
    const id = `${prefix}~${hash.slice(0, 12)}${i ? `~${i}` : ""}`;
    if (!taken(id)) return id;
  }
}

function colFromRow(r: { name: string; ident: string; type: string; bigint: boolean; bytes: boolean }): ColInfo {
  const type = typeFromJSON(JSON.parse(r.type));
  return { name: r.name, ident: r.ident, type, bigint: r.bigint, bytes: r.bytes, storage: storageOf(type, r.bytes) };
}

/** The table's catalog entry, or undefined when it does not exist. */
export async function loadTable(q: Q, S: string, name: string): Promise<TableInfo | undefined> {
  const rows = await q.unsafe<{ tident: string; version: string; name: string | null; ident: string; type: string; bigint: boolean; bytes: boolean }[]>(
    `SELECT t.ident AS tident, t.version, c.name, c.ident, c.type, c."bigint", c.bytes FROM ${S}._quiver_tables t LEFT JOIN ${S}._quiver_columns c ON c.tbl = t.name WHERE t.name = $1 ORDER BY c.ord`,
    [name],
  );
  if (rows.length === 0) return undefined;
  const cols = rows.filter((r) => r.name !== null).map((r) => colFromRow(r as Parameters<typeof colFromRow>[0]));
  return makeInfo(name, rows[0]!.tident, Number(rows[0]!.version), cols);
}

/** Creates the table (under its creation lock) unless another writer already did. */
export async function createTable(tx: TransactionSql, S: string, schemaName: string, name: string): Promise<void> {
  await tx.unsafe(`SELECT pg_advisory_xact_lock(${LOCK_KEY}, hashtext($1))`, [`${schemaName}.${name}`]);
  const exists = await tx.unsafe(`SELECT 1 FROM ${S}._quiver_tables WHERE name = $1`, [name]);
  if (exists.length) return;
  const taken = new Set(
    (await tx.unsafe<{ relname: string }[]>(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1`, [schemaName])).map(
      (r) => r.relname,
    ),
  );
  const id = identFor(name, (x) => taken.has(x));
  await tx.unsafe(`CREATE TABLE ${S}.${ident(id)} (${ident(POS)} bigint PRIMARY KEY)`);
  await tx.unsafe(`INSERT INTO ${S}._quiver_tables (name, ident) VALUES ($1, $2)`, [name, id]);
}

/** Names of string / list-of-string columns of the batch that hold a NUL somewhere. */
export function columnsWithNul(batch: RecordBatch): Set<string> {
  const out = new Set<string>();
  batch.schema.fields.forEach((f, i) => {
    if (!isStringy(f.type)) return;
    for (const d of batch.getChildAt(i)!.data) {
      const strings = f.type.typeId === Type.List ? d.children[0] : d;
      const bytes = strings?.values as Uint8Array | undefined;
      if (bytes && bytes.indexOf(0) >= 0) out.add(f.name);
    }
  });
  return out;
}

/** The USING expression that converts column `id` from storage `a` to `b`. */
function convert(id: string, a: Storage, b: Storage, S: string): string {
  const to = sqlTypeOf(b);
  if (a.kind === "null") return `NULL::${to}`;
  if (a.kind === "json" && b.kind === "array") {
    // A list column that held only empty lists or lists of nulls: same lengths, all null.
    return `CASE WHEN ${id} IS NULL THEN NULL ELSE array_fill(NULL::${sqlTypeOf({ kind: "scalar", elem: b.elem })}, ARRAY[json_array_length(${id}::json)]) END`;
  }
  if (a.kind === "scalar" && a.elem === "text" && b.kind === "scalar" && b.elem === "bytea") return `convert_to(${id}, 'UTF8')`;
  if (a.kind === "array" && a.elem === "text" && b.kind === "array" && b.elem === "bytea") return `${S}._quiver_utf8_array(${id})`;
  return `${id}::${to}`;
}

/**
 * Brings the table to hold `incoming` (new columns added, ints widened, untyped columns typed,
 * strings that meet a NUL moved to bytes), inside the caller's transaction, which holds the
 * table's catalog row. SCHEMA_MISMATCH / INVALID_NAME before any change.
 */
export async function evolve(tx: TransactionSql, S: string, info: TableInfo, incoming: Schema, nul: ReadonlySet<string>): Promise<TableInfo> {
  const added = incoming.fields.filter((f) => !info.byName.has(f.name)).map((f) => f.name);
  checkNewColumns(
    added,
    info.columns.map((c) => c.name),
  );
  const merged = mergeSchemas(info.schema, incoming);
  const needBytes = (name: string) => nul.has(name) && !info.byName.get(name)?.bytes;
  if (merged === info.schema && ![...nul].some(needBytes)) return info;
  const T = `${S}.${ident(info.ident)}`;
  const taken = new Set(info.columns.map((c) => c.ident));
  const columns: ColInfo[] = [];
  let ord = 0;
  for (const f of merged.fields) {
    const old = info.byName.get(f.name);
    const inc = incoming.fields.find((x) => x.name === f.name);
    // A column that held only nulls takes the bigint tag of its first values.
    const bigint = old?.bigint || ((!old || old.type.typeId === Type.Null) && inc?.metadata.get(BIGINT_META) === "1" && f.type.typeId === Type.Int);
    const bytes = (old?.bytes ?? false) || (nul.has(f.name) && isStringy(f.type));
    const storage = storageOf(f.type, bytes);
    if (!old) {
      const id = identFor(f.name, (x) => taken.has(x) || x === POS || SYSTEM_COLUMNS.has(x));
      taken.add(id);
      const col: ColInfo = { name: f.name, ident: id, type: f.type, bigint, bytes, storage };
      await tx.unsafe(`ALTER TABLE ${T} ADD COLUMN ${ident(id)} ${sqlTypeOf(storage)}`);
      await tx.unsafe(`INSERT INTO ${S}._quiver_columns (tbl, name, ident, ord, type, "bigint", bytes) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [
        info.name,
        f.name,
        id,
        info.columns.length + ord++,
        JSON.stringify(typeToJSON(f.type, "postgres")),
        col.bigint,
        bytes,
      ]);
      // Tracks read by time and runs by id: index what their queries filter on. Strings are
      // compared in code point order (COLLATE "C", sql.ts), so the index is too: usable by those
      // queries, and cheaper to keep than one in the database's locale.
      const text = storage.kind === "scalar" && storage.elem === "text";
      if (f.name === "_ts" || f.name === "track_id") await tx.unsafe(`CREATE INDEX ON ${T} (${ident(id)}${text ? ` COLLATE "C"` : ""}, ${ident(POS)})`);
      columns.push(col);
      continue;
    }
    if (old.type === f.type && old.bytes === bytes && old.bigint === bigint) {
      columns.push(old);
      continue;
    }
    if (!sameStorage(old.storage, storage)) {
      const id = ident(old.ident);
      await tx.unsafe(`ALTER TABLE ${T} ALTER COLUMN ${id} TYPE ${sqlTypeOf(storage)} USING ${convert(id, old.storage, storage, S)}`);
    }
    await tx.unsafe(`UPDATE ${S}._quiver_columns SET type = $3, bytes = $4, "bigint" = $5 WHERE tbl = $1 AND name = $2`, [
      info.name,
      f.name,
      JSON.stringify(typeToJSON(f.type, "postgres")),
      bytes,
      bigint,
    ]);
    columns.push({ ...old, type: f.type, bytes, storage, bigint });
  }
  const v = await tx.unsafe<{ version: string }[]>(`UPDATE ${S}._quiver_tables SET version = version + 1 WHERE name = $1 RETURNING version`, [info.name]);
  return makeInfo(info.name, info.ident, Number(v[0]!.version), columns);
}
