import { execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");

export function tmpDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `quiver-h5-${tag}-`));
}

/** A python3 that imports h5py (pyenv shims may hide Debian's python3-h5py). */
export const python: string = (() => {
  for (const p of [process.env.QUIVER_PYTHON, "python3", "/usr/bin/python3"]) {
    if (p && spawnSync(p, ["-c", "import h5py"], { stdio: "ignore" }).status === 0) return p;
  }
  throw new Error("no python3 with h5py found: install Debian's python3-h5py (or set QUIVER_PYTHON)");
})();

/** Runs a Python snippet; `argv` reach it as sys.argv[1:]. Returns stdout. */
export function py(code: string, ...argv: string[]): string {
  return execFileSync(python, ["-c", code, ...argv], { encoding: "utf8" });
}

export function tool(cmd: "h5ls" | "h5dump", ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8" });
}

/** Spawns a process and collects its output; resolves on exit. */
export function run(cmd: string, args: string[], opts: { onLine?: (line: string) => void } = {}) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let partial = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d;
    partial += d;
    const lines = partial.split("\n");
    partial = lines.pop()!;
    for (const l of lines) opts.onLine?.(l);
  });
  child.stderr.on("data", (d: Buffer) => (err += d));
  const done = new Promise<{ code: number | null; signal: string | null; out: string; err: string }>((res) => child.on("exit", (code, signal) => res({ code, signal, out, err })));
  return { child, done };
}
