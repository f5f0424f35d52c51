/**
 * Opening the file with better-sqlite3, and SQLite's errors as QuiverErrors naming the file,
 * SQLite's reason and what to do. No raw SqliteError reaches a caller.
 */
import fs from "node:fs";
import Database from "better-sqlite3";
import { QuiverError } from "@quiver/core/store-kit";

export interface Opened {
  db: Database.Database;
  /** This connection put the file in WAL mode (and sets it back to a rollback journal on close). */
  wal: boolean;
}

function codeOf(err: unknown): string {
  const c = (err as { code?: unknown })?.code;
  return typeof c === "string" ? c : "";
}

export function messageOf(err: unknown): string {
  return String((err as Error)?.message ?? err);
}

/** Whether SQLite blamed the statement (its syntax, a missing table, a constraint) rather than the file. */
export function isStatementError(err: unknown): boolean {
  const c = codeOf(err);
  return (
    c === "SQLITE_ERROR" ||
    c === "SQLITE_MISMATCH" ||
    c === "SQLITE_RANGE" ||
    c.startsWith("SQLITE_CONSTRAINT") ||
    (err instanceof TypeError && /bind|parameter/i.test(messageOf(err)))
  );
}

/** A SQLite or file-system failure as a QuiverError: LOCKED, UNSUPPORTED (read-only opens) or IO. */
export function sqliteFault(err: unknown, doing: string, file: string, readOnly: boolean): QuiverError {
  if (err instanceof QuiverError) return err;
  const code = codeOf(err);
  const why = `${code ? `${code}: ` : ""}${messageOf(err)}`;
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new QuiverError("LOCKED", `${doing} ${file} failed (${why}): another connection holds the file; retry, or raise ?busyTimeout= (ms)`, { cause: err });
  }
  if (code.startsWith("SQLITE_READONLY") && readOnly) {
    return new QuiverError("UNSUPPORTED", `${doing} ${file} failed (${why}): the store was opened read-only; open it without readOnly to write`, { cause: err });
  }
  let advice = "check the disk and the file, then retry; what was committed before is intact";
  if (code === "SQLITE_FULL" || /ENOSPC|disk is full|No space left/i.test(why))
    advice = "the disk is full: free disk space and retry; nothing of this call was stored and what was committed before is intact";
  else if (code.startsWith("SQLITE_READONLY") || /EROFS|read-only file system/i.test(why))
    advice = "the file or its folder is read-only: open the store with { readOnly: true } to read it, or move the file somewhere writable";
  else if (code.startsWith("SQLITE_CANTOPEN") || /EACCES|EPERM|permission/i.test(why))
    advice = "check that the folder exists and that the file and its folder are writable by this user";
  else if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT")) advice = "the file is not a SQLite database (or is damaged); check the path";
  return new QuiverError("IO", `${doing} ${file} failed (${why}); ${advice}`, { cause: err });
}

/**
 * Opens the database. Writable opens create the file and use WAL (readers never wait for the
 * writer) with synchronous=FULL (a commit is on disk once acknowledged); read-only opens never
 * create or change anything: `readonly` + `fileMustExist`, no pragma that writes.
 */
export function openDatabase(path: string, readOnly: boolean, busyTimeout: number): Opened {
  const memory = path === ":memory:";
  if (readOnly) {
    if (memory) throw new QuiverError("UNSUPPORTED", `sqlite: an in-memory database cannot be opened with { readOnly: true }: there is nothing to read`);
    // Checked first: reading never creates the file.
    if (!fs.existsSync(path)) throw new QuiverError("NOT_FOUND", `${path} does not exist; a store opened with { readOnly: true } never creates it — check the path`);
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: readOnly, fileMustExist: readOnly, timeout: busyTimeout });
    let wal = false;
    if (!readOnly && !memory) {
      // Another tool's file already in WAL mode (its owner's choice) stays so; Quiver's own files
      // and files in a rollback journal go back to one on close.
      const before = String(db.pragma("journal_mode", { simple: true })).toLowerCase();
      const ours = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_quiver_tables'`).get() !== undefined;
      const now = String(db.pragma("journal_mode = WAL", { simple: true })).toLowerCase();
      wal = now === "wal" && (before !== "wal" || ours);
      db.pragma("synchronous = FULL");
    }
    // Read the header now: a file that is not a database fails here, not at the first read.
    db.prepare("SELECT count(*) FROM sqlite_master").get();
    return { db, wal };
  } catch (err) {
    db?.close();
    throw sqliteFault(err, "opening", path, readOnly);
  }
}

/**
 * Closes the connection. A writer that set WAL sets the file back to a rollback journal first
 * when it is the last connection (SQLite refuses while others are open, which is fine): so a
 * closed file has no -wal/-shm beside it, and a read-only open later creates none. Never throws
 * for that step; the close itself may.
 */
export function closeDatabase(opened: Opened): void {
  const { db } = opened;
  if (!db.open) return;
  if (opened.wal) {
    try {
      db.pragma("busy_timeout = 0");
      db.pragma("journal_mode = DELETE");
    } catch {
      /* another connection is open (or the disk is full): the file stays in WAL mode, intact */
    }
  }
  db.close();
}
