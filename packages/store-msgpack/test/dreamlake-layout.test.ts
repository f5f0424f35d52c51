/**
 * dreamlake's local layout, both ways, with dreamlake's own storage code (fixtures/dreamlake_lib/,
 * verbatim; fixtures/dreamlake.py drives it as its Episode does) in real Python processes.
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Session } from "@quiver/core";
import { openMsgpackStore } from "../dist/index.js";
import { cleanup, fixtures, PYTHON, snapshot, tmpRoot } from "./helpers.js";

afterAll(cleanup);

const DL = path.join(fixtures, "dreamlake.py");

type Json = Record<string, unknown>;

/** dreamlake.py ROOT COMMAND ARGS → its JSON answer. */
function dreamlake(root: string, command: string, args: Json): Json {
  return JSON.parse(execFileSync(PYTHON, [DL, root, command, JSON.stringify(args)], { encoding: "utf8" })) as Json;
}

/** The same in a child process that runs alongside us. */
function dreamlakeAsync(root: string, command: string, args: Json): Promise<Json> {
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, [DL, root, command, JSON.stringify(args)]);
    let out = "";
    let err = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (err += d));
    p.on("close", (code) => (code === 0 ? resolve(JSON.parse(out) as Json) : reject(new Error(`dreamlake.py ${command} exited ${code}: ${err}`))));
  });
}

