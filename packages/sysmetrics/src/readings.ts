/**
 * Raw readings from Node built-ins. Each costs tens of microseconds: /proc files are read with
 * pread on a descriptor kept open (the kernel regenerates them at offset 0), falling back to
 * `os` where /proc does not exist.
 */
import { accessSync, closeSync, constants, openSync, readSync, statfsSync } from "node:fs";
import os from "node:os";
import { delimiter, join } from "node:path";

/** A /proc file read again and again through one descriptor. */
class ProcFile {
  private fd: number | undefined;
  private buf = Buffer.allocUnsafe(4096);
  private failed = false;
  constructor(private readonly path: string) {}

  /** The file's text, or undefined where it does not exist. */
  read(): string | undefined {
    if (this.failed) return undefined;
    try {
      this.fd ??= openSync(this.path, "r");
      for (;;) {
        const n = readSync(this.fd, this.buf, 0, this.buf.length, 0);
        if (n < this.buf.length) return this.buf.toString("latin1", 0, n);
        this.buf = Buffer.allocUnsafe(this.buf.length * 2); // larger than the buffer: read again whole
      }
    } catch {
      this.failed = true;
      if (this.fd !== undefined) closeSync(this.fd);
      this.fd = undefined;
      return undefined;
    }
  }
}

const procStat = new ProcFile("/proc/stat");
const procNetDev = new ProcFile("/proc/net/dev");

/** Machine CPU time: busy and total, in any unit (only ratios of deltas are used). */
export interface CpuTimes {
  busy: number;
  total: number;
}

/** The aggregate "cpu" line of /proc/stat (what os.cpus() sums, without its per-core cpufreq reads); os.cpus() elsewhere. */
export function cpuTimes(): CpuTimes {
  const text = procStat.read();
  if (text?.startsWith("cpu ")) {
    const end = text.indexOf("\n");
    const v = text
      .slice(4, end < 0 ? undefined : end)
      .trim()
      .split(/\s+/)
      .map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const busy = (v[0] ?? 0) + (v[1] ?? 0) + (v[2] ?? 0) + (v[5] ?? 0) + (v[6] ?? 0) + (v[7] ?? 0);
    return { busy, total: busy + idle };
  }
  let busy = 0;
  let total = 0;
  for (const c of os.cpus()) {
    const b = c.times.user + c.times.nice + c.times.sys + c.times.irq;
    busy += b;
    total += b + c.times.idle;
  }
  return { busy, total };
}

/** Busy share of the machine between two readings, in %; undefined when no clock tick passed. */
export function cpuPercent(a: CpuTimes, b: CpuTimes): number | undefined {
  const total = b.total - a.total;
  if (!(total > 0)) return undefined;
  return Math.min(100, Math.max(0, ((b.busy - a.busy) * 100) / total));
}

// Machine memory does not change while we run; each os.totalmem() call re-reads /proc/meminfo.
const TOTAL_MEM = os.totalmem();

/** Machine memory in use, % of total: (total − available) / total, as psutil's virtual_memory().percent. */
export function memoryPercent(): number {
  return ((TOTAL_MEM - os.freemem()) * 100) / TOTAL_MEM;
}

/** This process's resident memory, % of machine memory (psutil's Process.memory_percent()). */
export function processMemoryPercent(): number {
  return (process.memoryUsage.rss() * 100) / TOTAL_MEM;
}

/** Used ÷ (used + available) of the filesystem holding `path`, in %, as `df` computes Use%. */
export function diskPercent(path: string): number {
  const s = statfsSync(path);
  const used = s.blocks - s.bfree;
  const denom = used + s.bavail;
  return denom > 0 ? (used * 100) / denom : 0;
}

/** Bytes sent and received by every interface but `lo`, since boot. */
export interface NetCounters {
  sent: number;
  recv: number;
}

/** Parses /proc/net/dev (receive bytes is the 1st column after "iface:", transmit bytes the 9th). */
export function parseNetDev(text: string): NetCounters {
  let sent = 0;
  let recv = 0;
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const iface = line.slice(0, colon).trim();
    if (iface === "lo" || iface.includes("|")) continue;
    const v = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    if (v.length < 9) continue;
    recv += Number(v[0]) || 0;
    sent += Number(v[8]) || 0;
  }
  return { sent, recv };
}

/** Network counters, or undefined on platforms without /proc/net/dev. */
export function netCounters(): NetCounters | undefined {
  const text = procNetDev.read();
  return text === undefined ? undefined : parseNetDev(text);
}

export const MB = 1024 * 1024;

/** GPU utilisation (mean over GPUs, %) and memory used ÷ total over all GPUs (%). */
export interface GpuReading {
  gpu_percent: number;
  gpu_memory_percent: number;
}

export const NVIDIA_SMI_ARGS = ["--query-gpu=utilization.gpu,memory.used,memory.total", "--format=csv,noheader,nounits"];

/** Parses `nvidia-smi --query-gpu=utilization.gpu,memory.used,memory.total --format=csv,noheader,nounits`. */
export function parseNvidiaSmi(text: string): GpuReading | undefined {
  let util = 0;
  let used = 0;
  let total = 0;
  let gpus = 0;
  for (const line of text.split("\n")) {
    const v = line.split(",").map((s) => Number(s.trim()));
    if (v.length < 3 || !v.slice(0, 3).every(Number.isFinite)) continue; // "[N/A]" and blank lines
    util += v[0]!;
    used += v[1]!;
    total += v[2]!;
    gpus++;
  }
  if (!gpus) return undefined;
  return { gpu_percent: util / gpus, gpu_memory_percent: total > 0 ? (used * 100) / total : 0 };
}

/** The full path of an executable on PATH, or undefined. */
export function findOnPath(cmd: string, path = process.env.PATH ?? ""): string | undefined {
  const exts = process.platform === "win32" ? (process.env.PATHEXT ?? ".EXE").split(";") : [""];
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const file = join(dir, cmd + ext);
      try {
        accessSync(file, constants.X_OK);
        return file;
      } catch {
        /* next */
      }
    }
  }
  return undefined;
}
