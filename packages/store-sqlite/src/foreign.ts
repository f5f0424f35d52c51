/**
 * Tables Quiver did not write — xetrack's events table and its sqlitedict assets, or any other
 * tool's — read as they are. SQLite columns are loosely typed (a declared type is only an
 * affinity, and each value has its own storage class), so a column's Arrow type comes from its
 * declared type and then from its values, in one aggregate query per table:
 *
 *   only integers → int64 (tagged bigint when one is beyond ±2^53; bool when declared BOOL* and all 0/1)
 *   integers and reals → float64          reals only → float64
 *   text only → string; a time (timestamp[us, UTC]: xetrack's naive local time, read as UTC) when the column is named `timestamp`
 *     or declared DATE/TIME* and every value reads as one ('YYYY-MM-DD HH:MM:SS[.ffffff]', xetrack's)
 *   text with numbers → string (numbers as their shortest text)    any blob → binary (text as UTF-8)
 *   no value at all → by declared type (INT* int64, REAL/FLOA/DOUB float64, CHAR/CLOB/TEXT string,
 *     BLOB binary, BOOL* bool, DATE/TIME* timestamp), else null
 *
 * Rows come in rowid order (insertion order for xetrack's tables). The result is cached until
 * the file changes (PRAGMA data_version and this connection's changes).
 */
import { Bool, Binary, type DataType, Float64, Int64, Null, TimestampMicrosecond, Utf8 } from "apache-arrow";
import type Database from "better-sqlite3";
import { type Col, ident, makeInfo, type TableInfo } from "./catalog.js";
import { type Storage, storageOf } from "./codec.js";

const SAFE = 2 ** 53 - 1;
/** GLOB patterns of the time texts parseTime reads (ISO date first, and xetrack's old day-first form). */
const TIME_GLOBS = [
  "[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9][ T][0-2][0-9]:[0-5][0-9]:[0-6][0-9]",
  "[0-3][0-9]-[0-1][0-9]-[0-9][0-9][0-9][0-9] [0-2][0-9]:[0-5][0-9]:[0-6][0-9]",
];

interface Stats {
  ints: number;
  reals: number;
  texts: number;
  blobs: number;
  lo: number | bigint | null;
  hi: number | bigint | null;
  /** Texts that are not times. */
  notTime: number;
  /** Integers other than 0 and 1. */
  not01: number;
}

function affinity(decl: string): "int" | "text" | "blob" | "real" | "numeric" {
  const d = decl.toUpperCase();
  if (d.includes("INT")) return "int";
  if (d.includes("CHAR") || d.includes("CLOB") || d.includes("TEXT")) return "text";
  if (d === "" || d.includes("BLOB")) return "blob";
  if (d.includes("REAL") || d.includes("FLOA") || d.includes("DOUB")) return "real";
  return "numeric";
}

const isTimeDecl = (d: string) => /DATE|TIME/i.test(d);
const isBoolDecl = (d: string) => /^BOOL/i.test(d.trim());

/** The Arrow type of a column, from its declared type and the storage classes of its values. */
export function inferType(name: string, decl: string, s: Stats): { type: DataType; wide: boolean; bigint: boolean } {
  const big = (s.lo !== null && Number(s.lo) < -SAFE) || (s.hi !== null && Number(s.hi) > SAFE);
  const n = s.ints + s.reals + s.texts + s.blobs;
  const plain = (type: DataType) => ({ type, wide: false, bigint: false });
  if (n === 0) {
    if (isBoolDecl(decl)) return plain(new Bool());
    if (isTimeDecl(decl)) return plain(new TimestampMicrosecond("UTC"));
    const a = affinity(decl);
    if (a === "int") return plain(new Int64());
    if (a === "real") return plain(new Float64());
    if (a === "text") return plain(new Utf8());
    return plain(decl.toUpperCase().includes("BLOB") ? new Binary() : new Null());
  }
  if (s.blobs > 0) return plain(new Binary());
  if (s.texts > 0) {
    const timeCol = name === "timestamp" || isTimeDecl(decl);
    return plain(timeCol && s.texts === n && s.notTime === 0 ? new TimestampMicrosecond("UTC") : new Utf8());
  }
  if (s.reals > 0) return big ? plain(new Utf8()) : plain(new Float64());
  if (isBoolDecl(decl) && s.not01 === 0) return plain(new Bool());
  return { type: new Int64(), wide: big, bigint: big };
}

