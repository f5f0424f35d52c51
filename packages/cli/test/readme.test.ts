/**
 * The README's examples run as written: after the demo wrote `.quiver-demo/`, every ```sh block
 * runs in bash (with `quiver` the built binary), and every `$ quiver …` line of the excerpts runs
 * with the exit its excerpt shows (an excerpt that prints `quiver: CODE:` is an error example).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, DEMO, tempDir } from "./helpers.js";

const README = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");
const tmp = tempDir();
afterAll(() => tmp.cleanup());

interface Fence {
  lang: string;
  lines: string[];
}

function fences(text: string): Fence[] {
  const out: Fence[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = /^```(\w*)/.exec(lines[i]!);
    if (!m) continue;
    const body: string[] = [];
    while (++i < lines.length && !lines[i]!.startsWith("```")) body.push(lines[i]!);
    out.push({ lang: m[1]!, lines: body });
  }
  return out;
}

function bash(script: string): { code: number | null; stdout: string; stderr: string } {
  const prelude = `set -euo pipefail\nquiver() { ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} "$@"; }\n`;
  const r = spawnSync("bash", ["-c", prelude + script], { cwd: tmp.dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1", QUIVER_STORE: "" }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  const r = spawnSync(process.execPath, [DEMO], { cwd: tmp.dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
});

describe("README examples", () => {
  const all = fences(README);

  it("every sh block runs (install and build lines aside)", () => {
    const blocks = all
      .filter((f) => f.lang === "sh")
      .map((f) => f.lines.filter((l) => !/^(pnpm|npx|npm) /.test(l)).join("\n"))
      .filter((s) => s.trim());
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    for (const script of blocks) {
      const r = bash(script);
      expect(r.code, `${script}\n---\n${r.stderr}`).toBe(0);
      expect(r.stderr, script).toBe("");
    }
  });

  it("every `$ quiver` excerpt runs, failing only where the excerpt shows an error", () => {
    const excerpts = all.filter((f) => f.lang === "").flatMap((f) => f.lines.map((l, i) => ({ cmd: l, next: f.lines[i + 1] ?? "" })).filter((x) => x.cmd.startsWith("$ quiver ")));
    expect(excerpts.length).toBeGreaterThanOrEqual(6);
    for (const { cmd, next } of excerpts) {
      const r = bash(cmd.slice(2));
      const error = /^quiver: ([A-Z_]+): /.exec(next);
      if (error) {
        expect(r.code, cmd).toBe(1);
        expect(r.stderr.split("\n")[0], cmd).toBe(next);
      } else {
        expect(r.code, `${cmd}\n${r.stderr}`).toBe(0);
        expect(r.stdout.split("\n")[0], cmd).toBe(next); // the excerpt's first line is what the command prints
      }
    }
  });
});
