/**
 * Sampling workers shared by every sampler of the same interval, disk path and GPU choice.
 * A worker is started on first use and kept for the life of the process (unref'd, so it never
 * holds the process open); between uses it sleeps, so a track() call pays no thread start-up.
 */
import { Worker } from "node:worker_threads";
import { ACC_SLOTS, CTL_ACTIVE, CTL_BOOT_MS, CTL_READY, CTL_SEQ, CTL_SLOTS, CTL_WRITTEN, REC, RING_SIZE, type WorkerConfig } from "./layout.js";
import { findOnPath } from "./readings.js";

export class Channel {
  readonly ctl: Int32Array;
  readonly acc: Float64Array;
  readonly ring: Float64Array;
  private worker: Worker | undefined;
  /** Set when the worker failed; samplers then fall back to readings on the calling thread. */
  failed: Error | undefined;

  constructor(
    readonly interval: number,
    readonly path: string,
    readonly gpu: boolean,
  ) {
    this.ctl = new Int32Array(new SharedArrayBuffer(CTL_SLOTS * 4));
    this.acc = new Float64Array(new SharedArrayBuffer(ACC_SLOTS * 8));
    this.ring = new Float64Array(new SharedArrayBuffer(RING_SIZE * REC * 8));
  }

  private spawn(): void {
    const data: WorkerConfig = {
      ctl: this.ctl.buffer as SharedArrayBuffer,
      acc: this.acc.buffer as SharedArrayBuffer,
      ring: this.ring.buffer as SharedArrayBuffer,
      interval: this.interval,
      requested: performance.timeOrigin + performance.now(),
      path: this.path,
      nvidiaSmi: this.gpu ? findOnPath("nvidia-smi") : undefined,
    };
    try {
      const w = new Worker(new URL("./worker.js", import.meta.url), {
        workerData: data,
        // The worker is plain JS: it needs none of the parent's flags, and some (--input-type,
        // loader hooks) would break or slow its start.
        execArgv: [],
      });
      w.unref();
      w.on("error", (err) => {
        this.failed = err;
        this.worker = undefined;
      });
      w.on("exit", () => {
        this.worker = undefined;
        this.failed ??= new Error("the sampling worker exited");
      });
      this.worker = w;
    } catch (err) {
      this.failed = err as Error;
    }
  }

  /** Whether the worker is up (it takes some tens of ms to start the first time). */
  get ready(): boolean {
    return Atomics.load(this.ctl, CTL_READY) === 1 && !this.failed;
  }

  /** How long the worker took to start, in ms (undefined until it has). */
  get startupMs(): number | undefined {
    return this.ready ? Atomics.load(this.ctl, CTL_BOOT_MS) : undefined;
  }

  acquire(): void {
    if (!this.worker && !this.failed) this.spawn();
    if (Atomics.add(this.ctl, CTL_ACTIVE, 1) === 0) Atomics.notify(this.ctl, CTL_ACTIVE);
  }

  release(): void {
    Atomics.sub(this.ctl, CTL_ACTIVE, 1);
  }

  /** A consistent copy of the accumulators (seqlock read). */
  snapshot(into = new Float64Array(ACC_SLOTS)): Float64Array {
    for (let spins = 0; ; spins++) {
      const s1 = Atomics.load(this.ctl, CTL_SEQ);
      if ((s1 & 1) === 0) {
        into.set(this.acc);
        if (Atomics.load(this.ctl, CTL_SEQ) === s1) return into;
      }
      if (spins > 1000) return into; // the worker died mid-update; take what is there
    }
  }

  /** Number of ring records written so far. */
  get written(): number {
    return Atomics.load(this.ctl, CTL_WRITTEN);
  }

  /** Terminates the worker (tests and shutdown; a later acquire() starts a new one). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}

const channels = new Map<string, Channel>();

export function channelFor(interval: number, path: string, gpu: boolean): Channel {
  const key = `${interval}\u0000${gpu ? 1 : 0}\u0000${path}`;
  let ch = channels.get(key);
  if (!ch) {
    ch = new Channel(interval, path, gpu);
    channels.set(key, ch);
  }
  return ch;
}

/** Stops every sampling worker (they are unref'd, so this is only needed to free them early). */
export async function shutdownSamplers(): Promise<void> {
  const all = [...channels.values()];
  channels.clear();
  await Promise.all(all.map((c) => c.close()));
}
