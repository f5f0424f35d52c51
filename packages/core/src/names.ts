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

/** Column names: any non-empty string without NUL, at most 255 characters. */
export function validateColumnName(name: string): string {
  if (name.length === 0 || name.length > 255 || name.includes("\u0000")) {
    throw new QuiverError("INVALID_NAME", `column name ${JSON.stringify(name)} must be 1-255 characters without NUL`);
  }
  return name;
}
