/**
 * The store kit's file lock, between real processes: contention, mutual exclusion, a SIGKILLed
 * holder taken over (also by several processes at once, every round), and folders that cannot
 * hold a lock failing at once with IO.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { acquireLock, lockHolder, QuiverError, tryLock } from "../dist/store-kit/index.js";

const LOCK_JS = pathToFileURL(resolve(dirname(fileURLToPath(import.meta.url)), "../dist/store-kit/lock.js")).href;
const root = mkdtempSync(join(tmpdir(), "quiver-lock-"));
chmodSync(root, 0o755);
const children: ChildProcess[] = [];
const mounts: string[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  for (const m of mounts) execFileSync("umount", [m]);
  rmSync(root, { recursive: true, force: true });
});

/** The child: `node child.mjs MODE LOCK ...` (see the cases below); it reports on stdout. */
const CHILD = join(root, "child.mjs");
writeFileSync(
  CHILD,
  `
import { appendFileSync, writeSync } from "node:fs";
import { acquireLock } from ${JSON.stringify(LOCK_JS)};
const [mode, path, a, b, c] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (o) => process.stdout.write(JSON.stringify(o) + "\\n");
if (mode === "hold") {
  const lock = await acquireLock(path, { timeout: 10000, extra: a ?? "" });
  say({ locked: process.pid });
  if (b === "forever") setInterval(() => {}, 1000);
  else { await sleep(Number(b)); lock.release(); say({ released: Date.now() }); }
} else if (mode === "acquire") {
  const t0 = Date.now();
  try {
    const lock = await acquireLock(path, { timeout: Number(a), what: "table \\"events\\"" });
    say({ ok: true, at: Date.now(), waited: Date.now() - t0, inherited: lock.inherited ?? null });
    lock.release();
  } catch (e) {
    say({ ok: false, code: e.code, message: e.message, waited: Date.now() - t0 });
  }
} else if (mode === "rounds") {
  // a = log file, b = rounds, c = "die" to leave the lock stale (as a SIGKILLed holder would) every round.
  const dead = Number(process.env.DEAD_PID);
  for (let i = 0; i < Number(b); i++) {
    const lock = await acquireLock(path, { timeout: 60000 });
    appendFileSync(a, "+" + process.pid + "\\n");
    await sleep(1);
    appendFileSync(a, "-" + process.pid + "\\n");
    if (c === "die") writeSync(lock.fd, String(dead).padEnd(String(process.pid).length) + "\\n", 0); // now names a dead PID
    else lock.release();
  }
  say({ done: true });
}
`,
);

function start(...args: string[]): { child: ChildProcess; lines: () => Promise<Record<string, unknown>>; done: Promise<Record<string, unknown>[]> } {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, DEAD_PID: String(deadPid) } });
  children.push(child);
  const got: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  let buf = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      got.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
      wake?.();
    }
  });
  child.stderr!.on("data", (d: Buffer) => void (err += d.toString()));
  let read = 0;
  const lines = async () => {
    while (got.length <= read) {
      if (child.exitCode !== null) throw new Error(`child exited ${child.exitCode}: ${err}`);
      await new Promise<void>((r) => ((wake = r), setTimeout(r, 50)));
    }
    return got[read++]!;
  };
  const done = new Promise<Record<string, unknown>[]>((res, rej) =>
    child.on("exit", (code, signal) => (code === 0 || signal === "SIGKILL" ? res(got) : rej(new Error(`child exited ${code}: ${err}`)))),
  );
  return { child, lines, done };
}

/** A PID that is certainly dead: a process that has exited. */
const deadPid = (() => {
  const r = execFileSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(r);
})();

/** Lines `+pid` / `-pid` must pair up: nobody entered while another was inside. */
function assertExclusive(log: string, expected: number): void {
  const lines = readFileSync(log, "utf8").trim().split("\n");
  expect(lines.length).toBe(expected * 2);
  for (let i = 0; i < lines.length; i += 2) {
    expect(lines[i]![0], `line ${i}: ${lines.slice(Math.max(0, i - 2), i + 3).join(" ")}`).toBe("+");
    expect(lines[i + 1], `line ${i + 1}: ${lines.slice(Math.max(0, i - 2), i + 3).join(" ")}`).toBe(`-${lines[i]!.slice(1)}`);
  }
}

