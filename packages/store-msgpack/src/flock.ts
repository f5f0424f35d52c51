/**
 * flock(2) from Node without a native addon, so Quiver and Python's `fcntl.flock` (dreamlake's
 * FileLock) exclude each other on the same lock file.
 *
 * A flock belongs to the open file description, not to the process that called it: we open the
 * lock file, hand that descriptor to a child as its fd 3, and the child (`flock -x 3` from
 * util-linux, or `python3 -c "fcntl.flock(3, LOCK_EX)"` where util-linux is missing) takes the
 * lock on it and exits. The lock then stays with our descriptor until we close it — release is a
 * plain close(2), and a process that dies lets go of it with its descriptors, so a crash never
 * leaves a stale lock. Taking it costs one short child process (~2 ms, see the README); it is
 * held only for the few file operations of one append, never across an await.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { QuiverError } from "@quiver/core";
import { ioError } from "./state.js";

const TOOLS: { cmd: string; args: string[] }[] = [
  { cmd: "flock", args: ["-x", "3"] },
  { cmd: "python3", args: ["-c", "import fcntl; fcntl.flock(3, fcntl.LOCK_EX)"] },
];

/** The tool that worked (undefined: not tried yet; null: none on the PATH). */
let chosen: (typeof TOOLS)[number] | null | undefined;
let warned = false;

/** An flock held on an open descriptor of `path`; `release()` closes it. */
export class Flock {
  private constructor(
    readonly path: string,
    private fd: number | undefined,
  ) {}

  /**
   * Takes the exclusive flock of `path` (created if missing), waiting up to `timeoutMs` for its
   * holder: LOCKED after that. Without `flock` and `python3` on the PATH it is taken nowhere
   * (once warned through `warn`): only those could be holding it.
   */
  static acquire(path: string, timeoutMs: number, warn: (message: string) => void): Flock {
    let fd: number;
    try {
      mkdirSync(dirname(path), { recursive: true });
      fd = openSync(path, "a");
    } catch (err) {
      throw ioError("cannot open the lock file", path, err);
    }
    for (const t of chosen === undefined ? TOOLS : chosen === null ? [] : [chosen]) {
      const r = spawnSync(t.cmd, t.args, { stdio: ["ignore", "ignore", "pipe", fd], timeout: Math.max(1, timeoutMs), killSignal: "SIGKILL" });
      const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
      if (code === "ENOENT") continue;
      chosen = t;
      if (r.status === 0) return new Flock(path, fd);
      closeSync(fd);
      if (r.signal || code === "ETIMEDOUT")
        throw new QuiverError("LOCKED", `${path} stayed locked by another process (dreamlake?) for ${timeoutMs} ms; retry, or raise the store's lockTimeout`);
      throw ioError(`cannot take the flock with ${t.cmd}`, path, r.error ?? new Error(String(r.stderr).trim() || `exit status ${r.status}`));
    }
    chosen = null;
    if (!warned) {
      warned = true;
      warn(`neither flock (util-linux) nor python3 is on the PATH: ${path} and dreamlake's other lock files are not locked`);
    }
    return new Flock(path, fd);
  }

  /** Lets go of the lock (closes the descriptor); idempotent, never throws. */
  release(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      /* closed */
    }
    this.fd = undefined;
  }
}

/** Runs `fn` holding the flock of `path`. */
export function withFlock<T>(path: string, timeoutMs: number, warn: (message: string) => void, fn: () => T): T {
  const lock = Flock.acquire(path, timeoutMs, warn);
  try {
    return fn();
  } finally {
    lock.release();
  }
}
