/**
 * What this process can learn about other processes holding a file, and the blocking waits
 * closeSync needs (no promise can settle there).
 */
import { randomFill } from "node:crypto";
import fs from "node:fs";

/** Blocks the thread (closeSync only: no promise can settle there). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Blocks until the thread pool has started every task queued before now: its queue is FIFO, so
 * once a random fill queued behind them has written its bytes, they were all taken by a worker
 * (a DuckDB query then holds its connection's lock within microseconds). At most `timeoutMs`.
 */
export function awaitQueuedStarts(timeoutMs: number): void {
  const marker = new Uint8Array(16);
  randomFill(marker, () => undefined);
  const t0 = Date.now();
  while (marker.every((b) => b === 0) && Date.now() - t0 < timeoutMs) sleepSync(1);
  sleepSync(1);
}

/**
 * The processes holding a lock on `file` (pid, READ or WRITE), from /proc/locks (Linux; else
 * undefined). A failed DuckDBInstance.create costs 10–90 ms (it builds an instance before it
 * meets the lock), so a waiter polls this (≈0.2 ms) and only tries when the file looks free.
 * Only a hint: a real attempt is still made every ATTEMPT_EVERY_MS.
 */
export function lockHolders(file: string): { pid: number; type: string }[] | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    const st = fs.statSync(file);
    const major = Math.floor(st.dev / 256) & 0xfff;
    const minor = (st.dev & 0xff) | (Math.floor(st.dev / 4096) & 0xfff00);
    const key = ` ${major.toString(16).padStart(2, "0")}:${minor.toString(16).padStart(2, "0")}:${st.ino} `;
    const out: { pid: number; type: string }[] = [];
    for (const line of fs.readFileSync("/proc/locks", "latin1").split("\n")) {
      if (!line.includes(key)) continue;
      const f = line.split(/\s+/);
      out.push({ pid: Number(f[4]), type: f[3] ?? "" });
    }
    return out;
  } catch {
    return undefined;
  }
}

/** Whether a lock another process holds keeps us out (read-only instances share the file). */
export function heldByOther(holders: { pid: number; type: string }[] | undefined, readOnly: boolean): boolean | undefined {
  return holders?.some((h) => h.pid !== process.pid && !(readOnly && h.type === "READ"));
}

/**
 * In core's exit writer: the exiting process, when it still holds the file (a native call of its
 * outlived closeSync). It cannot let go while it waits for the writer, so the writer says so at
 * once (LOCKED with holderPid) and core has a successor write once that process has ended.
 */
export function exitingHolder(holders: { pid: number }[] | undefined): number | undefined {
  const parent = Number(process.env.QUIVER_EXIT_PARENT);
  if (!(parent > 0) || process.env.QUIVER_EXIT_AFTER) return undefined;
  return holders?.some((h) => h.pid === parent) ? parent : undefined;
}
