/**
 * `pnpm demo`: a tour of Quiver in under half a minute. It logs a small simulated training run,
 * a function tracked with system metrics, a time series of robot poses and a camera image
 * stream into `.quiver-demo/`, then looks at them with the `quiver` command itself.
 *
 *   node packages/cli/dist/demo.js [--dir DIR]
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Session, Tracker } from "@quiver/core";
import { loadStoreFor, requirePackage } from "./stores.js";

const { values } = parseArgs({ options: { dir: { type: "string" }, help: { type: "boolean", short: "h" } } });
if (values.help) {
  process.stdout.write(
    "Usage: node packages/cli/dist/demo.js [--dir DIR]\n\nLogs a demo training run, a tracked function, robot poses and camera frames into DIR (default .quiver-demo), then shows them with `quiver`.\n",
  );
  process.exit(0);
}

const DIR = values.dir ?? ".quiver-demo";
const tty = process.stdout.isTTY === true && !process.env.NO_COLOR;
const bold = (s: string) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s: string) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
const cyan = (s: string) => (tty ? `\x1b[36m${s}\x1b[0m` : s);
const BIN = fileURLToPath(new URL("./bin.js", import.meta.url));
const rel = (p: string) => relative(process.cwd(), p) || ".";
let failures = 0;

function say(text: string): void {
  process.stdout.write(text.replace(/^\n?/, "\n") + "\n");
}

function heading(n: number, title: string): void {
  say(`${bold(`${n}. ${title}`)}`);
}

/** Runs one demo step; a failure is reported and the tour goes on. */
async function step(name: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    failures++;
    const e = err as { code?: string; message?: string };
    say(`  ${bold("skipped")} ${name}: ${e.code ? `${e.code}: ` : ""}${e.message ?? String(err)}`);
  }
}

