/**
 * The TypeScript blocks of the READMEs also type-check, strictly, against the packages' published
 * types (what a user's editor and tsc see): a wrong name or a wrong type in an example fails here.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { allBlocks, type Block, moduleSource, readmeLine, REPO } from "./blocks.js";
import { appFolder } from "./run-block.js";

it("every TypeScript example type-checks (strict)", () => {
  const blocks = allBlocks().filter((b) => b.lang === "ts" && b.sketch === undefined);
  expect(blocks.length).toBeGreaterThan(5);
  const app = appFolder("readme-types");
  try {
    const files = new Map<string, Block>();
    blocks.forEach((b, i) => {
      const file = `block${i + 1}.ts`;
      files.set(file, b);
      // The hidden code is plain JS: checked loosely, the example itself strictly.
      writeFileSync(join(app.dir, file), `${moduleSource(b)}\nexport {};\n`);
    });
    const tsconfig = {
      compilerOptions: {
        target: "ES2022",
        lib: ["ES2022", "ESNext.Disposable", "DOM"],
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ["node"],
        typeRoots: [join(REPO, "node_modules/@types")],
      },
      files: [...files.keys()],
    };
    writeFileSync(join(app.dir, "tsconfig.json"), JSON.stringify(tsconfig));
    const r = spawnSync(process.execPath, [join(REPO, "node_modules/typescript/bin/tsc"), "-p", "."], { cwd: app.dir, encoding: "utf8" });
    const errors = (r.stdout + r.stderr)
      .split("\n")
      .filter((l) => /^block\d+\.ts\(/.test(l))
      .map((l) => {
        const m = /^(block\d+\.ts)\((\d+),(\d+)\): (.*)$/.exec(l);
        if (!m) return l;
        const b = files.get(m[1]!)!;
        return `${b.readme} block ${b.n}, ${readmeLine(b, Number(m[2]))}: ${m[4]}`;
      });
    expect(errors, r.stdout).toEqual([]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
  } finally {
    app.cleanup();
  }
}, 60_000);
