// Bundles the page (src/page/main.ts, uPlot and its CSS included) into one offline file,
// dist/page.js. Core's filter parser is bundled from core's build alone (query + errors), not
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
const queryJs = pick("query/query.js", "query.js");
const errorsJs = pick("errors.js");
if (!queryJs || !errorsJs) throw new Error(`@quiver/core's build has no query/errors modules under ${coreDist}; build core first`);

const coreShim = {
  name: "core-shim",
  setup(b) {
    b.onResolve({ filter: /^@quiver\/core$/ }, () => ({ path: "core-shim", namespace: "quiver" }));
    b.onLoad({ filter: /.*/, namespace: "quiver" }, () => ({
      contents: `export { QuiverError } from ${JSON.stringify(errorsJs)};\nexport { field, and, or, not } from ${JSON.stringify(queryJs)};\n`,
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
