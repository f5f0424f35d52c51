/**
 * vitest globalSetup: the PostgreSQL server the tests use. QUIVER_PG_URL when it is set (CI
 * starts one); otherwise a throw-away cluster is created and started here (scripts/pg-server.sh)
 * and stopped at the end. Never a mock: without a server the tests fail, they do not skip.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const script = fileURLToPath(new URL("../scripts/pg-server.sh", import.meta.url));
let dir: string | undefined;

export function setup(): void {
  if (process.env.QUIVER_PG_URL) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-pg-test-"));
  const url = execFileSync("bash", [script, "start", dir], { encoding: "utf8" }).trim();
  process.env.QUIVER_PG_URL = url;
  process.env.QUIVER_PG_DIR = dir;
}

export function teardown(): void {
  if (!dir) return;
  try {
    execFileSync("bash", [script, "stop", dir], { stdio: "inherit" });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
