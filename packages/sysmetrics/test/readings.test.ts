import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { cpuPercent, cpuTimes, diskPercent, findOnPath, memoryPercent, netCounters, parseNetDev, parseNvidiaSmi, processMemoryPercent } from "../dist/readings.js";
import { busy, ONE_CORE } from "./helpers.js";

const hasProc = fs.existsSync("/proc/net/dev");

describe("raw readings", () => {
  it("disk_percent is used ÷ (used + available), as df computes it", () => {
    for (const dir of [process.cwd(), os.tmpdir(), "/"]) {
      const out = execFileSync("df", ["-P", "-k", dir], { encoding: "utf8" }).trim().split("\n").pop()!.split(/\s+/);
      const used = Number(out[2]);
      const avail = Number(out[3]);
      const expected = (used * 100) / (used + avail);
      expect(Math.abs(diskPercent(dir) - expected)).toBeLessThan(0.05);
      // df rounds Use% up
      expect(Math.ceil(diskPercent(dir) - 1e-9)).toBe(Number(out[4]!.replace("%", "")));
    }
  });

  it("memory_percent is (MemTotal − MemAvailable) ÷ MemTotal", () => {
    if (!fs.existsSync("/proc/meminfo")) return;
    const info = fs.readFileSync("/proc/meminfo", "utf8");
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(info)![1]);
    const expected = ((kb("MemTotal") - kb("MemAvailable")) * 100) / kb("MemTotal");
    expect(Math.abs(memoryPercent() - expected)).toBeLessThan(1);
  });

  it("p_memory_percent is this process's RSS ÷ machine memory", () => {
    if (!fs.existsSync("/proc/self/status")) return;
    const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync("/proc/self/status", "utf8"))![1]);
    const expected = (rssKb * 1024 * 100) / os.totalmem();
    expect(processMemoryPercent()).toBeGreaterThan(0);
    expect(Math.abs(processMemoryPercent() - expected) / expected).toBeLessThan(0.2);
  });

  it("cpu deltas see a busy loop", () => {
    const a = cpuTimes();
    busy(300);
    const b = cpuTimes();
    expect(cpuPercent(a, b)).toBeGreaterThan(ONE_CORE * 0.85);
    expect(cpuPercent(a, a)).toBeUndefined(); // no clock tick: no reading, not 0
  });

  it("parses /proc/net/dev without lo", () => {
    const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 9999999      29    0    0    0     0          0         0  9999999      29    0    0    0     0       0          0
  eth0: 1000    3538    0    0    0     0          0         0   200    2481    0    0    0     0       0          0
wlan0:3000 1 0 0 0 0 0 0 400 1 0 0 0 0 0 0
`;
    expect(parseNetDev(text)).toEqual({ recv: 4000, sent: 600 });
  });

  it.skipIf(!hasProc)("network counters agree with /sys/class/net statistics", () => {
    const ifaces = fs.readdirSync("/sys/class/net").filter((i) => i !== "lo");
    const sys = () => {
      let sent = 0;
      let recv = 0;
      for (const i of ifaces) {
        sent += Number(fs.readFileSync(`/sys/class/net/${i}/statistics/tx_bytes`, "utf8"));
        recv += Number(fs.readFileSync(`/sys/class/net/${i}/statistics/rx_bytes`, "utf8"));
      }
      return { sent, recv };
    };
    const before = sys();
    const ours = netCounters()!;
    const after = sys();
    expect(ours.sent).toBeGreaterThanOrEqual(before.sent);
    expect(ours.sent).toBeLessThanOrEqual(after.sent);
    expect(ours.recv).toBeGreaterThanOrEqual(before.recv);
    expect(ours.recv).toBeLessThanOrEqual(after.recv);
  });

  it("parses nvidia-smi CSV over several GPUs, skipping [N/A] rows", () => {
    expect(parseNvidiaSmi("30, 1000, 8000\n70, 3000, 8000\n[N/A], [N/A], [N/A]\n")).toEqual({ gpu_percent: 50, gpu_memory_percent: 25 });
    expect(parseNvidiaSmi("No devices were found\n")).toBeUndefined();
    expect(parseNvidiaSmi("")).toBeUndefined();
  });

  it("finds executables on PATH only when executable", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sysm-path-"));
    fs.writeFileSync(path.join(dir, "tool-x"), "#!/bin/sh\n", { mode: 0o644 });
    expect(findOnPath("tool-x", dir)).toBeUndefined();
    fs.chmodSync(path.join(dir, "tool-x"), 0o755);
    expect(findOnPath("tool-x", `/nonexistent${path.delimiter}${dir}`)).toBe(path.join(dir, "tool-x"));
    expect(findOnPath("node")).toBeDefined();
  });
});
