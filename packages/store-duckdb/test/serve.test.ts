/**
 * The holder serves reads: a read-only store in another process reads through the writer's
 * socket instead of taking the file from it — real child processes, real sockets.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { field, openStore, type Store } from "@quiver/core";
import { batchToRows } from "@quiver/core/store-kit";
import type { RecordBatch, Table } from "apache-arrow";
import { describe, expect, it } from "vitest";
import "../dist/index.js";
import { FrameReader, frame, type Message, socketPath, toWire } from "../dist/wire.js";
import { tmpDb } from "./helpers.js";

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");
const pkgDir = path.resolve(fixtures, "../..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Child {
  child: ChildProcess;
  lines: string[];
  send(line: string): void;
  exited: Promise<number | null>;
}

function run(script: string, args: string[]): Child {
  const child = spawn(process.execPath, [path.join(fixtures, script), ...args], { cwd: pkgDir, stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  let rest = "";
  child.stdout!.on("data", (d: Buffer) => {
    const parts = (rest + d.toString()).split("\n");
    rest = parts.pop()!;
    lines.push(...parts);
  });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      if (code && code !== 0) console.error(`${script} exited ${code}: ${err}`);
      resolve(code);
    }),
  );
  return { child, lines, send: (l) => child.stdin!.write(`${l}\n`), exited };
}

async function until(cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await sleep(10);
  }
}

async function rows(it: AsyncIterable<RecordBatch>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const b of it) out.push(...batchToRows(b));
  return out;
}

const tableRows = (t: Table) => t.batches.flatMap((b) => batchToRows(b));

/** Every read operation a Reader, the CLI or a dashboard does, with its result (or its refusal). */
async function everyRead(s: Store): Promise<Record<string, unknown>> {
  const fail = (e: unknown) => ({ code: (e as { code?: string }).code, message: (e as Error).message });
  const t0 = new Date(1_700_000_000_000);
  return {
    schema: (await s.schema("t"))?.fields.map((f) => ({ name: f.name, type: String(f.type), nullable: f.nullable, meta: [...f.metadata] })),
    missing: await s.schema("nope"),
    tables: await s.tables(),
    count: await s.count("t"),
    countWhere: await s.count("t", field("f").gt(10).or(field("s").isNull()).node),
    all: await rows(s.scan("t")),
    filtered: await rows(
      s.scan("t", {
        where: field("big")
          .ge(50n * 10n ** 12n)
          .and(field("when").lt(new Date(t0.getTime() + 900_000))).node,
        orderBy: [{ column: "f", direction: "desc" }],
        limit: 20,
        offset: 3,
        columns: ["i", "f", "neg", "s", "img", "f32", "bin"],
        rowIndex: "idx",
      }),
    ),
    strings: await rows(
      s.scan("t", {
        where: field("s")
          .contains("ünï")
          .and(field("i").in([1, 2, 3, 5, 7])).node,
        columns: ["i", "s"],
      }),
    ),
    empty: await rows(s.scan("t", { where: field("i").lt(0).node })),
    limit0: await rows(s.scan("t", { limit: 0 })),
    byTime: await rows(s.readByTime!("t", { start: 1, end: 5, reverse: true, limit: 7, rowIndex: "k" })),
    runs: await s.runs!("t", { columns: "all" }),
    sql: tableRows(
      await s.sql!('SELECT i, big, bin, "when" FROM t WHERE big > $1 AND "when" < $2 AND bin <> $3 AND s <> $4 ORDER BY i LIMIT 5', [
        10n ** 12n,
        new Date(t0.getTime() + 60_000),
        new Uint8Array([0]),
        "",
      ]),
    ),
    sqlEmpty: (await s.sql!("SELECT i FROM t WHERE false")).schema.fields.map((f) => String(f.type)),
    write: await s.sql!("DELETE FROM t").then(() => "ran", fail),
    sneaky: await s.sql!("SELECT 1; CHECKPOINT").then(() => "ran", fail),
    badSql: await s.sql!("SELEC 1").then(() => "ran", fail),
    badParam: await s.sql!("SELECT $1", [{}]).then(() => "ran", fail),
    // A SELECT that writes: refused (DuckDB words it differently for a read-only open and a read-only transaction)
    nextval: await s.sql!("SELECT nextval('sq')").then(
      () => "ran",
      (e: unknown) => (e as { code?: string }).code,
    ),
  };
}

