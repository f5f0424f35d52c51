import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { RecordBatch } from "apache-arrow";
import {
  and,
  field,
  MemoryStore,
  not,
  openStore,
  parseStoreUri,
  Query,
  queryFromJSON,
  queryToJSON,
  QuiverError,
  readRows,
  registerStore,
  rowsToBatch,
  type Store,
  teeStore,
  Tracker,
  Session,
} from "../dist/index.js";

const codeOf = async (p: Promise<unknown> | (() => unknown)): Promise<string | undefined> => {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(QuiverError);
    return (e as QuiverError).code;
  }
  return undefined;
};

describe("Query", () => {
  it("is a plain serialisable tree; Dates and bigints survive JSON", () => {
    const q = field("episode")
      .gt(5)
      .or(field("episode").eq(0).and(field("has_baby_yoda").eq(true)), not(field("t").lt(new Date(5))), field("b").in([1n, 2]));
    const json = JSON.parse(JSON.stringify(q));
    expect(queryFromJSON(json)).toEqual(q.node);
    expect(Query.fromJSON(queryToJSON(q.node)).node).toEqual(q.node);
    expect(structuredClone(q.node)).toEqual(q.node);
    expect(and(field("a").eq(1)).node).toEqual({ op: "eq", field: "a", value: 1 });
  });

  it("only compares primitives: anything else is INVALID_QUERY", async () => {
    expect(await codeOf(() => field("a").eq({} as never))).toBe("INVALID_QUERY");
    expect(await codeOf(() => field("a").eq([1] as never))).toBe("INVALID_QUERY");
    expect(await codeOf(() => field("a").in([null] as never))).toBe("INVALID_QUERY");
    expect(await codeOf(() => field("a").eq(new Date("x")))).toBe("INVALID_QUERY");
    expect(await codeOf(() => queryFromJSON({ op: "drop table" }))).toBe("INVALID_QUERY");
    expect(await codeOf(() => field(""))).toBe("INVALID_QUERY");
  });
});

describe("store registry", () => {
  it("parses URIs, rejects malformed ones and unknown schemes with actionable codes", async () => {
    expect(parseStoreUri("duckdb::memory:")).toEqual({ scheme: "duckdb", location: ":memory:" });
    expect(parseStoreUri("msgpack:./.quiver")).toEqual({ scheme: "msgpack", location: "./.quiver" });
    expect(await codeOf(openStore("no-scheme-here"))).toBe("INVALID_URI");
    expect(await codeOf(openStore("C:\\\\runs.db"))).toBe("INVALID_URI");
    expect(await codeOf(openStore(42 as unknown as string))).toBe("INVALID_URI");
    let msg = "";
    try {
      await openStore("nosuchstore:x");
    } catch (e) {
      msg = (e as Error).message;
      expect((e as QuiverError).code).toBe("STORE_NOT_INSTALLED");
    }
    expect(msg).toContain("@quiver/store-nosuchstore");
  });

  it("uses QUIVER_STORE when no URI is given, and registered plugins first", async () => {
    const prev = process.env.QUIVER_STORE;
    process.env.QUIVER_STORE = "memory:from-env";
    try {
      const s = await openStore();
      expect(s.uri).toBe("memory:from-env");
      const t = await Tracker.open(undefined, { flushInterval: 0 });
      await t.log({ a: 1 });
      await t.close();
      expect(await (await openStore("memory:from-env")).count("events")).toBe(1);
    } finally {
      if (prev === undefined) delete process.env.QUIVER_STORE;
      else process.env.QUIVER_STORE = prev;
    }
    registerStore({ scheme: "mine", open: async (loc) => new MemoryStore(`mine-${loc}`) });
    expect((await openStore("mine:x")).uri).toBe("memory:mine-x");
    expect(await codeOf(() => registerStore({ scheme: "Bad Scheme", open: async () => new MemoryStore() }))).toBe("INVALID_VALUE");
  });

  it("lazily imports @quiver/store-<scheme> from the app's working directory", () => {
    // An app folder with its own node_modules holding core and a third-party store package.
    const app = mkdtempSync(join(tmpdir(), "quiver-app-"));
    const core = resolve(dirname(fileURLToPath(import.meta.url)), "..");
    mkdirSync(join(app, "node_modules/@quiver/store-fake"), { recursive: true });
    symlinkSync(core, join(app, "node_modules/@quiver/core"));
    writeFileSync(join(app, "node_modules/@quiver/store-fake/package.json"), JSON.stringify({ name: "@quiver/store-fake", type: "module", exports: { ".": "./index.js" } }));
    writeFileSync(
      join(app, "node_modules/@quiver/store-fake/index.js"),
      `import { MemoryStore } from "@quiver/core";\nexport default { scheme: "fake", open: async (loc) => new MemoryStore("fake-" + loc) };\n`,
    );
    writeFileSync(
      join(app, "main.mjs"),
      `import { openStore } from ${JSON.stringify(join(core, "dist/index.js"))};\nconst s = await openStore("fake:abc");\nconsole.log(s.uri);\n`,
    );
    const env = { ...process.env, NODE_PATH: "" }; // pnpm/vitest set NODE_PATH to their own store
    const r = spawnSync(process.execPath, ["main.mjs"], { cwd: app, encoding: "utf8", env });
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("memory:fake-abc");
    // Started from elsewhere: found next to the entry script.
    const elsewhere = mkdtempSync(join(tmpdir(), "quiver-cwd-"));
    const r2 = spawnSync(process.execPath, [join(app, "main.mjs")], { cwd: elsewhere, encoding: "utf8", env });
    expect(r2.stderr).toBe("");
    expect(r2.stdout.trim()).toBe("memory:fake-abc");
    // Not installed anywhere: STORE_NOT_INSTALLED naming the package.
    writeFileSync(
      join(app, "missing.mjs"),
      `import { openStore } from ${JSON.stringify(join(core, "dist/index.js"))};\ntry { await openStore("ghost:x"); } catch (e) { console.log(e.code, e.message); }\n`,
    );
    const r3 = spawnSync(process.execPath, ["missing.mjs"], { cwd: app, encoding: "utf8", env });
    expect(r3.stdout).toContain("STORE_NOT_INSTALLED");
    expect(r3.stdout).toContain("@quiver/store-ghost");
  });
});

