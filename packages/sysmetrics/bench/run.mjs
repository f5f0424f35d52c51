// Bench of @quiver/sysmetrics: the cost of one reading, of a start()/stop() pair, of track()
// with system metrics, and of sampling at 10 Hz — next to the raw Node built-ins it reads.
import fs from "node:fs";
import os from "node:os";
import { Tracker } from "@quiver/core";
import { measure, printComparisons } from "../../core/dist/bench.js"; // the workspace's bench helpers (not a public export)
import { SystemSampler, recordTo, shutdownSamplers } from "../dist/index.js";

const N = 2000;
const perCallMs = (rate) => 1000 / rate;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hasProc = fs.existsSync("/proc/net/dev");

/** What a reading needs, called directly: the baseline. */
function rawReading() {
  os.cpus();
  os.totalmem();
  os.freemem();
  process.memoryUsage.rss();
  fs.statfsSync(process.cwd());
  if (hasProc) fs.readFileSync("/proc/net/dev", "latin1");
}

const rows = [];

// 1. One sample()
const s = new SystemSampler({ interval: 100, network: true });
const oursSample = perCallMs(
  await measure(
    N,
    () => {
      for (let i = 0; i < N; i++) s.sample();
    },
    { repeat: 5 },
  ),
);
const rawSample = perCallMs(
  await measure(
    N,
    () => {
      for (let i = 0; i < N; i++) rawReading();
    },
    { repeat: 5 },
  ),
);
rows.push({ case: "sample() (system + network)", unit: "ms", ours: oursSample, against: "raw os/fs/process calls", theirs: rawSample, lowerIsBetter: true });
rows.push({ case: "sample() within 1 ms", unit: "ms", ours: oursSample, against: "budget", theirs: 1, target: 1, lowerIsBetter: true });

// 2. start()/stop() pair (what track() adds per call; the worker is shared and already up)
s.start();
s.stop();
await sleep(200);
const oursPair = perCallMs(
  await measure(
    N,
    () => {
      for (let i = 0; i < N; i++) {
        s.start();
        s.stop();
      }
    },
    { repeat: 5 },
  ),
);
rows.push({ case: "start()+stop() pair", unit: "ms", ours: oursPair, against: "raw os/fs/process calls", theirs: rawSample, lowerIsBetter: true });

// 3. Tracker.track() with and without systemMetrics (memory: store)
const noop = () => 1;
const plain = await Tracker.open("memory:", { flushInterval: 0 });
const withSys = await Tracker.open("memory:", { systemMetrics: true, networkMetrics: true, measurementInterval: 0.1, flushInterval: 0 });
const T = 1000;
const trackPlain = perCallMs(
  await measure(
    T,
    () => {
      for (let i = 0; i < T; i++) plain.track(noop);
    },
    { repeat: 3 },
  ),
);
const trackSys = perCallMs(
  await measure(
    T,
    () => {
      for (let i = 0; i < T; i++) withSys.track(noop);
    },
    { repeat: 3 },
  ),
);
rows.push({ case: "track(noop) with system+network metrics", unit: "ms", ours: trackSys, against: "track(noop) without", theirs: trackPlain, lowerIsBetter: true });
await plain.close();
await withSys.close();

// 4. Sampling at 10 Hz: the process's own CPU time (all threads) with and without the sampler
const WINDOW = 3000;
async function cpuOver(fn) {
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const u = process.cpuUsage(u0);
  return ((u.user + u.system) / 1000 / (performance.now() - t0)) * 100; // % of one core
}
const idle = () => sleep(WINDOW);
const sampler10 = new SystemSampler({ interval: 100, network: true });
const withSampler = async () => {
  sampler10.start();
  await sleep(WINDOW);
  sampler10.stop();
};
const withRecord = async () => {
  const r = recordTo({ append() {} }, { interval: 100 });
  await sleep(WINDOW);
  await r.stop();
};
const withRawTimer = async () => {
  const t = setInterval(rawReading, 100);
  await sleep(WINDOW);
  clearInterval(t);
};
withSampler.warm = true;
await withSampler(); // worker up
let base = Infinity,
  sampl = Infinity,
  recd = Infinity,
  rawT = Infinity;
// Best of three windows: a main-thread GC left over from the sections above can land in one of them.
for (let i = 0; i < 3; i++) {
  base = Math.min(base, await cpuOver(idle));
  sampl = Math.min(sampl, await cpuOver(withSampler));
  recd = Math.min(recd, await cpuOver(withRecord));
  rawT = Math.min(rawT, await cpuOver(withRawTimer));
}
const over = Math.max(sampl - base, 1e-3);
const overRec = Math.max(recd - base, 1e-3);
const overRaw = Math.max(rawT - base, 1e-3);
rows.push({ case: "10 Hz sampling (worker), CPU % of one core", unit: "%", ours: over, against: "raw calls on a 10 Hz main-thread timer", theirs: overRaw, lowerIsBetter: true });
rows.push({ case: "10 Hz sampling within 1% of a core", unit: "%", ours: over, against: "budget", theirs: 1, target: 1, lowerIsBetter: true });
rows.push({ case: "recordTo() at 10 Hz, CPU % of one core", unit: "%", ours: overRec, against: "budget", theirs: 1, target: 1, lowerIsBetter: true });

const ok = printComparisons("@quiver/sysmetrics", rows);
console.log(
  `\nidle process: ${base.toFixed(3)}% of a core over ${WINDOW / 1000} s; with the 10 Hz sampler: ${sampl.toFixed(3)}%; machine: ${os.cpus().length} cores, load ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
await shutdownSamplers();
process.exitCode = ok ? 0 : 1;
