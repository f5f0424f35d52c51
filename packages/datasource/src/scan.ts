/** Walks a datasource's folder and diffs it against the indexed files. */
import { type Dirent, statSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { QuiverError } from "@quiver/core";
import type { ChangeSet } from "./events.js";
import { ioError } from "./storage.js";

export interface ScanProgress {
  phase: "list" | "stat" | "write" | "done";
  done: number;
  total: number;
}

export interface ScanOptions {
  /** Called as the scan goes (at least every `progressEvery` files and at each phase). */
  onProgress?: (p: ScanProgress) => void;
  progressEvery?: number;
}

export interface ScanReport {
  files: number;
  added: number;
  changed: number;
  removed: number;
}

/** Diff of the folder against `known` (path → [size, mtime ms]) as a change set. */
export async function scanFolder(
  folder: string,
  root: string,
  known: ReadonlyMap<string, [number, number]>,
  options: ScanOptions,
): Promise<{ change: ChangeSet; report: ScanReport }> {
  const every = options.progressEvery ?? 1000;
  const progress = options.onProgress;
  const abs = resolve(folder);
  try {
    if (!(await stat(abs)).isDirectory()) throw new QuiverError("INVALID_PATH", `${abs} is not a folder`);
  } catch (err) {
    if (err instanceof QuiverError) throw err;
    throw new QuiverError("NOT_FOUND", `the datasource folder ${abs} does not exist; create it or fix the path`, { cause: err });
  }
  // The metadata root may live inside the folder: never index it.
  const rootAbs = resolve(root);
  const rootRel = relative(abs, rootAbs);
  const skip = rootRel && !rootRel.startsWith("..") && !resolve(rootRel).startsWith(rootRel) ? rootRel.split(sep).join("/") : undefined;

  progress?.({ phase: "list", done: 0, total: 0 });
  const entries: Dirent[] = await readdir(abs, { withFileTypes: true, recursive: true }).catch((err: unknown) => {
    throw ioError(err, "cannot list the datasource folder");
  });
  const files: string[] = [];
  for (const e of entries) {
    if (e.isDirectory()) continue;
    const parent = (e as Dirent & { parentPath?: string }).parentPath ?? (e as Dirent & { path: string }).path;
    const rel = relative(abs, join(parent, e.name)).split(sep).join("/");
    if (skip && (rel === skip || rel.startsWith(skip + "/"))) continue;
    if (e.isFile() || e.isSymbolicLink()) files.push(rel);
  }
  files.sort();
  progress?.({ phase: "list", done: files.length, total: files.length });

  const paths: string[] = [];
  const size: (number | undefined | null)[] = [];
  const mtime: (Date | undefined | null)[] = [];
  const seen = new Set<string>();
  let added = 0;
  let changed = 0;
  let count = 0;
  for (let i = 0; i < files.length; i++) {
    const rel = files[i]!;
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(join(abs, rel));
    } catch {
      continue; // vanished or a broken link
    }
    if (!st.isFile()) continue;
    count++;
    seen.add(rel);
    const ms = Math.floor(st.mtimeMs);
    const k = known.get(rel);
    if (!k || k[0] !== st.size || k[1] !== ms) {
      if (k) changed++;
      else added++;
      paths.push(rel);
      size.push(st.size);
      mtime.push(new Date(ms));
    }
    if ((i + 1) % every === 0) {
      progress?.({ phase: "stat", done: i + 1, total: files.length });
      await new Promise((r) => setImmediate(r)); // let the caller render progress
    }
  }
  progress?.({ phase: "stat", done: files.length, total: files.length });
  let removed = 0;
  const unset: (string[] | undefined)[] = new Array(paths.length);
  for (const p of known.keys()) {
    if (seen.has(p)) continue;
    removed++;
    paths.push(p);
    size.push(undefined);
    mtime.push(undefined);
    unset.push(["size", "mtime"]);
  }
  return {
    change: {
      paths,
      fields: new Map<string, unknown[]>([
        ["size", size],
        ["mtime", mtime],
      ]),
      unset,
    },
    report: { files: count, added, changed, removed },
  };
}