/** A store whose appends fail until `healthy` is set: a disk that is full for a while. */
function flakyStore(): Store & { healthy: boolean; attempts: number } {
  const inner = new MemoryStore();
  const s = Object.create(inner) as Store & { healthy: boolean; attempts: number };
  s.healthy = false;
  s.attempts = 0;
  s.append = async (table, batch, opts) => {
    s.attempts++;
    if (!s.healthy) throw new Error("disk full");
    return inner.append(table, batch, opts);
  };
  return s;
}

describe("logging never kills training", () => {
  it("reports background flush failures instead of throwing, and loses nothing acknowledged", async () => {
    const store = flakyStore();
    const errors: unknown[] = [];
    const t = await Tracker.open(store, { flushInterval: 20, batchSize: 10, onError: (e) => errors.push(e) });
    for (let i = 0; i < 55; i++) await t.log({ i }); // keeps working while the store fails
    await new Promise((r) => setTimeout(r, 100));
    expect(errors.length).toBeGreaterThan(0);
    expect(String((errors[0] as Error).message)).toContain("disk full");
    await expect(t.flush()).rejects.toThrow("disk full"); // an explicit flush tells the truth
    store.healthy = true;
    await t.flush();
    expect((await t.column("i")).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 55 }, (_, i) => i));
    await t.close();
  });

  it("keeps Session points when a background flush fails", async () => {
    const store = flakyStore();
    const errors: unknown[] = [];
    const s = await Session.open({ prefix: "p", store, flushInterval: 20, onError: (e) => errors.push(e) });
    for (let i = 0; i < 30; i++) s.track("loss").append({ v: i, _ts: i });
    await new Promise((r) => setTimeout(r, 100));
    expect(errors.length).toBeGreaterThan(0);
    store.healthy = true;
    expect((await s.track("loss").read()).total).toBe(30);
    await s.close();
  });
});

describe("teeStore", () => {
  it("writes to every store and reads from the first; a bad batch lands nowhere", async () => {
    const a = new MemoryStore();
    const b = new MemoryStore();
    const tee = teeStore(a, b);
    const t = await Tracker.open(tee, { flushInterval: 0 });
    await t.logBatch([{ x: 1 }, { x: 2 }]);
    expect(await a.count("events")).toBe(2);
    expect(await b.count("events")).toBe(2);
    await expect(tee.append("events", rowsToBatch([{ x: "str" }]))).rejects.toThrow(/SCHEMA_MISMATCH|holds/);
    expect(await b.count("events")).toBe(2);
    expect(await t.setValue("tag", "v")).toBe(2);
    expect((await readRows(b, "events")).map((r) => r.tag)).toEqual(["v", "v"]);
    await t.close();
  });
});

describe("teeStore mirrors", () => {
  /** A memory store whose appends take a while (a disk or a server). */
  class SlowStore extends MemoryStore {
    appends = 0;
    override async append(table: string, batch: RecordBatch): Promise<void> {
      this.appends++;
      await new Promise((r) => setTimeout(r, 5));
      return super.append(table, batch);
    }
  }

  it("appends racing through a tee (a session's tracks flushing at once) reach a slow mirror once each", async () => {
    const a = new MemoryStore();
    const b = new SlowStore();
    const tee = teeStore(a, b);
    await Promise.all(Array.from({ length: 6 }, (_, i) => tee.append("t", rowsToBatch([{ i }]))));
    expect(b.appends).toBe(6);
    expect((await readRows(b, "t")).map((r) => r.i).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    await tee.close();
  });
});
