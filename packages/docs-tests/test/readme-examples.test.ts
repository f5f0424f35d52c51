/**
 * Every ts/js block of every README runs as written on Node 20, each in a fresh app folder in
 * its own process (markers: see blocks.ts). A block that fails names its README, block and error.
 */
import { createRequire } from "node:module";
import { cpus } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { allBlocks, type Block, blocksOf, moduleSource, REPO, readmeLine } from "./blocks.js";
import { type BlockRun, pool, runBlock } from "./run-block.js";

// TypeScript is a dev tool of the workspace, found from the repository root.
const ts = createRequire(join(REPO, "package.json"))("typescript") as typeof import("typescript");
const blocks = allBlocks();
const runnable = blocks.filter((b) => b.sketch === undefined);
const results = new Map<Block, BlockRun>();
const name = (b: Block): string => `${b.readme} block ${b.n} (line ${b.line})`;

beforeAll(async () => {
  // In parallel: most of an example's time is loading a store (DuckDB's native module, h5wasm).
  const runs = await pool(runnable, Math.max(2, cpus().length * 2), (b) => runBlock(b, 30_000));
  runnable.forEach((b, i) => results.set(b, runs[i]!));
}, 150_000);

describe("README examples run as written", () => {
  it("finds the blocks, and every one is run or marked a sketch", () => {
    expect(blocks.length).toBeGreaterThan(15);
    const sketches = blocks.filter((b) => b.sketch !== undefined);
    console.log(`README blocks: ${blocks.length} (${runnable.length} run, ${sketches.length} sketches: ${sketches.map((b) => `${name(b)}: ${b.sketch}`).join("; ")})`);
  });

  for (const b of runnable) {
    it(name(b), () => {
      const r = results.get(b)!;
      const how = r.timedOut ? "did not end within 30 s (something left running?)" : r.signal ? `was killed by ${r.signal}` : `exited with code ${r.code}`;
      if (r.timedOut || r.code !== 0) throw new Error(`${name(b)} ${how}\n--- stderr\n${r.stderr.slice(-4000)}\n--- stdout\n${r.stdout.slice(-1000)}`);
      // A warning (a refused row, a failed background flush) is a broken example too.
      expect(r.stderr, `${name(b)} wrote to stderr`).toBe("");
    });
  }

  // A sketch is not run, but it is still code a reader copies: it must at least parse.
  for (const b of blocks.filter((x) => x.sketch !== undefined)) {
    it(`${name(b)} — a sketch (${b.sketch}): parses`, () => {
      const out = ts.transpileModule(b.code, {
        reportDiagnostics: true,
        fileName: `sketch.${b.lang}`,
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      });
      const errors = (out.diagnostics ?? []).map(
        (d) => `line ${b.line + 1 + (d.file?.getLineAndCharacterOfPosition(d.start ?? 0).line ?? 0)}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`,
      );
      expect(errors, `${name(b)} does not parse`).toEqual([]);
    });
  }
});

describe("the markers", () => {
  it("are read as documented (before/after code, sketches, typos refused)", () => {
    const text = [
      "<!-- example-before: import { mkdirSync } from 'node:fs';",
      "mkdirSync('data') -->",
      "```ts",
      "console.log(1);",
      "```",
      "text",
      "<!-- example: sketch — an interface -->",
      "```js",
      "interface X {}",
      "```",
      "<!-- example-after: x -->",
      "",
      "```sh",
      "ls",
      "```",
    ].join("\n");
    expect(() => blocksOf("/x/README.md", text)).toThrow(/markers before a sh block/);
    const [a, s] = blocksOf("/x/README.md", text.split("\n").slice(0, 10).join("\n"));
    expect(a).toMatchObject({ lang: "ts", n: 1, line: 3, before: ["import { mkdirSync } from 'node:fs';\nmkdirSync('data')"], after: [] });
    // Lines of the module a block runs as map back to the README (its code starts after the fence).
    expect(moduleSource(a!).split("\n")[3]).toBe("console.log(1);");
    expect([readmeLine(a!, 1), readmeLine(a!, 4), readmeLine(a!, 5)]).toEqual(["hidden example-before code, line 1", "line 4", "hidden example-after code"]);
    expect(s).toMatchObject({ lang: "js", n: 2, sketch: "an interface" });
    expect(() => blocksOf("/x/README.md", "<!-- example-befor: x -->\n```js\n1\n```\n")).toThrow(/unknown marker/);
    expect(() => blocksOf("/x/README.md", "<!-- example: skip -->\n```js\n1\n```\n")).toThrow(/sketch — why/);
    // A marker is the block's only when nothing but blank lines and comments separate them.
    expect(blocksOf("/x/README.md", "<!-- example: sketch — x -->\nprose\n```js\n1\n```\n")[0]!.sketch).toBeUndefined();
  });
});
