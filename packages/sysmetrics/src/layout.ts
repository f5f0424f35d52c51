/**
 * Shared-memory layout between a sampling worker and the main thread.
 *
 * ctl (Int32): the number of active users (the worker sleeps at 0), a seqlock around `acc`,
 * and the count of records written to the ring.
 * acc (Float64): running sums and counts of each field since the worker started, plus the
 * latest value of each; a start()/stop() pair reads it twice and divides the differences.
 * ring (Float64): the last RING_SIZE ticks as [time ms, ...fields] (NaN = not measured), which
 * recordTo() drains into a track, so ticks taken while the main thread was blocked are kept.
 */
export const FIELDS = ["cpu", "memory_percent", "p_memory_percent", "disk_percent", "bytes_sent", "bytes_recv", "gpu_percent", "gpu_memory_percent"] as const;
export type Field = (typeof FIELDS)[number];
export const NF = FIELDS.length;
export const F: Record<Field, number> = Object.fromEntries(FIELDS.map((f, i) => [f, i])) as Record<Field, number>;

export const CTL_ACTIVE = 0;
export const CTL_SEQ = 1;
export const CTL_WRITTEN = 2;
export const CTL_READY = 3;
/** Milliseconds from the request for a worker to its first instruction (start-up cost). */
export const CTL_BOOT_MS = 4;
export const CTL_SLOTS = 5;

/** acc: sums at [0, NF), counts at [NF, 2NF), latest values at [2NF, 3NF), ticks at 3NF. */
export const ACC_SUM = 0;
export const ACC_COUNT = NF;
export const ACC_LAST = 2 * NF;
export const ACC_TICKS = 3 * NF;
export const ACC_SLOTS = 3 * NF + 1;

export const RING_SIZE = 4096;
export const REC = NF + 1;

export interface WorkerConfig {
  ctl: SharedArrayBuffer;
  acc: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  interval: number;
  /** When the worker was asked for (ms since the epoch). */
  requested: number;
  path: string;
  /** nvidia-smi's path, when GPU readings are wanted and it is on PATH. */
  nvidiaSmi: string | undefined;
}
