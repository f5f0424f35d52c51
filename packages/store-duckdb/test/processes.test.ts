/** Real child processes: many writers and a reader on one file, SIGKILL, LOCKED. */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DuckDBInstance } from "@duckdb/node-api";
import { isQuiverError, openStore } from "@quiver/core";
import { describe, expect, it } from "vitest";
import "../dist/index.js";
import { tmpDb } from "./helpers.js";

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");
const pkgDir = path.resolve(fixtures, "../..");

function run(script: string, args: string[]): { child: ChildProcess; out: Promise<string>; lines: string[] } {
  const child = spawn(process.execPath, [path.join(fixtures, script), ...args], { cwd: pkgDir, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    lines.push(...d.toString().split("\n").filter(Boolean));
  });
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const done = new Promise<string>((resolve, reject) =>
    child.on("exit", (code, signal) => (code === 0 || signal === "SIGKILL" ? resolve(out) : reject(new Error(`${script} exited ${code ?? signal}: ${err}`)))),
  );
  return { child, out: done, lines };
}

async function rawQuery(file: string, sql: string): Promise<unknown[][]> {
  const inst = await DuckDBInstance.create(file);
  const conn = await inst.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRows();
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("duckdb: many processes on one file", () => {
  it("4 writers × 50 000 rows lose nothing while a reader reads consistent snapshots", async () => {
    const file = tmpDb();
    const uri = `duckdb:${file}`;
    const stop = file + ".stop";
    await (await openStore(uri)).close(); // the Reader opens read-only: the file must exist
    const reader = run("reader.mjs", [uri, stop]);
    await until(() => reader.lines.includes("ready"), 60_000);
    const writers = [0, 1, 2, 3].map((w) => run("writer.mjs", [uri, "50000", `w${w}`]));
    await Promise.all(writers.map((w) => w.out));
    fs.writeFileSync(stop, "");
    const report = JSON.parse((await reader.out).trim().split("\n").pop()!) as { snapshots: number; maxRows: number; bad: unknown[] };
    expect(report.bad).toEqual([]);
    expect(report.snapshots).toBeGreaterThan(0);
    const rows = await rawQuery(file, "SELECT track_id, count(*), count(DISTINCT i), min(i), max(i), count(DISTINCT writer) FROM events GROUP BY track_id ORDER BY track_id");
    expect(rows.map((r) => r.map(Number).slice(1))).toEqual([0, 1, 2, 3].map(() => [50000, 50000, 0, 49999, 1]));
    expect(rows.map((r) => r[0])).toEqual(["w0", "w1", "w2", "w3"]);
  }, 150_000);

  it("SIGKILL: everything flushed before the kill is there and the file reopens cleanly", async () => {
    const file = tmpDb();
    const victim = run("killme.mjs", [`duckdb:${file}`, "2000", "0"]);
    await until(() => victim.lines.filter((l) => l.startsWith("flushed")).length >= 5, 60_000);
    victim.child.kill("SIGKILL");
    await victim.out;
    const flushed = Math.max(...victim.lines.filter((l) => l.startsWith("flushed")).map((l) => Number(l.split(" ")[1])));
    const store = await openStore(`duckdb:${file}`);
    const n = await store.count("events");
    expect(n).toBeGreaterThanOrEqual(flushed);
    const t = await store.sql!("SELECT count(DISTINCT i) AS d, min(i) AS lo, max(i) AS hi FROM events");
    const r = t.get(0)!.toJSON() as { d: bigint; lo: bigint; hi: bigint };
    expect([Number(r.d), Number(r.lo), Number(r.hi)]).toEqual([n, 0, n - 1]);
    await store.close();
  }, 90_000);

  it("SIGKILL after the background flush interval: rows logged without flush() are there", async () => {
    const file = tmpDb();
    const victim = run("killme.mjs", [`duckdb:${file}`, "0", "5000"]);
    await until(() => victim.lines.some((l) => l.startsWith("logged")), 60_000);
    await new Promise((r) => setTimeout(r, 2500)); // flushInterval 1 s + commit when idle
    victim.child.kill("SIGKILL");
    await victim.out;
    const rows = await rawQuery(file, "SELECT count(*), count(DISTINCT i) FROM events");
    expect(rows[0]!.map(Number)).toEqual([5000, 5000]);
  }, 90_000);

  it("a file held in exclusive mode raises LOCKED after lockTimeout, naming the holder's PID", async () => {
    const file = tmpDb();
    const holder = run("holder.mjs", [file]);
    try {
      await until(() => holder.lines.some((l) => l.startsWith("holding")), 60_000);
      const t0 = Date.now();
      let err: unknown;
      try {
        await openStore(`duckdb:${file}?lockTimeout=600`);
      } catch (e) {
        err = e;
      }
      expect(isQuiverError(err, "LOCKED")).toBe(true);
      expect((err as Error).message).toContain(`PID ${holder.child.pid}`);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
    } finally {
      holder.child.kill("SIGKILL");
      await holder.out;
    }
    // Once the holder is gone the file opens and is intact.
    const store = await openStore(`duckdb:${file}`);
    expect(await store.tables()).toEqual([]);
    await store.close();
  }, 90_000);
});
