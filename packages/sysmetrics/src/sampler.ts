/** SystemSampler: one reading on demand, or averages over a start()/stop() interval. */
import { QuiverError } from "@quiver/core";
import { type Channel, channelFor } from "./channel.js";
import { type AppendTarget, type Recording, recordTo } from "./record.js";
import { ACC_COUNT, ACC_SLOTS, ACC_SUM, ACC_TICKS, F, type Field, REC, RING_SIZE } from "./layout.js";
import { type CpuTimes, cpuPercent, cpuTimes, diskPercent, findOnPath, MB, memoryPercent, type NetCounters, netCounters, processMemoryPercent } from "./readings.js";

export interface SystemSamplerOptions {
  /** Milliseconds between readings while started (default 100). */
  interval?: number;
  /** Add `bytes_sent` / `bytes_recv` (MB) — only where /proc/net/dev exists (default false). */
  network?: boolean;
  /** Add cpu, memory and disk fields (default true). */
  system?: boolean;
  /** Add GPU fields when `nvidia-smi` is on PATH (default true; absent GPU → no fields). */
  gpu?: boolean;
  /** A path on the filesystem whose usage is `disk_percent` (default: the working directory). */
  path?: string;
}

/**
 * A reading. Field names are xetrack's: `cpu` (machine busy %), `memory_percent` (machine),
 * `p_memory_percent` (this process's RSS ÷ machine memory, %), `disk_percent`, `bytes_sent` /
 * `bytes_recv` (MB in the interval); plus `gpu_percent` / `gpu_memory_percent` with an NVIDIA GPU.
 */
export type Metrics = Record<string, number>;

/** @internal Skips sample()'s baseline readings in the constructor (createSampler). */
export const LEAN = Symbol("quiver.sysmetrics.lean");

const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

function checkOptions(o: SystemSamplerOptions): Required<SystemSamplerOptions> {
  if (o === null || typeof o !== "object") throw new QuiverError("INVALID_VALUE", "SystemSampler expects an options object such as { interval: 100, network: true }");
  const interval = o.interval ?? 100;
  if (typeof interval !== "number" || !Number.isFinite(interval) || interval < 1) {
    throw new QuiverError("INVALID_VALUE", `interval must be a number of milliseconds ≥ 1, got ${String(interval)} (measurementInterval is in seconds, e.g. 0.1)`);
  }
  const path = o.path ?? process.cwd();
  if (typeof path !== "string" || !path || path.includes("\u0000"))
    throw new QuiverError("INVALID_PATH", `path must name a folder on the disk to measure, got ${JSON.stringify(path)}`);
  try {
    diskPercent(path);
  } catch (err) {
    throw new QuiverError("INVALID_PATH", `cannot measure disk usage at ${JSON.stringify(path)} (${(err as Error).message}); pass an existing folder as { path }`, { cause: err });
  }
  return { interval, path, network: o.network === true, system: o.system !== false, gpu: o.gpu !== false };
}

let nvidiaSmiOnPath: { path: string | undefined; found: boolean } | undefined;
function hasNvidiaSmi(): boolean {
  const path = process.env.PATH;
  if (nvidiaSmiOnPath?.path !== path) nvidiaSmiOnPath = { path, found: findOnPath("nvidia-smi") !== undefined };
  return nvidiaSmiOnPath!.found;
}

// A sampler dropped while started must not keep the shared worker sampling forever.
const leaked = new FinalizationRegistry<Channel>((ch) => ch.release());

interface Window {
  acc: Float64Array;
  cpu: CpuTimes;
  net: NetCounters | undefined;
}

export class SystemSampler {
  readonly interval: number;
  readonly network: boolean;
  readonly system: boolean;
  readonly gpu: boolean;
  readonly path: string;
  /** Worker readings that fell inside the last start()/stop() interval. */
  samples = 0;
  private window: Window | undefined;
  private channel: Channel | undefined;
  // For sample(): the previous reading's counters.
  private prevCpu: CpuTimes;
  private lastCpu: number;
  private prevNet: NetCounters | undefined;

  constructor(options: SystemSamplerOptions = {}) {
    const o = checkOptions(options);
    this.interval = o.interval;
    this.network = o.network;
    this.system = o.system;
    this.gpu = o.gpu;
    this.path = o.path;
    // sample()'s baseline; a sampler made for one tracked call (createSampler) only uses start/stop.
    const lean = (options as { [LEAN]?: boolean })[LEAN] === true;
    this.prevCpu = lean ? { busy: 0, total: 0 } : cpuTimes();
    this.lastCpu = lean ? 0 : (cpuPercent({ busy: 0, total: 0 }, this.prevCpu) ?? 0); // since boot, until a clock tick passes
    this.prevNet = this.network && !lean ? netCounters() : undefined;
  }

  /** Whether start() was called without stop(). */
  get running(): boolean {
    return this.window !== undefined;
  }

  /** The shared worker that samples at this interval (started on first use). */
  private worker(): Channel | undefined {
    if (!this.system && !(this.gpu && hasNvidiaSmi())) return undefined;
    return (this.channel ??= channelFor(this.interval, this.path, this.gpu));
  }

