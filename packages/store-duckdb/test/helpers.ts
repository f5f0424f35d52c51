import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const dirs: string[] = [];

/** A fresh temp directory (removed at process exit). */
export function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-duckdb-"));
  dirs.push(d);
  return d;
}

/** A path for a new DuckDB file in a fresh temp directory. */
export function tmpDb(name = "test.db"): string {
  return path.join(tmpDir(), name);
}

process.on("exit", () => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** Name → size of every file in `dir`. */
export function listing(dir: string): Record<string, number> {
  return Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.statSync(path.join(dir, f)).size]));
}
