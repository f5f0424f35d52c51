/**
 * Real faults: a full disk (a small tmpfs) and a read-only file system (a read-only bind mount).
 * Acknowledged means durable: every append that resolved is there after reopen, exactly once; a
 * failed one rejects with IO naming the file, stores nothing, and its retry succeeds once space
 * is back. Tracker's background flush reports the fault and keeps the rows.
 */
import fs from "node:fs";
import path from "node:path";
import { isQuiverError, openStore, type QuiverError, rowsToBatch, type Store, Tracker } from "@quiver/core";
import { afterAll, describe, expect, it } from "vitest";
import "../dist/index.js";
import { mountRefused, readOnlyView, resize, tmpfs, unmountAll } from "@quiver/core/testing";
import { tmpDir } from "./helpers.js";

const rows = (from: number, n: number) => rowsToBatch(Array.from({ length: n }, (_, k) => ({ i: from + k, payload: `row ${from + k} `.padEnd(200, "x") })));

async function rejection(p: Promise<unknown>): Promise<QuiverError> {
  try {
    await p;
  } catch (err) {
    return err as QuiverError;
  }
  throw new Error("expected a rejection");
}

/** Exactly rows 0..n-1, each once. */
async function expectRows(store: Store, n: number): Promise<void> {
  const t = await store.sql!("SELECT count(*) AS n, count(DISTINCT i) AS d, coalesce(min(i), 0) AS lo, coalesce(max(i), -1) AS hi FROM t");
  const r = t.get(0)!.toJSON() as Record<string, unknown>;
  expect([r.n, r.d, r.lo, r.hi].map(Number)).toEqual([n, n, 0, n - 1]);
}

afterAll(() => unmountAll());

describe.skipIf(mountRefused() !== undefined)(`sqlite: faults on real file systems${mountRefused() ? ` — SKIPPED: ${mountRefused()}` : ""}`, () => {
  it("disk full: the failed append rejects with IO and stores nothing; after space is freed the retry stores every row", async () => {
    const dir = tmpfs("2m");
    const file = path.join(dir, "full.db");
    const uri = `sqlite:${file}`;
    let store = await openStore(uri);
    let acked = 0;
    let failure: QuiverError | undefined;
    for (let k = 0; k < 1000 && !failure; k++) {
      try {
        await store.append("t", rows(acked, 500));
        acked += 500;
      } catch (err) {
        failure = err as QuiverError;
      }
    }
    expect(failure, "the disk filled up").toBeDefined();
    expect(isQuiverError(failure, "IO")).toBe(true);
    expect(failure!.message).toContain(file);
    expect(failure!.message).toMatch(/SQLITE_FULL.*free disk space/);
    expect(failure!.cause).toBeDefined();
    expect(acked).toBeGreaterThan(0);
    await expectRows(store, acked); // nothing of the failed batch
    expect((await rejection(store.append("t", rows(acked, 500)))).code).toBe("IO"); // still full, still usable
    await store.close();
    store = await openStore(uri);
    await expectRows(store, acked);
    resize(dir, "16m");
    await store.append("t", rows(acked, 500)); // the retry of the failed batch
    acked += 500;
    await store.close();
    store = await openStore(uri);
    await expectRows(store, acked);
    await store.close();
  }, 120_000);

  it("disk full under a Tracker: log() never throws, flush() rejects with IO, the rows stay buffered and land once space is back", async () => {
    const dir = tmpfs("1m");
    const uri = `sqlite:${path.join(dir, "t.db")}`;
    const errors: unknown[] = [];
    const t = await Tracker.open(uri, { trackId: "r", onError: (e: unknown) => void errors.push(e) });
    const n = 20_000;
    for (let i = 0; i < n; i++) await t.log({ i, payload: "y".repeat(100) });
    const err = await rejection(t.flush());
    expect(err.code).toBe("IO");
    resize(dir, "32m");
    await t.flush();
    await t.close();
    const s = await openStore(uri, { readOnly: true });
    expect(await s.count("events")).toBe(n);
    await s.close();
  }, 120_000);

  it("a read-only file system: reading works with readOnly; a write is IO saying so", async () => {
    const src = tmpDir();
    const w = await openStore(`sqlite:${path.join(src, "r.db")}`);
    await w.append("t", rows(0, 10));
    await w.close();
    const view = readOnlyView(src);
    const r = await openStore(`sqlite:${path.join(view, "r.db")}`, { readOnly: true });
    await expectRows(r, 10);
    await r.close();
    const err = await rejection(openStore(`sqlite:${path.join(view, "r.db")}`).then((s) => s.append("t", rows(10, 1)).finally(() => s.close())));
    expect(err.code).toBe("IO");
    expect(err.message).toMatch(/read-only/);
    expect(fs.readdirSync(view)).toEqual(["r.db"]);
  });
});
