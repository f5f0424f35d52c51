/** The README's main job: `pnpm demo` runs end to end and shows every kind of data. */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEMO, tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe("demo", () => {
  it("logs a run, a tracked function, robot poses and camera frames, then shows them with quiver", () => {
    const dir = join(tmp.dir, "demo");
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [DEMO, "--dir", dir], { cwd: tmp.dir, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 120_000 });
    const secs = (Date.now() - t0) / 1000;
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = r.stdout;
    expect(out).not.toContain("skipped");
    // the training runs, as a table and a chart
    expect(out).toMatch(/\$ quiver head duckdb:\S+runs\.db --limit 4 --columns epoch,loss,accuracy,lr,track_id\nepoch\s+loss\s+accuracy\s+lr\s+track_id\n/);
    expect(out).toMatch(/━━ a: 0\.1\s+━━ b: 0\.03/);
    expect(out).toMatch(/[\u2801-\u28ff]/);
    // the tracked function with system metrics
    expect(out).toMatch(/^preprocess\s+\[200000\]\s+[\d.e-]+\s+-?\d+\s+[\d.]+\s+[\d.]+$/m);
    // the robot track and the camera file
    expect(out).toMatch(/^robot\/pose\s+200\s/m);
    expect(out).toContain("5 of 200 points");
    expect(out).toMatch(/^camera\s+float32\s+\(20, 64, 64\)\s+20$/m);
    expect(out).toMatch(/^\s+0\s+64×64\s/m);
    expect(out).toMatch(/\[10\] 64×64\n[\s\S]*@/);
    expect(out).toContain("Done in ");
    expect(existsSync(join(dir, "runs.db"))).toBe(true);
    expect(readFileSync(join(dir, "accuracy.svg"), "utf8")).toContain("<polyline");
    expect(secs).toBeLessThan(60); // < 30 s on a quiet machine; the shared CI box is slower
  });
});
