/**
 * xetrack's features that need more than a store: the codec's exact round trips and refusals,
 * cache keys and entries across real processes, git_commit_hash against the real git, and the
 * parameter names read from function sources.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { asset, cacheKey, contentHash, decodeValue, encodeValue, FunctionCache, gitCommitHash, MemoryStore, parameterNames, QuiverError, Reader, Tracker } from "../dist/index.js";

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "quiver-xt-"));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof QuiverError ? err.code : `not a QuiverError: ${String(err)}`;
  }
  return undefined;
}

const DIST = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "index.js");

function node(script: string, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const file = join(cwd, `child-${Math.random().toString(36).slice(2)}.mjs`);
    writeFileSync(file, script.replaceAll("@quiver/core", DIST));
    const child = spawn(process.execPath, [file], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (c) => resolve({ code: c, stdout, stderr }));
  });
}

describe("codec: how an asset or a cached result becomes bytes", () => {
  it("raw bytes, JSON for JSON-safe values, v8 for the rest — each comes back exactly", () => {
    const cases: [unknown, string][] = [
      [new Uint8Array([0, 1, 255]), "bytes"],
      [Buffer.from("hi"), "bytes"],
      [{ a: [1, 2.5, "x", null, true], b: { c: "d" } }, "json"],
      ["text", "json"],
      [[1, 2, 3], "json"],
      [new Map<unknown, unknown>([[1, new Set(["a"])]]), "v8"],
      [{ when: new Date(0), big: 2n ** 70n, f32: new Float32Array([1.5]) }, "v8"],
      [{ nan: Number.NaN, inf: -Infinity, negZero: -0, none: undefined }, "v8"],
      [/ab+c/gi, "v8"],
    ];
    for (const [v, enc] of cases) {
      const e = encodeValue(v);
      expect(e.encoding, JSON.stringify(String(v))).toBe(enc);
      const back = decodeValue(e.encoding, e.bytes);
      if (Buffer.isBuffer(v)) expect(back).toEqual(new Uint8Array(v));
      else expect(back).toEqual(v);
    }
    const cyc: Record<string, unknown> = { name: "node" };
    cyc.self = cyc;
    const back = decodeValue("v8", encodeValue(cyc).bytes) as Record<string, unknown>;
    expect(back.self).toBe(back); // a cycle stays a cycle
    expect(Object.is((decodeValue("v8", encodeValue({ z: -0 }).bytes) as { z: number }).z, -0)).toBe(true);
  });

  it("refuses what would not come back as it was, naming where", () => {
    class Model {
      w = 1;
    }
    const refused: unknown[] = [
      () => 1,
      Symbol("s"),
      new Model(),
      { nested: { fn: () => 1 } },
      new Error("e"),
      new WeakMap(),
      { [Symbol("k")]: 1 },
      Object.defineProperty({}, "x", { get: () => 1, enumerable: true }),
      new Map([["m", new Model()]]),
    ];
    for (const v of refused)
      expect(
        code(() => encodeValue(v, "the asset")),
        String(v),
      ).toBe("INVALID_VALUE");
    expect(() => encodeValue({ nested: { fn: () => 1 } }, "the asset")).toThrow(/the asset\.nested\.fn/);
    expect(() => encodeValue(new Model(), "the asset")).toThrow(/Model instance/);
    expect(code(() => decodeValue("pickle", new Uint8Array()))).toBe("INVALID_VALUE");
  });

  it("hashes by content and encoding: equal content, one hash; same bytes as two encodings, two", () => {
    expect(contentHash(encodeValue({ a: 1 }))).toBe(contentHash(encodeValue({ a: 1 })));
    expect(contentHash(encodeValue({ a: 1 }))).not.toBe(contentHash(encodeValue({ a: 2 })));
    const json = encodeValue({ a: 1 });
    expect(contentHash(encodeValue(new Uint8Array(json.bytes)))).not.toBe(contentHash(json));
    expect(contentHash(json)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("cache keys and entries", () => {
  it("keys are canonical: field order and Map/Set order do not matter, types and classes do", () => {
    const k = (args: unknown[], params = {}) => cacheKey("f", args, params);
    expect(k([{ a: 1, b: 2 }])).toBe(k([{ b: 2, a: 1 }]));
    expect(
      k([
        new Map([
          ["x", 1],
          ["y", 2],
        ]),
      ]),
    ).toBe(
      k([
        new Map([
          ["y", 2],
          ["x", 1],
        ]),
      ]),
    );
    expect(k([new Set([1, 2])])).toBe(k([new Set([2, 1])]));
    expect(k([1])).not.toBe(k(["1"]));
    expect(k([1])).not.toBe(k([1n]));
    expect(k([0])).not.toBe(k([-0]));
    expect(k([[1, 2]])).not.toBe(k([[12]]));
    expect(k(["ab", "c"])).not.toBe(k(["a", "bc"]));
    expect(k([new Float32Array([1])])).not.toBe(k([new Float64Array([1])]));
    class A {
      x = 1;
    }
    class B {
      x = 1;
    }
    expect(k([new A()])).toBe(k([new A()]));
    expect(k([new A()])).not.toBe(k([new B()]));
    expect(k([1], { model: "v1" })).not.toBe(k([1], { model: "v2" }));
    expect(cacheKey("f", [1], {})).not.toBe(cacheKey("g", [1], {}));
    expect(k([() => 1])).toBeUndefined();
    const cyc: unknown[] = [];
    cyc.push(cyc);
    expect(k([cyc])).toBeUndefined();
    expect(k([{ shared: [1], again: [1] }])).toBeDefined();
  });

  it("another process computes the same key; a Tracker there fills the cache a Tracker here hits, with lineage", async () => {
    const dir = tmp();
    const cache = join(dir, "cache");
    const child = await node(
      `import { cacheKey, Tracker } from "@quiver/core";
const t = await Tracker.open("memory:", { cache: ${JSON.stringify(cache)}, trackId: "child-run", params: { model: "v1" } });
function train(config, seed) { return { accuracy: config.lr * 10 + seed }; }
t.track(train, { lr: 0.05, layers: [64, 32] }, 1);
await t.close();
console.log(cacheKey("train", [{ layers: [64, 32], lr: 0.05 }, 1], { model: "v1" }));`,
      dir,
    );
    expect(child.code, child.stderr).toBe(0);
    expect(child.stdout.trim()).toBe(cacheKey("train", [{ lr: 0.05, layers: [64, 32] }, 1], { model: "v1" }));
    const store = new MemoryStore();
    const t = await Tracker.open(store, { cache, params: { model: "v1" }, flushInterval: 0 });
    let called = false;
    function train(config: { lr: number; layers: number[] }, seed: number) {
      called = true;
      return { accuracy: config.lr * 10 + seed };
    }
    expect(t.track(train, { layers: [64, 32], lr: 0.05 }, 1)).toEqual({ accuracy: 1.5 });
    expect(called).toBe(false);
    expect(t.last?.cache).toBe("child-run");
    expect(t.last?.config_lr).toBe(0.05);
    expect(t.last?.accuracy).toBe(1.5);
    await t.close();
    const [entry] = FunctionCache.open(cache).list();
    expect(entry).toMatchObject({ name: "train", trackId: "child-run", encoding: "json", async: false });
  });

  it("two processes writing the same entries while a third reads: every read is a whole entry, no temp file is left", async () => {
    const dir = tmp();
    const cache = join(dir, "cache");
    const writer = (id: string) =>
      node(
        `import { FunctionCache } from "@quiver/core";
const c = FunctionCache.open(${JSON.stringify(cache)});
const big = "x".repeat(200000);
for (let i = 0; i < 300; i++) c.set("${"a".repeat(64)}", { name: "f", trackId: "${id}", async: false, args: "[]" }, { writer: "${id}", i, big });`,
        dir,
      );
    const reader = node(
      `import { FunctionCache } from "@quiver/core";
const c = FunctionCache.open(${JSON.stringify(cache)});
let hits = 0, bad = 0;
const end = Date.now() + 1500;
while (Date.now() < end) {
  const e = c.get("${"a".repeat(64)}");
  if (!e) continue;
  hits++;
  if (e.value.big.length !== 200000 || e.value.writer !== e.entry.trackId) bad++;
}
console.log(JSON.stringify({ hits, bad }));`,
      dir,
    );
    const [a, b, r] = await Promise.all([writer("w1"), writer("w2"), reader]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(r.code, r.stderr).toBe(0);
    const { hits, bad } = JSON.parse(r.stdout) as { hits: number; bad: number };
    expect(hits).toBeGreaterThan(0);
    expect(bad).toBe(0);
    expect(readdirSync(cache)).toEqual([`${"a".repeat(64)}.qcache`]);
    const last = FunctionCache.open(cache).get("a".repeat(64))!;
    expect(last.value).toMatchObject({ i: 299 });
  });

  it("bad keys and folders are coded errors; a result that cannot round-trip is returned, not cached, said once", async () => {
    const dir = tmp();
    expect(code(() => FunctionCache.open(join(dir, "missing"), { create: false }))).toBe("NOT_FOUND");
    writeFileSync(join(dir, "file"), "");
    expect(code(() => FunctionCache.open(join(dir, "file")))).toBe("INVALID_PATH");
    const c = FunctionCache.open(join(dir, "c"));
    expect(code(() => c.get("../../etc/passwd"))).toBe("INVALID_VALUE");
    expect(code(() => c.delete({}))).toBe("INVALID_VALUE");
    const errors: unknown[] = [];
    const t = await Tracker.open("memory:", { cache: join(dir, "c"), onError: (e) => errors.push(e), flushInterval: 0 });
    class Model {
      constructor(readonly w: number) {}
    }
    let calls = 0;
    function fit(w: number) {
      calls++;
      return new Model(w);
    }
    expect(t.track(fit, 1)).toBeInstanceOf(Model);
    expect(t.track(fit, 1)).toBeInstanceOf(Model);
    expect(calls).toBe(2);
    expect(errors.length).toBe(1);
    expect(String((errors[0] as Error).message)).toMatch(/not cached.*Model/);
    expect(c.list()).toEqual([]);
    await t.close();
  });
});

describe("git_commit_hash", () => {
  const git = (cwd: string, ...args: string[]) =>
    execFileSync("git", args, {
      cwd,
      encoding: "utf8",
      env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@x", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@x" },
    }).trim();

  it("is HEAD as git resolves it: a branch, packed refs, a detached HEAD, a worktree, a subfolder", async () => {
    const repo = join(tmp(), "repo");
    mkdirSync(join(repo, "src", "deep"), { recursive: true });
    git(repo, "init", "-q", "-b", "main");
    expect(code(() => gitCommitHash(repo))).toBe("NOT_FOUND"); // no commit yet
    writeFileSync(join(repo, "a.txt"), "1");
    git(repo, "add", ".");
    git(repo, "commit", "-qm", "one");
    expect(gitCommitHash(repo)).toBe(git(repo, "rev-parse", "HEAD"));
    expect(gitCommitHash(join(repo, "src", "deep"))).toBe(git(repo, "rev-parse", "HEAD"));
    writeFileSync(join(repo, "a.txt"), "2");
    git(repo, "commit", "-qam", "two");
    git(repo, "pack-refs", "--all"); // the branch now lives only in packed-refs
    expect(gitCommitHash(repo)).toBe(git(repo, "rev-parse", "HEAD"));
    const first = git(repo, "rev-parse", "HEAD~1");
    git(repo, "checkout", "-q", first);
    expect(gitCommitHash(repo)).toBe(first);
    git(repo, "checkout", "-q", "main");
    const wt = join(dirname(repo), "wt");
    git(repo, "worktree", "add", "-q", "-b", "side", wt, first);
    expect(gitCommitHash(wt)).toBe(first);
    expect(gitCommitHash(repo)).toBe(git(repo, "rev-parse", "HEAD"));
  });

  it("goes on every row of Tracker.open(uri, { gitRoot }); a folder outside any repository is NOT_FOUND at open", async () => {
    const repo = join(tmp(), "repo");
    mkdirSync(repo);
    git(repo, "init", "-q", "-b", "main");
    writeFileSync(join(repo, "a.txt"), "1");
    git(repo, "add", ".");
    git(repo, "commit", "-qm", "one");
    const store = new MemoryStore();
    const t = await Tracker.open(store, { gitRoot: repo, flushInterval: 0 });
    await t.log({ loss: 1 });
    t.track(function step(x: number) {
      return x;
    }, 2);
    await t.flush();
    const rows = await (await Reader.open(store)).toRows();
    expect(rows.map((r) => r.git_commit_hash)).toEqual([git(repo, "rev-parse", "HEAD"), git(repo, "rev-parse", "HEAD")]);
    await t.close();
    const outside = tmp();
    await expect(Tracker.open("memory:", { gitRoot: outside })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(Tracker.open("memory:", { gitRoot: join(outside, "nope") })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});

describe("config unpacking: parameter names from the function's source", () => {
  it("reads the names of declarations, expressions, arrows, async functions, methods and defaults", () => {
    expect(
      parameterNames(function f(a: number, b: string) {
        return a + b;
      }),
    ).toEqual(["a", "b"]);
    expect(parameterNames((config: unknown) => config)).toEqual(["config"]);
    expect(parameterNames(async (x: number, y = Math.max(1, 2), z = { a: [1, 2] }) => x + y + z.a.length)).toEqual(["x", "y", "z"]);
    const obj = {
      method(p: number, /* a comment, with a comma */ q: number) {
        return p + q;
      },
    };
    expect(parameterNames(obj.method)).toEqual(["p", "q"]);
    expect(parameterNames(({ a }: { a: number }, b: number) => a + b)).toEqual([undefined, "b"]);
    expect(parameterNames((...rest: number[]) => rest.length)).toEqual([undefined]);
    expect(parameterNames(Math.max)).toEqual([]);
    expect(parameterNames(((a: number) => a).bind(null))).toEqual([]);
    const single = new Function("cfg", "return cfg") as (cfg: unknown) => unknown;
    expect(parameterNames(single)).toEqual(["cfg"]);
  });

  it("unnamed parameters are arg<i>; Dates, arrays and tensors are not unpacked; unpack: false turns it off", async () => {
    const t = await Tracker.open("memory:", { flushInterval: 0 });
    t.track(
      ({ a }: { a: number }, cfg: { lr: number; when: Date; tags: string[] }, plain: number[]) => a + plain.length + cfg.lr,
      { a: 1 },
      { lr: 0.1, when: new Date(0), tags: ["x"] },
      [1],
    );
    expect(t.last).toMatchObject({ arg0_a: 1, cfg_lr: 0.1, cfg_when: new Date(0), cfg_tags: ["x"] });
    expect(Object.keys(t.last!).some((k) => k.startsWith("plain"))).toBe(false);
    const quiet = t.wrap((cfg: { lr: number }) => cfg.lr, { unpack: false, name: "quiet" });
    quiet({ lr: 1 });
    expect(t.last?.cfg_lr).toBeUndefined();
    await t.close();
  });

  it("assets are refused at log() with INVALID_VALUE, nothing of the row stored", async () => {
    const store = new MemoryStore();
    const t = await Tracker.open(store, { flushInterval: 0 });
    await expect(t.log({ a: 1, m: asset(() => 1) })).rejects.toMatchObject({ code: "INVALID_VALUE" });
    await t.flush();
    expect(await store.count("events")).toBe(0);
    expect(await store.schema("events_assets")).toBeUndefined();
    // A bad hash is refused even where there are no assets yet.
    const reader = await Reader.open(store);
    await expect(reader.removeAsset("not-a-hash")).rejects.toMatchObject({ code: "INVALID_VALUE" });
    expect(await reader.removeAsset("0".repeat(64))).toBe(false);
    await expect(t.removeAsset("../x")).rejects.toMatchObject({ code: "INVALID_VALUE" });
    await t.close();
  });
});
