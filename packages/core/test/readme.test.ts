/** The README's "Writing a store" example runs as written (transpiled, in a child process). */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");

it("runs the README's store driver example and prints what its comments say", () => {
  const readme = readFileSync(resolve(pkg, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Writing a store"));
  const code = /```ts\n([\s\S]*?)```/.exec(section)![1]!;
  // TypeScript is a dev tool of the workspace, found from the repository root.
  const ts = createRequire(resolve(pkg, "../../package.json"))("typescript") as typeof import("typescript");
  const js = ts.transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  // Run from the package folder: "@quiver/core" resolves to this package by its own name.
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", js], { cwd: pkg, encoding: "utf8" });
  expect(r.stderr).toBe("");
  expect(r.stdout).toBe("2\n1\ntrue false\n");
});
