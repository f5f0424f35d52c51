/** closeSync(): the file and its lock are let go at once, so another process can open it (core's exit path). */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openStore } from "@quiver/core";
import { describe, expect, it } from "vitest";
import "../dist/index.js";
import { tmpDb } from "./helpers.js";

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");

/** Runs fixtures/closesync.mjs; resolves with the second process's report (rejects if the first hangs). */
function closeSyncRun(file: string, mode: string, n: number, delay: number): Promise<{ count?: number; error?: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(fixtures, "closesync.mjs"), file, mode, String(n), String(delay)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`closesync.mjs did not exit within 40 s (hung at exit?): ${out} ${err}`));
    }, 40_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`closesync.mjs exited ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split("\n").pop()!));
    });
  });
}

describe("duckdb: closeSync", () => {
  for (const mode of ["exclusive", "shared"]) {
    it(`(${mode}) releases the lock at once: a second process opens the file while the first is still alive`, async () => {
      const file = tmpDb();
      const report = await closeSyncRun(file, mode, 1000, -1);
      expect(report.error).toBeUndefined();
      expect(report.count).toBe(1000); // the committed append is there
      const s = await openStore(`duckdb:${file}`);
      expect(await s.count("t")).toBe(1001); // and so is the second process's row
      await s.close();
    }, 60_000);
  }

  it("with an append in flight (a commit running natively): the process neither hangs nor loses committed rows; the batch is all or nothing", async () => {
    for (const delay of [0, 5, 30, 80, 150]) {
      const file = tmpDb();
      const report = await closeSyncRun(file, "exclusive", 1000, delay);
      expect(report.error, `delay ${delay}`).toBeUndefined();
      expect([1000, 201_000], `delay ${delay}`).toContain(report.count);
      const s = await openStore(`duckdb:${file}`);
      expect(await s.count("t")).toBe(report.count! + 1);
      await s.close();
    }
  }, 240_000);

  it("is idempotent and leaves the store closed", async () => {
    const s = await openStore(`duckdb:${tmpDb()}`);
    s.closeSync!();
    s.closeSync!();
    await expect(s.count("t")).rejects.toMatchObject({ code: "CLOSED" });
    await s.close();
  });
});