  /**
   * One reading, now, on the calling thread. `cpu` and the network fields cover the
   * time since the previous sample() (or since construction).
   */
  sample(): Metrics {
    const out: Metrics = {};
    if (this.system) {
      const cpu = cpuTimes();
      this.lastCpu = cpuPercent(this.prevCpu, cpu) ?? this.lastCpu;
      if (cpu.total > this.prevCpu.total) this.prevCpu = cpu;
      out.cpu = round6(this.lastCpu);
      out.memory_percent = round6(memoryPercent());
      out.p_memory_percent = round6(processMemoryPercent());
      out.disk_percent = round6(diskPercent(this.path));
    }
    if (this.network) {
      const net = netCounters();
      if (net && this.prevNet) Object.assign(out, netDelta(this.prevNet, net));
      this.prevNet = net;
    }
    if (this.gpu && this.channel) Object.assign(out, latestGpu(this.channel, Math.max(1000, 2 * this.interval)));
    return out;
  }

  /** Streams this sampler's readings into a track every `interval` ms (default: the sampler's) until stop(). */
  recordTo(track: AppendTarget, options: { interval?: number } = {}): Recording {
    return recordTo(track, { interval: options.interval ?? this.interval, network: this.network, system: this.system, gpu: this.gpu, path: this.path });
  }

  /** Starts an interval (a second start() restarts it). */
  start(): void {
    const ch = this.worker();
    if (!this.window && ch) {
      ch.acquire();
      leaked.register(this, ch, this);
    }
    this.window = {
      acc: ch ? ch.snapshot() : new Float64Array(ACC_SLOTS),
      cpu: this.system ? cpuTimes() : { busy: 0, total: 0 },
      net: this.network ? netCounters() : undefined,
    };
  }

  /** Ends the interval and returns its averages (synchronously: the worker's sums are in shared memory). */
  stop(): Metrics {
    const w = this.window;
    if (!w) throw new QuiverError("INVALID_VALUE", "SystemSampler.stop() called without start()");
    this.window = undefined;
    const ch = this.channel;
    const acc = ch ? ch.snapshot() : new Float64Array(ACC_SLOTS);
    if (ch) {
      leaked.unregister(this);
      ch.release();
    }
    this.samples = acc[ACC_TICKS]! - w.acc[ACC_TICKS]!;
    const avg = (i: number): number | undefined => {
      const n = acc[ACC_COUNT + i]! - w.acc[ACC_COUNT + i]!;
      return n > 0 ? (acc[ACC_SUM + i]! - w.acc[ACC_SUM + i]!) / n : undefined;
    };
    const out: Metrics = {};
    if (this.system) {
      // cpu from the kernel's counters at both ends: the exact average over the interval.
      const cpu = cpuTimes();
      // Shorter than a kernel clock tick (10 ms): the worker's latest reading of the load, if recent.
      const c = cpuPercent(w.cpu, cpu) ?? avg(F.cpu) ?? (ch && latest(ch, "cpu", Math.max(1000, 2 * this.interval))) ?? cpuPercent(this.prevCpu, cpu) ?? this.lastCpu;
      out.cpu = round6(c);
      if (this.prevCpu.total === 0) this.prevCpu = cpu;
      // Shorter than one interval (no worker reading inside it): one reading now.
      out.memory_percent = round6(avg(F.memory_percent) ?? memoryPercent());
      out.p_memory_percent = round6(avg(F.p_memory_percent) ?? processMemoryPercent());
      out.disk_percent = round6(avg(F.disk_percent) ?? diskPercent(this.path));
    }
    if (this.network && w.net) {
      const net = netCounters();
      if (net) Object.assign(out, netDelta(w.net, net));
      this.prevNet ??= net;
    }
    if (this.gpu && ch) {
      const g = avg(F.gpu_percent);
      const m = avg(F.gpu_memory_percent);
      if (g !== undefined && m !== undefined) Object.assign(out, { gpu_percent: round6(g), gpu_memory_percent: round6(m) });
      else Object.assign(out, latestGpu(ch, Math.max(1000, 2 * this.interval)));
    }
    return out;
  }
}

function netDelta(a: NetCounters, b: NetCounters): Metrics {
  return { bytes_sent: Math.max(0, b.sent - a.sent) / MB, bytes_recv: Math.max(0, b.recv - a.recv) / MB };
}

/** A field of the worker's newest reading, if that reading is at most maxAge ms old. */
function latest(ch: Channel, field: Field, maxAge: number): number | undefined {
  const n = ch.written;
  if (n === 0) return undefined;
  const base = ((n - 1) % RING_SIZE) * REC;
  const v = ch.ring[base + 1 + F[field]]!;
  return Number.isNaN(v) || performance.timeOrigin + performance.now() - ch.ring[base]! > maxAge ? undefined : v;
}

function latestGpu(ch: Channel, maxAge: number): Metrics {
  const g = latest(ch, "gpu_percent", maxAge);
  const m = latest(ch, "gpu_memory_percent", maxAge);
  return g === undefined || m === undefined ? {} : { gpu_percent: round6(g), gpu_memory_percent: round6(m) };
}
