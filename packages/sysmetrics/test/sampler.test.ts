import dgram from "node:dgram";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { isQuiverError } from "@quiver/core";
import { afterAll, describe, expect, it } from "vitest";
import { SystemSampler, shutdownSamplers } from "../dist/index.js";
import { diskPercent } from "../dist/readings.js";
import { busy, ONE_CORE, runNode } from "./helpers.js";

const SYSTEM = ["cpu", "disk_percent", "memory_percent", "p_memory_percent"];
const pkgDir = path.resolve(import.meta.dirname, "..");
const distUrl = new URL("../dist/index.js", import.meta.url).href;
const hasProc = fs.existsSync("/proc/net/dev");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the shared worker for `s` is up, so a window measures sampling and not thread start-up. */
async function warm(s: SystemSampler): Promise<void> {
  s.start();
  s.stop();
  const ch = (s as unknown as { channel: { ready: boolean } }).channel;
  for (let i = 0; i < 200 && !ch.ready; i++) await sleep(10);
  expect(ch.ready).toBe(true);
}

afterAll(async () => {
  await shutdownSamplers();
});

describe("SystemSampler", () => {
  it("sample() gives one reading of every system field, in range", () => {
    const s = new SystemSampler();
    const r = s.sample();
    expect(Object.keys(r).sort()).toEqual(SYSTEM);
    for (const k of SYSTEM) {
      expect(r[k]).toBeGreaterThanOrEqual(0);
      expect(r[k]).toBeLessThanOrEqual(100);
    }
    expect(r.p_memory_percent).toBeGreaterThan(0);
    expect(r.p_memory_percent).toBeLessThan(r.memory_percent!);
    busy(200);
    expect(s.sample().cpu).toBeGreaterThan(ONE_CORE * 0.85); // since the previous sample()
  });

  it("disk_percent follows the configured path", () => {
    const s = new SystemSampler({ path: "/" });
    expect(Math.abs(s.sample().disk_percent! - diskPercent("/"))).toBeLessThan(0.01);
    expect(s.path).toBe("/");
    expect(new SystemSampler().path).toBe(process.cwd());
  });

  it("keeps sampling while a synchronous function blocks the event loop", async () => {
    const s = new SystemSampler({ interval: 100 });
    await warm(s);
    const t0 = Date.now();
    s.start();
    busy(1000);
    const r = s.stop();
    const t1 = Date.now();
    expect(s.samples).toBeGreaterThanOrEqual(9);
    expect(s.samples).toBeLessThanOrEqual(11);
    // the busy main thread alone keeps one core busy
    expect(r.cpu).toBeGreaterThan(ONE_CORE * 0.9);
    expect(Object.keys(r).sort()).toEqual(SYSTEM);
    // and the readings were taken during the block, 100 ms apart (from the worker's ring)
    const ch = (s as unknown as { channel: { ring: Float64Array; written: number } }).channel;
    const stamps: number[] = [];
    for (let i = ch.written - s.samples; i < ch.written; i++) stamps.push(ch.ring[(i % 4096) * 9]!);
    expect(stamps[0]).toBeGreaterThanOrEqual(t0 - 1);
    expect(stamps.at(-1)).toBeLessThanOrEqual(t1 + 1);
    const gaps = stamps.slice(1).map((t, i) => t - stamps[i]!);
    const median = gaps.sort((a, b) => a - b)[gaps.length >> 1]!;
    expect(median).toBeGreaterThan(80); // a fixed-rate schedule: one late wake-up shortens the next gap
    expect(median).toBeLessThan(120);
    expect(Math.max(...gaps)).toBeLessThan(250);
  });

  it("a cold process (worker not started yet) still gets about 10 readings in a 1 s blocking call", () => {
    const r = runNode(
      `import { SystemSampler } from ${JSON.stringify(distUrl)};
       const s = new SystemSampler({ interval: 100 });
       s.start();
       const end = performance.now() + 1000; while (performance.now() < end) {}
       const m = s.stop();
       console.log(JSON.stringify({ m, samples: s.samples, startup: s.channel.startupMs }));`,
      { cwd: pkgDir },
    );
    expect(r.stderr).toBe("");
    const { m, samples, startup } = r.json as { m: Record<string, number>; samples: number; startup: number };
    // 9–10 on an idle machine (start-up ~40 ms); a loaded machine's slower thread start-up costs
    // only the readings it overlaps: the first is due one interval after the request.
    expect(startup).toBeGreaterThan(0);
    expect(samples).toBeGreaterThanOrEqual(Math.min(9, Math.floor((1000 - startup) / 100)) - 1);
    expect(samples).toBeLessThanOrEqual(11);
    expect(m.cpu).toBeGreaterThan(ONE_CORE * 0.9);
  });

  it.skipIf(!fs.existsSync("/proc/stat"))("cpu is the machine's busy share over the window, as psutil computes it from /proc/stat", async () => {
    // psutil.cpu_percent: busy = total − idle − iowait, over every field of the "cpu" line
    const stat = () => {
      const v = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
      const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
      return { busy: total - v[3]! - v[4]!, total };
    };
    const s = new SystemSampler({ interval: 50 });
    await warm(s);
    for (const work of [() => busy(500), () => sleep(500)]) {
      const a = stat();
      s.start();
      await work();
      const r = s.stop();
      const b = stat();
      const expected = ((b.busy - a.busy) * 100) / (b.total - a.total);
      expect(Math.abs(r.cpu! - expected)).toBeLessThan(4); // the two windows differ by a few µs
    }
  });

  it("a window shorter than the interval still reports every field (one reading at stop)", () => {
    const s = new SystemSampler({ interval: 10_000, network: hasProc });
    s.start();
    const r = s.stop();
    expect(s.samples).toBe(0);
    for (const k of SYSTEM) expect(Number.isFinite(r[k])).toBe(true);
    if (hasProc) expect(r.bytes_sent).toBeGreaterThanOrEqual(0);
  });

  it.skipIf(!hasProc)("network: bytes sent during the interval, in MB (loopback excluded)", async () => {
    const s = new SystemSampler({ interval: 100, network: true });
    s.start();
    const sock = dgram.createSocket("udp4");
    const buf = Buffer.alloc(1000);
    // TEST-NET-2 (RFC 5737): routed out of the default interface, never answered
    for (let i = 0; i < 2000; i++) await new Promise<void>((res) => sock.send(buf, 9, "198.51.100.1", () => res()));
    // loopback traffic must not count
    const lo = dgram.createSocket("udp4");
    for (let i = 0; i < 2000; i++) await new Promise<void>((res) => lo.send(buf, 9, "127.0.0.1", () => res()));
    sock.close();
    lo.close();
    const r = s.stop();
    expect(r.bytes_sent).toBeGreaterThan((2000 * 1000) / 2 ** 20); // ≥ payload, + headers
    expect(r.bytes_sent).toBeLessThan((2 * 2000 * 1000) / 2 ** 20 + 1);
    expect(r.bytes_recv).toBeGreaterThanOrEqual(0);
  });

  it("without network: true there are no network fields", () => {
    const s = new SystemSampler({ interval: 100 });
    s.start();
    const r = s.stop();
    expect(r).not.toHaveProperty("bytes_sent");
    expect(r).not.toHaveProperty("bytes_recv");
  });

  it("system: false with network: true gives only the network fields", () => {
    const s = new SystemSampler({ system: false, network: true });
    s.start();
    const r = s.stop();
    expect(Object.keys(r).sort()).toEqual(hasProc ? ["bytes_recv", "bytes_sent"] : []);
    // exact from the counters at both ends: no worker is needed (no nvidia-smi on this PATH either)
    if (!process.env.PATH!.split(path.delimiter).some((p) => fs.existsSync(path.join(p, "nvidia-smi")))) {
      expect((s as unknown as { channel: unknown }).channel).toBeUndefined();
    }
  });

  it("overlapping samplers share a worker and each get their own averages", async () => {
    const a = new SystemSampler({ interval: 50 });
    const b = new SystemSampler({ interval: 50 });
    await warm(a);
    a.start();
    await sleep(200);
    b.start();
    busy(300);
    const rb = b.stop();
    await sleep(200);
    const ra = a.stop();
    expect(rb.cpu).toBeGreaterThan(ONE_CORE * 0.9);
    expect(b.samples).toBeGreaterThanOrEqual(4);
    expect(a.samples).toBeGreaterThanOrEqual(b.samples + 4);
    expect(ra.cpu).toBeLessThanOrEqual(100);
  });

  it("bad options and misuse → QuiverError with a code", () => {
    for (const interval of [0, -5, Number.NaN, Infinity, "100" as unknown as number]) {
      expect(() => new SystemSampler({ interval })).toThrow(expect.objectContaining({ code: "INVALID_VALUE" }));
    }
    let err: unknown;
    try {
      new SystemSampler({ path: path.join(os.tmpdir(), "no-such-dir-quiver-sysm", "x") });
    } catch (e) {
      err = e;
    }
    expect(isQuiverError(err, "INVALID_PATH")).toBe(true);
    expect(() => new SystemSampler().stop()).toThrow(expect.objectContaining({ code: "INVALID_VALUE" }));
  });

  it("GPU fields come from nvidia-smi on PATH (a stand-in script here), and are absent without it", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sysm-gpu-"));
    const log = path.join(dir, "calls");
    // Answers the exact query the worker makes; counts its calls to show it is queried sparingly.
    fs.writeFileSync(
      path.join(dir, "nvidia-smi"),
      `#!/bin/sh\necho x >> "${log}"\n[ "$1" = "--query-gpu=utilization.gpu,memory.used,memory.total" ] || exit 3\n[ "$2" = "--format=csv,noheader,nounits" ] || exit 4\nprintf '40, 2048, 8192\\n80, 6144, 8192\\n'\n`,
      { mode: 0o755 },
    );
    const script = `
      import { SystemSampler } from ${JSON.stringify(distUrl)};
      const s = new SystemSampler({ interval: 100 });
      s.start(); await new Promise(r => setTimeout(r, 1000)); const r = s.stop();
      console.log(JSON.stringify({ r, samples: s.samples }));`;
    const withGpu = runNode(script, { cwd: pkgDir, env: { ...process.env, PATH: `${dir}${path.delimiter}${process.env.PATH}` } });
    expect(withGpu.stderr).toBe("");
    const { r } = withGpu.json as { r: Record<string, number> };
    expect(r.gpu_percent).toBe(60);
    expect(r.gpu_memory_percent).toBe(50);
    const calls = fs.readFileSync(log, "utf8").trim().split("\n").length;
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(calls).toBeLessThanOrEqual(12); // at most once per interval
    const without = runNode(script, {
      cwd: pkgDir,
      env: {
        ...process.env,
        PATH: process.env
          .PATH!.split(path.delimiter)
          .filter((p) => !fs.existsSync(path.join(p, "nvidia-smi")))
          .join(path.delimiter),
      },
    });
    const r2 = (without.json as { r: Record<string, number> }).r;
    expect(r2).not.toHaveProperty("gpu_percent");
    expect(r2).not.toHaveProperty("gpu_memory_percent");
    expect(Object.keys(r2).sort()).toEqual(SYSTEM);
  });

  it("a sampler dropped while started stops counting as active once collected", () => {
    const r = runNode(
      `import { SystemSampler } from ${JSON.stringify(distUrl)};
       let ch;
       (() => { const s = new SystemSampler({ interval: 50 }); s.start(); ch = s.channel; })();
       const before = Atomics.load(ch.ctl, 0);
       for (let i = 0; i < 20 && Atomics.load(ch.ctl, 0) > 0; i++) { globalThis.gc(); await new Promise(r => setTimeout(r, 20)); }
       console.log(JSON.stringify({ before, after: Atomics.load(ch.ctl, 0) }));`,
      { cwd: pkgDir, flags: ["--expose-gc"] },
    );
    expect(r.stderr).toBe("");
    expect(r.json).toEqual({ before: 1, after: 0 });
  });

  it("the shared worker never holds the process open", () => {
    const r = runNode(
      `import { SystemSampler, recordTo } from ${JSON.stringify(distUrl)};
       const s = new SystemSampler({ interval: 50 }); s.start();
       await new Promise(r => setTimeout(r, 300));
       console.log(JSON.stringify(s.stop()));
       const s2 = new SystemSampler({ interval: 20 }); s2.start(); // left running on purpose
       recordTo({ append() {} }, { interval: 20 }); // never stopped either`,
      { cwd: pkgDir, timeout: 10_000 },
    );
    expect(r.status).toBe(0);
    expect(r.ms).toBeLessThan(5000);
    expect((r.json as Record<string, number>).cpu).toBeGreaterThanOrEqual(0);
  });
});
