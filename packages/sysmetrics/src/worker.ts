/**
 * The sampling thread: while at least one sampler is active it takes a reading every
 * `interval` ms on its own event loop (so a main thread busy in synchronous code is still
 * measured) and publishes it to shared memory; with no active sampler it sleeps on
 * Atomics.waitAsync and costs nothing.
 */
import { execFile } from "node:child_process";
import { workerData } from "node:worker_threads";
import { ACC_COUNT, ACC_LAST, ACC_SUM, ACC_TICKS, CTL_ACTIVE, CTL_BOOT_MS, CTL_READY, CTL_SEQ, CTL_WRITTEN, F, NF, REC, RING_SIZE, type WorkerConfig } from "./layout.js";
import { cpuPercent, cpuTimes, diskPercent, type GpuReading, MB, memoryPercent, NVIDIA_SMI_ARGS, netCounters, parseNvidiaSmi, processMemoryPercent } from "./readings.js";

const cfg = workerData as WorkerConfig;
const ctl = new Int32Array(cfg.ctl);
const acc = new Float64Array(cfg.acc);
const ring = new Float64Array(cfg.ring);
const rec = new Float64Array(NF);

type WaitAsync = (ta: Int32Array, index: number, value: number, timeout?: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

let gpu: GpuReading | undefined;
let gpuBusy = false;
let gpuFailures = 0;
let nvidiaSmi = cfg.nvidiaSmi;

/** One nvidia-smi query at a time, at most once per tick; three failures in a row turn it off. */
function queryGpu(): void {
  if (!nvidiaSmi || gpuBusy) return;
  gpuBusy = true;
  execFile(nvidiaSmi, NVIDIA_SMI_ARGS, { timeout: 10_000, windowsHide: true }, (err, stdout) => {
    gpuBusy = false;
    const r = err ? undefined : parseNvidiaSmi(String(stdout));
    if (r) {
      gpu = r;
      gpuFailures = 0;
    } else if (++gpuFailures >= 3) nvidiaSmi = undefined;
  });
}

let prevCpu = cpuTimes();
let prevNet = netCounters();
let baselineAt = performance.now();
let lastCpu = NaN;
// /proc/stat counts in 10 ms ticks: a reading sooner than two ticks after the baseline has no cpu.
const MIN_GAP = Math.min(cfg.interval, 20);

function baseline(): void {
  baselineAt = performance.now();
  prevCpu = cpuTimes();
  prevNet = netCounters();
  gpu = undefined;
}

function tick(): void {
  const cpu = cpuTimes();
  const net = netCounters();
  rec.fill(NaN);
  // Intervals shorter than a clock tick: repeat the last value rather than report none.
  lastCpu = rec[F.cpu] = cpuPercent(prevCpu, cpu) ?? lastCpu;
  rec[F.memory_percent] = memoryPercent();
  rec[F.p_memory_percent] = processMemoryPercent();
  try {
    rec[F.disk_percent] = diskPercent(cfg.path);
  } catch {
    /* the folder went away: leave NaN */
  }
  if (net && prevNet) {
    rec[F.bytes_sent] = Math.max(0, net.sent - prevNet.sent) / MB;
    rec[F.bytes_recv] = Math.max(0, net.recv - prevNet.recv) / MB;
  }
  if (gpu) {
    rec[F.gpu_percent] = gpu.gpu_percent;
    rec[F.gpu_memory_percent] = gpu.gpu_memory_percent;
  }
  if (cpu.total > prevCpu.total) prevCpu = cpu;
  prevNet = net;
  queryGpu();

  // Ring first (readers follow CTL_WRITTEN), then the sums under the seqlock.
  const n = Atomics.load(ctl, CTL_WRITTEN);
  const base = (n % RING_SIZE) * REC;
  ring[base] = performance.timeOrigin + performance.now();
  ring.set(rec, base + 1);
  Atomics.store(ctl, CTL_WRITTEN, n + 1);

  Atomics.add(ctl, CTL_SEQ, 1);
  for (let i = 0; i < NF; i++) {
    const v = rec[i]!;
    if (Number.isNaN(v)) continue;
    acc[ACC_SUM + i]! += v;
    acc[ACC_COUNT + i]! += 1;
    acc[ACC_LAST + i] = v;
  }
  acc[ACC_TICKS]! += 1;
  Atomics.add(ctl, CTL_SEQ, 1);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function idle(): Promise<void> {
  if (waitAsync) {
    const r = waitAsync(ctl, CTL_ACTIVE, 0);
    if (r.async) await r.value;
  } else {
    await sleep(cfg.interval); // very old runtimes: poll
  }
}

let cold = true;

async function main(): Promise<void> {
  // A pending Atomics.waitAsync does not keep an event loop alive: hold the worker's open
  // (the parent unref()s the worker, so this never holds the process).
  setInterval(() => undefined, 2 ** 30);
  Atomics.store(ctl, CTL_BOOT_MS, Math.round(performance.timeOrigin + performance.now() - cfg.requested));
  Atomics.store(ctl, CTL_READY, 1);
  for (;;) {
    if (Atomics.load(ctl, CTL_ACTIVE) <= 0) {
      await idle();
      if (Atomics.load(ctl, CTL_ACTIVE) <= 0) continue;
      baseline();
      queryGpu();
    }
    // Fixed-rate schedule: the next tick is due one interval after the previous one was due.
    // On a cold start the first is due one interval after the sampler asked for this worker,
    // so thread start-up (slow on a loaded machine) costs at most the readings it overlapped.
    let due = performance.now() + cfg.interval;
    if (cold) due = Math.min(due, cfg.requested - performance.timeOrigin + cfg.interval);
    cold = false;
    while (Atomics.load(ctl, CTL_ACTIVE) > 0) {
      await sleep(Math.max(0, due - performance.now(), baselineAt + MIN_GAP - performance.now()));
      if (Atomics.load(ctl, CTL_ACTIVE) <= 0) break;
      tick();
      due += cfg.interval;
      if (due < performance.now()) due = performance.now() + cfg.interval; // fell behind: don't burst
    }
  }
}

void main();