/** The SQL of one column's statistics (a row of 8 values). */
function statsSql(q: string): string {
  const t = `typeof(${q})`;
  const times = TIME_GLOBS.map((g) => `substr(${q}, 1, 19) GLOB '${g}'`).join(" OR ");
  const tail = `(length(${q}) = 19 OR (substr(${q}, 20, 1) = '.' AND length(${q}) BETWEEN 21 AND 29 AND substr(${q}, 21) NOT GLOB '*[^0-9]*'))`;
  return [
    `sum(${t} = 'integer')`,
    `sum(${t} = 'real')`,
    `sum(${t} = 'text')`,
    `sum(${t} = 'blob')`,
    `min(CASE WHEN ${t} = 'integer' THEN ${q} END)`,
    `max(CASE WHEN ${t} = 'integer' THEN ${q} END)`,
    `sum(${t} = 'text' AND NOT ((${times}) AND ${tail}))`,
    `sum(${t} = 'integer' AND ${q} NOT IN (0, 1))`,
  ].join(", ");
}

interface PragmaCol {
  name: string;
  type: string;
}

/** The column that orders the table's rows by insertion (its rowid), or undefined (WITHOUT ROWID). */
function rowidOf(db: Database.Database, table: string, names: readonly string[]): string | undefined {
  const sql = (db.prepare(`SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`).get(table) as { sql: string | null } | undefined)?.sql ?? "";
  if (/WITHOUT\s+ROWID\s*;?\s*$/i.test(sql)) return undefined;
  const lower = new Set(names.map((n) => n.toLowerCase()));
  return ["rowid", "_rowid_", "oid"].find((a) => !lower.has(a));
}

/** A foreign table's info (`name` is how Quiver calls it, `table` its SQLite name). */
export function inferTable(db: Database.Database, name: string, table: string): TableInfo {
  const cols = db.prepare(`SELECT name, type FROM pragma_table_info(?)`).all(table) as PragmaCol[];
  let stats: unknown[] = [];
  if (cols.length) {
    const stmt = db.prepare(`SELECT ${cols.map((c) => statsSql(ident(c.name))).join(", ")} FROM ${ident(table)}`).raw(true);
    stmt.safeIntegers(true);
    stats = (stmt.get() as unknown[]) ?? [];
  }
  const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));
  const columns = cols.map((c, i): Col => {
    const s = stats.slice(i * 8, i * 8 + 8);
    const st: Stats = {
      ints: num(s[0]),
      reals: num(s[1]),
      texts: num(s[2]),
      blobs: num(s[3]),
      lo: (s[4] as bigint | null) ?? null,
      hi: (s[5] as bigint | null) ?? null,
      notTime: num(s[6]),
      not01: num(s[7]),
    };
    const { type, wide, bigint } = inferType(c.name, c.type ?? "", st);
    const storage: Storage = storageOf(type);
    return { name: c.name, ident: c.name, type, storage, bigint, wide };
  });
  return makeInfo(
    name,
    table,
    0,
    columns,
    true,
    rowidOf(
      db,
      table,
      cols.map((c) => c.name),
    ),
  );
}

/** Whether a foreign table looks like xetrack's events table (it has track_id and timestamp). */
export function isXetrackEvents(db: Database.Database, table: string): boolean {
  const names = new Set((db.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as PragmaCol[]).map((c) => c.name));
  return names.has("track_id") && names.has("timestamp");
}
