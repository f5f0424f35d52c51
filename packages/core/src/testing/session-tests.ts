/** Session/Track behaviours (API.md, dreamlake's tracks) run over the store under test. */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rowsToBatch } from "../arrow/batches.js";
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
      // A flush writes a track's points in _ts order (as dreamlake's): 1234.5 comes first.
      const first = pose.data.find((p) => p.data._ts !== 1234.5)!.data._ts;
      assert.equal(img.data.find((p) => p.data.frame_id === 0)!.data._ts, first);
      assert.equal(vel.data[0]!.data._ts, first);
      assert.deepEqual(
        pose.data.map((p) => p.data._ts),
        [1234.5, first],
      );
      assert.equal(img.data.find((p) => p.data.frame_id === 1)!.data._ts, 1234.5);
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
      assert.deepEqual(res, { count: 3, startIndex: 1, endIndex: 3 }, "dreamlake's append_batch result (endIndex inclusive)");
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

  it("a flush writes a track's points in _ts order, equal _ts merged; appendBatch writes as given", async () => {
    await withStore(target, async (store) => {
      const s = await open(store);
      const tr = s.track("robot/state");
      tr.append({ q: 3, _ts: 30 });
      tr.append({ q: 1, _ts: 10 });
      tr.append({ v: 1, _ts: 10 });
      tr.append({ q: 2, _ts: 20 });
      await tr.flush();
      assert.deepEqual(
        (await tr.read()).data.map((p) => plain(p.data)),
        [
          { _ts: 10, q: 1, v: 1 },
          { _ts: 20, q: 2 },
          { _ts: 30, q: 3 },
        ],
      );
      const res = await tr.appendBatch([
        { q: 9, _ts: 5 },
        { q: 8, _ts: 5 },
      ]);
      assert.deepEqual(res, { count: 2, startIndex: 3, endIndex: 4 });
      assert.deepEqual(
        (await tr.read({ startIndex: 3 })).data.map((p) => [p.index, p.data.q]),
        [
          [3, 9],
          [4, 8],
        ],
      );
      assert.deepEqual(await tr.appendBatch([]), { count: 0, startIndex: 5, endIndex: 4 });
      // Concurrent calls on one track run in order, each counting the rows before it.
      const [a, b] = await Promise.all([
        tr.appendBatch([{ q: 1, _ts: 40 }]),
        tr.appendBatch([
          { q: 2, _ts: 41 },
          { q: 3, _ts: 42 },
        ]),
      ]);
      assert.deepEqual(
        [a, b],
        [
          { count: 1, startIndex: 5, endIndex: 5 },
          { count: 2, startIndex: 6, endIndex: 7 },
        ],
      );
      await s.close();
    });
  });

  it("logs: levels in any case, a sequenceNumber per entry, metadata; bad levels refused", async () => {
    await withStore(target, async (store) => {
      const s = await open(store);
      s.log("a", { level: "DEBUG" });
      s.log("b", { level: "Info", metadata: { epoch: 1, nested: { x: [1, 2] } } });
      s.log("c", { level: "warn", _ts: 5 });
      s.log("d", { level: "ERROR" as "error" });
      s.log("e", { level: "fatal" });
      for (const bad of ["verbose", "", 3])
        assert.throws(
          () => s.log("x", { level: bad as "info" }),
          (e: unknown) => (e as { code?: string }).code === "INVALID_VALUE",
        );
      assert.throws(
        () => s.log("x", { metadata: { f: () => 1 } as never }),
        (e: unknown) => (e as { code?: string }).code === "INVALID_VALUE",
      );
      const logs = await s.logs.read();
      assert.deepEqual(
        logs.map((l) => [l.sequenceNumber, l.level, l.message]),
        [
          [0, "debug", "a"],
          [1, "info", "b"],
          [2, "warn", "c"],
          [3, "error", "d"],
          [4, "fatal", "e"],
        ],
      );
      assert.deepEqual(logs[1]!.metadata, { epoch: 1, nested: { x: [1, 2] } });
      assert.equal(logs[2]!._ts, 5);
      assert.equal(logs[2]!.timestamp, new Date(5000).toISOString());
      assert.deepEqual(
        (await s.logs.read({ level: "WARN" })).map((l) => l.message),
        ["c"],
      );
      assert.deepEqual(
        (await s.logs.read({ limit: 2 })).map((l) => l.message),
        ["a", "b"],
      );
      await s.close();
      const s2 = await open(store);
      s2.log("f");
      assert.deepEqual(
        (await s2.logs.read()).map((l) => l.sequenceNumber),
        [0, 1, 2, 3, 4, 5],
        "numbering goes on after a reopen",
      );
      await s2.close();
    });
  });

  it("session record: name and workspace from the prefix, readme/tags/metadata, written at open", async () => {
    await withStore(target, async (store) => {
      const s = await Session.open({ prefix: "team/cv/mnist", store, flushInterval: 0, readme: "first try", tags: ["cv"], metadata: { gpu: "a100" } });
      assert.equal(s.name, "mnist");
      assert.equal(s.workspace, "cv");
      assert.deepEqual([s.info.name, s.info.workspace, s.info.readme, s.info.tags, s.info.metadata], ["mnist", "cv", "first try", ["cv"], { gpu: "a100" }]);
      await s.close();
      assert.ok((await store.tables()).includes("team/cv/mnist/session"), "a session with nothing logged still exists");
      const again = await Session.open({ prefix: "team/cv/mnist", store, flushInterval: 0, tags: ["cv", "v2"] });
      assert.deepEqual([again.info.readme, again.info.tags, again.info.metadata], ["first try", ["cv", "v2"], { gpu: "a100" }]);
      const created = again.info.createdAt;
      await again.close();
      const third = await open(store, "team/cv/mnist");
      assert.equal(third.info.createdAt, created);
      assert.deepEqual(third.info.tags, ["cv", "v2"]);
      await third.close();
      await rejectsWith(() => Session.open({ prefix: "a/b", store, tags: "x" as never }), "INVALID_VALUE");
      await rejectsWith(() => Session.open({ prefix: "a/b", store, metadata: { d: new Date() } as never }), "INVALID_VALUE");
      await rejectsWith(() => Session.open({ prefix: "a/b", store, fileChunkSize: 0 }), "INVALID_VALUE", ["fileChunkSize"]);
      await rejectsWith(() => Session.open({ prefix: "a/b", store, maxFileSize: -1 }), "INVALID_VALUE", ["maxFileSize"]);
    });
  });

  it("track descriptions: description, tags and metadata per track, kept across reopen", async () => {
    await withStore(target, async (store) => {
      const s = await open(store);
      const t = s.track("robot/pose", { description: "pose of the base", tags: ["robot"], metadata: { unit: "m" } });
      t.append({ x: 1, _ts: 1 });
      assert.deepEqual(await t.info(), { name: "robot/pose", description: "pose of the base", tags: ["robot"], metadata: { unit: "m" } });
      s.track("robot/pose").describe({ tags: ["robot", "base"] });
      assert.deepEqual((await s.track("robot/pose").info()).tags, ["robot", "base"]);
      assert.deepEqual(await s.track("other").info(), { name: "other", description: null, tags: [], metadata: null });
      assert.throws(
        () => s.track("x", { tags: [1] as never }),
        (e: unknown) => (e as { code?: string }).code === "INVALID_VALUE",
      );
      await s.close();
      const s2 = await open(store);
      assert.deepEqual(await s2.track("robot/pose").info(), { name: "robot/pose", description: "pose of the base", tags: ["robot", "base"], metadata: { unit: "m" } });
      assert.deepEqual(await s2.tracks.list(), ["robot/pose"]);
      await s2.close();
    });
  });

  it("files: upload (sha256, MIME, path, tags, metadata), list, read and download verified, de-duplicated, update, soft delete, size limit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quiver-files-"));
    try {
      await withStore(target, async (store) => {
        const s = await Session.open({ prefix: "project/exp", store, flushInterval: 0, maxFileSize: 90_000, fileChunkSize: 32_768 });
        const big = new Uint8Array(90_000).map((_, i) => (i * 7) & 0xff); // three chunks
        const src = join(dir, "model.pt");
        writeFileSync(src, big);
        const sha = createHash("sha256").update(big).digest("hex");
        const m = await s.files.upload(src, { path: "/models", tags: ["checkpoint"], metadata: { epoch: 3 }, description: "best" });
        assert.deepEqual(
          [m.path, m.filename, m.checksum, m.sizeBytes, m.contentType, m.tags, m.metadata, m.description, m.deletedAt],
          ["/models", "model.pt", sha, big.length, "application/octet-stream", ["checkpoint"], { epoch: 3 }, "best", null],
        );
        const cfg = await s.files.upload(new TextEncoder().encode('{"lr":0.1}'), { filename: "config.json", path: "config", tags: ["config"] });
        assert.equal(cfg.contentType, "application/json");
        assert.equal(cfg.path, "/config");
        const copy = await s.files.upload(big, { filename: "copy.pt", path: "/models/old" });
        const blobs = (await store.tables()).filter((t) => t.startsWith("project/exp/files/blobs/"));
        assert.deepEqual(blobs.sort(), [`project/exp/files/blobs/${sha}`, `project/exp/files/blobs/${cfg.checksum}`].sort(), "the same bytes are stored once");
        assert.equal(blobs.length, 2);
        assert.equal(await store.count(`project/exp/files/blobs/${sha}`), 3, "three chunks, written once for two uploads");
        assert.deepEqual((await s.files.list({ path: "/models" })).map((f) => f.filename).sort(), ["copy.pt", "model.pt"]);
        assert.deepEqual(
          (await s.files.list({ path: "/models/old" })).map((f) => f.filename),
          ["copy.pt"],
        );
        assert.deepEqual(
          (await s.files.list({ tags: ["config", "nope"] })).map((f) => f.filename),
          ["config.json"],
        );
        assert.equal((await s.files.list()).length, 3);
        assert.ok(Buffer.from(await s.files.read(m.id)).equals(Buffer.from(big)));
        const out = await s.files.download(m.id, join(dir, "restored.pt"));
        assert.ok(readFileSync(out).equals(Buffer.from(big)));
        assert.equal(await s.files.download(cfg.id, dir), join(dir, "config.json"));
        const up = await s.files.update(m.id, { tags: ["checkpoint", "best"], metadata: { epoch: 4 } });
        assert.deepEqual([up.tags, up.metadata, up.description], [["checkpoint", "best"], { epoch: 4 }, "best"]);
        assert.deepEqual((await s.files.get(m.id)).tags, ["checkpoint", "best"]);
        const del = await s.files.delete(copy.id);
        assert.equal(typeof del.deletedAt, "string");
        await rejectsWith(s.files.get(copy.id), "NOT_FOUND", ["deleted"]);
        await rejectsWith(s.files.delete(copy.id), "NOT_FOUND");
        await rejectsWith(s.files.read("123"), "NOT_FOUND");
        assert.ok(Buffer.from(await s.files.read(m.id)).equals(Buffer.from(big)), "deleting a copy keeps the shared bytes");
        // Same path and name: the new upload replaces the old one (dreamlake's overwrite).
        const v2 = await s.files.upload(new TextEncoder().encode('{"lr":0.2}'), { filename: "config.json", path: "/config" });
        assert.deepEqual(
          (await s.files.list({ path: "/config" })).map((f) => f.id),
          [v2.id],
        );
        const tooBig = new Uint8Array(90_001);
        await rejectsWith(s.files.upload(tooBig, { filename: "huge.bin" }), "TOO_LARGE", ["maxFileSize"]);
        await rejectsWith(s.files.upload(new Uint8Array(1), { filename: "../x" }), "INVALID_NAME");
        await rejectsWith(s.files.upload(new Uint8Array(1), { filename: "x", path: "/a/../b" }), "INVALID_PATH");
        await rejectsWith(s.files.upload(join(dir, "missing.bin")), "NOT_FOUND");
        const empty = await s.files.upload(new Uint8Array(0), { filename: "empty.txt" });
        assert.equal((await s.files.read(empty.id)).length, 0);
        await s.close();
        const s2 = await open(store);
        assert.deepEqual((await s2.files.list()).map((f) => f.filename).sort(), ["config.json", "empty.txt", "model.pt"]);
        // Damaged bytes are caught before the file appears at its destination.
        await store.drop(`project/exp/files/blobs/${v2.checksum}`);
        await store.append(`project/exp/files/blobs/${v2.checksum}`, rowsToBatch([{ chunk: 0, bytes: new TextEncoder().encode('{"lr":0.3}') }]));
        await rejectsWith(s2.files.download(v2.id, join(dir, "bad.json")), "CHECKSUM_MISMATCH");
        assert.equal(existsSync(join(dir, "bad.json")) || existsSync(join(dir, "bad.json.quiver-part")), false);
        await s2.close();
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
