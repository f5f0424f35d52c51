import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isQuiverError, openStore, type QuiverErrorCode, readRows, rowsToBatch, Session } from "@quiver/core";
import { DATA_FILE, INDEX_FILE, LOCK_FILE, openMsgpackStore } from "../dist/index.js";
import { cleanup, deadPid, exited, listTree, pythonSummary, run, snapshot, staleWriterLock, tmpRoot, waitFor } from "./helpers.js";

afterAll(cleanup);

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<QuiverErrorCode | "none"> {
  try {
    await (typeof p === "function" ? p() : p);
    return "none";
  } catch (err) {
    if (isQuiverError(err)) return err.code;
    throw err;
  }
}

const validRecord = Buffer.from([0x82, 0xa3, 0x5f, 0x74, 0x73, 0xcb, 0x40, 0x59, 0, 0, 0, 0, 0, 0, 0xa1, 0x69, 0x07]); // {"_ts": 100.0, "i": 7}

describe("torn records", () => {
  it("SIGKILL loop: every kill leaves a table that reads back in order, reading changes nothing, and the next writer continues", async () => {
    const root = tmpRoot("kill");
    const file = path.join(root, "t", DATA_FILE);
    let acknowledged = 0;
    for (let round = 0; round < 6; round++) {
      const child = run("forever.mjs", [root, "t", String(round * 1_000_000)]);
      await waitFor(child, "ready");
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 150));
      child.kill("SIGKILL");
      await exited(child);
      const before = snapshot(root);
      const warnings: string[] = [];
      const reader = openMsgpackStore(root, { readOnly: true, onWarning: (m) => warnings.push(m) });
      const rows = await readRows(reader, "t");
      expect(await reader.count("t")).toBe(rows.length);
      await reader.close();
      expect(snapshot(root)).toEqual(before); // no cut, no index, no lock from a reader
      expect(warnings).toEqual([]);
      expect(rows.length).toBeGreaterThanOrEqual(acknowledged + 3 * 2000);
      // Every record is intact and in order: each round counts up from its own base.
      let prev = -1;
      for (const r of rows) {
        expect(r.i as number).toBeGreaterThan(prev);
        expect(r.text).toBe(`row ${r.i} `.repeat(8));
        prev = r.i as number;
      }
      // A writer takes over (breaking the dead lock, cutting only a proven torn write) and appends.
      const writer = openMsgpackStore(root, { onWarning: (m) => warnings.push(m) });
      await writer.append("t", rowsToBatch([{ _ts: -1, i: round * 1_000_000 + 999_999, text: `row ${round * 1_000_000 + 999_999} `.repeat(8) }]));
      acknowledged = rows.length + 1;
      expect(await writer.count("t")).toBe(acknowledged);
      await writer.close();
      expect(warnings.every((w) => w.includes("torn"))).toBe(true);
      expect(pythonSummary(file).rows).toBe(acknowledged);
      expect(fs.existsSync(path.join(root, "t", LOCK_FILE))).toBe(false);
    }
  }, 120_000);

  it("a torn tail nobody can prove is Quiver's: readers skip it without touching the file, writers refuse to build on it", async () => {
    const root = tmpRoot("torn");
    const s = await Session.open({ prefix: "p", root, flushInterval: 0 });
    for (let i = 0; i < 100; i++) s.track("x").append({ i, _ts: i });
    await s.close();
    const file = path.join(root, "p/tracks/x", DATA_FILE);
    const good = fs.statSync(file).size;
    fs.appendFileSync(file, Buffer.concat([validRecord, validRecord.subarray(0, 11)]));
    const before = snapshot(root);
    const warnings: string[] = [];
    const store = openMsgpackStore(root, { onWarning: (m) => warnings.push(m) });
    const s2 = await Session.open({ prefix: "p", store });
    const r = await s2.track("x").read({ limit: 1000 });
    // The complete record after the index is read, the torn one skipped; nothing is written.
    expect(r.total).toBe(101);
    expect(r.data.slice(0, 100).map((p) => p.data.i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(r.data[100]!.data).toEqual({ _ts: 100, i: 7 });
    const t = await s2.track("x").readByTime({ startTime: 99, endTime: 101 });
    expect(t.data.map((p) => p.data.i)).toEqual([99, 7]);
    expect(snapshot(root)).toEqual(before);
    expect(warnings).toEqual([]);
    // A writer will not cut bytes it cannot prove are a torn Quiver write, nor append after them.
    const err = await store.append("p/tracks/x", rowsToBatch([{ _ts: 200, i: 200 }])).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isQuiverError(err, "IO")).toBe(true);
    const cut = good + validRecord.length;
    expect((err as Error).message).toContain(file);
    expect((err as Error).message).toContain(`truncate -s ${cut}`);
    expect(snapshot(root)).toEqual(before);
    expect(fs.existsSync(path.join(root, "p/tracks/x", LOCK_FILE))).toBe(false);
    // Once the user cuts it, the same append succeeds and nothing is lost.
    fs.truncateSync(file, cut);
    await store.append("p/tracks/x", rowsToBatch([{ _ts: 200, i: 200 }]));
    expect(await store.count("p/tracks/x")).toBe(102);
    await s2.close();
    await store.close();
    expect(pythonSummary(file).rows).toBe(102);
  });

  it("a torn write of a killed Quiver writer (its lock names the offset) is cut by the next writer, under its lock, with a warning", async () => {
    const root = tmpRoot("torn-quiver");
    const store0 = openMsgpackStore(root);
    await store0.append("t", rowsToBatch(Array.from({ length: 10 }, (_, i) => ({ _ts: i, i }))));
    await store0.close();
    const dir = path.join(root, "t");
    const file = path.join(dir, DATA_FILE);
    const good = fs.statSync(file).size;
    // What a writer killed in the middle of its next append leaves: its lock with the write's
    // offset, one whole record of the batch and half of the next.
    staleWriterLock(path.join(dir, LOCK_FILE), await deadPid(), file, good);
    fs.appendFileSync(file, Buffer.concat([validRecord, Buffer.from([0x0a]), validRecord.subarray(0, 9)]));
    const before = snapshot(root);
    const warnings: string[] = [];
    const store = openMsgpackStore(root, { onWarning: (m) => warnings.push(m) });
    expect(await store.count("t")).toBe(11);
    expect(snapshot(root)).toEqual(before); // the reader leaves the stale lock and the torn bytes alone
    await store.append("t", rowsToBatch([{ _ts: 11, i: 11 }]));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/torn/);
    expect((await readRows(store, "t")).map((r) => r.i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 7, 11]);
    await store.close();
    expect(pythonSummary(file).rows).toBe(12);
    expect(fs.existsSync(path.join(dir, LOCK_FILE))).toBe(false);
  });

  it("a torn index entry: readers rebuild it in memory only; the next writer repairs the file", async () => {
    const root = tmpRoot("idx");
    const store = openMsgpackStore(root, { blockRows: 10 });
    await store.append("t", rowsToBatch(Array.from({ length: 50 }, (_, i) => ({ _ts: i, i }))));
    await store.close();
    const idx = path.join(root, "t", INDEX_FILE);
    const size = fs.statSync(idx).size;
    fs.truncateSync(idx, size - 30); // half of the last entry
    const store2 = openMsgpackStore(root, { onWarning: () => undefined });
    expect(await store2.count("t")).toBe(50);
    expect((await readRows(store2, "t", { where: { op: "ge", field: "_ts", value: 45 } })).map((r) => r.i)).toEqual([45, 46, 47, 48, 49]);
    expect(fs.statSync(idx).size).toBe(size - 30);
    await store2.append("t", rowsToBatch([{ _ts: 50, i: 50 }]));
    await store2.close();
    expect(fs.statSync(idx).size).toBe(size + 64);
    const store3 = openMsgpackStore(root);
    expect(await store3.count("t")).toBe(51);
    await store3.close();
  });
});