describe("duckdb: the holder serves reads", () => {
  for (const kind of ["tracker", "track"]) {
    it(`${kind}: a reader in another process sees every row while the writer keeps its instance and no one touches the wait file`, async () => {
      const file = tmpDb();
      const uri = `duckdb:${file}`;
      const writer = run("logger.mjs", [uri, "60", "20", kind]);
      await until(() => writer.lines.includes("ready"));
      const waitBefore = fs.statSync(`${file}.quiver-wait`).mtimeMs;
      const reader = await openStore(uri, { readOnly: true });
      const table = kind === "track" ? "fresh/tracks/points" : "events";
      const seen: number[] = [];
      let last = 0;
      let done = false;
      const finished = until(() => writer.lines.length > 1, 60_000).then(() => (done = true));
      while (!done) {
        const n = (await reader.count(table)) - 1;
        const t = performance.timeOrigin + performance.now();
        while (last < n) seen[last++] = t;
        await sleep(10);
      }
      await finished;
      const { sent, opens } = JSON.parse(writer.lines[1]!) as { sent: number[]; opens: number };
      expect(opens).toBe(1); // never handed the file over
      expect(fs.statSync(`${file}.quiver-wait`).mtimeMs).toBe(waitBefore); // the reader never asked for it
      expect(seen.length).toBe(sent.length);
      const lat = sent.map((s, i) => seen[i]! - s);
      expect(Math.max(...lat)).toBeLessThan(1000); // a loose bound: speed is the bench's (bench/freshness.mjs)
      expect(await reader.count(table)).toBe(61); // after the writer closed: read from the file itself
      await reader.close();
      await writer.exited;
    }, 90_000);
  }

  it("every read through the socket is what a direct read gives (all kinds, where/order/limit/offset, refusals)", async () => {
    const file = tmpDb();
    const holder = run("served.mjs", [file, "300"]);
    await until(() => holder.lines.includes("holding"));
    const waitBefore = fs.statSync(`${file}.quiver-wait`).mtimeMs;
    // The holder keeps the file (exclusive): a reader that tried to open it would get LOCKED.
    const uri = `duckdb:${file}?lockTimeout=1500`;
    const reader = await openStore(uri, { readOnly: true });
    const served = await everyRead(reader);
    expect(fs.statSync(`${file}.quiver-wait`).mtimeMs).toBe(waitBefore);
    holder.send("close");
    await holder.exited;
    expect(fs.existsSync(socketPath(file)!)).toBe(false);
    const direct = await everyRead(reader); // the holder is gone: the same store reads the file itself
    await reader.close();
    expect(served).toEqual(direct);
    // and the answers are the real ones, not two equal mistakes
    expect(direct.count).toBe(300);
    expect((direct.all as unknown[]).length).toBe(300);
    expect((direct.filtered as unknown[]).length).toBe(20);
    expect(direct.write).toMatchObject({ code: "UNSUPPORTED" });
    expect(direct.sneaky).toMatchObject({ code: "UNSUPPORTED" });
    expect(direct.badSql).toMatchObject({ code: "INVALID_QUERY" });
    expect(direct.badParam).toMatchObject({ code: "INVALID_QUERY" });
    expect(direct.nextval).toBe("INVALID_QUERY");
    expect((direct.all as { big: bigint; neg: number }[])[5]).toMatchObject({ big: 5n * 10n ** 12n + 1n, neg: -0 });
    expect(Object.is((direct.all as { neg: number }[])[5]!.neg, -0)).toBe(true);
  }, 90_000);

  it("only reads exist in the protocol: a write sent by hand is refused and changes nothing", async () => {
    const file = tmpDb();
    const holder = run("served.mjs", [file, "10"]);
    try {
      await until(() => holder.lines.includes("holding"));
      const sock = socketPath(file)!;
      await until(() => fs.existsSync(sock), 5000);
      const ask = (req: unknown) =>
        new Promise<Message>((resolve, reject) => {
          const c = net.connect(sock);
          const r = new FrameReader((m: Message) => {
            c.destroy();
            resolve(m);
          });
          c.on("data", (d: Buffer) => r.push(d));
          c.on("error", reject);
          for (const part of frame({ id: 1, req: toWire(req) })) c.write(part);
        });
      const write = await ask({ op: "sql", text: "DELETE FROM t", params: [], uri: "x", readOnly: false });
      expect(write.header).toMatchObject({ ok: false, code: "UNSUPPORTED" });
      const append = await ask({ op: "append", table: "t" });
      expect(append.header).toMatchObject({ ok: false, code: "UNSUPPORTED" });
      const inject = await ask({ op: "scan", table: "t", options: { limit: "1; DROP TABLE t" } });
      expect(inject.header).toMatchObject({ ok: false });
      const count = await ask({ op: "count", table: "t" });
      expect(count.header).toMatchObject({ ok: true, value: 10 });
    } finally {
      holder.send("close");
      await holder.exited;
    }
  }, 60_000);

  it.skipIf(process.getuid?.() !== 0)(
    "another user cannot connect to the socket (its folder is 0700): needs root to run a child as nobody",
    async () => {
      const file = tmpDb();
      const holder = run("served.mjs", [file, "10"]);
      try {
        await until(() => holder.lines.includes("holding"));
        const sock = socketPath(file)!;
        await until(() => fs.existsSync(sock), 5000);
        expect(fs.statSync(path.dirname(sock)).mode & 0o777).toBe(0o700);
        const probe = `require("net").connect(${JSON.stringify(sock)}).on("connect", () => { console.log("connected"); process.exit(0); }).on("error", (e) => { console.log(e.code); process.exit(0); });`;
        const asNobody = spawnSync(process.execPath, ["-e", probe], { uid: 65534, gid: 65534, encoding: "utf8" });
        expect(asNobody.stdout.trim()).toBe("EACCES");
        const asUs = spawnSync(process.execPath, ["-e", probe], { encoding: "utf8" });
        expect(asUs.stdout.trim()).toBe("connected"); // the probe can succeed: the refusal is the folder's
      } finally {
        holder.send("close");
        await holder.exited;
      }
    },
    60_000,
  );

  it("the holder SIGKILLed mid-answer: the reader reads the file itself and gets every committed row exactly once", async () => {
    const file = tmpDb();
    const holder = run("served.mjs", [file, "100000"]);
    await until(() => holder.lines.includes("holding"));
    const reader = await openStore(`duckdb:${file}`, { readOnly: true });
    expect(await reader.count("t")).toBe(100_000); // served
    const t0 = Date.now();
    expect((await rows(reader.scan("t", { columns: ["i", "s", "img"] }))).length).toBe(100_000); // served
    const took = Date.now() - t0;
    // The same scan again, and the holder dies a third of the way into answering it.
    const scan = rows(reader.scan("t", { columns: ["i", "s", "img"] }));
    await sleep(took / 3);
    holder.child.kill("SIGKILL");
    const got = (await scan) as { i: number }[];
    await holder.exited;
    expect(got.length).toBe(100_000);
    expect(got.every((r, k) => r.i === k)).toBe(true);
    expect(await reader.count("t")).toBe(100_000);
    await reader.close();
  }, 90_000);

  it("closeSync in the holder: the reader then opens the file itself", async () => {
    const file = tmpDb();
    const holder = run("served.mjs", [file, "50"]);
    await until(() => holder.lines.includes("holding"));
    const reader = await openStore(`duckdb:${file}?lockTimeout=5000`, { readOnly: true });
    expect(await reader.count("t")).toBe(50);
    holder.send("closesync");
    await until(() => holder.lines.includes("closed"));
    expect(fs.existsSync(socketPath(file)!)).toBe(false);
    expect(await reader.count("t")).toBe(50); // the holder is alive but let go: opened here
    await reader.close();
    holder.child.kill("SIGKILL");
    await holder.exited;
  }, 60_000);

  it("serving never keeps a script alive: a writer that forgets close() ends (and checkpoints) while a reader keeps reading", async () => {
    const file = tmpDb();
    const uri = `duckdb:${file}`;
    await (await openStore(uri)).close();
    const reader = await openStore(uri, { readOnly: true });
    const writer = run("forget.mjs", [uri, "1000"]);
    let ended = false;
    void writer.exited.then(() => (ended = true));
    await until(() => writer.lines.includes("appended"));
    const t0 = Date.now();
    let counts = 0;
    while (!ended && Date.now() - t0 < 20_000) {
      if ((await reader.count("t")) === 1000) counts++;
      await sleep(20);
    }
    expect(ended).toBe(true);
    expect(await writer.exited).toBe(0);
    expect(counts).toBeGreaterThan(0);
    expect(fs.existsSync(`${file}.wal`)).toBe(false); // let go cleanly: the WAL was checkpointed
    expect(await reader.count("t")).toBe(1000);
    await reader.close();
  }, 60_000);
});
