/**
 * xetrack's features beyond the seed, over the store under test: the table exists on open,
 * assets by content hash, the function-result cache with lineage, config objects unpacked,
 * setWhere, latest, copy of several tables with their assets, metrics on log() rows.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { vectorToValues } from "../arrow/batches.js";
import { field } from "../query/query.js";
import { MemoryStore } from "../store/memory.js";
import { asset, assetsTable } from "../runs/assets.js";
import { FunctionCache } from "../runs/cache.js";
import { copy } from "../runs/copy.js";
import { Reader } from "../runs/reader.js";
import type { MetricsSampler } from "../runs/sampler.js";
import { Tracker } from "../runs/tracker.js";
import { assert, type ConformanceTarget, rejectsWith, type TestApi, withStore } from "./harness.js";

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "quiver-xt-"));
}

export function xetrackTests(t: TestApi, target: ConformanceTarget): void {
  const to = target.timeout ?? 30_000;
  const it = (name: string, fn: () => Promise<void>) => t.it(name, fn, to);

  it("a fresh Tracker creates its table on open: schema, runs and SQL work before the first row", async () => {
    await withStore(target, async (store) => {
      const tr = await Tracker.open(store, { params: { model: "resnet18", lr: 0.1 }, flushInterval: 0 });
      const schema = await store.schema("events");
      assert.ok(schema, "the table exists before any log()");
      assert.deepEqual(
        schema.fields.map((f) => f.name),
        ["timestamp", "track_id", "model", "lr"],
      );
      assert.equal(await store.count("events"), 0);
      assert.deepEqual(await (await Reader.open(store)).runs(), []);
      assert.equal((await tr.toTable()).numRows, 0);
      if (store.sql) {
        const q = store.capabilities.dialect === "postgres" ? 'SELECT * FROM "events"' : "SELECT * FROM events";
        const empty = await tr.sql(q);
        assert.equal(empty.numRows, 0);
      }
      await tr.log({ accuracy: 0.9 });
      assert.equal(await tr.count(), 1);
      await tr.close();
    });
  });

  it("assets: stored once by content hash, the row holds the hash, values come back exactly", async () => {
    await withStore(target, async (store) => {
      const tr = await Tracker.open(store, { flushInterval: 0 });
      if (!store.capabilities.kinds.includes("binary")) {
        await rejectsWith(() => tr.putAsset(new Uint8Array([1])), "UNSUPPORTED");
        await tr.close();
        return;
      }
      const weights = new Uint8Array(100_000).map((_, i) => i % 251);
      const config = { layers: [64, 32], act: "relu", dropout: 0.1 };
      const vocab = new Map<string, bigint>([
        ["a", 1n],
        ["b", 2n ** 60n],
      ]);
      const r1 = await tr.log({ acc: 0.9, weights: asset(weights), config: asset(config), vocab: asset(vocab) });
      const r2 = await tr.log({ acc: 0.95, weights: asset(weights.slice()) }); // same content
      assert.match(r1.weights as string, /^[0-9a-f]{64}$/);
      assert.equal(r1.weights, r2.weights, "same content, same hash");
      await tr.flush();
      const table = assetsTable("events");
      assert.equal(await store.count(table), 3, "three distinct assets, stored once each");
      assert.deepEqual(await tr.getAsset(r1.weights as string), weights);
      assert.deepEqual(await tr.getAsset(r1.config as string), config);
      assert.deepEqual(await tr.getAsset(r1.vocab as string), vocab);
      assert.deepEqual((await tr.listAssets()).map((a) => a.encoding).sort(), ["bytes", "json", "v8"]);
      // A hash logged again (xetrack's tip) costs no encoding; putAsset gives it without a row.
      assert.equal(tr.putAsset(config), r1.config);
      // What cannot round-trip is refused at log(), for that row only, and nothing is stored.
      class Model {
        w = 1;
      }
      await rejectsWith(tr.log({ m: asset(new Model()) }), "INVALID_VALUE", ["Model"]);
      await rejectsWith(tr.log({ f: asset({ fn: () => 1 }) }), "INVALID_VALUE", ["function"]);
      await rejectsWith(tr.log({ s: asset(Symbol("x")) }), "INVALID_VALUE");
      await tr.flush();
      assert.equal(await store.count(table), 3);
      assert.equal(await tr.count(), 2);
      await rejectsWith(tr.getAsset("nope"), "INVALID_VALUE");
      await rejectsWith(tr.getAsset("0".repeat(64)), "NOT_FOUND");
      const reader = await Reader.open(store);
      assert.deepEqual(await reader.getAsset(r1.config as string), config);
      if (store.capabilities.delete) {
        assert.equal(await reader.removeAsset(r1.config as string), true);
        assert.equal(await reader.removeAsset(r1.config as string), false);
        await rejectsWith(tr.getAsset(r1.config as string), "NOT_FOUND");
        assert.equal(await store.count(table), 2);
      } else await rejectsWith(reader.removeAsset(r1.config as string), "UNSUPPORTED");
      await reader.close();
      await tr.close();
    });
  });

  it("assets survive close and reopen, and copy brings them along unless assets: false", async () => {
    const store = await target.create();
    const tr = await Tracker.open(store, { flushInterval: 0 });
    if (!store.capabilities.kinds.includes("binary")) {
      await tr.close();
      await store.close();
      return;
    }
    const row = await tr.log({ step: 1, model: asset({ w: [1, 2, 3] }) });
    const other = await Tracker.open(store, { table: "evals", flushInterval: 0 });
    const evalRow = await other.log({ score: 1, blob: asset(new Uint8Array([9, 9])) });
    await tr.close();
    await other.close();
    const dst = new MemoryStore();
    const seen: [string, number, number][] = [];
    assert.equal(await copy({ source: store, target: dst, tables: ["events", "evals"], onTable: (t, n, a) => seen.push([t, n, a]) }), 2);
    assert.deepEqual(seen, [
      ["events", 1, 1],
      ["evals", 1, 1],
    ]);
    assert.equal(await copy({ source: store, target: dst, tables: ["events", "evals"] }), 0, "again: nothing new, assets included");
    assert.equal(await dst.count(assetsTable("events")), 1);
    const r = await Reader.open(dst, { table: "evals" });
    assert.deepEqual(await r.getAsset(evalRow.blob as string), new Uint8Array([9, 9]));
    const bare = new MemoryStore();
    await copy({ source: store, target: bare, table: "events", assets: false });
    assert.equal(await bare.schema(assetsTable("events")), undefined);
    await rejectsWith(copy({ source: store, target: bare, tables: [] }), "INVALID_VALUE");
    await store.close();
    if (!store.capabilities.persistent || !target.reopen) return;
    const again = await target.reopen(store);
    try {
      const reader = await Reader.open(again);
      assert.deepEqual(await reader.getAsset(row.model as string), { w: [1, 2, 3] });
    } finally {
      await again.close();
    }
  });

  it("cache: a hit returns the stored result without calling, and logs the row with its lineage", async () => {
    await withStore(target, async (store) => {
      const dir = tmp();
      try {
        let calls = 0;
        function power(x: number, y: number): number {
          calls++;
          return x ** y;
        }
        const a = await Tracker.open(store, { cache: dir, flushInterval: 0 });
        assert.equal(a.track(power, 2, 10), 1024);
        assert.equal(a.track(power, 2, 10), 1024);
        assert.equal(calls, 1, "the second call was a hit");
        assert.equal(a.track(power, 3, 2), 9);
        assert.equal(calls, 2);
        // Another run (another Tracker) hits too; its row names the run that computed the result.
        const b = await Tracker.open(store, { cache: dir, flushInterval: 0 });
        assert.equal(b.track(power, 2, 10), 1024);
        assert.equal(calls, 2);
        // Forced: called again, the entry now belongs to b.
        assert.equal(b.trackWith({ cacheForce: true }, power, 2, 10), 1024);
        assert.equal(calls, 3);
        assert.equal(b.track(power, 2, 10), 1024);
        // Errors are never cached.
        let fails = 0;
        function flaky(x: number): number {
          if (fails++ === 0) throw new Error("first call fails");
          return x * 2;
        }
        assert.throws(() => b.track(flaky, 5), /first call fails/);
        assert.equal(b.track(flaky, 5), 10);
        assert.equal(b.track(flaky, 5), 10);
        assert.equal(fails, 2);
        // Async functions: the resolved value is cached and a hit returns a promise.
        let slow = 0;
        const fetchScore = b.wrap(async function fetchScore(model: string) {
          slow++;
          await new Promise((r) => setTimeout(r, 5));
          return { score: model.length / 10 };
        });
        assert.deepEqual(await fetchScore("bert"), { score: 0.4 });
        const hit = fetchScore("bert");
        assert.ok(hit instanceof Promise);
        assert.deepEqual(await hit, { score: 0.4 });
        assert.equal(slow, 1);
        await a.flush();
        await b.flush();
        const summary = (rows: Record<string, unknown>[]) => rows.map((r) => [r.name, r.result ?? r.score ?? null, r.cache, r.error === "" ? "" : "err"]);
        assert.deepEqual(summary(await a.toRows()), [
          ["power", 1024, "", ""],
          ["power", 1024, a.trackId, ""],
          ["power", 9, "", ""],
        ]);
        assert.deepEqual(summary(await b.toRows()), [
          ["power", 1024, a.trackId, ""],
          ["power", 1024, "", ""],
          ["power", 1024, b.trackId, ""],
          ["flaky", null, "", "err"],
          ["flaky", 10, "", ""],
          ["flaky", 10, b.trackId, ""],
          ["fetchScore", 0.4, "", ""],
          ["fetchScore", 0.4, b.trackId, ""],
        ]);
        const cache = FunctionCache.open(dir);
        assert.deepEqual(
          cache
            .list()
            .map((e) => e.name)
            .sort(),
          ["fetchScore", "flaky", "power", "power"],
        );
        assert.equal(cache.delete({ trackId: a.trackId }), 1); // power(3, 2)
        assert.equal(cache.delete({ name: "power" }), 1);
        assert.equal(a.track(power, 2, 10), 1024);
        assert.equal(calls, 4);
        // cacheForce for every call of a tracker; cache: false for one wrapped function.
        const forced = await Tracker.open(store, { cache: dir, cacheForce: true, flushInterval: 0 });
        assert.equal(forced.track(power, 2, 10), 1024);
        assert.equal(calls, 5);
        assert.equal(b.wrap(power, { cache: false })(2, 10), 1024);
        assert.equal(calls, 6);
        assert.equal(b.last?.cache, undefined, "no cache column for a call that does not use the cache");
        assert.equal(b.track(power, 2, 10), 1024);
        assert.equal(b.last?.cache, forced.trackId, "the forced call rewrote the entry");
        assert.equal(calls, 6);
        await forced.close();
        await a.close();
        await b.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  it("config objects of tracked functions become <param>_<field> columns", async () => {
    await withStore(target, async (store) => {
      const tr = await Tracker.open(store, { flushInterval: 0 });
      class DataConfig {
        constructor(
          readonly a: number,
          readonly b: string,
        ) {}
      }
      const fn = tr.wrap(function experiment(d: DataConfig, model: { c: number; opt: { lr: number } }, seed = 1) {
        void d; // the configs are read by the tracker, not by the function
        void model;
        return { answer: seed };
      });
      assert.deepEqual(fn(new DataConfig(42, "hello"), { c: 3.14, opt: { lr: 0.01 } }, 7), { answer: 7 });
      tr.track((cfg: { depth: number }) => cfg.depth * 2, { depth: 4 });
      const [row, arrow] = await tr.toRows();
      assert.deepEqual([row!.d_a, row!.d_b, row!.model_c, row!.model_opt_lr, row!.answer], [42, "hello", 3.14, 0.01, 7]);
      assert.equal(arrow!.cfg_depth, 4);
      await tr.close();
    });
  });

  it("setWhere sets a column on the rows a query matches; latest() is the newest run", async () => {
    await withStore(target, async (store) => {
      const a = await Tracker.open(store, { flushInterval: 0 });
      await a.logBatch([
        { epoch: 1, params: "p1" },
        { epoch: 2, params: "p2" },
      ]);
      await new Promise((r) => setTimeout(r, 5));
      const b = await Tracker.open(store, { flushInterval: 0 });
      await b.logBatch([
        { epoch: 1, params: "p1" },
        { epoch: 2, params: "p1" },
      ]);
      const reader = await Reader.open(store);
      const latest = await reader.latest();
      assert.deepEqual([...new Set(vectorToValues(latest.getChild("track_id")!))], [b.trackId]);
      assert.equal((await a.latest()).numRows, 2);
      if (!store.capabilities.update) {
        await rejectsWith(reader.setWhere("accuracy", 0.8, field("params").eq("p1")), "UNSUPPORTED");
        await a.close();
        await b.close();
        return;
      }
      assert.equal(await a.setWhere("accuracy", 0.8, field("params").eq("p1")), 1, "this run only");
      assert.equal(await reader.setWhere("note", "p1-run", field("params").eq("p1")), 3, "all runs");
      await rejectsWith(reader.setWhere("epoch", "x", field("params").eq("p1")), "SCHEMA_MISMATCH");
      const rows = await reader.toRows();
      assert.deepEqual(
        rows.map((r) => [r.accuracy, r.note, r.epoch]),
        [
          [0.8, "p1-run", 1],
          [null, null, 2],
          [null, "p1-run", 1],
          [null, "p1-run", 2],
        ],
      );
      await reader.close();
      await a.close();
      await b.close();
    });
  });

  it("logMetrics adds the sampler's readings to plain log() rows", async () => {
    await withStore(target, async (store) => {
      let starts = 0;
      const sampler: MetricsSampler = {
        start: () => void starts++,
        stop: () => ({ cpu: starts, memory_percent: 50 }),
      };
      await rejectsWith(Tracker.open(store, { logMetrics: true }), "INVALID_VALUE", ["systemMetrics"]);
      const tr = await Tracker.open(store, { sampler, logMetrics: true, flushInterval: 0 });
      await tr.log({ loss: 1 });
      await tr.log({ loss: 0.5, cpu: -1 }); // a logged key wins over a reading
      const rows = await tr.toRows();
      assert.deepEqual(
        rows.map((r) => [r.loss, r.cpu, r.memory_percent]),
        [
          [1, 1, 50],
          [0.5, -1, 50],
        ],
      );
      await tr.close();
    });
  });
}
