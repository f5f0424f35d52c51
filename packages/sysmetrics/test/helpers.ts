import { spawnSync } from "node:child_process";
import os from "node:os";

/** Blocks the event loop for `ms` with real CPU work. */
export function busy(ms: number): number {
  const end = performance.now() + ms;
  let x = 0;
  while (performance.now() < end) for (let i = 0; i < 1000; i++) x += Math.sqrt(i);
  return x;
}

/** One core's share of the machine, in %: what a busy loop on the main thread adds to `cpu`. */
export const ONE_CORE = 100 / os.cpus().length;

/** Runs a small ESM script with node and returns its parsed JSON stdout. */
export function runNode(
  script: string,
  opts: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number; flags?: string[] },
): { json: unknown; status: number | null; stderr: string; ms: number } {
  const t0 = performance.now();
  // Without NODE_PATH (npx/vitest set it to pnpm's hoisted folder): resolve as an app would.
  const { NODE_PATH: _ignored, ...env } = opts.env ?? process.env;
  const r = spawnSync(process.execPath, [...(opts.flags ?? []), "--input-type=module", "-e", script], { cwd: opts.cwd, env, encoding: "utf8", timeout: opts.timeout ?? 30_000 });
  const ms = performance.now() - t0;
  let json: unknown;
  try {
    json = JSON.parse(r.stdout.trim().split("\n").pop() ?? "");
  } catch {
    json = undefined;
  }
  return { json, status: r.status, stderr: r.stderr, ms };
}
