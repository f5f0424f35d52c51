import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Tracker } from "@quiver/core";
import { describe, expect, it } from "vitest";
import { createSampler } from "../dist/index.js";
import type { SystemSampler } from "../dist/index.js";
import { busy, ONE_CORE, runNode } from "./helpers.js";

const pkgDir = path.resolve(import.meta.dirname, "..");
const coreDir = path.resolve(pkgDir, "../core");
const hasProc = fs.existsSync("/proc/net/dev");
const FIELDS = ["cpu", "memory_percent", "p_memory_percent", "disk_percent", ...(hasProc ? ["bytes_sent", "bytes_recv"] : [])];

function busyFn(ms: number) {
  return function crunch(): { crunched: number } {
    return { crunched: busy(ms) > 0 ? 1 : 0 };
  };
}

describe("Tracker integration", () => {
  it("Tracker.open({ systemMetrics, networkMetrics }) loads this package lazily and adds the fields to track() rows", async () => {
    // cwd is this package, so core's lazy import("@quiver/sysmetrics") resolves it from here
    const tracker = await Tracker.open("memory:", { systemMetrics: true, networkMetrics: true, measurementInterval: 0.1 });
    const out = tracker.track(busyFn(500));
    expect(out).toEqual({ crunched: 1 });
    const row = tracker.last!;
    for (const f of FIELDS) expect(typeof row[f]).toBe("number");
    expect(row.cpu).toBeGreaterThan(ONE_CORE * 0.9);
    expect(row.name).toBe("crunch");
    expect(row.time).toBeGreaterThan(0.45);
    // wrap() too, and the rows are stored
    const add = tracker.wrap((a: number, b: string) => a + b.length, { name: "foofoo" });
    expect(add(1, "hello")).toBe(6);
    expect(tracker.last).toMatchObject({ name: "foofoo", result: 6, args: '[1,"hello"]' });
    for (const f of FIELDS) expect(typeof tracker.last![f]).toBe("number");
    const rows = await tracker.toRows();
    expect(rows).toHaveLength(2);
    for (const r of rows) for (const f of FIELDS) expect(typeof r[f]).toBe("number");
    await tracker.close();
  });

  it("a 1 s synchronous function at measurementInterval 0.1 gets about 10 readings", async () => {
    let last: SystemSampler | undefined;
    const tracker = await Tracker.open("memory:", {
      sampler: () => (last = createSampler({ interval: 100, network: true, system: true }) as SystemSampler),
    });
    tracker.track(busyFn(50)); // the shared worker is up after the first call
    await new Promise((r) => setTimeout(r, 200));
    tracker.track(busyFn(1000));
    expect(last!.samples).toBeGreaterThanOrEqual(9);
    expect(last!.samples).toBeLessThanOrEqual(11);
    expect(tracker.last!.cpu).toBeGreaterThan(ONE_CORE * 0.9);
    await tracker.close();
  });

  it("async tracked functions are measured until they settle; errors are logged with metrics", async () => {
    const tracker = await Tracker.open("memory:", { systemMetrics: true, measurementInterval: 0.05 });
    const v = await tracker.track(async () => {
      await new Promise((r) => setTimeout(r, 150));
      return 7;
    });
    expect(v).toBe(7);
    expect(tracker.last).toMatchObject({ result: 7, error: "" });
    expect(typeof tracker.last!.cpu).toBe("number");
    expect(tracker.last).not.toHaveProperty("bytes_sent"); // networkMetrics not asked for
    expect(() =>
      tracker.track(() => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(tracker.last).toMatchObject({ error: "boom" });
    expect(typeof tracker.last!.memory_percent).toBe("number");
    await tracker.close();
  });

  it("resolves from an app directory that installs @quiver/core and @quiver/sysmetrics (and fails clearly without it)", () => {
    const app = fs.mkdtempSync(path.join(os.tmpdir(), "sysm-app-"));
    fs.mkdirSync(path.join(app, "node_modules", "@quiver"), { recursive: true });
    fs.symlinkSync(coreDir, path.join(app, "node_modules", "@quiver", "core"), "dir");
    const script = `
      import { Tracker } from "@quiver/core";
      try {
        const t = await Tracker.open("memory:", { systemMetrics: true, networkMetrics: true, measurementInterval: 0.1 });
        t.track(function work() { const end = performance.now() + 300; while (performance.now() < end) {} });
        console.log(JSON.stringify({ last: t.last }));
        await t.close();
      } catch (e) {
        console.log(JSON.stringify({ code: e.code, message: e.message }));
      }`;
    // Only core installed: a clear error naming the package.
    const missing = runNode(script, { cwd: app });
    expect(missing.stderr).toBe("");
    const err = missing.json as { code: string; message: string };
    expect(err.code).toMatch(/NOT_INSTALLED$/);
    expect(err.message).toContain("@quiver/sysmetrics");
    // Installed next to core in the app: found through the app's node_modules.
    fs.symlinkSync(pkgDir, path.join(app, "node_modules", "@quiver", "sysmetrics"), "dir");
    const ok = runNode(script, { cwd: app });
    expect(ok.stderr).toBe("");
    const last = (ok.json as { last: Record<string, unknown> }).last;
    expect(last.name).toBe("work");
    for (const f of FIELDS) expect(typeof last[f]).toBe("number");
    expect(last.cpu as number).toBeGreaterThan(ONE_CORE * 0.9);
  });

  it("importing the package by path is enough, even when the app has its own copy of core", () => {
    // The app installed core only (a copy, so a module instance of its own); it imports
    // sysmetrics from a path core cannot resolve as @quiver/sysmetrics.
    const app = fs.mkdtempSync(path.join(os.tmpdir(), "sysm-path-"));
    const core = path.join(app, "node_modules", "@quiver", "core");
    fs.mkdirSync(core, { recursive: true });
    fs.cpSync(path.join(coreDir, "dist"), path.join(core, "dist"), { recursive: true });
    fs.copyFileSync(path.join(coreDir, "package.json"), path.join(core, "package.json"));
    fs.symlinkSync(path.join(coreDir, "node_modules"), path.join(core, "node_modules"), "dir"); // apache-arrow
    const open = `
      import { Tracker } from "@quiver/core";
      const t = await Tracker.open("memory:", { systemMetrics: true, measurementInterval: 0.05 }).catch((e) => e);
      if (t instanceof Error) console.log(JSON.stringify({ code: t.code }));
      else {
        t.track(function work() { const end = performance.now() + 150; while (performance.now() < end) {} });
        console.log(JSON.stringify({ cpu: t.last.cpu, name: t.last.name }));
        await t.close();
      }`;
    try {
      expect(runNode(open, { cwd: app }).json).toEqual({ code: "PACKAGE_NOT_INSTALLED" });
      const byPath = `import ${JSON.stringify(pathToFileURL(path.join(pkgDir, "dist/index.js")).href)};\n${open}`;
      const r = runNode(byPath, { cwd: app });
      expect(r.stderr).toBe("");
      const out = r.json as { cpu: number; name: string };
      expect(out.name).toBe("work");
      expect(typeof out.cpu).toBe("number");
    } finally {
      fs.rmSync(app, { recursive: true, force: true });
    }
  });
});

describe("README", () => {
  it("the example runs as written", () => {
    const readme = fs.readFileSync(path.join(pkgDir, "README.md"), "utf8");
    const start = readme.indexOf("// example.mjs");
    const code = readme.slice(start, readme.indexOf("```", start));
    const r = runNode(code, { cwd: pkgDir });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
