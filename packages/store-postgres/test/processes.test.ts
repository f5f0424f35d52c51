/** Real processes and a real server: many writers, racing schema changes, a server restart. */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isQuiverError, openStore, rowsToBatch, Tracker } from "@quiver/core";
import { rowsOf } from "@quiver/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import "../dist/index.js";
import { freshSchema, raw, urlWith } from "./helpers.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, "fixtures");
const script = path.join(here, "..", "scripts", "pg-server.sh");
const pg = raw();
afterAll(() => pg.end());

function run(file: string, args: string[]): { child: ChildProcess; out: Promise<string>; lines: string[] } {
  const child = spawn(process.execPath, [path.join(fixtures, file), ...args], { cwd: here, stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    lines.push(...d.toString().split("\n").filter(Boolean));
  });
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const done = new Promise<string>((resolve, reject) => child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`${file} exited ${code}: ${err}`)))));
  return { child, out: done, lines };
}

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("postgres: many processes", () => {
  it("8 processes × 8 connections lose nothing and double nothing while a reader polls", async () => {
    const schema = freshSchema("many");
    const uri = urlWith(schema);
    const stop = path.join(os.tmpdir(), `${schema}.stop`);
    const reader = run("reader.mjs", [uri, stop]);
    const tailer = run("tailer.mjs", [uri, stop]);
    await until(() => reader.lines.includes("ready") && tailer.lines.includes("ready"), 30_000);
    const ROWS = 5000;
    const writers = Array.from({ length: 8 }, (_, w) => run("writer.mjs", [uri, String(ROWS), "8", `w${w}`]));
    await Promise.all(writers.map((w) => w.out));
    fs.writeFileSync(stop, "");
    const report = JSON.parse((await reader.out).trim().split("\n").pop()!) as { snapshots: number; bad: unknown[] };
    const tail = JSON.parse((await tailer.out).trim().split("\n").pop()!) as { polls: number; seen: number; rows: number; cursor: number; bad: unknown[] };
    fs.rmSync(stop, { force: true });
    expect(report.bad).toEqual([]);
    expect(report.snapshots).toBeGreaterThan(0);
    // Tailing by position missed nothing: no poll saw a row while one below it was still to
    // commit (a hole later filled), and it saw every row of the table.
    expect(tail.bad).toEqual([]);
    expect(tail.polls).toBeGreaterThan(10);
    expect([tail.seen, tail.rows, tail.cursor]).toEqual([64 * ROWS, 64 * ROWS, 64 * ROWS]);
    const rows = await pg.unsafe(
      `SELECT track_id, count(*)::int AS n, count(DISTINCT i)::int AS d, min(i)::int AS lo, max(i)::int AS hi FROM "${schema}".events GROUP BY track_id ORDER BY track_id`,
    );
    expect(rows.length).toBe(64);
    for (const r of rows) expect([r.n, r.d, r.lo, r.hi]).toEqual([ROWS, ROWS, 0, ROWS - 1]);
    // Positions are dense: 0 … 320 000 - 1, each once.
    const [p] = await pg.unsafe(
      `SELECT count(*)::int AS n, count(DISTINCT _quiver_pos)::int AS d, min(_quiver_pos)::int AS lo, max(_quiver_pos)::int AS hi FROM "${schema}".events`,
    );
    expect([p!.n, p!.d, p!.lo, p!.hi]).toEqual([64 * ROWS, 64 * ROWS, 0, 64 * ROWS - 1]);
    // Scan order is acknowledged append order: each connection logs i = 0, 1, 2, … and waits
    // for each batch, so by position each run's rows come in that order.
    const [o] = await pg.unsafe(
      `SELECT count(*)::int AS n FROM (SELECT i, lag(i) OVER (PARTITION BY track_id ORDER BY _quiver_pos) AS prev FROM "${schema}".events) x WHERE prev IS NOT NULL AND i <> prev + 1`,
    );
    expect(o!.n).toBe(0);
    // And the store's own scan and runs() agree with it.
    const s = await openStore(uri, { readOnly: true });
    let k = 0;
    let ordered = true;
    const last = new Map<string, number>();
    for await (const b of s.scan("events", { columns: ["track_id", "i"] })) {
      for (let r = 0; r < b.numRows; r++, k++) {
        const id = b.getChildAt(0)!.get(r) as string;
        const i = Number(b.getChildAt(1)!.get(r));
        if (i !== (last.get(id) ?? -1) + 1) ordered = false;
        last.set(id, i);
      }
    }
    expect([k, ordered]).toEqual([64 * ROWS, true]);
    const runs = await s.runs!("events");
    expect(runs.length).toBe(64);
    expect(runs.every((r) => r.rows === ROWS)).toBe(true);
    await s.close();
  }, 180_000);

  it("two processes adding the same new columns at the same moments (one as ints, one as floats) are safe", async () => {
    const schema = freshSchema("race");
    const uri = urlWith(schema);
    const start = Date.now() + 1500;
    const ROUNDS = 30;
    await Promise.all([run("racer.mjs", [uri, String(ROUNDS), "a", String(start)]).out, run("racer.mjs", [uri, String(ROUNDS), "b", String(start)]).out]);
    const s = await openStore(uri);
    const rows = await rowsOf(s, "race");
    expect(rows.length).toBe(2 * ROUNDS);
    const fields = (await s.schema("race"))!.fields.map((f) => f.name);
    expect(fields.slice(0, 2)).toEqual(["who", "k"]);
    expect(fields.slice(2).sort()).toEqual(Array.from({ length: ROUNDS }, (_, k) => `c${k}`).sort());
    for (const r of rows) expect(r[`c${r.k}`]).toBe((r.k as number) % 2 ? (r.k as number) + 0.5 : r.k);
    await s.close();
  }, 60_000);
});

