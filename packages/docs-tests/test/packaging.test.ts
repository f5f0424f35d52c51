/**
 * The packages look published: a license in every tarball, the metadata registries show, source
 * maps that come with their sources, a changelog; an app made by `npm init -y` (CommonJS) can
 * use them as the README says; `pnpm quiver` runs the CLI from the repository root.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, posix } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "./blocks.js";
import { appFolder } from "./run-block.js";

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  description?: string;
  license?: string;
  keywords?: string[];
  homepage?: string;
  bugs?: { url?: string };
  repository?: { type?: string; url?: string; directory?: string };
  engines?: { node?: string };
  files?: string[];
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, "utf8")) as T;
const root = readJson<Manifest & { scripts: Record<string, string> }>(join(REPO, "package.json"));
const dirs = readdirSync(join(REPO, "packages")).filter((d) => existsSync(join(REPO, "packages", d, "package.json")));
const published = dirs.map((d) => ({ dir: d, pkg: readJson<Manifest>(join(REPO, "packages", d, "package.json")) })).filter((p) => !p.pkg.private);
const license = readFileSync(join(REPO, "LICENSE"), "utf8");

/** What `npm pack` would put in the tarball (paths relative to the package). */
function packed(dir: string): string[] {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: join(REPO, "packages", dir), encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  return (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
}

describe("every published package", () => {
  it("the root has an MIT LICENSE and a CHANGELOG naming every package's version", () => {
    expect(license).toMatch(/^MIT License\n/);
    expect(root.license).toBe("MIT");
    const changelog = readFileSync(join(REPO, "CHANGELOG.md"), "utf8");
    for (const { pkg } of published) {
      expect(changelog, `CHANGELOG.md has no section for ${pkg.version}`).toContain(`## ${pkg.version}`);
      expect(changelog, `CHANGELOG.md does not mention ${pkg.name}`).toContain(pkg.name);
    }
  });

  for (const { dir, pkg } of published) {
    it(`${pkg.name}: metadata, LICENSE, and a tarball whose source maps have their sources`, () => {
      expect(pkg.license).toBe("MIT");
      expect(pkg.description).toBeTruthy();
      expect(pkg.keywords?.length, "keywords").toBeGreaterThan(2);
      expect(pkg.engines?.node).toBe(root.engines?.node);
      expect(pkg.repository).toEqual({ type: "git", url: root.repository?.url, directory: `packages/${dir}` });
      const site = root.repository!.url!.replace(/^git\+/, "").replace(/\.git$/, "");
      expect(pkg.homepage).toBe(`${site}/tree/main/packages/${dir}#readme`);
      expect(pkg.bugs?.url).toBe(`${site}/issues`);
      expect(readFileSync(join(REPO, "packages", dir, "LICENSE"), "utf8"), "the package's LICENSE is the root's").toBe(license);

      const files = packed(dir);
      const have = new Set(files);
      for (const f of ["LICENSE", "README.md", "package.json", "dist/index.js", "dist/index.d.ts"]) expect(have, `${pkg.name} tarball lacks ${f}`).toContain(f);
      expect(files.filter((f) => f.endsWith(".tsbuildinfo"))).toEqual([]);
      const missing: string[] = [];
      for (const map of files.filter((f) => f.endsWith(".map"))) {
        const { sources } = readJson<{ sources: string[] }>(join(REPO, "packages", dir, map));
        for (const s of sources) {
          const target = posix.normalize(posix.join(posix.dirname(map), s));
          if (!have.has(target)) missing.push(`${map} → ${target}`);
        }
      }
      const stale = missing.filter((m) => !existsSync(join(REPO, "packages", dir, m.split(" → ")[1]!)));
      expect(stale, `${pkg.name}: build outputs without a source (stale? rm -rf packages/${dir}/dist && pnpm -F ${pkg.name} build)`).toEqual([]);
      expect(missing, `${pkg.name}: source maps point at files the tarball does not have`).toEqual([]);
    });
  }
});

describe("an app made by npm init -y", () => {
  it("is CommonJS, and uses the packages with await import() (and require() on Node ≥ 20.19)", () => {
    const app = appFolder("cjs-app");
    try {
      rmSync(join(app.dir, "package.json")); // appFolder's is an ES module app's
      execFileSync("npm", ["init", "-y"], { cwd: app.dir, stdio: "ignore" });
      expect(readJson<{ type?: string }>(join(app.dir, "package.json")).type ?? "commonjs").toBe("commonjs");
      const script = [
        "async function main() {",
        '  const { Tracker } = await import("@quiver/core");',
        '  const t = await Tracker.open("memory:");',
        "  await t.log({ loss: 0.5 });",
        "  console.log(JSON.stringify(await t.toRows().then((r) => r.map((x) => x.loss))));",
        "  await t.close();",
        "}",
        "main();",
      ].join("\n");
      writeFileSync(join(app.dir, "index.js"), script);
      expect(execFileSync(process.execPath, ["index.js"], { cwd: app.dir, encoding: "utf8" })).toBe("[0.5]\n");
      const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
      if (major > 20 || minor >= 19) {
        writeFileSync(join(app.dir, "req.js"), 'const { Tracker, field } = require("@quiver/core");\nconsole.log(typeof Tracker.open, typeof field);\n');
        const r = spawnSync(process.execPath, ["req.js"], { cwd: app.dir, encoding: "utf8" });
        expect(r.stdout).toBe("function function\n");
      }
    } finally {
      app.cleanup();
    }
  });
});

describe("the repository root", () => {
  it("`pnpm quiver …` runs the CLI", () => {
    expect(root.scripts.quiver).toBeTruthy();
    const r = spawnSync("pnpm", ["-s", "quiver", "--help"], { cwd: REPO, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^quiver: /);
  });
});
