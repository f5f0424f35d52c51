/** xetrack's `xt` commands: copy of several tables with assets, set where/all, cache ls|delete, assets ls|export|delete. */
import "@quiver/store-duckdb";
import "@quiver/store-msgpack";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { deserialize } from "node:v8";
import { asset, FunctionCache, Reader, Tracker } from "@quiver/core";
import { afterAll, describe, expect, it } from "vitest";
import { errorOf, inproc, jsonLines, ok, okIn, quiver } from "./helpers.js";
import { tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Two tables (predictions, metrics) with assets, in a store at `uri`. */
async function seed(uri: string): Promise<{ model: string; blob: string; predictions: string }> {
  const p = await Tracker.open(uri, { table: "predictions", params: { model: "lr" } });
  for (let i = 0; i < 4; i++) await p.log({ i, y: i % 2 });
  const m = await Tracker.open(uri, { table: "metrics" });
  const row = await m.log({ accuracy: 0.9, weights: asset({ w: [1, 2, 3] }), scaler: asset(new Map([["mean", 0.5]])) });
  const raw = await m.log({ accuracy: 0.91, blob: asset(new Uint8Array([7, 8, 9])) });
  await p.close();
  await m.close();
  return { model: row.weights as string, blob: raw.blob as string, predictions: p.trackId };
}

describe.each(["duckdb", "msgpack"])("xetrack commands on %s:", (scheme) => {
  const uri = scheme === "duckdb" ? `duckdb:${join(tmp.dir, "src.db")}` : `msgpack:${join(tmp.dir, "src")}`;

  it("copy --table A --table B copies both tables with their assets; --no-assets leaves them; a missing table copies nothing", async () => {
    const s = await seed(uri);
    const dst = `duckdb:${join(tmp.dir, `${scheme}-dst.db`)}`;
    const out = ok(["copy", uri, dst, "--table", "predictions", "--table", "metrics"]);
    expect(out).toBe(
      `copied 4 new rows of predictions from ${uri} to ${dst} (0 already there)\ncopied 2 new rows of metrics from ${uri} to ${dst} (0 already there), and 3 assets\n`,
    );
    const again = jsonLines(ok(["copy", uri, dst, "--table", "predictions", "--table", "metrics", "--json"]));
    expect(again.map((r) => [r.table, r.added, r.already_there, r.assets])).toEqual([
      ["predictions", 0, 4, 0],
      ["metrics", 0, 2, 0],
    ]);
    const r = await Reader.open(dst, { table: "metrics" });
    expect(await r.getAsset(s.model)).toEqual({ w: [1, 2, 3] });
    await r.close();
    const bare = `duckdb:${join(tmp.dir, `${scheme}-bare.db`)}`;
    ok(["copy", uri, bare, "--table", "metrics", "--no-assets"]);
    expect(jsonLines(ok(["assets", "ls", bare, "--table", "metrics", "--json"]))).toEqual([]);
    // A misspelt table: refused before anything is written, the first table included.
    const none = `duckdb:${join(tmp.dir, `${scheme}-none.db`)}`;
    const bad = quiver(["copy", uri, none, "--table", "predictions", "--table", "metrix"]);
    expect(errorOf(bad).code).toBe("NOT_FOUND");
    expect(existsSync(join(tmp.dir, `${scheme}-none.db`))).toBe(false);
  });

  it("an option the command takes once, given twice, is a usage error rather than a silent drop", async () => {
    const r = await inproc(["head", uri, "--table", "predictions", "--table", "metrics"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--table was given twice \("predictions", "metrics"\)/);
    expect(await okIn(["head", uri, "--table", "metrics", "--table", "metrics", "--json"])).toContain("accuracy");
  });

  it("set KEY VALUE --where-key K --where-value V, with --track-id, and --all", async () => {
    const reader = await Reader.open(uri, { table: "predictions" });
    const id = (await reader.runs())[0]!.track_id;
    await reader.close();
    expect(ok(["set", uri, "label", "odd", "--table", "predictions", "--where-key", "y", "--where-value", "1"])).toBe("set label = odd on 2 rows where y = 1\n");
    expect(await okIn(["set", uri, "checked", "true", "--table", "predictions", "--where-key", "i", "--where-value", "0", "--track-id", id.slice(0, 8)])).toBe(
      `set checked = true on 1 row of run ${id} where y = 0\n`.replace("where y = 0", "where i = 0"),
    );
    expect(await okIn(["set", uri, "dataset", "iris", "--table", "predictions", "--all"])).toBe("set dataset = iris on 4 rows (all rows)\n");
    const rows = jsonLines(await okIn(["head", uri, "--table", "predictions", "--limit", "10", "--json"]));
    expect(rows.map((r) => [r.i, r.label ?? null, r.checked ?? null, r.dataset])).toEqual([
      [0, null, true, "iris"],
      [1, "odd", null, "iris"],
      [2, null, null, "iris"],
      [3, "odd", null, "iris"],
    ]);
    const lonely = await inproc(["set", uri, "x", "1", "--table", "predictions", "--where-key", "y"]);
    expect(lonely.code).toBe(2);
    expect(lonely.stderr).toMatch(/--where-key and --where-value go together/);
    const both = await inproc(["set", uri, "x", "1", "--table", "predictions", "--all", "--track-id", id]);
    expect(both.code).toBe(2);
    const mismatch = await inproc(["set", uri, "i", "text", "--table", "predictions", "--all"]);
    expect(errorOf(mismatch).code).toBe("SCHEMA_MISMATCH");
    expect(jsonLines(await okIn(["head", uri, "--table", "predictions", "--json"])).map((r) => r.i)).toEqual([0, 1, 2, 3]);
  });

  it("assets ls, export (the stored bytes, never over a file) and delete", async () => {
    const listed = jsonLines(ok(["assets", "ls", uri, "--table", "metrics", "--json"]));
    expect(listed.map((a) => a.encoding).sort()).toEqual(["bytes", "json", "v8"]);
    const byEnc = Object.fromEntries(listed.map((a) => [a.encoding, a.hash as string]));
    const raw = join(tmp.dir, `${scheme}-blob.bin`);
    expect(ok(["assets", "export", uri, byEnc.bytes!, raw, "--table", "metrics"])).toBe(`wrote asset ${byEnc.bytes} (bytes, 3 bytes) to ${raw}\n`);
    expect([...readFileSync(raw)]).toEqual([7, 8, 9]);
    const json = join(tmp.dir, `${scheme}-model.json`);
    ok(["assets", "export", uri, byEnc.json!, json, "--table", "metrics"]);
    expect(JSON.parse(readFileSync(json, "utf8"))).toEqual({ w: [1, 2, 3] });
    const v8file = join(tmp.dir, `${scheme}-scaler.v8`);
    ok(["assets", "export", uri, byEnc.v8!, v8file, "--table", "metrics"]);
    expect(deserialize(readFileSync(v8file))).toEqual(new Map([["mean", 0.5]]));
    writeFileSync(join(tmp.dir, "taken"), "mine");
    expect(errorOf(quiver(["assets", "export", uri, byEnc.bytes!, join(tmp.dir, "taken"), "--table", "metrics"])).code).toBe("INVALID_PATH");
    expect(readFileSync(join(tmp.dir, "taken"), "utf8")).toBe("mine");
    expect(errorOf(quiver(["assets", "export", uri, "0".repeat(64), join(tmp.dir, "x"), "--table", "metrics"])).code).toBe("NOT_FOUND");
    expect(errorOf(quiver(["assets", "export", uri, "not-a-hash", join(tmp.dir, "x"), "--table", "metrics"])).code).toBe("INVALID_VALUE");
    expect(ok(["assets", "delete", uri, byEnc.bytes!, "--table", "metrics"])).toBe(`deleted asset ${byEnc.bytes}\n`);
    expect(errorOf(quiver(["assets", "delete", uri, byEnc.bytes!, "--table", "metrics"])).code).toBe("NOT_FOUND");
    expect(jsonLines(ok(["assets", "ls", uri, "--table", "metrics", "--json"]))).toHaveLength(2);
    // Rows keep the hash they logged.
    expect(jsonLines(ok(["head", uri, "--table", "metrics", "--json"]))[1]!.blob).toBe(byEnc.bytes);
  });
});

describe("assets from two processes at once", () => {
  it("the same asset logged by two writer processes reads back once, exactly", async () => {
    const file = join(tmp.dir, "shared.db");
    const core = fileURLToPath(new URL("../../core/dist/index.js", import.meta.url));
    const duck = fileURLToPath(new URL("../../store-duckdb/dist/index.js", import.meta.url));
    const script = join(tmp.dir, "asset-writer.mjs");
    writeFileSync(
      script,
      `import { Tracker, asset } from ${JSON.stringify(core)};
import ${JSON.stringify(duck)};
const t = await Tracker.open(${JSON.stringify(`duckdb:${file}`)}, { table: "models" });
for (let i = 0; i < 20; i++) await t.log({ i, who: process.argv[2], model: asset({ layers: [64, 32], seed: 7 }), mine: asset(process.argv[2]) });
await t.close();`,
    );
    const run = (who: string) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, [script, who], { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        c.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        c.on("close", (code) => resolve({ code, stderr }));
      });
    const [a, b] = await Promise.all([run("a"), run("b")]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const assets = jsonLines(ok(["assets", "ls", file, "--table", "models", "--json"]));
    expect(assets).toHaveLength(3); // the shared model once, and each writer's own
    const rows = jsonLines(ok(["head", file, "--table", "models", "--limit", "100", "--json"]));
    expect(rows).toHaveLength(40);
    expect(new Set(rows.map((r) => r.model)).size).toBe(1);
    const r = await Reader.open(`duckdb:${file}`, { table: "models" });
    expect(await r.getAsset(rows[0]!.model as string)).toEqual({ layers: [64, 32], seed: 7 });
    await r.close();
  });
});

describe("a fresh Tracker's table", () => {
  it("exists before the first row: another process's SQL, columns and ls see it", async () => {
    const file = join(tmp.dir, "fresh.db");
    const t = await Tracker.open(`duckdb:${file}`, { params: { model: "resnet18", lr: 0.1 } });
    await t.close();
    expect(jsonLines(ok(["columns", file, "--json"])).map((c) => c.column)).toEqual(["timestamp", "track_id", "model", "lr"]);
    expect(ok(["sql", file, "SELECT count(*) AS n FROM events", "--json"])).toBe('{"n":0}\n');
    expect(ok(["ls", file, "--json"])).toBe("");
  });
});

describe("cache ls|delete", () => {
  it("lists the entries a run computed and deletes by run, key, function or all", async () => {
    const dir = join(tmp.dir, "cache");
    const a = await Tracker.open("memory:", { cache: dir, trackId: "run-a" });
    const b = await Tracker.open("memory:", { cache: dir, trackId: "run-b" });
    const square = (x: number) => x * x;
    const cube = (x: number) => x ** 3;
    a.track(square, 2);
    a.track(square, 3);
    b.track(cube, 2);
    await a.close();
    await b.close();
    const entries = jsonLines(ok(["cache", "ls", dir, "--json"]));
    expect(entries.map((e) => [e.name, e.track_id, e.encoding])).toEqual([
      ["square", "run-a", "json"],
      ["square", "run-a", "json"],
      ["cube", "run-b", "json"],
    ]);
    expect(entries[0]!.args).toBe("[2]");
    const table = ok(["cache", "ls", dir]).split("\n");
    expect(table[0]).toMatch(/^key\s+name\s+track_id\s+created \(UTC\)\s+encoding\s+size\s+args$/);
    expect(jsonLines(ok(["cache", "ls", dir, "--track-id", "run-b", "--json"]))).toHaveLength(1);
    expect(ok(["cache", "delete", dir, "--key", entries[1]!.key as string])).toBe(`deleted 1 cache entry from ${dir}\n`);
    expect(ok(["cache", "delete", dir, "run-a"])).toBe(`deleted 1 cache entry from ${dir}\n`);
    expect(JSON.parse(ok(["cache", "delete", dir, "--name", "cube", "--json"]))).toEqual({ deleted: 1 });
    expect(FunctionCache.open(dir).list()).toEqual([]);
    const what = quiver(["cache", "delete", dir]);
    expect(what.code).toBe(2);
    expect(errorOf(what).message).toMatch(/say what to delete/);
    expect(errorOf(quiver(["cache", "ls", join(tmp.dir, "no-cache")])).code).toBe("NOT_FOUND");
    expect(existsSync(join(tmp.dir, "no-cache"))).toBe(false);
    expect(errorOf(quiver(["cache", "delete", dir, "--key", "../x"])).code).toBe("INVALID_VALUE");
  });
});
