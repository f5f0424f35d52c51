/**
 * recordTo(): streams readings into a Session track. The worker writes each reading, stamped
 * with the time it was taken, to a ring in shared memory; the main thread drains the ring into
 * track.append() on a timer, so readings taken while the main thread was blocked are kept
 * (up to RING_SIZE of them) with their own `_ts`.
 */
import { QuiverError, type Row } from "@quiver/core";
import { channelFor } from "./channel.js";
import { F, FIELDS, type Field, REC, RING_SIZE } from "./layout.js";
import { type Metrics, SystemSampler, type SystemSamplerOptions } from "./sampler.js";

/** What recordTo writes to: a core `Track`, or anything with the same append(). */
export interface AppendTarget {
  append(fields: Row): unknown;
  flush?(): Promise<void>;
}

export interface RecordOptions extends SystemSamplerOptions {
  /** Milliseconds between readings (default 1000). */
  interval?: number;
  /** Also record bytes_sent / bytes_recv per reading (default true). */
  network?: boolean;
}

export interface Recording extends AsyncDisposable {
  /** Points appended so far. */
  readonly points: number;
  /** Readings lost because the main thread was blocked for more than RING_SIZE readings. */
  readonly dropped: number;
  /** Stops recording, appends the readings not yet drained and flushes the track; returns points appended. */
  stop(): Promise<number>;
}

const SYSTEM: readonly Field[] = ["cpu", "memory_percent", "p_memory_percent", "disk_percent"];
const NETWORK: readonly Field[] = ["bytes_sent", "bytes_recv"];
const GPU: readonly Field[] = ["gpu_percent", "gpu_memory_percent"];

/** Records a reading every `interval` ms into `track` until the returned handle's stop(). */
export function recordTo(track: AppendTarget, options: RecordOptions = {}): Recording {
  if (!track || typeof track.append !== "function") throw new QuiverError("INVALID_VALUE", "recordTo expects a track (session.track(name)) or an object with append(fields)");
  const opts: RecordOptions = { ...options, interval: options.interval ?? 1000, network: options.network ?? true };
  // Validates the options and serves as the fallback when no worker can run.
  const sampler = new SystemSampler(opts);
  const wanted = new Set<Field>([...(sampler.system ? SYSTEM : []), ...(sampler.network ? NETWORK : []), ...(sampler.gpu ? GPU : [])]);
  const fields = FIELDS.filter((f) => wanted.has(f));
  const ch = channelFor(sampler.interval, sampler.path, sampler.gpu);
  ch.acquire();
  let cursor = ch.written;
  let points = 0;
  let dropped = 0;
  let stopped = false;

  const append = (row: Metrics | Row): void => {
    track.append(row as Row);
    points++;
  };

  const drain = (): void => {
    if (ch.failed) {
      append(sampler.sample()); // no worker: read on this thread
      return;
    }
    const end = ch.written;
    if (end - cursor > RING_SIZE) {
      dropped += end - RING_SIZE - cursor;
      cursor = end - RING_SIZE;
    }
    const rec = new Float64Array(REC);
    for (; cursor < end; cursor++) {
      const base = (cursor % RING_SIZE) * REC;
      rec.set(ch.ring.subarray(base, base + REC));
      if (ch.written - cursor > RING_SIZE) {
        dropped++; // overwritten while copying
        continue;
      }
      const row: Row = { _ts: rec[0]! / 1000 };
      for (const f of fields) {
        const v = rec[1 + F[f]]!;
        if (!Number.isNaN(v)) row[f] = Math.round(v * 1e6) / 1e6;
      }
      append(row);
    }
  };

  let failure: unknown;
  const end = (): void => {
    stopped = true;
    clearInterval(timer);
    ch.release();
  };
  // A track that refuses points (e.g. its session was closed) ends the recording; stop() reports it.
  const timer = setInterval(
    () => {
      try {
        drain();
      } catch (err) {
        failure = err;
        end();
      }
    },
    Math.min(1000, Math.max(20, sampler.interval)),
  );
  timer.unref();

  const stop = async (): Promise<number> => {
    if (!stopped) {
      end();
      if (!ch.failed) drain();
    }
    if (failure !== undefined) throw failure;
    await track.flush?.();
    return points;
  };

  return {
    get points() {
      return points;
    },
    get dropped() {
      return dropped;
    },
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
}