describe("two processes", () => {
  it("two writers appending to one track at once: both sets present, never interleaved bytes", async () => {
    const root = tmpRoot("two");
    const a = run("writer.mjs", [root, "p", "shared", "A", "40", "250"]);
    const b = run("writer.mjs", [root, "p", "shared", "B", "40", "250"]);
    await Promise.all([waitFor(a, "done"), waitFor(b, "done")]);
    const s = await Session.open({ prefix: "p", root });
    const t = s.track("shared");
    const table = await t.toTable();
    expect(table.numRows).toBe(20_000);
    const rows = await readRows(s.store, t.table);
    for (const tag of ["A", "B"]) {
      const mine = rows.filter((r) => r.writer === tag).map((r) => r.i);
      expect(mine).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    }
    await s.close();
    expect(pythonSummary(path.join(root, "p/tracks/shared", DATA_FILE))).toEqual({ objects: 80, rows: 20_000 });
  }, 60_000);

  it("a reader in another process sees consistent data while a writer appends", async () => {
    const root = tmpRoot("reader");
    // The writer pauses between appends, so a fast machine still overlaps several reads with it.
    const w = run("writer.mjs", [root, "p", "live", "W", "150", "200", "3"]);
    await waitFor(w, "ready");
    const store = await openStore(`msgpack:${root}`);
    const table = "p/tracks/live";
    let last = 0;
    let reads = 0;
    let done = false;
    void waitFor(w, "done").then(() => (done = true));
    while (!done) {
      const n = await store.count(table);
      expect(n).toBeGreaterThanOrEqual(last);
      expect(n % 200).toBe(0); // whole appends only
      const rows = await readRows(store, table, { offset: Math.max(0, n - 400) });
      expect(rows.length).toBeGreaterThanOrEqual(Math.min(n, 400));
      for (const r of rows) expect(r.value).toBe((r.i as number) * 0.5);
      last = n;
      reads++;
      await new Promise((r) => setTimeout(r, 5));
    }
    await exited(w);
    expect(reads).toBeGreaterThan(2);
    expect(await store.count(table)).toBe(30_000);
    await store.close();
  }, 60_000);

  it("a lock held by a live process → LOCKED after lockTimeout; a dead owner's lock is broken", async () => {
    const root = tmpRoot("lock");
    const store = openMsgpackStore(root, { lockTimeout: 150 });
    await store.append("t", rowsToBatch([{ _ts: 1, v: 1 }]));
    await new Promise((r) => setTimeout(r, 30)); // lease released
    const before = fs.readFileSync(path.join(root, "t", DATA_FILE));
    const sleeper = spawn(process.execPath, ["-e", "setTimeout(() => {}, 20000)"]);
    fs.writeFileSync(path.join(root, "t", LOCK_FILE), `${sleeper.pid}\n${(await import("node:os")).hostname()}\n`);
    const t0 = Date.now();
    expect(await codeOf(store.append("t", rowsToBatch([{ _ts: 2, v: 2 }])))).toBe("LOCKED");
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(fs.readFileSync(path.join(root, "t", DATA_FILE)).equals(before)).toBe(true);
    sleeper.kill("SIGKILL");
    await exited(sleeper);
    await store.append("t", rowsToBatch([{ _ts: 2, v: 2 }]));
    expect(await store.count("t")).toBe(2);
    await store.close();
  }, 30_000);
});

