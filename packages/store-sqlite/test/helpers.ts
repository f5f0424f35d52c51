import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const dirs: string[] = [];

/** A fresh temp directory (removed at process exit). */
export function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-sqlite-"));
  dirs.push(d);
  return d;
}

/** A path for a new SQLite file in a fresh temp directory. */
export function tmpDb(name = "test.db"): string {
  return path.join(tmpDir(), name);
}

process.on("exit", () => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});
