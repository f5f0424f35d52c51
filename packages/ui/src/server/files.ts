/**
 * Serving a datasource's files, only from inside its folder: a path with `..`, an absolute path,
 * a backslash or NUL is refused before the disk is touched, and a path whose real location (all
 * symlinks resolved) is outside the folder is refused too.
 */
import { realpathSync, statSync } from "node:fs";
import { extname, join, sep } from "node:path";
import { QuiverError } from "@quiver/core";

/** The real path of `rel` inside `folder`, or INVALID_PATH / NOT_FOUND. */
export function insideRoot(folder: string, rel: string): { file: string; size: number } {
  if (typeof rel !== "string" || rel === "") throw new QuiverError("INVALID_PATH", "a file path inside the datasource is needed (?path=images/001.png)");
  if (rel.includes("\0") || rel.includes("\\"))
    throw new QuiverError("INVALID_PATH", `${JSON.stringify(rel)}: NUL and backslashes are refused; use the datapoint's "/"-separated path`);
  if (rel.startsWith("/") || /^[a-zA-Z]:/.test(rel))
    throw new QuiverError("INVALID_PATH", `${JSON.stringify(rel)} is absolute; only paths relative to the datasource's folder are served`);
  if (rel.split("/").some((s) => s === ".."))
    throw new QuiverError("INVALID_PATH", `${JSON.stringify(rel)} leaves the datasource's folder (".."); only files inside it are served`);
  let base: string;
  let real: string;
  try {
    base = realpathSync(folder);
  } catch (err) {
    throw new QuiverError("NOT_FOUND", `the datasource's folder ${folder} is gone`, { cause: err });
  }
  try {
    real = realpathSync(join(base, rel));
  } catch (err) {
    throw new QuiverError("NOT_FOUND", `no file ${JSON.stringify(rel)} in ${folder}`, { cause: err });
  }
  if (real !== base && !real.startsWith(base.endsWith(sep) ? base : base + sep)) {
    throw new QuiverError("INVALID_PATH", `${JSON.stringify(rel)} is a link to ${real}, outside the datasource's folder ${base}; it is not served`);
  }
  const st = statSync(real);
  if (!st.isFile()) throw new QuiverError("NOT_FOUND", `${JSON.stringify(rel)} in ${folder} is not a file`);
  return { file: real, size: st.size };
}

const TYPES: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".bmp": "image/bmp",
  ".svg": "text/plain; charset=utf-8", // never as image/svg+xml: it could run script
  ".txt": "text/plain; charset=utf-8",
  ".csv": "text/plain; charset=utf-8",
  ".json": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
};

export function contentType(path: string): string {
  return TYPES[extname(path).toLowerCase()] ?? "application/octet-stream";
}

export const IMAGE_EXT = new Set([".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"]);

/** What the bytes are, by their magic number (blob previews). */
export function sniff(bytes: Uint8Array): string {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return "image/png";
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return "image/jpeg";
  if (bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46) return "image/gif";
  return "application/octet-stream";
}
