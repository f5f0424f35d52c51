import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isQuiverError, openStore, type QuiverErrorCode, readRows, rowsToBatch, Session } from "@quiver/core";
import { DATA_FILE, INDEX_FILE, LOCK_FILE, openMsgpackStore } from "../dist/index.js";
import { cleanup, exited, listTree, pythonSummary, run, tmpRoot, waitFor } from "./helpers.js";

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
  it("a writer killed with SIGKILL loses at most its last record; the rest reads back and the index is repaired", async () => {
    const root = tmpRoot("kill");
    const child = run("forever.mjs", [root, "t"]);
    await waitFor(child, "ready");
    await new Promise((r) => setTimeout(r, 150 + Math.random() * 150));
    child.kill("SIGKILL");
    await exited(child);
    const file = path.join(root, "t", DATA_FILE);
    // Make sure the tail is torn whatever the moment of the kill: half of a record more.
    fs.appendFileSync(file, validRecord.subarray(0, 9));
    const warnings: string[] = [];
    const store = openMsgpackStore(root, { onWarning: (m) => warnings.push(m) });
    const rows = await readRows(store, "t");
    expect(warnings.some((w) => w.includes("torn"))).toBe(true);
    expect(rows.length).toBeGreaterThanOrEqual(3 * 2000);
    // Every record before the torn one is intact and in order.
    rows.forEach((r, k) => {
      expect(r.i).toBe(k);
      expect(r._ts).toBe(k);
      expect(r.text).toBe(`row ${k} `.repeat(8));
    });
    expect(await store.count("t")).toBe(rows.length);
    // The file is clean msgpack again, the index covers it, and writing continues after it.
    await store.append("t", rowsToBatch([{ _ts: rows.length, i: rows.length, text: "after" }]));
    expect(await store.count("t")).toBe(rows.length + 1);
    await store.close();
    const py = pythonSummary(file);
    expect(py.rows).toBe(rows.length + 1);
    expect(fs.existsSync(path.join(root, "t", LOCK_FILE))).toBe(false);
  }, 60_000);

  it("cuts a torn tail on open with a warning and keeps every earlier record (deterministic)", async () => {
    const root = tmpRoot("torn");
    const s = await Session.open({ prefix: "p", root, flushInterval: 0 });
    for (let i = 0; i < 100; i++) s.track("x").append({ i, _ts: i });
    await s.close();
    const file = path.join(root, "p/tracks/x", DATA_FILE);
    const good = fs.statSync(file).size;
    fs.appendFileSync(file, Buffer.concat([validRecord, validRecord.subarray(0, 11)]));
    const warnings: string[] = [];
    const store = openMsgpackStore(root, { onWarning: (m) => warnings.push(m) });
    const s2 = await Session.open({ prefix: "p", store });
    const r = await s2.track("x").read({ limit: 1000 });
    // The complete record after the index is recovered, the torn one cut.
    expect(r.total).toBe(101);
    expect(r.data.slice(0, 100).map((p) => p.data.i)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(r.data[100]!.data).toEqual({ _ts: 100, i: 7 });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/torn/);
    expect(fs.statSync(file).size).toBe(good + validRecord.length);
    const t = await s2.track("x").readByTime({ startTime: 99, endTime: 101 });
    expect(t.data.map((p) => p.data.i)).toEqual([99, 7]);
    await s2.close();
    await store.close();
  });

  it("a torn index entry is dropped and rebuilt from the data", async () => {
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
    await store2.close();
    expect(fs.statSync(idx).size).toBe(size);
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
    const w = run("writer.mjs", [root, "p", "live", "W", "150", "200"]);
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
