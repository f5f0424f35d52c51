import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";

describe("README examples", () => {
  it("examples/dashboard.mjs --once logs runs and writes a report", () => {
    const tmp = tempDir();
    try {
      const out = execFileSync(process.execPath, [join(import.meta.dirname, "../examples/dashboard.mjs"), tmp.dir, "--once"], { encoding: "utf8", timeout: 60_000 });
      expect(out).toMatch(/^report: .*report\.html \(\d+ KB\)/);
      const html = readFileSync(join(tmp.dir, "report.html"), "utf8");
      expect(html).toContain('"accuracy"');
      expect(readdirSync(tmp.dir).some((f) => f.endsWith(".db"))).toBe(true);
    } finally {
      tmp.cleanup();
    }
  });

  it("examples/views.mjs --once makes a session, an HDF5 file and a datasource, and serves all three", () => {
    const tmp = tempDir();
    try {
      const out = execFileSync(process.execPath, [join(import.meta.dirname, "../examples/views.mjs"), tmp.dir, "--once"], { encoding: "utf8", timeout: 60_000 });
      expect(out.trim()).toBe("tracks: true, h5: 1 file, gallery: 34 cats");
    } finally {
      tmp.cleanup();
    }
  });
});
