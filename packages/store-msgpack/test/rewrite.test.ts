import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { field, readRows, Reader, rowsToBatch, Session, Tracker } from "@quiver/core";
import { DATA_FILE, openMsgpackStore } from "../dist/index.js";
import { cleanup, exited, pythonObjects, pythonSummary, run, tmpRoot } from "./helpers.js";

afterAll(cleanup);

describe("update and delete rewrite the table", () => {
  it("Tracker.setValue and Reader.deleteRun: layouts kept, Python still reads it, the index follows", async () => {
    const root = tmpRoot("rewrite");
    const a = await Tracker.open(`msgpack:${root}`, { params: { model: "a" } });
    const b = await Tracker.open(`msgpack:${root}`, { params: { model: "b" } });
    for (let i = 0; i < 30; i++) await a.log({ step: i, loss: 1 / (i + 1) });
    await b.logBatch(Array.from({ length: 20 }, (_, i) => ({ step: i, loss: 2 / (i + 1) })));
    await a.flush();
    await b.flush();
    expect(await a.setValue("tag", "best")).toBe(30);
    expect((await a.toRows()).every((r) => r.tag === "best")).toBe(true);
    expect((await b.toRows()).every((r) => r.tag === null)).toBe(true);
    await a.close();
    await b.close();
    const file = path.join(root, "events", DATA_FILE);
    expect(pythonSummary(file).objects).toBeGreaterThan(0);
    const reader = await Reader.open(`msgpack:${root}`);
    expect(await reader.deleteRun(b.trackId)).toBe(20);
    expect((await reader.toTable()).numRows).toBe(30);
    await reader.close();
    const objs = pythonObjects(file) as Record<string, unknown>[];
    expect(objs.every((o) => o.tag === "best" && o.model === "a")).toBe(true);
  });

  it("columnar records stay columnar; time reads after a rewrite use the new index", async () => {
    const root = tmpRoot("rewrite2");
    const s = await Session.open({ prefix: "p", root, flushInterval: 0 });
    await s.track("t").appendBatch(Array.from({ length: 10 }, (_, i) => ({ v: i, _ts: i })));
    for (let i = 10; i < 20; i++) s.track("t").append({ v: i, _ts: i });
    await s.track("t").flush();
    const store = s.store;
    const table = s.track("t").table;
    expect(await store.update(table, field("v").ge(5).and(field("v").lt(15)).node, { flag: true })).toBe(10);
    expect(await store.delete(table, field("v").eq(0).node)).toBe(1);
    const objs = pythonObjects(path.join(root, "p/tracks/t", DATA_FILE)) as Record<string, unknown>[];
    expect(Array.isArray(objs[0]!._ts)).toBe(true); // the batch is still one columnar map
    expect(objs).toHaveLength(11);
    const r = await s.track("t").readByTime({ startTime: 4, endTime: 16 });
    expect(r.data.map((p) => [p.index, p.data.v, p.data.flag ?? false])).toEqual(Array.from({ length: 12 }, (_, k) => [k + 3, k + 4, k + 4 >= 5 && k + 4 < 15]));
    await s.close();
  });

  it("a reader in another process always sees a whole table while updates rewrite it", async () => {
    const root = tmpRoot("rewrite-live");
    const store = openMsgpackStore(root, { blockRows: 50 });
    await store.append("t", rowsToBatch(Array.from({ length: 1000 }, (_, i) => ({ _ts: i, v: i }))));
    await store.append("t", rowsToBatch(Array.from({ length: 500 }, (_, i) => ({ _ts: 1000 + i, v: 1000 + i }))), { layout: "columns" });
    const stop = path.join(root, "stop");
    const reader = run("reader.mjs", [root, "t", "1500", stop]);
    let out = "";
    reader.stdout!.on("data", (d) => (out += d));
    await new Promise((r) => setTimeout(r, 300));
    for (let k = 0; k < 25; k++) {
      expect(await store.update("t", field("v").lt(700 + k).node, { round: k })).toBe(700 + k);
      await new Promise((r) => setTimeout(r, 10));
    }
    fs.writeFileSync(stop, "");
    expect(await exited(reader)).toBe(0);
    const summary = JSON.parse(out) as { reads: number; problems: string[] };
    expect(summary.problems).toEqual([]);
    expect(summary.reads).toBeGreaterThan(3);
    expect((await readRows(store, "t", { where: field("round").eq(24).node })).length).toBe(724);
    await store.close();
  }, 60_000);

  it("a type clash in update is refused before anything is written", async () => {
    const root = tmpRoot("rewrite3");
    const store = openMsgpackStore(root);
    await store.append(
      "t",
      rowsToBatch([
        { _ts: 1, v: 1 },
        { _ts: 2, v: 2 },
      ]),
    );
    const before = fs.readFileSync(path.join(root, "t", DATA_FILE));
    await expect(store.update("t", undefined, { v: "text" })).rejects.toMatchObject({ code: "SCHEMA_MISMATCH" });
    expect(fs.readFileSync(path.join(root, "t", DATA_FILE)).equals(before)).toBe(true);
    expect(await readRows(store, "t")).toEqual([
      { _ts: 1, v: 1 },
      { _ts: 2, v: 2 },
    ]);
    await store.close();
  });
});