describe("locks from elsewhere", () => {
  it("a lock left by another host (a container that is gone) is broken after a grace period", async () => {
    const root = tmpRoot("foreign-lock");
    const store = openMsgpackStore(root);
    await store.append("t", rowsToBatch([{ _ts: 1, v: 1 }]));
    await new Promise((r) => setTimeout(r, 30));
    fs.writeFileSync(path.join(root, "t", LOCK_FILE), `1\nsome-other-container\n`);
    const t0 = Date.now();
    await store.append("t", rowsToBatch([{ _ts: 2, v: 2 }]));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2900);
    expect(await store.count("t")).toBe(2);
    await store.close();
  }, 20_000);
});

describe("bad input", () => {
  it("track names with .., absolute paths, NUL or reserved names → INVALID_NAME, nothing written outside the root", async () => {
    const parent = tmpRoot("names");
    const root = path.join(parent, "root");
    const s = await Session.open({ prefix: "p", root });
    s.track("ok").append({ v: 1 });
    await s.flush();
    const before = listTree(parent);
    for (const name of ["../escape", "a/../../escape", "/etc/passwd", "a\u0000b", "..", "a//b", "C:/x"]) {
      expect(await codeOf(() => s.track(name).append({ v: 1 })), JSON.stringify(name)).toBe("INVALID_NAME");
    }
    for (const prefix of ["../up", "/abs"]) expect(await codeOf(Session.open({ prefix, root }))).toBe("INVALID_NAME");
    const store = s.store;
    for (const table of ["../../evil", "p/tracks/data.msgpack", "p/.quiver-index/x", "p/tracks/ok/.quiver-lock"]) {
      expect(await codeOf(store.append(table, rowsToBatch([{ v: 1 }]))), table).toBe("INVALID_NAME");
      expect(await codeOf(store.scan(table)[Symbol.asyncIterator]().next()), table).toBe("INVALID_NAME");
    }
    await s.flush();
    expect(listTree(parent)).toEqual(before);
    await s.close();
  });

  it("non-finite _ts → INVALID_TIMESTAMP; functions, symbols, cycles → INVALID_VALUE; stored data untouched", async () => {
    const root = tmpRoot("values");
    const s = await Session.open({ prefix: "p", root, flushInterval: 0 });
    const t = s.track("t");
    t.append({ v: 1, _ts: 1 });
    await t.flush();
    const file = path.join(root, "p/tracks/t", DATA_FILE);
    const before = fs.readFileSync(file);
    for (const ts of [NaN, Infinity, -Infinity, "soon", true]) expect(await codeOf(() => t.append({ v: 2, _ts: ts }))).toBe("INVALID_TIMESTAMP");
    const cyc: Record<string, unknown> = { a: 1 };
    cyc.self = cyc;
    const arr: unknown[] = [1];
    arr.push(arr);
    for (const v of [() => 1, Symbol("s"), cyc, arr]) {
      expect(await codeOf(() => t.append({ v }))).toBe("INVALID_VALUE");
      expect(await codeOf(t.appendBatch([{ v: 3 }, { v }]))).toBe("INVALID_VALUE");
    }
    expect(await codeOf(() => t.append({ v: "text" }))).toBe("SCHEMA_MISMATCH");
    await t.flush();
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect((await t.read()).data.map((p) => p.data)).toEqual([{ _ts: 1, v: 1 }]);
    // Store level: a batch of another type is refused before any byte is written.
    expect(await codeOf(s.store.append(t.table, rowsToBatch([{ _ts: 5, v: "x" }])))).toBe("SCHEMA_MISMATCH");
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    await s.close();
  });
});

describe("one process, two store instances", () => {
  it("hand the write lock back and forth and see each other's appends", async () => {
    const root = tmpRoot("inproc");
    const a = openMsgpackStore(root);
    const b = openMsgpackStore(root);
    for (let k = 0; k < 20; k++) {
      await a.append("t", rowsToBatch([{ _ts: 2 * k, who: "a" }]));
      await b.append("t", rowsToBatch([{ _ts: 2 * k + 1, who: "b" }]), { layout: "columns" });
      expect(await a.count("t")).toBe(2 * k + 2);
    }
    const rows = await readRows(b, "t", { orderBy: [{ column: "_ts" }] });
    expect(rows.map((r) => r.who)).toEqual(Array.from({ length: 40 }, (_, i) => (i % 2 ? "b" : "a")));
    await a.close();
    await b.close();
    expect(fs.existsSync(path.join(root, "t", LOCK_FILE))).toBe(false);
  });
});
