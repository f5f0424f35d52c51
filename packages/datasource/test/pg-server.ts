/**
 * vitest globalSetup: the PostgreSQL server the postgres: runs of the tests use — QUIVER_PG_URL
 * when set (CI starts one), else a throw-away cluster started with store-postgres's
 * scripts/pg-server.sh and stopped at the end. Never a mock: without a server the tests fail.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";

let dir: string | undefined;

export function setup(): void {
  if (process.env.QUIVER_PG_URL) return;
  const main = createRequire(import.meta.url).resolve("@quiver/store-postgres");
  const script = path.join(path.dirname(main), "..", "scripts", "pg-server.sh");
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-ds-pg-"));
  process.env.QUIVER_PG_URL = execFileSync("bash", [script, "start", dir], { encoding: "utf8" }).trim();
  process.env.QUIVER_PG_DIR = dir;
  process.env.QUIVER_PG_SCRIPT = script;
}

export function teardown(): void {
  if (!dir) return;
  try {
    execFileSync("bash", [process.env.QUIVER_PG_SCRIPT!, "stop", dir], { stdio: "inherit" });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
