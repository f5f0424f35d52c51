/** The progress bar: drawn on a terminal's stderr, never into a pipe. */
import "@quiver/store-duckdb";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { Tracker } from "@quiver/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, quiver, tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const SRC = `duckdb:${join(tmp.dir, "src.db")}`;

beforeAll(async () => {
  const t = await Tracker.open(SRC, { params: { model: "mlp" } });
  await t.logBatch(Array.from({ length: 500 }, (_, i) => ({ step: i, loss: 1 / (i + 1) })));
  await t.close();
});

describe("progress", () => {
  it("is absent when stderr is a pipe", () => {
    const r = quiver(["copy", SRC, `duckdb:${join(tmp.dir, "piped.db")}`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`copied 500 new rows from ${SRC} to duckdb:${join(tmp.dir, "piped.db")} (0 already there)\n`);
  });

  it("is drawn on a terminal (run under script(1) for a pseudo-terminal)", () => {
    const dst = `duckdb:${join(tmp.dir, "tty.db")}`;
    const cmd = [process.execPath, BIN, "copy", SRC, dst].map((a) => `'${a}'`).join(" ");
    const r = spawnSync("script", ["-qec", cmd, "/dev/null"], { encoding: "utf8", env: { ...process.env, CI: "", QUIVER_PROGRESS: "" }, timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("copying ");
    expect(r.stdout).toMatch(/100% 500\/500 rows/);
    expect(r.stdout).toContain("\r\x1b[K"); // the bar is cleared before the result
    expect(r.stdout).toContain("copied 500 new rows");
  });
});
