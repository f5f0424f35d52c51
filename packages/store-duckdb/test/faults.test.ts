/**
 * Real faults: a full disk (a small tmpfs) and a read-only file system (a read-only bind mount).
 * Acknowledged means durable: every append that resolved is there after reopen, exactly once;
 * a failed one rejects with IO, stores nothing, and its retry succeeds once space is back.
 */
import fs from "node:fs";
import path from "node:path";
import { isQuiverError, openStore, QuiverError, rowsToBatch, type Store } from "@quiver/core";
import { afterAll, describe, expect, it } from "vitest";
import "../dist/index.js";
import { tmpDb } from "./helpers.js";
import { mountRefused, readOnlyView, resize, tmpfs, unmountAll } from "@quiver/core/testing";
import { listing } from "./helpers.js";

const rows = (from: number, n: number) => rowsToBatch(Array.from({ length: n }, (_, k) => ({ i: from + k, payload: `row ${from + k} `.padEnd(60, "x") })));

async function rejection(p: Promise<unknown>): Promise<QuiverError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof QuiverError) return err;
    throw new Error(`expected a QuiverError, got ${String(err)}`);
  }
  throw new Error("expected a rejection");
}

/** Exactly rows 0..n-1, each once. */
async function expectRows(store: Store, n: number): Promise<void> {
  const t = await store.sql!("SELECT count(*) AS n, count(DISTINCT i) AS d, coalesce(min(i), 0) AS lo, coalesce(max(i), -1) AS hi FROM t");
  const r = t.get(0)!.toJSON() as Record<string, bigint>;
  expect([r.n, r.d, r.lo, r.hi].map(Number)).toEqual([n, n, 0, n - 1]);
}

afterAll(() => unmountAll());

