/** Runs one README block as a user would: a fresh folder whose node_modules has the packages, `node example.mjs`. */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Block, moduleSource, REPO } from "./blocks.js";

// TypeScript is a dev tool of the workspace, found from the repository root.
const ts = createRequire(join(REPO, "package.json"))("typescript") as typeof import("typescript");

/** This package's node_modules: every @quiver package linked, as an app that installed them has. */
export const NODE_MODULES = join(import.meta.dirname, "../node_modules");

export interface BlockRun {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
  timedOut: boolean;
}

export function toJs(b: Block): string {
  const src = moduleSource(b);
  if (b.lang === "js") return src;
  return ts.transpileModule(src, { fileName: "example.ts", compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
}

/** A fresh app folder: package.json of an ES module app, node_modules linked. */
export function appFolder(prefix: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `quiver-${prefix}-`));
  symlinkSync(NODE_MODULES, join(dir, "node_modules"), "dir");
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ name: "app", private: true, type: "module" })}\n`);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function runBlock(b: Block, timeoutMs: number): Promise<BlockRun> {
  const slug = `${b.readme.replace(/\/?README\.md$/, "").replace(/[^\w]+/g, "-") || "root"}-${b.n}`;
  const app = appFolder(slug);
  writeFileSync(join(app.dir, "example.mjs"), toJs(b));
  const env = { ...process.env };
  delete env.QUIVER_STORE; // the examples name their stores, or mean the default
  delete env.QUIVER_DATASOURCE_STORE;
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["example.mjs"], { cwd: app.dir, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      app.cleanup();
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0, timedOut });
    });
  });
}

/** Runs `items` through `fn` with at most `limit` at a time. */
export async function pool<T, U>(items: readonly T[], limit: number, fn: (x: T) => Promise<U>): Promise<U[]> {
  const out = new Array<U>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
