/** Tracker, Reader and copy behaviours (API.md) run over the store under test. */
import { vectorToValues } from "../arrow/batches.js";
import { field } from "../query/query.js";
import { copy } from "../runs/copy.js";
import { Reader } from "../runs/reader.js";
import { Tracker } from "../runs/tracker.js";
import { assert, type ConformanceTarget, rejectsWith, type TestApi, withStore } from "./harness.js";

export function trackerTests(t: TestApi, target: ConformanceTarget): void {
  const to = target.timeout ?? 30_000;
  const it = (name: string, fn: () => Promise<void>) => t.it(name, fn, to);

  it("logs rows with params, timestamp and track_id; last and count", async () => {
    await withStore(target, async (store) => {
      const tr = await Tracker.open(store, { params: { model: "resnet18" }, flushInterval: 0 });
      const row = await tr.log({ accuracy: 0.9, loss: 0.1, epoch: 1 });
      assert.equal(row.model, "resnet18");
      assert.ok(row.timestamp instanceof Date);
      assert.equal(row.track_id, tr.trackId);
      assert.deepEqual(tr.last, row);
      tr.setParams({ dataset: "cifar10" });
      await tr.log({ accuracy: 0.95, loss: 0.05, epoch: 2 });
      assert.equal(await tr.count(), 2);
      const rows = await tr.toRows();
      assert.deepEqual(
        rows.map((r) => [r.epoch, r.model, r.dataset]),
        [
          [1, "resnet18", null],
          [2, "resnet18", "cifar10"],
        ],
      );
      assert.ok(Math.abs((rows[0]!.timestamp as Date).getTime() - (row.timestamp as Date).getTime()) < 1);
      assert.deepEqual(await tr.column("loss"), [0.1, 0.05]);
      await tr.close();
      await rejectsWith(tr.log({ a: 1 }), "CLOSED");
    });
  });

  it("logBatch, head, tail, this run vs all runs", async () => {
    await withStore(target, async (store) => {
      const a = await Tracker.open(store, { flushInterval: 0 });
      const b = await Tracker.open(store, { flushInterval: 0 });
      assert.notEqual(a.trackId, b.trackId);
      assert.equal(await a.logBatch(Array.from({ length: 10 }, (_, i) => ({ step: i }))), 10);
      await b.log({ step: 100 });
      await b.flush(); // other runs' rows are visible once flushed
      assert.equal(await a.count(), 10);
      assert.equal(await a.count({ all: true }), 11);
      assert.deepEqual(
        (await a.head(2)).map((r) => r.step),
        [0, 1],
      );
      assert.deepEqual(
        (await a.tail(3)).map((r) => r.step),
        [7, 8, 9],
      );
      assert.equal((await b.toTable()).numRows, 1);
      assert.equal((await b.toTable({ all: true })).numRows, 11);
      assert.deepEqual(await b.column("step"), [100]);
      const w = await a.where(field("step").ge(8));
      assert.deepEqual(vectorToValues(w.getChild("step")!), [8, 9]);
      assert.equal((await b.where(field("step").ge(8), { all: true })).numRows, 3);
      await a.close();
      await b.close();
    });
  });

  it("setValue sets a column on every row of this run only, back in time", async () => {
    await withStore(target, async (store) => {
      const a = await Tracker.open(store, { flushInterval: 0 });
      const b = await Tracker.open(store, { flushInterval: 0 });
      await a.log({ acc: 0.1 });
      await a.log({ acc: 0.2 });
      await b.log({ acc: 0.3 });
      if (!store.capabilities.update) {
        await rejectsWith(a.setValue("test_accuracy", 0.9), "UNSUPPORTED");
        return;
      }
      assert.equal(await a.setValue("test_accuracy", 0.9), 2);
      assert.deepEqual(await a.column("test_accuracy"), [0.9, 0.9]);
      assert.deepEqual(await b.column("test_accuracy"), [null]);
      assert.equal(a.last?.test_accuracy, 0.9);
      await a.close();
      await b.close();
    });
  });

  it("track() logs name, time, error, args and the result or a spread object", async () => {
    await withStore(target, async (store) => {
      const tr = await Tracker.open(store, { flushInterval: 0 });
      function add(x: number, y: string) {
        return x + y.length;
      }
      assert.equal(tr.track(add, 1, "hello"), 6);
      assert.equal(tr.last?.name, "add");
      assert.equal(tr.last?.result, 6);
      assert.equal(tr.last?.error, "");
      assert.equal(tr.last?.args, '[1,"hello"]');
      assert.ok(typeof tr.last?.time === "number" && (tr.last.time as number) >= 0);
      const spread = await tr.track(async function readImage(p: string) {
        return { width: 64, height: 48, path: p };
      }, "a.png");
      assert.deepEqual(spread, { width: 64, height: 48, path: "a.png" });
      assert.equal(tr.last?.width, 64);
      assert.equal(tr.last?.name, "readImage");
      const boom = () => {
        throw new Error("bad input");
      };
      assert.throws(() => tr.track(boom), /bad input/);
      assert.equal(tr.last?.error, "bad input");
      const quiet = await Tracker.open(store, { flushInterval: 0, raiseOnError: false });
      assert.equal(quiet.track(boom), undefined);
      assert.equal(quiet.last?.error, "bad input");
      await assert.rejects(
        tr.track(async () => Promise.reject(new Error("async bad"))),
        /async bad/,
      );
      assert.equal(tr.last?.error, "async bad");
      assert.equal(await tr.count(), 4);
      await tr.close();
      await quiet.close();
    });
  });

  it("wrap() returns a function that behaves as fn and is tracked on each call", async () => {
    await withStore(target, async (store) => {
      const tr = await Tracker.open(store, { params: { model: "lightgbm" }, flushInterval: 0 });
      const foo = tr.wrap((a: number, b: string) => a + b.length, { name: "foofoo", params: { variant: "x" } });
      assert.equal(foo(1, "hello"), 6);
      assert.equal(foo(2, "hi"), 4);
      const rows = await tr.toRows();
      assert.deepEqual(
        rows.map((r) => [r.name, r.result, r.variant, r.model]),
        [
          ["foofoo", 6, "x", "lightgbm"],
          ["foofoo", 4, "x", "lightgbm"],
        ],
      );
      await tr.close();
    });
  });

  it("child() opens a new run on the same store inheriting params", async () => {
    await withStore(target, async (store) => {
      const parent = await Tracker.open(store, { params: { sweep: "s1", lr: 0.1 }, flushInterval: 0 });
      const child = await parent.child({ params: { lr: 0.01, trial: 2 } });
      assert.notEqual(child.trackId, parent.trackId);
      const row = await child.log({ loss: 1 });
      assert.deepEqual([row.sweep, row.lr, row.trial], ["s1", 0.01, 2]);
      await child.close();
      assert.equal(await parent.count({ all: true }), 1);
      await parent.close();
    });
  });

  it("rejects bad rows with their codes and loses nothing stored", async () => {
    await withStore(target, async (store) => {
      const tr = await Tracker.open(store, { flushInterval: 0 });
      await tr.log({ epoch: 1, name: "a" });
      await rejectsWith(tr.log({ epoch: "two" }), "SCHEMA_MISMATCH", ["epoch", "two"]);
      await rejectsWith(tr.log({ f: () => 1 }), "INVALID_VALUE", ["f"]);
      await rejectsWith(tr.log({ s: Symbol("x") }), "INVALID_VALUE");
      const cyc: Record<string, unknown> = { a: 1 };
      cyc.self = cyc;
      await rejectsWith(tr.log({ cyc }), "INVALID_VALUE", ["cyclic"]);
      await rejectsWith(tr.logBatch([{ epoch: 2 }, { epoch: "x" }]), "SCHEMA_MISMATCH");
      await tr.log({ nested: { a: { b: 2 } } });
      assert.equal(await tr.count(), 2);
      assert.deepEqual(await tr.column("nested.a.b"), [null, 2]);
      if (!store.capabilities.sql) await rejectsWith(tr.sql("SELECT 1"), "UNSUPPORTED");
      await tr.close();
    });
  });

  it("flushes in the background and on close; reopen finds the rows (persistent stores)", async () => {
    const store = await target.create();
    const tr = await Tracker.open(store, { flushInterval: 50 });
    for (let i = 0; i < 100; i++) await tr.log({ i, sq: i * i });
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(await store.count("events"), 100, "the background flush wrote the buffered rows");
    await tr.log({ i: 100 });
    await tr.close();
    await store.close();
    if (!store.capabilities.persistent || !target.reopen) return;
    const again = await target.reopen(store);
    try {
      const r = await Reader.open(again);
      const rows = await r.toRows({ trackId: tr.trackId });
      assert.equal(rows.length, 101);
      assert.equal(rows[7]!.sq, 49);
    } finally {
      await again.close();
    }
  });

  it("Reader lists runs, reads head/tail, deletes runs and sets values by track id", async () => {
    await withStore(target, async (store) => {
      const a = await Tracker.open(store, { flushInterval: 0 });
      const b = await Tracker.open(store, { flushInterval: 0 });
      await a.logBatch([{ x: 1 }, { x: 2 }, { x: 3 }]);
      await b.log({ x: 10 });
      await a.flush();
      await b.flush();
      const r = await Reader.open(store);
      const runs = await r.runs();
      assert.deepEqual(
        runs.map((x) => [x.track_id, x.rows]),
        [
          [a.trackId, 3],
          [b.trackId, 1],
        ],
      );
      assert.ok(runs[0]!.first instanceof Date);
      assert.equal((await r.toTable()).numRows, 4);
      assert.deepEqual(
        (await r.toRows({ trackId: a.trackId, tail: 2 })).map((x) => x.x),
        [2, 3],
      );
      assert.deepEqual(
        (await r.toRows({ head: 1 })).map((x) => x.x),
        [1],
      );
      assert.equal((await r.where(field("x").gt(2))).numRows, 2);
      if (store.capabilities.update) {
        assert.equal(await r.setValue("note", "best", { trackId: b.trackId }), 1);
        assert.deepEqual((await r.toRows({ trackId: b.trackId }))[0]!.note, "best");
      } else await rejectsWith(r.setValue("note", "best", { trackId: b.trackId }), "UNSUPPORTED");
      if (store.capabilities.delete) {
        assert.equal(await r.deleteRun(a.trackId), 3);
        assert.deepEqual(
          (await r.runs()).map((x) => x.track_id),
          [b.trackId],
        );
      } else await rejectsWith(r.deleteRun(a.trackId), "UNSUPPORTED");
      await r.close();
      await a.close();
      await b.close();
    });
  });

  it("copy() merges runs into another store; copying again adds 0", async () => {
    await withStore(target, async (src) => {
      await withStore(target, async (dst) => {
        const a = await Tracker.open(src, { params: { model: "m" }, flushInterval: 0 });
        await a.logBatch(Array.from({ length: 25 }, (_, i) => ({ step: i, loss: 1 / (i + 1) })));
        await a.log({ step: 25, extra: "only-in-source" });
        await a.flush();
        const other = await Tracker.open(dst, { flushInterval: 0 });
        await other.log({ step: -1 });
        await other.flush();
        assert.equal(await copy({ source: src, target: dst }), 26);
        assert.equal(await copy({ source: src, target: dst }), 0);
        assert.equal(await dst.count("events"), 27);
        const r = await Reader.open(dst);
        const copied = await r.toRows({ trackId: a.trackId });
        assert.equal(copied.length, 26);
        assert.equal(copied[25]!.extra, "only-in-source");
        assert.equal(copied[3]!.model, "m");
        await a.close();
        await other.close();
      });
    });
  });
}
