import { QuiverError, describeValue } from "@quiver/core";

// A path is clean when it is relative, "/"-separated and has no empty, "." or ".." segment.
const SUSPECT = /(^|\/)\.\.?(\/|$)|\/\/|\\|\0|^\/|\/$|^[A-Za-z]:/;

/**
 * A datapoint path relative to the datasource: "/"-separated, no "..", not absolute.
 * "./a//b" is normalised to "a/b"; anything that could leave the folder is INVALID_PATH.
 */
export function normalizePath(p: unknown): string {
  if (typeof p !== "string" || p.length === 0) {
    throw new QuiverError("INVALID_PATH", `a datapoint path must be a non-empty string relative to the datasource folder, got ${describeValue(p)}`);
  }
  if (!SUSPECT.test(p)) return p;
  if (p.includes("\0")) throw new QuiverError("INVALID_PATH", `path ${describeValue(p)} contains NUL`);
  if (p.startsWith("/") || p.startsWith("\\") || /^[A-Za-z]:/.test(p)) {
    throw new QuiverError("INVALID_PATH", `path ${describeValue(p)} is absolute; give it relative to the datasource folder, e.g. "images/005.jpg"`);
  }
  if (p.includes("\\")) throw new QuiverError("INVALID_PATH", `path ${describeValue(p)} contains a backslash; separate folders with "/"`);
  const segs: string[] = [];
  for (const s of p.split("/")) {
    if (s === "" || s === ".") continue;
    if (s === "..") throw new QuiverError("INVALID_PATH", `path ${describeValue(p)} contains ".."; datapoints must stay inside the datasource folder`);
    segs.push(s);
  }
  if (segs.length === 0) throw new QuiverError("INVALID_PATH", `path ${describeValue(p)} names no file`);
  return segs.join("/");
}

export function normalizePaths(p: unknown): string[] {
  if (Array.isArray(p)) return p.map(normalizePath);
  return [normalizePath(p)];
}
