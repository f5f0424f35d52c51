// Sums the vitest JSON reports of every package into one closing line ("N passed, N failed"),
// so a reader of CI output sees at a glance how many tests ran across the workspace.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const pkg of readdirSync("packages").sort()) {
  const file = join("packages", pkg, ".vitest", "results.json");
  if (!existsSync(file)) {
    missing.push(pkg);
    continue;
  }
  const r = JSON.parse(readFileSync(file, "utf8"));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  console.log(`${pkg.padEnd(14)} ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
}
if (missing.length) console.log(`no test report from: ${missing.join(", ")}`);
console.log(`Tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
