// Bundles the page (src/page/main.ts, uPlot and its CSS included) into one offline file,
// dist/page.js. Core's filter parser is bundled from its own module (with query and errors), not
// core's entry point, which would drag Arrow and the store registry into the browser.
import { build } from "esbuild";
import { existsSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const require = createRequire(join(root, "package.json"));
const coreDist = dirname(require.resolve("@quiver/core"));
const pick = (...c) => c.map((p) => join(coreDist, p)).find((p) => existsSync(p));
const filterJs = pick("query/filter.js");
if (!filterJs) throw new Error(`@quiver/core's build has no query/filter.js under ${coreDist}; build core first`);

const coreShim = {
  name: "core-shim",
  setup(b) {
    b.onResolve({ filter: /^@quiver\/core$/ }, () => ({ path: "core-shim", namespace: "quiver" }));
    b.onLoad({ filter: /.*/, namespace: "quiver" }, () => ({
      contents: `export { parseFilter } from ${JSON.stringify(filterJs)};\n`,
      resolveDir: coreDist,
      loader: "js",
    }));
  },
};

const out = join(root, "dist/page.js");
await build({
  entryPoints: [join(root, "src/page/main.ts")],
  bundle: true,
  format: "iife",
  platform: "browser",
  target: ["chrome110", "firefox110", "safari16"],
  minify: true,
  legalComments: "none",
  loader: { ".css": "text" },
  plugins: [coreShim],
  outfile: out,
  logLevel: "warning",
});
const size = statSync(out).size;
const gz = gzipSync(readFileSync(out)).length;
console.log(`dist/page.js: ${(size / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped`);
