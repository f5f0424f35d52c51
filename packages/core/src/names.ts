import { QuiverError } from "./errors.js";

/**
 * Table and track names are paths of segments separated by "/". Stores map them to files,
 * groups or identifiers, so a name must never be able to leave the store's root.
 */
export function validateName(name: unknown, what = "name"): string {
  if (typeof name !== "string" || name.length === 0) {
    throw new QuiverError("INVALID_NAME", `${what} must be a non-empty string, got ${typeof name}`);
  }
  if (name.length > 1024) throw new QuiverError("INVALID_NAME", `${what} is longer than 1024 characters`);
  if (/[\u0000-\u001f\\]/.test(name)) {
    throw new QuiverError("INVALID_NAME", `${what} ${JSON.stringify(name)} contains a control character or a backslash; use letters, digits, "-", "_", "." and "/"`);
  }
  if (name.startsWith("/") || /^[A-Za-z]:/.test(name)) {
    throw new QuiverError("INVALID_NAME", `${what} ${JSON.stringify(name)} is an absolute path; use a relative name such as "train/loss"`);
  }
  for (const seg of name.split("/")) {
    if (seg === "" || seg === "." || seg === "..") {
      throw new QuiverError("INVALID_NAME", `${what} ${JSON.stringify(name)} has an empty, "." or ".." segment; names may not leave their root`);
    }
  }
  return name;
}

/** Column names: any non-empty, well-formed string without NUL, at most 255 characters. */
export function validateColumnName(name: string): string {
  if (typeof name !== "string" || name.length === 0 || name.length > 255 || name.includes("\u0000") || !(name as unknown as { isWellFormed(): boolean }).isWellFormed()) {
    const shown = typeof name === "string" ? JSON.stringify(name.length > 60 ? `${name.slice(0, 57)}...` : name) : String(name);
    throw new QuiverError(
      "INVALID_NAME",
      `column name ${shown}${typeof name === "string" && name.length > 255 ? ` (${name.length} characters)` : ""} must be 1-255 characters without NUL or lone surrogates; rename the key`,
    );
  }
  return name;
}

/**
 * The form under which SQL stores compare identifiers: DuckDB and PostgreSQL fold ASCII case,
 * so "Loss" and "loss" would be one column there. Quiver makes it one rule for every store.
 */
export function columnNameKey(name: string): string {
  return /[A-Z]/.test(name) ? name.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : name;
}

export function caseClash(name: string, other: string): QuiverError {
  return new QuiverError(
    "INVALID_NAME",
    `column name ${JSON.stringify(name)} differs from column ${JSON.stringify(other)} only in case; SQL stores (DuckDB, PostgreSQL) treat them as one column, so Quiver refuses it on every store — use ${JSON.stringify(other)} or another name`,
  );
}

/**
 * Validates columns a batch adds to a table: each name valid, none equal to another (new or
 * existing) up to case. Existing names are not checked against each other.
 */
export function checkNewColumns(added: readonly string[], existing: readonly string[] = []): void {
  if (added.length === 0) return;
  const keys = new Map<string, string>();
  for (const e of existing) keys.set(columnNameKey(e), e);
  for (const a of added) {
    validateColumnName(a);
    const k = columnNameKey(a);
    const other = keys.get(k);
    if (other !== undefined && other !== a) throw caseClash(a, other);
    keys.set(k, a);
  }
}
