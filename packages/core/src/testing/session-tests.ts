/** Session/Track behaviours (API.md, dreamlake's tracks) run over the store under test. */
import { Session } from "../series/session.js";
import { assert, type ConformanceTarget, plain, rejectsWith, type TestApi, withStore } from "./harness.js";

const open = (store: Session["store"], prefix = "project/exp") => Session.open({ prefix, store, flushInterval: 0 });

export function sessionTests(t: TestApi, target: ConformanceTarget): void {
  const to = target.timeout ?? 30_000;
  const it = (name: string, fn: () => Promise<void>) => t.it(name, fn, to);

  it("appends points and reads them by index with auto _ts strictly increasing", async () => {
    await withStore(target, async (store) => {
      const s = await open(store);
      const before = Date.now() / 1000;
      const tr = s.track("train");
      assert.equal(s.track("train"), tr, "track(name) returns the same object");
      for (let i = 0; i < 100; i++) tr.append({ loss: 1 / (i + 1), step: i });
      const r = await tr.read({ startIndex: 0, limit: 10 });
      assert.equal(r.total, 100);
      assert.equal(r.data.length, 10);
      assert.equal(r.startIndex, 0);
      assert.equal(r.endIndex, 10);
      assert.equal(r.hasMore, true);
      assert.deepEqual(
        r.data.map((p) => p.index),
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      );
      assert.deepEqual(Object.keys(r.data[0]!.data), ["_ts", "loss", "step"]);
      const all = await tr.read({ limit: 1000 });
      const ts = all.data.map((p) => p.data._ts);
      assert.ok(ts[0]! >= before - 1 && ts[0]! <= Date.now() / 1000 + 1);
      for (let i = 1; i < ts.length; i++) assert.ok(ts[i]! > ts[i - 1]!, "auto _ts strictly increasing");
      const tail = await tr.read({ startIndex: 95 });
      assert.deepEqual(
        tail.data.map((p) => p.data.step),
        [95, 96, 97, 98, 99],
      );
      assert.equal(tail.hasMore, false);
      assert.equal(tail.endIndex, 100);
      await s.close();
    });
  });

  it("_ts: explicit values, -1 inherits the last _ts across all tracks, non-finite → INVALID_TIMESTAMP", async () => {
    await withStore(target, async (store) => {
      const s = await open(store);
      s.track("robot/pose").append({ position: [1, 2, 3] });
      s.track("camera/left/image").append({ width: 640, frame_id: 0, _ts: -1 });
      s.track("robot/velocity").append({ linear: [0.1, 0, 0], _ts: -1 });
      s.track("robot/pose").append({ position: [4, 5, 6], _ts: 1234.5 });
      s.track("camera/left/image").append({ width: 640, frame_id: 1, _ts: -1 });
      const pose = await s.track("robot/pose").read();
      const img = await s.track("camera/left/image").read();
      const vel = await s.track("robot/velocity").read();
      assert.equal(img.data[0]!.data._ts, pose.data[0]!.data._ts);
      assert.equal(vel.data[0]!.data._ts, pose.data[0]!.data._ts);
      assert.equal(pose.data[1]!.data._ts, 1234.5);
      assert.equal(img.data[1]!.data._ts, 1234.5);
      for (const bad of [NaN, Infinity, -Infinity, "12"]) {
        assert.throws(
          () => s.track("robot/pose").append({ x: 1, _ts: bad }),
          (e: unknown) => (e as { code?: string }).code === "INVALID_TIMESTAMP",
        );
      }
      await rejectsWith(
        s.track("robot/pose").appendBatch([
          { x: 1, _ts: 5 },
          { x: 2, _ts: NaN },
        ]),
        "INVALID_TIMESTAMP",
      );
      assert.equal((await s.track("robot/pose").read()).total, 2, "nothing of a bad batch is written");
      await s.close();
    });
  });

  it("merges points of one track with equal _ts at flush", async () => {
    await withStore(target, async (store) => {
      const s = await open(store);
      const st = s.track("robot/state");
      st.append({ q: [0.1, 0.2], _ts: 100 });
      st.append({ v: [0.01, 0.02], _ts: 100 });
      st.append({ e: [0.5, 0.6, 0.7], _ts: 100 });
      st.append({ q: [9, 9], _ts: 101 });
      await st.flush();
      const r = await st.read();
      assert.equal(r.data.length, 2);
      assert.deepEqual(plain(r.data[0]!.data), plain({ _ts: 100, q: [0.1, 0.2], v: [0.01, 0.02], e: [0.5, 0.6, 0.7] }));
      assert.deepEqual(plain(r.data[1]!.data), plain({ _ts: 101, q: [9, 9] }));
      await s.close();
    });
  });

  it("appendBatch stores many points and returns their count; rows and batches read the same", async () => {
    await withStore(target, async (store) => {
      const s = await open(store);
      const tr = s.track("train_loss");
      tr.append({ value: 0.6, step: 0, epoch: 1, _ts: 1 });
      const res = await tr.appendBatch([
        { value: 0.5, step: 1, epoch: 1, _ts: 2 },
        { value: 0.45, step: 2, epoch: 1, _ts: 3 },
        { value: 0.4, step: 3, epoch: 1, _ts: 4 },
      ]);
      assert.deepEqual(res, { count: 3 });
      tr.append({ value: 0.38, step: 4, epoch: 1, _ts: 5 });
      const r = await tr.read();
      assert.deepEqual(
        r.data.map((p) => [p.index, p.data._ts, p.data.value]),
        [
          [0, 1, 0.6],
          [1, 2, 0.5],
          [2, 3, 0.45],
          [3, 4, 0.4],
          [4, 5, 0.38],
        ],
      );
      assert.equal((await tr.toTable()).numRows, 5);
      const st = await tr.stats();
      assert.deepEqual([st.count, st.firstTs, st.lastTs], [5, 1, 5]);
      assert.deepEqual(st.fields.sort(), ["epoch", "step", "value"]);
      await s.close();
    });
  });

  it("readByTime: start inclusive, end exclusive, limit, reverse, total and hasMore", async () => {
    await withStore(target, async (store) => {
      const s = await open(store);
      const base = 1_700_000_000;
      const pose = s.track("robot/pose");
      for (let i = 0; i < 100; i++) pose.append({ position: [i * 0.1, i * 0.2, i * 0.3], i, _ts: base + i * 0.1 });
      const last10 = await pose.readByTime({ startTime: base + 90 * 0.1, endTime: base + 100 * 0.1, limit: 1000 });
      assert.equal(last10.total, 10);
      assert.deepEqual(
        last10.data.map((p) => p.data.i),
        [90, 91, 92, 93, 94, 95, 96, 97, 98, 99],
      );
      assert.deepEqual(
        last10.data.map((p) => p.index),
        [90, 91, 92, 93, 94, 95, 96, 97, 98, 99],
      );
      const win = await pose.readByTime({ startTime: base + 10 * 0.1, endTime: base + 20 * 0.1 });
      assert.deepEqual([win.data[0]!.data.i, win.data.at(-1)!.data.i, win.total], [10, 19, 10], "start inclusive, end exclusive");
      const rev = await pose.readByTime({ reverse: true, limit: 3 });
      assert.deepEqual(
        rev.data.map((p) => p.data.i),
        [99, 98, 97],
      );
      assert.equal(rev.total, 100);
      assert.equal(rev.hasMore, true);
      const from = await pose.readByTime({ startTime: base + 95 * 0.1 });
      assert.deepEqual(
        from.data.map((p) => p.data.i),
        [95, 96, 97, 98, 99],
      );
      assert.equal(from.hasMore, false);
      const none = await pose.readByTime({ startTime: base + 1000 });
      assert.deepEqual([none.data.length, none.total, none.hasMore], [0, 0, false]);
      const capped = await pose.readByTime({ limit: 50_000 });
      assert.equal(capped.data.length, 100, "limit is capped at 10000, not rejected");
      await rejectsWith(pose.readByTime({ startTime: NaN }), "INVALID_TIMESTAMP");
      await s.close();
    });
  });

  it("readByTime is correct when _ts arrive out of order across flushes", async () => {
    await withStore(target, async (store) => {
      const s = await open(store);
      const tr = s.track("sensor");
      for (let i = 50; i < 100; i++) tr.append({ i, _ts: i });
      await tr.flush();
      for (let i = 0; i < 50; i++) tr.append({ i, _ts: i });
      await tr.flush();
      tr.append({ i: 49.5, _ts: 49.5 });
      const w = await tr.readByTime({ startTime: 45, endTime: 55 });
      assert.deepEqual(
        w.data.map((p) => p.data.i),
        [45, 46, 47, 48, 49, 49.5, 50, 51, 52, 53, 54],
      );
      assert.deepEqual(
        w.data.map((p) => p.index),
        [95, 96, 97, 98, 99, 100, 0, 1, 2, 3, 4],
      );
      const rev = await tr.readByTime({ reverse: true, limit: 2, endTime: 50 });
      assert.deepEqual(
        rev.data.map((p) => p.data.i),
        [49.5, 49],
      );
      await s.close();
    });
  });

  it("lists hierarchical track names; params and logs", async () => {
    await withStore(target, async (store) => {
      const s = await open(store);
      s.track("robot/position/left-camera").append({ x: 1.0, y: 2.0, _ts: 1.0 });
      s.track("robot/position/right-camera").append({ x: 1.1, y: 2.1, _ts: 1.0 });
      s.track("robot/velocity").append({ vx: 0.5, vy: 0.6, _ts: 1.0 });
      assert.deepEqual(await s.tracks.list(), ["robot/position/left-camera", "robot/position/right-camera", "robot/velocity"]);
      await s.params.set({ learning_rate: 0.001, batch_size: 32, optimizer: { name: "adam", beta: 0.9 } });
      await s.params.set({ batch_size: 64 });
      assert.deepEqual(await s.params.get(), { learning_rate: 0.001, batch_size: 64, "optimizer.name": "adam", "optimizer.beta": 0.9 });
      s.log("Starting training");
      s.log("Epoch 1/10 complete", { metadata: { train_loss: 0.5 } });
      s.log("disk almost full", { level: "warn" });
      const logs = await s.logs.read();
      assert.deepEqual(
        logs.map((l) => [l.level, l.message]),
        [
          ["info", "Starting training"],
          ["info", "Epoch 1/10 complete"],
          ["warn", "disk almost full"],
        ],
      );
      assert.deepEqual(logs[1]!.metadata, { train_loss: 0.5 });
      assert.equal(typeof logs[0]!._ts, "number");
      await s.close();
    });
  });

  it("rejects bad track names and values, touching nothing stored", async () => {
    await withStore(target, async (store) => {
      const s = await open(store);
      s.track("ok").append({ v: 1, _ts: 1 });
      await s.tracks.flush();
      for (const bad of ["../x", "/abs", "a/../../b", "a\u0000b"]) {
        assert.throws(
          () => s.track(bad),
          (e: unknown) => (e as { code?: string }).code === "INVALID_NAME",
        );
      }
      await rejectsWith(Session.open({ prefix: "../up", store }), "INVALID_NAME");
      assert.throws(
        () => s.track("ok").append({ f: () => 1 }),
        (e: unknown) => (e as { code?: string }).code === "INVALID_VALUE",
      );
      assert.throws(
        () => s.track("ok").append({ v: "str" }),
        (e: unknown) => (e as { code?: string }).code === "SCHEMA_MISMATCH",
      );
      assert.deepEqual(
        (await s.track("ok").read()).data.map((p) => p.data),
        [{ _ts: 1, v: 1 }],
      );
      assert.deepEqual(await s.tracks.list(), ["ok"]);
      await s.close();
    });
  });

  it("keeps sessions across close and reopen (persistent stores)", async () => {
    const store = await target.create();
    const s = await open(store, "robotics/demo");
    s.track("robot/pose").append({ q: [1, 2, 3], _ts: 10 });
    await s.params.set({ lr: 0.1 });
    s.log("hello");
    await s.close();
    await store.close();
    if (!store.capabilities.persistent || !target.reopen) return;
    const again = await target.reopen(store);
    try {
      const s2 = await open(again, "robotics/demo");
      assert.deepEqual(await s2.tracks.list(), ["robot/pose"]);
      assert.deepEqual(plain((await s2.track("robot/pose").read()).data[0]!.data), plain({ _ts: 10, q: [1, 2, 3] }));
      assert.deepEqual(await s2.params.get(), { lr: 0.1 });
      assert.equal((await s2.logs.read())[0]!.message, "hello");
      s2.track("robot/pose").append({ q: [4, 5, 6], _ts: 11 });
      assert.equal((await s2.track("robot/pose").read()).total, 2);
      await s2.close();
    } finally {
      await again.close();
    }
  });
}