/** Runs the real `quiver` binary, showing the command line first. */
function quiver(...args: string[]): void {
  const shown = args.map((a) => (/[\s"'$*?]/.test(a) ? `'${a}'` : a)).join(" ");
  process.stdout.write(`\n${cyan(`$ quiver ${shown}`)}\n`);
  const r = spawnSync(process.execPath, [BIN, ...args], { stdio: "inherit", env: { ...process.env, ...(tty ? { FORCE_COLOR: "1" } : {}) } });
  if (r.status !== 0) failures++;
}

/** Deterministic noise, so every demo shows the same numbers. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const t0 = Date.now();
rmSync(DIR, { recursive: true, force: true });
mkdirSync(DIR, { recursive: true });
writeFileSync(join(DIR, ".gitignore"), "# written by the quiver demo\n*\n"); // keep the demo's files out of git
const RUNS = `duckdb:${join(DIR, "runs.db")}`;
const TRACKS = join(DIR, "tracks");
const H5 = join(DIR, "camera.h5");

say(`${bold("Quiver demo")}: log four kinds of data, then inspect them with the ${bold("quiver")} command.
Everything is written under ${rel(DIR)}/ (delete it when you are done).`);

// 1 -------------------------------------------------------------------------------------------
heading(1, "A training run (Tracker → embedded DuckDB)");
say(`  const tracker = await Tracker.open("${RUNS}", { params: { model: "mlp", lr } });
  await tracker.log({ epoch, loss, accuracy });   // + params, timestamp, track_id
  await tracker.setValue("weights", tracker.putAsset(weights));   // an asset: stored once, the rows hold its hash
Two runs with different learning rates, 30 epochs each.`);
await step("training run", async () => {
  await loadStoreFor(RUNS);
  // Fixed run ids, so that the README's examples (`quiver delete … 3f2a9c1e`) run as written.
  const ids = ["7ae5edb1-215b-4dec-9060-d5f4d0e15aba", "3f2a9c1e-8d4b-4c1a-9e2f-5b6a7c8d9e0f"];
  for (const [i, lr] of [0.1, 0.03].entries()) {
    const noise = rng(7 + i);
    const tracker = await Tracker.open(RUNS, { trackId: ids[i], params: { model: "mlp", lr, batch_size: 64 } });
    for (let epoch = 1; epoch <= 30; epoch++) {
      const progress = 1 - Math.exp(-epoch * lr * 1.2);
      const loss = 2.3 * (1 - progress) + 0.08 + 0.04 * noise();
      const accuracy = Math.min(0.99, 0.1 + 0.85 * progress + 0.02 * noise());
      await tracker.log({ epoch, loss, accuracy });
    }
    // The trained "weights": bytes stored once by content hash; every row of the run names them.
    const weights = Float32Array.from({ length: 256 }, () => noise());
    await tracker.setValue("weights", tracker.putAsset(new Uint8Array(weights.buffer)));
    await tracker.close();
  }
});

// 2 -------------------------------------------------------------------------------------------
heading(2, "A function tracked with system metrics");
say(`  const tracker = await Tracker.open(uri, { table: "calls", systemMetrics: true, cache: "${rel(DIR)}/cache" });
  tracker.track(preprocess, 200_000);   // logs name, time, args, result, cpu, memory…
  tracker.track(preprocess, 200_000);   // a cache hit: not called again, the row's cache column names the run`);
await step("tracked function", async () => {
  function preprocess(n: number): { checksum: number } {
    let acc = 0;
    for (let i = 0; i < n; i++) acc = (acc + Math.sqrt(i) * Math.sin(i)) % 1e9;
    return { checksum: Math.round(acc) };
  }
  // Core finds @quiver/sysmetrics next to the running script (the CLI depends on it).
  const tracker = await Tracker.open(RUNS, { table: "calls", systemMetrics: true, measurementInterval: 0.02, cache: join(DIR, "cache") });
  for (const n of [200_000, 400_000, 800_000, 200_000]) tracker.track(preprocess, n);
  await tracker.close();
  const sys = await import("@quiver/sysmetrics" as string).catch(() => undefined);
  (sys as { shutdownSamplers?: () => unknown } | undefined)?.shutdownSamplers?.();
});

// 3 -------------------------------------------------------------------------------------------
heading(3, "A time series of robot poses (Session → msgpack tracks)");
say(`  const session = await Session.open({ prefix: "robot/run-1", root: "${rel(TRACKS)}" });
  await session.track("robot/pose").appendBatch(points);   // { _ts, x, y, theta }
A robot drives a figure eight for 10 seconds at 20 Hz.`);
await step("robot poses", async () => {
  await loadStoreFor(`msgpack:${TRACKS}`);
  const session = await Session.open({ prefix: "robot/run-1", root: TRACKS });
  await session.params.set({ robot: "turtlebot", controller: { kp: 1.2, kd: 0.1 } });
  const start = Math.floor(Date.now() / 1000);
  const points = [];
  for (let i = 0; i < 200; i++) {
    const t = i * 0.05;
    const w = (2 * Math.PI) / 10;
    points.push({ _ts: start + t, x: Math.sin(w * t), y: Math.sin(2 * w * t) / 2, theta: Math.atan2(Math.cos(2 * w * t), Math.cos(w * t)) });
  }
  await session.track("robot/pose").appendBatch(points);
  session
    .track("battery")
    .append({ _ts: start, percent: 98.5 })
    .append({ _ts: start + 9.95, percent: 97.9 });
  session.log("figure eight finished", { metadata: { laps: 1 } });
  await session.close();
});

// 4 -------------------------------------------------------------------------------------------
heading(4, "An image stream (H5Logger → HDF5)");
say(`  const logger = await H5Logger.open("${rel(H5)}", { replaceIfExists: true });
  logger.log("camera", { data: new Float32Array(64 * 64), shape: [64, 64] });
20 frames of a bright spot moving across a 64×64 camera, plus the frame's exposure.`);
await step("image stream", async () => {
  type Logger = { log(name: string, value: unknown): unknown; close(): Promise<void> };
  const { H5Logger } = await requirePackage<{ H5Logger: { open(path: string, o: { replaceIfExists: boolean }): Promise<Logger> } }>("@quiver/store-h5", "the image stream");
  const logger = await H5Logger.open(H5, { replaceIfExists: true });
  for (let f = 0; f < 20; f++) {
    const img = new Float32Array(64 * 64);
    const cx = 8 + f * 2.5;
    const cy = 32 + 12 * Math.sin(f / 3);
    for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) img[y * 64 + x] = Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 30);
    logger.log("camera", { data: img, shape: [64, 64] });
    logger.log("exposure_ms", 10 + (f % 4));
  }
  await logger.close();
});

// Looking at it -------------------------------------------------------------------------------
heading(5, "Looking at it with `quiver`");
say(`The same command reads every store. The runs: one line per run, then the first rows.`);
quiver("ls", RUNS);
quiver("head", RUNS, "--limit", "4", "--columns", "epoch,loss,accuracy,lr,track_id");
say(`A chart of the loss in the terminal, one line per learning rate (--out loss.png writes an image):`);
quiver("plot", RUNS, "loss", "--x", "epoch", "--by", "lr", "--height", "12");
say(`Which epochs were best, and what the tracked function measured:`);
quiver("stats", RUNS, "top", "accuracy", "--limit", "3", "--columns", "accuracy,epoch,loss,lr");
quiver("head", RUNS, "--table", "calls", "--columns", "name,args,time,checksum,cache,cpu,memory_percent");
say(`Scripts get JSON lines instead of tables:`);
quiver("tail", RUNS, "--limit", "1", "--json", "--columns", "epoch,loss,accuracy,lr");
say(`The robot's tracks, and its first poses read by time:`);
quiver("tracks", "ls", rel(TRACKS), "robot/run-1");
quiver("tracks", "read", rel(TRACKS), "robot/run-1", "robot/pose", "--limit", "5");
say(`The camera file: names, shapes and dtypes, then a summary of three frames:`);
quiver("h5", "ls", rel(H5));
quiver("h5", "show", rel(H5), "camera", "--slice", "0:3");
say(`And one frame drawn in the terminal:`);
quiver("h5", "show", rel(H5), "camera", "--slice", "10", "--image");
quiver("plot", RUNS, "accuracy", "--x", "epoch", "--by", "lr", "--out", join(rel(DIR), "accuracy.svg"));

const secs = ((Date.now() - t0) / 1000).toFixed(1);
say(`${bold(failures ? `Done with ${failures} problem${failures === 1 ? "" : "s"}` : "Done")} in ${secs}s. Try next:
  ${cyan(`quiver --help`)}
  ${cyan(`quiver stats ${RUNS} describe loss accuracy`)}
  ${cyan(`quiver tracks plot ${rel(TRACKS)} robot/run-1 robot/pose x y`)}
  ${cyan(`quiver sql ${RUNS} "SELECT lr, max(accuracy) FROM events GROUP BY lr"`)}
${dim("(run the built CLI as `node packages/cli/dist/bin.js …`, or link it with `pnpm --filter @quiver/cli link --global`)")}`);
process.exitCode = failures ? 1 : 0;
setTimeout(() => process.exit(process.exitCode), 500).unref();