describe("file lock between processes", () => {
  it("a second process waits for the holder and gets the lock once it is released; a short timeout is LOCKED naming the holder", async () => {
    const path = join(root, "contend.lock");
    const holder = start("hold", path, "", "800");
    const { locked } = await holder.lines();
    expect(lockHolder(path)).toEqual({ pid: locked, host: hostname() });
    const waiter = start("acquire", path, "10000");
    const impatient = start("acquire", path, "150");
    const late = await impatient.lines();
    expect(late.ok).toBe(false);
    expect(late.code).toBe("LOCKED");
    expect(late.message).toContain(`process ${locked}`);
    expect(late.message).toContain(path);
    expect(late.message).toContain('table "events"');
    const { released } = await holder.lines();
    const got = await waiter.lines();
    expect(got.ok).toBe(true);
    expect(got.at as number).toBeGreaterThanOrEqual(released as number);
    expect(got.inherited).toBe(null); // released properly: nothing to inherit
    await Promise.all([holder.done, waiter.done, impatient.done]);
    expect(existsSync(path)).toBe(false);
  });

  it("keeps 6 processes × 25 rounds mutually exclusive", async () => {
    const path = join(root, "rounds.lock");
    const log = join(root, "rounds.log");
    const kids = Array.from({ length: 6 }, () => start("rounds", path, log, "25"));
    await Promise.all(kids.map((k) => k.done));
    assertExclusive(log, 150);
  }, 60_000);

  it("takes over a SIGKILLed holder's lock, and the taker inherits what the holder had written", async () => {
    const path = join(root, "killed.lock");
    const holder = start("hold", path, "w 1234 5678\n", "forever");
    const { locked } = await holder.lines();
    const waiter = start("acquire", path, "20000");
    await new Promise((r) => setTimeout(r, 500));
    const killedAt = Date.now();
    holder.child.kill("SIGKILL");
    await holder.done;
    const got = await waiter.lines();
    expect(got.ok).toBe(true);
    expect(got.at as number).toBeGreaterThanOrEqual(killedAt); // it waited while the holder lived
    expect(got.inherited).toBe(`${locked}\n${hostname()}\nw 1234 5678\n`);
    await waiter.done;
  });

  it("stays exclusive when several processes take over a dead holder's lock at once, every round", async () => {
    const path = join(root, "stale.lock");
    const log = join(root, "stale.log");
    writeFileSync(path, `${deadPid}\n${hostname()}\n`); // left by a SIGKILLed writer
    const kids = Array.from({ length: 8 }, () => start("rounds", path, log, "40", "die"));
    await Promise.all(kids.map((k) => k.done));
    assertExclusive(log, 320);
    // The last round left it stale too: this process takes it over.
    const lock = tryLock(path);
    expect(lock?.inherited?.startsWith(`${deadPid}`)).toBe(true);
    lock!.release();
  }, 60_000);

  it("a lock of our own PID not held by us (a previous process's leftover) is stale", () => {
    const path = join(root, "leftover.lock");
    writeFileSync(path, `${process.pid}\n${hostname()}\n`);
    const lock = tryLock(path)!;
    expect(lock.inherited).toBe(`${process.pid}\n${hostname()}\n`);
    expect(lock.owned()).toBe(true);
    expect(tryLock(path)).toBeUndefined(); // held by this process now: another instance waits
    lock.release();
    expect(lock.owned()).toBe(false);
    lock.release(); // idempotent
  });

  it("a read-only folder is IO at once, never a wait blaming a lock", async () => {
    const dir = join(root, "ro");
    mkdirSync(dir);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]);
    } catch (err) {
      throw new Error(`mounting a tmpfs needs root here (${(err as Error).message})`);
    }
    mounts.push(dir);
    execFileSync("mount", ["-o", "remount,ro", dir]);
    const t0 = Date.now();
    const err = await acquireLock(join(dir, "t.lock"), { timeout: 30_000 }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(err).toBeInstanceOf(QuiverError);
    expect((err as QuiverError).code).toBe("IO");
    expect((err as QuiverError).message).toContain("EROFS");
    expect((err as QuiverError).message).toContain(join(dir, "t.lock"));
    expect((err as QuiverError).message).toContain("readOnly");
    // A child process sees the same.
    const c = start("acquire", join(dir, "t.lock"), "30000");
    const got = await c.lines();
    expect([got.ok, got.code]).toEqual([false, "IO"]);
    expect(got.waited as number).toBeLessThan(1000);
  });

  it("a folder this user may not write is IO at once (EACCES), from a process of another user", async () => {
    const dir = join(root, "not-mine");
    mkdirSync(dir, { mode: 0o755 });
    const nobody = 65534;
    const child = spawn(process.execPath, [CHILD, "acquire", join(dir, "t.lock"), "30000"], { uid: nobody, gid: nobody, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let out = "";
    let err = "";
    child.stdout!.on("data", (d: Buffer) => void (out += d));
    child.stderr!.on("data", (d: Buffer) => void (err += d));
    await new Promise((r) => child.on("exit", r));
    expect(err).toBe("");
    const got = JSON.parse(out.trim()) as Record<string, unknown>;
    expect([got.ok, got.code]).toEqual([false, "IO"]);
    expect(got.message).toContain("EACCES");
    expect(got.waited as number).toBeLessThan(1000);
  });

  it("a full disk when writing the lock is IO and leaves no lock behind", async () => {
    const dir = join(root, "full");
    mkdirSync(dir);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4k", "tmpfs", dir]);
    mounts.push(dir);
    writeFileSync(join(dir, "filler"), Buffer.alloc(4096, 1)); // takes every block
    const err = await acquireLock(join(dir, "t.lock"), { timeout: 30_000, extra: "x".repeat(100) }).catch((e: unknown) => e);
    expect((err as QuiverError).code).toBe("IO");
    expect((err as QuiverError).message).toContain("ENOSPC");
    expect(existsSync(join(dir, "t.lock"))).toBe(false);
  });
});
