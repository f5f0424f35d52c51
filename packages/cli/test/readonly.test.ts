/**
 * Reading never writes: read-only commands, run as real child processes of the built binary,
 * leave the folder byte-for-byte as it was (no new file or folder, no changed byte), and a
 * missing thing is `quiver: NOT_FOUND: …` with exit code 1.
 */
import "@quiver/store-duckdb";
import "@quiver/store-msgpack";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { Session, Tracker } from "@quiver/core";
import { Datasource } from "@quiver/datasource";
import { H5Logger } from "@quiver/store-h5";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorOf, quiver, tempDir } from "./helpers.js";

/** Every file and folder under dir: relative path → "dir" or the sha256 of its bytes. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        out[relative(dir, p)] = "dir";
        walk(p);
      } else out[relative(dir, p)] = createHash("sha256").update(readFileSync(p)).digest("hex");
    }
  };
  walk(dir);
  return out;
}

/** Runs the command in `cwd` and checks that nothing under `cwd` changed. */
function unchanged(cwd: string, args: string[]): ReturnType<typeof quiver> {
  const before = tree(cwd);
  const r = quiver(args, { cwd });
  expect(tree(cwd), `quiver ${args.join(" ")} changed the folder (exit ${r.code}: ${r.stderr})`).toEqual(before);
  return r;
}

function notFound(r: ReturnType<typeof quiver>, message: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  const e = errorOf(r);
  expect(e.code).toBe("NOT_FOUND");
  expect(e.message).toMatch(message);
}

describe("read-only commands on an empty folder create nothing", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it("ds ls, ds ls --root X, ds query, a failed ds scan --path, tracks read, head", () => {
    const cwd = tmp.dir;
    notFound(unchanged(cwd, ["ds", "ls"]), /no datasource root .*\.quiver/);
    notFound(unchanged(cwd, ["ds", "ls", "--root", "X"]), /no datasource root .*X/);
    notFound(unchanged(cwd, ["ds", "ls", "--root", "X", "--json"]), /X/);
    notFound(unchanged(cwd, ["ds", "query", "images", "episode > 1", "--root", "X"]), /no datasource "images"/);
    notFound(unchanged(cwd, ["ds", "export", "images", "--csv", "out.csv", "--root", "X"]), /no datasource "images"/);
    notFound(unchanged(cwd, ["ds", "scan", "images", "--path", "nope"]), /nope: no such folder/);
    notFound(unchanged(cwd, ["ds", "scan", "images", "--path", "nope", "--root", "X"]), /nothing was created/);
    notFound(unchanged(cwd, ["ds", "scan", "images", "--root", "X"]), /no datasource "images"/);
    notFound(unchanged(cwd, ["tracks", "read", ".quiver", "robot/run-1", "pose"]), /\.quiver: no such folder/);
    notFound(unchanged(cwd, ["tracks", "ls", "tracks.db"]), /no such file/);
    notFound(unchanged(cwd, ["head", "missing.db"]), /missing\.db: no such file/);
    notFound(unchanged(cwd, ["head", "msgpack:missing"]), /missing/);
    notFound(unchanged(cwd, ["columns", "missing.db"]), /no such file/);
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe("read-only commands on existing data change no byte", () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const cwd = tmp.dir;
  const T0 = 1_714_564_800;

  beforeAll(async () => {
    mkdirSync(join(cwd, "data", "images"), { recursive: true });
    for (const n of ["000", "005", "006"]) writeFileSync(join(cwd, "data", "images", `${n}.jpg`), `image ${n}`);
    const ds = await Datasource.getOrCreate({ name: "images", path: join(cwd, "data"), root: join(cwd, ".ds") });
    await ds.scan();
    await ds.updateMetadata("images/005.jpg", { episode: 5 });
    await ds.updateMetadata("images/005.jpg", { episode: 6 }); // an update: the SQL engine's table mode
    await ds.close();
    const session = await Session.open({ prefix: "robot/run-1", root: join(cwd, ".quiver") });
    await session.track("pose").appendBatch([
      { _ts: T0, x: 1 },
      { _ts: T0 + 1, x: 2 },
    ]);
    await session.close();
    const logger = await H5Logger.open(join(cwd, "log.h5"), { replaceIfExists: true });
    for (let i = 0; i < 5; i++) logger.log("number", i);
    await logger.close();
    for (const uri of [`duckdb:${join(cwd, "runs.db")}`, `msgpack:${join(cwd, "runs")}`]) {
      const t = await Tracker.open(uri);
      await t.log({ epoch: 1, loss: 0.5 });
      await t.close();
    }
  });

  it("ds ls, query and export of a stale datasource read without materialising or locking", () => {
    const r = unchanged(cwd, ["ds", "ls", "--root", ".ds", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('"name":"images"');
    const q = unchanged(cwd, ["ds", "query", "images", "episode > 1", "--root", ".ds", "--json"]);
    expect(q.code, q.stderr).toBe(0);
    expect(JSON.parse(q.stdout.trim())).toMatchObject({ path: "images/005.jpg", episode: 6 });
    const out = tempDir(); // the export's own file goes elsewhere: the datasource's folder stays as it was
    try {
      const e = unchanged(cwd, ["ds", "export", "images", "--csv", join(out.dir, "x.csv"), "--root", ".ds"]);
      expect(e.code, e.stderr).toBe(0);
      expect(readFileSync(join(out.dir, "x.csv"), "utf8")).toContain("images/005.jpg");
    } finally {
      out.cleanup();
    }
    notFound(unchanged(cwd, ["ds", "query", "other", "episode > 1", "--root", ".ds"]), /no datasource "other".*existing: images/);
    notFound(unchanged(cwd, ["ds", "scan", "other", "--path", "nope", "--root", ".ds"]), /no such folder/);
  });

  it("tracks ls/read of a session, and of a missing session or track", () => {
    const r = unchanged(cwd, ["tracks", "read", ".quiver", "robot/run-1", "pose", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(3); // 2 points and the summary line
    notFound(unchanged(cwd, ["tracks", "read", ".quiver", "robot/run-9", "pose"]), /no session "robot\/run-9"/);
    notFound(unchanged(cwd, ["tracks", "read", ".quiver", "robot/run-1", "nope"]), /no track "nope"/);
    expect(unchanged(cwd, ["tracks", "ls", ".quiver"]).code).toBe(0);
  });

  it("head, tail, ls, columns and stats of duckdb and msgpack runs", () => {
    for (const uri of ["duckdb:runs.db", "msgpack:runs"]) {
      for (const args of [
        ["head", uri],
        ["tail", uri],
        ["ls", uri],
        ["columns", uri],
        ["stats", uri, "describe", "loss"],
      ]) {
        const r = unchanged(cwd, args);
        expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(0);
      }
      notFound(unchanged(cwd, ["head", uri, "--table", "nope"]), /no table "nope"/);
    }
    expect(statSync(join(cwd, "runs.db")).isFile()).toBe(true);
  });

  it("h5 ls and show of an H5Logger file, and of a missing dataset or file", () => {
    expect(unchanged(cwd, ["h5", "ls", "log.h5"]).code).toBe(0);
    expect(unchanged(cwd, ["h5", "show", "log.h5", "number"]).code).toBe(0);
    notFound(unchanged(cwd, ["h5", "show", "log.h5", "nope"]), /no dataset "nope"/);
    notFound(unchanged(cwd, ["h5", "ls", "missing.h5"]), /no such file/);
  });
});