describe("postgres: a server restart mid-run", () => {
  let dir: string;
  let url: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-pg-restart-"));
    url = execFileSync("bash", [script, "start", dir], { encoding: "utf8" }).trim();
  });
  afterAll(() => {
    try {
      execFileSync("bash", [script, "stop", dir]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an append while the server is down rejects with IO (host and port); the store reconnects after", async () => {
    const s = await openStore(`${url}?schema=down`);
    await s.append("t", rowsToBatch([{ a: 1 }]));
    execFileSync("bash", [script, "stop", dir]);
    const err = await s.append("t", rowsToBatch([{ a: 2 }])).catch((e: unknown) => e);
    expect(isQuiverError(err, "IO")).toBe(true);
    expect((err as Error).message).toContain(new URL(url).host);
    execFileSync("bash", [script, "start", dir]);
    await s.append("t", rowsToBatch([{ a: 3 }]));
    expect((await rowsOf(s, "t")).map((r) => r.a)).toEqual([1, 3]);
    await s.close();
  }, 60_000);

  it("a Tracker logging through a restart keeps every row, once", async () => {
    const t = await Tracker.open(`${url}?schema=restart`, { flushInterval: 20 });
    const N = 20_000;
    let restarted: Promise<void> | undefined;
    for (let i = 0; i < N; i++) {
      await t.log({ i, loss: 1 / (i + 1) });
      if (i === 5000) {
        restarted = new Promise((resolve, reject) => {
          const c = spawn("bash", [script, "restart", dir], { stdio: "ignore" });
          c.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`restart exited ${code}`))));
        });
      }
      if (i % 1000 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    await restarted;
    await t.close();
    const s = await openStore(`${url}?schema=restart`);
    const tb = await s.sql!("SELECT count(*)::int AS n, count(DISTINCT i)::int AS d, min(i)::int AS lo, max(i)::int AS hi FROM events");
    expect(tb.get(0)!.toJSON()).toEqual({ n: N, d: N, lo: 0, hi: N - 1 });
    await s.close();
  }, 120_000);
});
