import { spawnSync } from "node:child_process";
import path from "node:path";
import { expect, it } from "vitest";

it("the README's quickstart example runs", () => {
  const out = spawnSync(process.execPath, [path.resolve("examples/quickstart.mjs")], { encoding: "utf8", timeout: 120_000 });
  expect(out.stderr).toBe("");
  expect(out.status).toBe(0);
  expect(out.stdout).toMatch(/dataset yoda: \[ 'images\/000\.jpg', 'images\/006\.jpg' \]/);
  expect(out.stdout).toMatch(/as it was before the last change: \[ 'images\/000\.jpg', 'images\/006\.jpg', 'images\/007\.jpg' \]/);
  expect(out.stdout).toMatch(/images\/000\.jpg "fake image 0" mask: \[ 1, 2 \]/);
});