describe.skipIf(mountRefused() !== undefined)(`duckdb: faults on real file systems${mountRefused() ? ` — SKIPPED: ${mountRefused()}` : ""}`, () => {
  for (const mode of ["shared", "exclusive"] as const) {
    it(`disk full (${mode}): the failed append rejects with IO and stores nothing; after space is freed the retry stores every row`, async () => {
      const dir = tmpfs("3m");
      const file = path.join(dir, "full.db");
      const uri = `duckdb:${file}?mode=${mode}`;
      let store = await openStore(uri);
      let acked = 0;
      let failure: QuiverError | undefined;
      for (let k = 0; k < 1000 && !failure; k++) {
        try {
          await store.append("t", rows(acked, 1000));
          acked += 1000;
        } catch (err) {
          failure = err as QuiverError;
        }
      }
      expect(failure, "the disk filled up").toBeDefined();
      expect(isQuiverError(failure, "IO")).toBe(true);
      expect(failure!.message).toContain(file);
      expect(failure!.message).toMatch(/No space left on device.*free disk space/);
      expect(failure!.cause).toBeDefined();
      expect(acked).toBeGreaterThan(0);
      // Reads still work and see exactly what was acknowledged: nothing of the failed batch.
      await expectRows(store, acked);
      // Still full: the store stays usable, the retry fails the same way, nothing partial is left.
      expect((await rejection(store.append("t", rows(acked, 1000)))).code).toBe("IO");
      await expect(store.flush()).resolves.toBeUndefined(); // nothing acknowledged is pending
      // Closing on a full disk: the checkpoint fails, the WAL stays, the file still opens.
      await store.close();
      store = await openStore(uri);
      await expectRows(store, acked);
      resize(dir, "16m");
      await store.append("t", rows(acked, 1000)); // the retry of the failed batch
      acked += 1000;
      for (let k = 0; k < 5; k++, acked += 1000) await store.append("t", rows(acked, 1000));
      await store.flush();
      await store.close();
      store = await openStore(uri);
      await expectRows(store, acked);
      await store.close();
    }, 120_000);
  }

  it("disk full during group commits of concurrent appends: each append learns its own fate, none is lost or doubled", async () => {
    const dir = tmpfs("3m");
    const file = path.join(dir, "group.db");
    const store = await openStore(`duckdb:${file}`);
    const acked: number[] = [];
    const failed: number[] = [];
    // Four writers (as four tracks of a session would) appending at once until the disk is full.
    await Promise.all(
      [0, 1, 2, 3].map(async (w) => {
        for (let b = 0; b < 400; b++) {
          const id = w * 1_000_000 + b * 500;
          try {
            await store.append("t", rows(id, 500));
            acked.push(id);
          } catch (err) {
            expect(isQuiverError(err, "IO")).toBe(true);
            failed.push(id);
            break;
          }
        }
      }),
    );
    expect(failed.length).toBeGreaterThan(0);
    const stored = await store.sql!("SELECT i FROM t WHERE i % 500 = 0 ORDER BY i");
    const got = stored.toArray().map((r) => Number((r.toJSON() as { i: bigint }).i));
    expect(got).toEqual([...acked].sort((a, b) => a - b));
    expect(await store.count("t")).toBe(acked.length * 500);
    resize(dir, "16m");
    for (const id of failed) await store.append("t", rows(id, 500));
    expect(await store.count("t")).toBe((acked.length + failed.length) * 500);
    await store.close();
  }, 120_000);

  it("an autocheckpoint that fails on a full disk: the durable commit counts as stored and the store reopens DuckDB", async () => {
    const dir = tmpfs("3m");
    const file = path.join(dir, "ckpt.db");
    const uri = `duckdb:${file}?mode=exclusive`;
    let store = await openStore(uri);
    const filler = path.join(dir, "filler");
    fs.writeFileSync(filler, Buffer.alloc(32 * 1024));
    let acked = 0;
    for (const step of [1000, 100, 10, 1]) {
      for (;;) {
        try {
          await store.append("t", rows(acked, step));
          acked += step;
        } catch {
          break;
        }
      }
    }
    // Room for a few small commits but not for a checkpoint (it writes 256 kB blocks), and
    // every commit now checkpoints.
    fs.rmSync(filler);
    await store.sql!("SET checkpoint_threshold = '1KB'");
    let outcomes = "";
    for (let k = 0; k < 5; k++) {
      try {
        await store.append("t", rows(acked, 1));
        acked += 1;
        outcomes += "ok ";
      } catch (err) {
        expect(isQuiverError(err, "IO")).toBe(true);
        outcomes += "io ";
      }
    }
    await expectRows(store, acked); // the instance DuckDB invalidated was reopened
    await store.close();
    resize(dir, "16m");
    store = await openStore(uri);
    await expectRows(store, acked);
    await store.append("t", rows(acked, 10));
    await expectRows(store, acked + 10);
    await store.close();
    expect(outcomes.startsWith("ok"), outcomes).toBe(true); // the first commit after the filler went is durable
  }, 120_000);

  it("update on a full disk: the added column and the new values are rolled back together", async () => {
    const dir = tmpfs("3m");
    const store = await openStore(`duckdb:${path.join(dir, "u.db")}`);
    let n = 0;
    for (;;) {
      try {
        await store.append("t", rows(n, 1000));
        n += 1000;
      } catch {
        break;
      }
    }
    const err = await rejection(store.update("t", undefined, { flag: true, note: "x".repeat(200) }));
    expect(err.code).toBe("IO");
    expect((await store.schema("t"))!.fields.map((f) => f.name)).toEqual(["i", "payload"]);
    await store.close();
    const again = await openStore(`duckdb:${path.join(dir, "u.db")}`);
    expect((await again.schema("t"))!.fields.map((f) => f.name)).toEqual(["i", "payload"]);
    await again.close();
  }, 120_000);

  it("a read-only file system: opening to write fails at once with IO naming the file; readOnly reads and writes nothing", async () => {
    const src = path.dirname(tmpDb());
    const file = path.join(src, "ro.db");
    const w = await openStore(`duckdb:${file}`);
    await w.append("t", rows(0, 100));
    await w.close();
    const view = readOnlyView(src);
    const before = listing(view);
    const t0 = Date.now();
    const err = await rejection(openStore(`duckdb:${path.join(view, "ro.db")}`));
    expect(err.code).toBe("IO");
    expect(err.message).toContain(path.join(view, "ro.db"));
    expect(err.message).toMatch(/read-only.*readOnly: true/i);
    expect(Date.now() - t0).toBeLessThan(5000); // not a lock wait
    const created = await rejection(openStore(`duckdb:${path.join(view, "new.db")}`));
    expect(created.code).toBe("IO");
    expect(created.message).toContain("new.db");
    const r = await openStore(`duckdb:${path.join(view, "ro.db")}`, { readOnly: true });
    await expectRows(r, 100);
    expect((await rejection(r.append("t", rows(100, 1)))).code).toBe("UNSUPPORTED");
    await r.close();
    expect(listing(view)).toEqual(before);
    expect(fs.existsSync(path.join(view, "new.db"))).toBe(false);
  }, 60_000);
});
