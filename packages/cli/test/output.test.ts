/**
 * What the CLI prints (issue 19): UTC times, datasource and HDF5 commands that say what to do,
 * NaN/±Infinity counts, one empty result, JSON arrays and counts, terminal widths. Every check
 * runs the built binary as a child process.
 */
import "@quiver/store-duckdb";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Session, Tracker } from "@quiver/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { displayWidth } from "../dist/index.js";
import { errorOf, jsonLines, ok, quiver, seedH5AndDatasource, tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const cwd = tmp.dir;
const NY = { TZ: "America/New_York" }; // a machine whose local time is not UTC
const run = (args: string[], env: Record<string, string> = NY) => quiver(args, { cwd, env });
const okRun = (args: string[], env: Record<string, string> = NY) => ok(args, { cwd, env });
const T0 = 1_714_564_800; // 2024-05-01T12:00:00Z

beforeAll(async () => {
  const t = await Tracker.open(`duckdb:${join(cwd, "runs.db")}`, { params: { name: "畳み込み🙂" } });
  for (const v of [1, 2, NaN, Infinity, -Infinity, -Infinity, 3]) await t.log({ v, label: "x" });
  await t.close();
  const s = await Session.open({ prefix: "robot/run-1", root: join(cwd, ".quiver") });
  await s.track("pose").appendBatch(Array.from({ length: 10 }, (_, i) => ({ _ts: T0 + i, x: i })));
  await s.close();
  await seedH5AndDatasource(cwd);
});

describe("time is UTC", () => {
  it("tables print UTC and say so, on a machine in another zone", () => {
    const table = okRun(["tracks", "read", ".quiver", "robot/run-1", "pose", "--limit", "1"]).split("\n");
    expect(table[0]).toMatch(/^index\s+time \(UTC\)\s+x$/);
    expect(table[2]).toMatch(/^\s+0\s+2024-05-01 12:00:00\.000\s+0$/);
    expect(okRun(["head", "runs.db", "--limit", "1"])).toMatch(/timestamp \(UTC\)/);
  });

  it("--start/--end and date() without a zone are UTC; with a zone, that zone", () => {
    const idx = (args: string[]) =>
      jsonLines(okRun(["tracks", "read", ".quiver", "robot/run-1", "pose", "--json", ...args]))
        .filter((r) => !("summary" in r))
        .map((r) => r.index);
    expect(idx(["--start", "2024-05-01T12:00:03", "--end", "2024-05-01 12:00:05"])).toEqual([3, 4]);
    expect(idx(["--start", String(T0 + 3), "--end", String(T0 + 5)])).toEqual([3, 4]);
    expect(idx(["--start", "2024-05-01T08:00:07-04:00"])).toEqual([7, 8, 9]);
    expect(idx(["--end", "2024-05-01"])).toEqual([]);
    // rows logged a moment ago; an hour ago in UTC wall-clock time, written without a zone
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString().slice(0, 19);
    expect(jsonLines(okRun(["head", "runs.db", "--json", "--limit", "100", "--where", `timestamp >= date('${hourAgo}')`]))).toHaveLength(7);
  });

  it("negative or unparseable times are INVALID_VALUE", () => {
    for (const bad of ["-5", "yesterday", "2024-02-31", "2024-13-01T00:00:00", "1969-12-31T23:59:59Z"]) {
      const r = run(["tracks", "read", ".quiver", "robot/run-1", "pose", "--start", bad]);
      expect(r.code, bad).toBe(1);
      expect(errorOf(r).code, bad).toBe("INVALID_VALUE");
      expect(errorOf(r).message, bad).toContain("--start");
    }
  });
});

describe("commands that say what to do", () => {
  it("ds upload keys by the path column its help names; another column is --path-column", () => {
    expect(okRun(["ds", "upload", "--help"])).toContain("column holding the datapoint path (default path)");
    // `path` is not the first column: the library's default (the first column) would key by label
    writeFileSync(join(cwd, "labels.csv"), "label,path\ncat,img/a.jpg\ndog,img/b.jpg\n");
    expect(JSON.parse(okRun(["ds", "upload", "images", "labels.csv", "--root", ".ds", "--json"]))).toEqual({ name: "images", file: "labels.csv", rows: 2 });
    const rows = jsonLines(okRun(["ds", "query", "images", "label = 'dog'", "--root", ".ds", "--json"]));
    expect(rows.map((r) => r.path)).toEqual(["img/b.jpg"]);
    writeFileSync(join(cwd, "files.csv"), "label,file\nbird,img/a.jpg\n");
    const wrong = run(["ds", "upload", "images", "files.csv", "--root", ".ds"]);
    expect(errorOf(wrong)).toEqual({
      code: "UNKNOWN_FIELD",
      message: 'files.csv has no column "path" (columns: label, file); name the column of datapoint paths with --path-column COL',
    });
    expect(okRun(["ds", "upload", "images", "files.csv", "--root", ".ds", "--path-column", "file"])).toBe("uploaded metadata from files.csv to images (1 rows)\n");
  });

  it("ds scan NAME of a datasource that does not exist says to pass --path DIR", () => {
    const r = run(["ds", "scan", "videos", "--root", ".ds"]);
    expect(r.code).toBe(1);
    expect(errorOf(r)).toEqual({
      code: "NOT_FOUND",
      message: expect.stringMatching(/no datasource "videos".*; to create it, pass the folder of its files: `quiver ds scan videos --path DIR`$/),
    });
  });

  it("columns on an H5Logger file lists its datasets", () => {
    expect(jsonLines(okRun(["columns", "camera.h5", "--json"]))).toEqual([
      { name: "exposure_ms", dtype: expect.stringMatching(/^(int|float)64$/), shape: [3], length: 3 },
      { name: "frame", dtype: "float32", shape: [1, 2, 2], length: 1 },
    ]);
    expect(okRun(["columns", "camera.h5"])).toMatch(/^frame\s+float32\s+\(1, 2, 2\)\s+1$/m);
  });

  it("stats describe counts NaN and ±Infinity apart and describes the finite values", () => {
    const [v] = jsonLines(okRun(["stats", "runs.db", "describe", "v", "--json"]));
    expect(v).toEqual({ column: "v", count: 7, nulls: 0, nan: 1, inf: 1, "-inf": 2, mean: 2, std: 1, min: 1, "25%": 1.5, "50%": 2, "75%": 2.5, max: 3 });
    const table = okRun(["stats", "runs.db", "describe", "v"]).split("\n");
    expect(table[0]).toMatch(/^column\s+count\s+nulls\s+nan\s+inf\s+-inf\s+mean/);
    expect(table[2]).toMatch(/^v\s+7\s+0\s+1\s+1\s+2\s+2\s/);
    // no such values: no such columns
    expect(okRun(["stats", "runs.db", "describe", "label"])).not.toMatch(/\bnan\b/);
  });
});

describe("output", () => {
  it("one way to print an empty result: (no rows), and nothing in JSON", () => {
    for (const args of [
      ["head", "runs.db", "--where", "label = 'none'"],
      ["tail", "runs.db", "--where", "label = 'none'"],
      ["stats", "runs.db", "top", "v", "--where", "label = 'none'"],
      ["plot", "runs.db", "v", "--where", "label = 'none'"],
      ["sql", "runs.db", "SELECT * FROM events WHERE label = 'none'"],
      ["tracks", "ls", "runs.db"],
    ]) {
      expect(okRun(args), args.join(" ")).toBe("(no rows)\n");
      if (args[0] !== "plot") expect(okRun([...args, "--json"]), args.join(" ")).toBe("");
    }
    expect(okRun(["ds", "query", "images", "size > 1000000", "--root", ".ds"])).toBe("(no rows)\n0 datapoints\n");
  });

  it("--json uses arrays and carries the counts the table shows", () => {
    expect(jsonLines(okRun(["tracks", "ls", ".quiver", "robot/run-1", "--json"]))[0]).toMatchObject({ track: "pose", points: 10, fields: ["x"] });
    expect(jsonLines(okRun(["ds", "ls", "--root", ".ds", "--json"]))[0]!.fields).toEqual(expect.arrayContaining(["size", "mtime"]));
    const read = okRun(["tracks", "read", ".quiver", "robot/run-1", "pose", "--limit", "3"]);
    expect(read.trimEnd().split("\n").pop()).toBe("3 of 10 points (more: raise --limit or narrow --start/--end)");
    expect(jsonLines(okRun(["tracks", "read", ".quiver", "robot/run-1", "pose", "--limit", "3", "--json"])).pop()).toEqual({ summary: { shown: 3, total: 10, more: true } });
    const show = okRun(["h5", "show", "camera.h5", "exposure_ms", "--slice", "1:"]);
    expect(show.trimEnd().split("\n").pop()).toMatch(/^entries 1\.\.3 of 3 \(/);
    expect(jsonLines(okRun(["h5", "show", "camera.h5", "exposure_ms", "--slice", "1:", "--json"])).pop()).toEqual({
      summary: { from: 1, to: 3, length: 3, dtype: expect.any(String), shape: [3] },
    });
  });

  it("string widths are measured as terminals do: CJK and emoji columns align", () => {
    const lines = okRun(["ls", "runs.db", "--unique", "name"]).trimEnd().split("\n");
    expect(lines[2]).toMatch(/^畳み込み🙂\s+7\s+1$/);
    expect(lines.map(displayWidth)).toEqual([lines[0]!, lines[0]!, lines[0]!].map(displayWidth));
    const head = okRun(["head", "runs.db", "--limit", "2", "--columns", "name,v"]).trimEnd().split("\n");
    expect(head[0]).toBe(`name${" ".repeat(8)}v`); // "畳み込み🙂" is 10 cells wide
    expect(head[2]).toBe("畳み込み🙂  1");
  });
});