describe("dreamlake's local layout", () => {
  it("what a Session writes, dreamlake's LocalStorage reads: episode.json, parameters.json, logs.jsonl, tracks with metadata.json", async () => {
    const root = path.join(tmpRoot("dl-out"), ".dreamlake"); // dreamlake's folder: its files are kept from the start
    const s = await Session.open({ prefix: "ws/exp", root, flushInterval: 0, readme: "baseline", tags: ["cv"], metadata: { gpu: "a100" } });
    const train = s.track("train", { description: "training loss", tags: ["loss"], metadata: { unit: "nats" } });
    for (let i = 0; i < 5; i++) train.append({ loss: 1 / (i + 1), step: i, _ts: 100 + i });
    expect(
      await s.track("robot/pose").appendBatch([
        { x: 1, _ts: 1 },
        { x: 2, _ts: 2 },
        { x: 3, _ts: 3 },
      ]),
    ).toEqual({ count: 3, startIndex: 0, endIndex: 2 });
    s.params.set({ lr: 0.001, model: { name: "resnet", depth: 18 } });
    s.log("start", { level: "INFO" });
    s.log("careful", { level: "warn", metadata: { gpu_temp: 80 } });
    await s.close();

    const py = dreamlake(root, "read", { prefix: "ws/exp", limit: 2 }) as {
      episode: Json;
      params: Json;
      logs: Json[];
      tracks: Json[];
      data: Record<string, { data: { index: string; data: Json }[]; hasMore: boolean; total: number }>;
      stats: Record<string, Json>;
    };
    expect(py.episode).toMatchObject({ name: "exp", workspace: "ws", description: "baseline", tags: ["cv"], metadata: { gpu: "a100" }, write_protected: false });
    expect(py.params).toEqual({ lr: 0.001, "model.name": "resnet", "model.depth": 18 });
    expect(py.logs.map((l) => [l.sequenceNumber, l.level, l.message, l.metadata])).toEqual([
      [0, "info", "start", undefined],
      [1, "warn", "careful", { gpu_temp: 80 }],
    ]);
    expect(py.tracks.map((t) => [t.name, t.totalDataPoints, t.description, t.tags])).toEqual([
      ["robot/pose", "3", null, []],
      ["train", "5", "training loss", ["loss"]],
    ]);
    // dreamlake's reader takes hasMore from metadata.json's count.
    expect(py.data.train!.data.map((p) => [p.index, p.data.step])).toEqual([
      ["0", 0],
      ["1", 1],
    ]);
    expect(py.data.train!.hasMore).toBe(true);
    expect(py.data["robot/pose"]!.hasMore).toBe(true);
    expect(py.stats.train).toMatchObject({ name: "train", totalDataPoints: "5", metadata: { unit: "nats" } });
    const all = dreamlake(root, "read", { prefix: "ws/exp" }) as typeof py;
    expect(all.data.train!.hasMore).toBe(false);
    expect(all.data["robot/pose"]!.data.map((p) => p.data)).toEqual([
      { _ts: 1, x: 1 },
      { _ts: 2, x: 2 },
      { _ts: 3, x: 3 },
    ]);
  });

  it("what dreamlake writes, a Session reads as its record, params, logs and tracks, and both go on writing", async () => {
    const root = tmpRoot("dl-in");
    const res = dreamlake(root, "write", {
      prefix: "ws/run1",
      readme: "from python",
      tags: ["py"],
      metadata: { host: "a" },
      params: { lr: 0.1, "model.layers": 4 },
      logs: [
        { message: "hello", level: "info" },
        { message: "hot", level: "warn", metadata: { temp: 90 } },
      ],
      tracks: {
        loss: [
          { _ts: 3, value: 0.3 },
          { _ts: 1, value: 0.5 },
          { _ts: 1, epoch: 1 },
          { _ts: 2, value: 0.4 },
        ],
      },
    }) as Record<string, Json>;
    expect(res.loss).toMatchObject({ startIndex: "0", endIndex: "2", count: 3 });

    const s = await Session.open({ prefix: "ws/run1", root, flushInterval: 0 });
    expect([s.name, s.workspace, s.info.readme, s.info.tags, s.info.metadata]).toEqual(["run1", "ws", "from python", ["py"], { host: "a" }]);
    expect(await s.params.get()).toEqual({ lr: 0.1, "model.layers": 4 });
    const logs = await s.logs.read();
    expect(logs.map((l) => [l.sequenceNumber, l.level, l.message, l.metadata])).toEqual([
      [0, "info", "hello", undefined],
      [1, "warn", "hot", { temp: 90 }],
    ]);
    expect(typeof logs[0]!._ts).toBe("number");
    expect((await s.logs.read({ level: "WARN" })).map((l) => l.message)).toEqual(["hot"]);
    expect(await s.tracks.list()).toEqual(["loss"]);
    expect((await s.track("loss").read()).data.map((p) => p.data)).toEqual([
      { _ts: 1, value: 0.5, epoch: 1 },
      { _ts: 2, value: 0.4 },
      { _ts: 3, value: 0.3 },
    ]);
    // Quiver goes on: numbering and counts continue where dreamlake's stopped.
    expect(await s.track("loss").appendBatch([{ _ts: 4, value: 0.2 }])).toEqual({ count: 1, startIndex: 3, endIndex: 3 });
    s.params.set({ lr: 0.05, wd: 0.01 });
    s.log("from quiver", { level: "Error" });
    await s.close();
    dreamlake(root, "write", { prefix: "ws/run1", logs: [{ message: "python again" }], batches: { loss: [[{ _ts: 5, value: 0.1 }]] }, params: { seed: 7 } });

    const py = dreamlake(root, "read", { prefix: "ws/run1" }) as { params: Json; logs: Json[]; data: Record<string, { data: { index: string; data: Json }[] }>; tracks: Json[] };
    expect(py.params).toEqual({ lr: 0.05, "model.layers": 4, wd: 0.01, seed: 7 });
    expect(py.logs.map((l) => [l.sequenceNumber, l.message])).toEqual([
      [0, "hello"],
      [1, "hot"],
      [2, "from quiver"],
      [3, "python again"],
    ]);
    expect(py.tracks.map((t) => t.totalDataPoints)).toEqual(["5"]);
    expect(py.data.loss!.data.map((p) => [p.index, p.data.value])).toEqual([
      ["0", 0.5],
      ["1", 0.4],
      ["2", 0.3],
      ["3", 0.2],
      ["4", 0.1],
    ]);
    const again = await Session.open({ prefix: "ws/run1", root, flushInterval: 0 });
    expect((await again.logs.read()).map((l) => l.message)).toEqual(["hello", "hot", "from quiver", "python again"]);
    expect(await again.params.get()).toMatchObject({ seed: 7, lr: 0.05 });
    expect((await again.track("loss").read()).total).toBe(5);
    await again.close();
  });

  it("Quiver and dreamlake appending to one track at once lose nothing; metadata.json counts every point", async () => {
    const root = tmpRoot("dl-race");
    dreamlake(root, "write", { prefix: "ws/race" });
    const N = 150;
    const pySingle = dreamlakeAsync(root, "append-loop", { prefix: "ws/race", track: "t", n: N, who: "py1" });
    const pyBatch = dreamlakeAsync(root, "append-loop", { prefix: "ws/race", track: "t", n: N, who: "py2", batch: 10 });
    const s = await Session.open({ prefix: "ws/race", root, flushInterval: 0 });
    const t = s.track("t");
    const t0 = Date.now() / 1000;
    for (let i = 0; i < N; i++) {
      if (i % 3 === 0) await t.appendBatch([{ _ts: t0 + i * 1e-6, who: "js", i }]);
      else {
        t.append({ _ts: t0 + i * 1e-6, who: "js", i });
        await t.flush();
      }
    }
    await Promise.all([pySingle, pyBatch]);
    await s.close();
    const back = await Session.open({ prefix: "ws/race", root, flushInterval: 0 });
    const rows = (await back.track("t").read({ limit: 10_000 })).data.map((p) => `${p.data.who}:${p.data.i}`);
    await back.close();
    expect(rows).toHaveLength(3 * N);
    expect(new Set(rows).size).toBe(3 * N);
    for (const who of ["js", "py1", "py2"]) for (let i = 0; i < N; i++) expect(rows).toContain(`${who}:${i}`);
    const meta = JSON.parse(fs.readFileSync(path.join(root, "ws/race/tracks/t/metadata.json"), "utf8")) as Json;
    expect([meta.totalDataPoints, meta.nextIndex]).toEqual([3 * N, 3 * N]);
    const py = dreamlake(root, "read", { prefix: "ws/race" }) as { data: Record<string, { data: unknown[]; hasMore: boolean }> };
    expect(py.data.t!.data).toHaveLength(3 * N);
    expect(py.data.t!.hasMore).toBe(false);
  }, 120_000);

  it("an append waits while dreamlake holds .track.lock, and fails LOCKED once lockTimeout passes", async () => {
    const root = tmpRoot("dl-lock");
    const forced = openMsgpackStore(root, { dreamlake: true });
    const s = await Session.open({ prefix: "ws/lock", store: forced, flushInterval: 0 });
    await s.track("t").appendBatch([{ _ts: 1, v: 1 }]);
    const lockFile = path.join(root, "ws/lock/tracks/t/.track.lock");
    const hold = (seconds: number) =>
      new Promise<() => Promise<void>>((resolve) => {
        const p = spawn(PYTHON, [
          "-c",
          `import fcntl, time\nf = open(${JSON.stringify(lockFile)}, "a")\nfcntl.flock(f.fileno(), fcntl.LOCK_EX)\nprint("locked", flush=True)\ntime.sleep(${seconds})`,
        ]);
        const done = new Promise<void>((r) => p.on("close", () => r()));
        p.stdout.once("data", () => resolve(() => done));
      });
    const released = await hold(0.8);
    const start = Date.now();
    expect(await s.track("t").appendBatch([{ _ts: 2, v: 2 }])).toEqual({ count: 1, startIndex: 1, endIndex: 1 });
    expect(Date.now() - start).toBeGreaterThanOrEqual(500); // it waited for Python's lock
    await released();
    await s.close();
    await forced.close();

    const store = openMsgpackStore(root, { lockTimeout: 300 });
    const quick = await Session.open({ prefix: "ws/lock", store, flushInterval: 0 });
    const released2 = await hold(2);
    const err = await quick
      .track("t")
      .appendBatch([{ _ts: 3, v: 3 }])
      .catch((e: unknown) => e as { code?: string; message: string });
    expect((err as { code?: string }).code).toBe("LOCKED");
    expect((err as { message: string }).message).toContain(".track.lock");
    await released2();
    expect(await quick.track("t").appendBatch([{ _ts: 3, v: 3 }])).toEqual({ count: 1, startIndex: 2, endIndex: 2 });
    await quick.close();
    await store.close();
    const py = dreamlake(root, "read", { prefix: "ws/lock" }) as { data: Record<string, { data: { data: Json }[] }> };
    expect(py.data.t!.data.map((p) => p.data.v)).toEqual([1, 2, 3]);
  }, 60_000);

  it("auto (the default): a Quiver-only folder gets none of dreamlake's files until dreamlake opens the session", async () => {
    const root = tmpRoot("dl-auto");
    const s = await Session.open({ prefix: "ws/auto", root, flushInterval: 0 });
    await s.track("t").appendBatch([{ _ts: 1, v: 1 }]);
    s.log("quiver only");
    const dir = path.join(root, "ws/auto");
    expect(fs.existsSync(path.join(dir, "tracks/t/metadata.json"))).toBe(false);
    expect(fs.existsSync(path.join(dir, "episode.json"))).toBe(false);
    // dreamlake opens the same session while Quiver still writes to it.
    dreamlake(root, "write", { prefix: "ws/auto", logs: [{ message: "dl hello" }] });
    expect(await s.track("t").appendBatch([{ _ts: 2, v: 2 }])).toEqual({ count: 1, startIndex: 1, endIndex: 1 });
    await s.close();
    const meta = JSON.parse(fs.readFileSync(path.join(dir, "tracks/t/metadata.json"), "utf8")) as Json;
    expect(meta.totalDataPoints).toBe(2);
    expect(fs.existsSync(path.join(dir, "tracks/t/.track.lock"))).toBe(true);
    dreamlake(root, "append-loop", { prefix: "ws/auto", track: "t", n: 3, who: "py" });
    const again = await Session.open({ prefix: "ws/auto", root, flushInterval: 0 });
    expect((await again.track("t").read()).total).toBe(5);
    again.log("now both");
    // Numbered 0 both: Quiver's entry from before dreamlake came and dreamlake's first; both kept.
    expect((await again.logs.read()).map((l) => [l.sequenceNumber, l.message])).toEqual([
      [0, "quiver only"],
      [0, "dl hello"],
      [1, "now both"],
    ]);
    await again.close();
    const py = dreamlake(root, "read", { prefix: "ws/auto" }) as { logs: Json[]; tracks: Json[] };
    expect(py.tracks.map((t) => t.totalDataPoints)).toEqual(["5"]);
    expect(py.logs.map((l) => l.message)).toEqual(["dl hello", "now both"]); // logs from before dreamlake came are Quiver's only
  });

  for (const how of ["end", "exit"]) {
    it(`a script that forgets close() (${how === "end" ? "it just ends" : "process.exit"}) leaves dreamlake its points, params, logs and counts`, () => {
      const root = path.join(tmpRoot(`dl-exit-${how}`), ".dreamlake");
      execFileSync(process.execPath, [path.join(fixtures, "forget-close.mjs"), root, how], { encoding: "utf8" });
      const py = dreamlake(root, "read", { prefix: "ws/forgot" }) as { params: Json; logs: Json[]; tracks: Json[]; data: Record<string, { data: { data: Json }[] }> };
      expect(py.params).toEqual({ lr: 0.5 });
      expect(py.logs.map((l) => [l.level, l.message])).toEqual([["warn", "bye"]]);
      expect(py.tracks.map((t) => [t.name, t.totalDataPoints, t.description])).toEqual([["loss", "2", "kept at exit"]]);
      expect(py.data.loss!.data.map((p) => p.data.v)).toEqual([1, 2]);
    });
  }

  it("files: dreamlake's uploads are session.files' and ours are dreamlake's (files/.files_metadata.json, checksums verified both ways)", async () => {
    const root = tmpRoot("dl-files");
    const src = path.join(root, "weights.bin");
    fs.writeFileSync(src, Buffer.from([1, 2, 3, 10, 13, 0, 255]));
    dreamlake(root, "write", { prefix: "ws/f" });
    const theirs = dreamlake(root, "upload", { prefix: "ws/f", file: src, path: "/models", tags: ["py"], metadata: { epoch: 1 } });
    const s = await Session.open({ prefix: "ws/f", root, flushInterval: 0 });
    const listed = await s.files.list({ path: "/models" });
    expect(listed.map((f) => [f.id, f.filename, f.checksum, f.sizeBytes, f.tags, f.metadata])).toEqual([[theirs.id, "weights.bin", theirs.checksum, 7, ["py"], { epoch: 1 }]]);
    expect([...(await s.files.read(String(theirs.id)))]).toEqual([1, 2, 3, 10, 13, 0, 255]);
    // Damaged bytes in dreamlake's folder are caught.
    const onDisk = path.join(root, "ws/f/files/models", String(theirs.id), "weights.bin");
    fs.writeFileSync(onDisk, Buffer.from([9, 9, 9]));
    await expect(s.files.read(String(theirs.id))).rejects.toMatchObject({ code: "CHECKSUM_MISMATCH" });
    fs.writeFileSync(onDisk, Buffer.from([1, 2, 3, 10, 13, 0, 255]));
    const ours = await s.files.upload(new TextEncoder().encode('{"lr": 0.1}'), { filename: "config.json", path: "/config", tags: ["cfg"] });
    await s.files.update(String(theirs.id), { tags: ["py", "best"] });
    await s.close();
    const py = dreamlake(root, "files", { prefix: "ws/f", dest: root }) as unknown as Json[];
    const byName = Object.fromEntries(py.map((f) => [f.filename, f]));
    expect(byName["config.json"]).toMatchObject({ id: ours.id, path: "/config", checksum: ours.checksum, contentType: "application/json", tags: ["cfg"], sizeBytes: 11 });
    expect(Buffer.from(String(byName["config.json"]!.bytes), "hex").toString()).toBe('{"lr": 0.1}');
    expect(byName["weights.bin"]!.tags).toEqual(["py", "best"]);
    const again = await Session.open({ prefix: "ws/f", root, flushInterval: 0 });
    await again.files.delete(String(theirs.id));
    expect((await again.files.list()).map((f) => f.filename)).toEqual(["config.json"]);
    await again.close();
    expect((dreamlake(root, "files", { prefix: "ws/f", dest: root }) as unknown as Json[]).map((f) => f.filename)).toEqual(["config.json"]);
  });

  it("a delete on a dreamlake track rewrites it under .track.lock and sets metadata.json's count", async () => {
    const root = tmpRoot("dl-del");
    dreamlake(root, "write", { prefix: "ws/del", batches: { t: [[0, 1, 2, 3, 4].map((i) => ({ _ts: i, v: i }))] } });
    const store = openMsgpackStore(root);
    expect(await store.delete("ws/del/tracks/t", { op: "lt", field: "_ts", value: 2 })).toBe(2);
    await store.close();
    const meta = JSON.parse(fs.readFileSync(path.join(root, "ws/del/tracks/t/metadata.json"), "utf8")) as Json;
    expect([meta.totalDataPoints, meta.nextIndex]).toEqual([3, 3]);
    const py = dreamlake(root, "read", { prefix: "ws/del", limit: 3 }) as { data: Record<string, { data: { data: Json }[]; hasMore: boolean }> };
    expect(py.data.t!.data.map((p) => p.data.v)).toEqual([2, 3, 4]);
    expect(py.data.t!.hasMore).toBe(false);
  });

  it("without util-linux flock the lock is taken with python3; with neither it is not taken, and a warning says so", async () => {
    const root = tmpRoot("dl-fallback");
    const store = openMsgpackStore(root, { dreamlake: true });
    await store.append("ws/fb/tracks/t", (await import("@quiver/core")).rowsToBatch([{ _ts: 1, v: 1 }]));
    await store.close();
    const lockFile = path.join(root, "ws/fb/tracks/t/.track.lock");
    const onlyPython = fs.mkdtempSync(path.join(root, "bin-"));
    fs.symlinkSync(PYTHON, path.join(onlyPython, "python3"));
    const nothing = fs.mkdtempSync(path.join(root, "empty-"));
    const run = (bin: string) =>
      new Promise<{ ms: number; err: string }>((resolve, reject) => {
        const held = spawn(PYTHON, [
          "-c",
          `import fcntl, time\nf = open(${JSON.stringify(lockFile)}, "a")\nfcntl.flock(f.fileno(), fcntl.LOCK_EX)\nprint("locked", flush=True)\ntime.sleep(3)`,
        ]);
        const heldDone = new Promise<void>((r) => held.on("close", () => r()));
        held.stdout.once("data", () => {
          const child = spawn(process.execPath, [path.join(fixtures, "flock-append.mjs"), root], { env: { ...process.env, PATH: bin } });
          let out = "";
          let err = "";
          child.stdout.on("data", (d) => (out += d));
          child.stderr.on("data", (d) => (err += d));
          child.on("close", (code) => (code === 0 ? heldDone.then(() => resolve({ ms: Number(out.trim()), err })) : reject(new Error(err))));
        });
      });
    const py = await run(onlyPython);
    expect(py.ms).toBeGreaterThanOrEqual(1000); // waited for the held lock (3 s, less the child's start)
    const none = await run(nothing);
    expect(none.ms).toBeLessThan(1000);
    expect(none.err).toContain("neither flock (util-linux) nor python3 is on the PATH");
    const back = openMsgpackStore(root, { readOnly: true });
    expect((await (await import("@quiver/core")).readRows(back, "ws/fb/tracks/t")).map((r) => r.v)).toEqual([1, 2, 2]);
    await back.close();
  }, 60_000);

  it("a Session over a read-only store (the CLI's reads) writes nothing, not even its record", async () => {
    const root = path.join(tmpRoot("dl-ro"), ".dreamlake");
    dreamlake(root, "write", { prefix: "ws/ro", readme: "py", tracks: { t: [{ _ts: 1, v: 1 }] } });
    const before = snapshot(root);
    const warnings: unknown[] = [];
    const store = openMsgpackStore(root, { readOnly: true });
    const s = await Session.open({ prefix: "ws/ro", store, flushInterval: 0, onError: (e) => warnings.push(e) });
    expect(s.info.readme).toBe("py");
    expect((await s.track("t").read()).total).toBe(1);
    expect((await s.logs.read()).length).toBe(0);
    await s.close();
    await store.close();
    expect(warnings).toEqual([]);
    expect(snapshot(root)).toEqual(before);
  });

  it("dreamlake: false keeps only Quiver's files", async () => {
    const root = path.join(tmpRoot("dl-off"), ".dreamlake");
    const store = openMsgpackStore(root, { dreamlake: false });
    const s = await Session.open({ prefix: "ws/off", store, flushInterval: 0 });
    s.track("t").append({ _ts: 1, v: 1 });
    s.params.set({ a: 1 });
    s.log("x");
    await s.close();
    await store.close();
    const files = fs.readdirSync(path.join(root, "ws/off"), { recursive: true }).map(String);
    for (const f of ["episode.json", "parameters.json", "logs/logs.jsonl", "tracks/t/metadata.json", "tracks/t/.track.lock"]) expect(files).not.toContain(f);
    expect(files).toContain("tracks/t/data.msgpack");
  });
});
