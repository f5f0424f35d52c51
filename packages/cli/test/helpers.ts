/** Running the built `quiver` binary as a child process. */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Datasource } from "@quiver/datasource";
import { H5Logger } from "@quiver/store-h5";

export const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
export const DEMO = fileURLToPath(new URL("../dist/demo.js", import.meta.url));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `quiver ...args`; stdout/stderr are pipes (so no TTY, no colour, no progress bar). */
export function quiver(args: string[], opts: { env?: Record<string, string | undefined>; cwd?: string } = {}): RunResult {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined, QUIVER_PROGRESS: undefined, QUIVER_STORE: undefined, ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const r = spawnSync(process.execPath, [BIN, ...args], { env: env as NodeJS.ProcessEnv, cwd: opts.cwd, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a command that must succeed; returns stdout. */
export function ok(args: string[], opts?: Parameters<typeof quiver>[1]): string {
  const r = quiver(args, opts);
  if (r.code !== 0) throw new Error(`quiver ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** Parses JSON lines output. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "quiver-cli-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The error line a failing command printed: { code, message }. */
export function errorOf(r: RunResult): { code: string; message: string } {
  const m = /^quiver: ([A-Z_]+): ([\s\S]*)$/.exec(r.stderr.trim());
  if (!m) throw new Error(`not a quiver error line: ${JSON.stringify(r.stderr)}`);
  return { code: m[1]!, message: m[2]! };
}

/**
 * Runs a command in this process through the built `main` (same code as the binary minus
 * process start-up): used for the many fine-grained checks, while every store is also driven
 * through the real binary in a child process.
 */
export async function inproc(args: string[]): Promise<RunResult> {
  const { main } = await import("../dist/index.js");
  let stdout = "";
  let stderr = "";
  const code = await main(args, { out: { write: (s: string) => void (stdout += s) }, err: { write: (s: string) => void (stderr += s) }, color: false, columns: 80 });
  return { code, stdout, stderr };
}

export async function okIn(args: string[]): Promise<string> {
  const r = await inproc(args);
  if (r.code !== 0) throw new Error(`quiver ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** An H5Logger file (camera.h5: exposure_ms, frame) and a scanned datasource "images" (root .ds) under `cwd`. */
export async function seedH5AndDatasource(cwd: string): Promise<void> {
  const logger = await H5Logger.open(join(cwd, "camera.h5"), { replaceIfExists: true });
  for (let i = 0; i < 3; i++) logger.log("exposure_ms", i);
  logger.log("frame", { data: new Float32Array(4), shape: [2, 2] });
  await logger.close();
  mkdirSync(join(cwd, "data", "img"), { recursive: true });
  for (const n of ["a", "b"]) writeFileSync(join(cwd, "data", "img", `${n}.jpg`), n);
  const ds = await Datasource.getOrCreate({ name: "images", path: join(cwd, "data"), root: join(cwd, ".ds") });
  await ds.scan();
  await ds.close();
}
