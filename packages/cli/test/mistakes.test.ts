/**
 * A CLI that points at the mistake (issue 19): every check runs the built `quiver` binary as a
 * real child process against real stores in a temp folder.
 */
import "@quiver/store-duckdb";
import "@quiver/store-msgpack";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Reader, Session, Tracker } from "@quiver/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorOf, jsonLines, ok, quiver, seedH5AndDatasource, tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const cwd = tmp.dir;
const run = (args: string[], env?: Record<string, string>) => quiver(args, { cwd, env });
const okRun = (args: string[], env?: Record<string, string>) => ok(args, { cwd, env });

// Two runs share their first 8 characters, as ids may: the short ids must still tell them apart.
const IDS = ["7ae5edb1-215b-4dec-9060-d5f4d0e15aba", "7ae5edb1-99aa-4dec-9060-d5f4d0e15aba", "2ffcf7b0-1111-4000-8000-000000000001"];

beforeAll(async () => {
  for (const [i, [model, name]] of [
    ["mlp", "mlp"],
    ["mlp", "mlp"],
    ["cnn", "畳み込み🙂"],
  ].entries()) {
    const t = await Tracker.open(`duckdb:${join(cwd, "runs.db")}`, { trackId: IDS[i], params: { model, name } });
    for (let epoch = 1; epoch <= 10; epoch++)
      await t.log({ epoch, loss: (10 - epoch) / (i + 1), odd: epoch === 2 ? NaN : epoch === 3 ? Infinity : epoch === 4 ? -Infinity : epoch });
    await t.close();
  }
  const del = await Tracker.open(`duckdb:${join(cwd, "del.db")}`, { trackId: IDS[2] });
  await del.logBatch(Array.from({ length: 10 }, (_, epoch) => ({ epoch })));
  await del.close();
  const mp = await Tracker.open(`msgpack:${join(cwd, "mp")}`);
  await mp.log({ epoch: 1, loss: 1 });
  await mp.close();
  const s = await Session.open({ prefix: "robot/run-1", root: join(cwd, ".quiver") });
  const T0 = 1_714_564_800; // 2024-05-01T12:00:00Z
  await s.track("pose").appendBatch(Array.from({ length: 25_000 }, (_, i) => ({ _ts: T0 + i * 0.01, x: i === 17_000 ? 100 : Math.sin(i / 1000) })));
  await s.close();
  await seedH5AndDatasource(cwd);
});

describe("a lone store argument is a store", () => {
  it("plot/sql/delete/set name the missing argument, not duckdb:quiver.db", () => {
    for (const [args, missing] of [
      [["plot", "runs.db"], "missing Y (the column to plot) after the store runs.db"],
      [["sql", "runs.db"], "missing the SQL query after the store runs.db"],
      [["delete", "duckdb:runs.db"], "missing TRACK_ID after the store duckdb:runs.db"],
      [["set", "runs.db", "note"], "missing VALUE after the store runs.db"],
      [["plot", "msgpack:mp"], "missing Y"],
      [["plot", "./mp"], "missing Y"],
    ] as const) {
      const r = run([...args]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(errorOf(r).code).toBe("INVALID_VALUE");
      expect(errorOf(r).message).toContain(missing);
      expect(r.stderr).not.toContain("quiver.db");
    }
    // a column is still a column
    expect(okRun(["plot", "loss", "--store", "runs.db", "--width", "30", "--height", "5"])).toContain("━━");
  });
});

describe("did you mean", () => {
  it("suggests commands, options and store schemes", () => {
    const cmd = run(["haed", "runs.db"]);
    expect(cmd.code).toBe(2);
    expect(errorOf(cmd).message).toBe('unknown command "haed" (did you mean `head`?); run `quiver --help` for the list');
    expect(errorOf(run(["query"])).message).toContain("did you mean `ds query`?");
    expect(errorOf(run(["h5", "shwo"])).message).toContain("did you mean `h5 show`?");
    expect(errorOf(run(["frobnicate"])).message).toBe('unknown command "frobnicate"; run `quiver --help` for the list');
    const opt = run(["head", "runs.db", "--limt", "3"]);
    expect(opt.code).toBe(2);
    expect(errorOf(opt).message).toBe("unknown option --limt (did you mean --limit?); see `quiver head --help`");
    expect(errorOf(run(["tracks", "read", ".quiver", "robot/run-1", "pose", "--revrse"])).message).toContain("did you mean --reverse?");
    const scheme = run(["head", "dukdb:runs.db"]);
    expect(scheme.code).toBe(1);
    expect(errorOf(scheme)).toEqual({ code: "INVALID_URI", message: expect.stringContaining('unknown store scheme "dukdb:" in dukdb:runs.db (did you mean duckdb:runs.db?)') });
    expect(errorOf(run(["head", "msgpak:mp"])).message).toContain("did you mean msgpack:mp?");
  });

  it("-V, --version and version print the version", () => {
    for (const v of ["-V", "--version", "version"]) expect(okRun([v])).toMatch(/^quiver \d+\.\d+\.\d+\n$/);
  });
});

describe("one spelling for the row limit", () => {
  it("--limit / -n on head, tail, stats, tracks read and ds query (--n still read)", async () => {
    for (const c of ["head", "tail", "stats", "tracks read", "ds query"]) {
      const help = okRun([...c.split(" "), "--help"]);
      expect(help, c).toMatch(/-n, --limit LIMIT/);
      expect(help, c).not.toMatch(/--n\b/);
    }
    expect(jsonLines(okRun(["head", "runs.db", "--limit", "2", "--json"]))).toHaveLength(2);
    expect(jsonLines(okRun(["tail", "runs.db", "-n", "3", "--json"]))).toHaveLength(3);
    expect(jsonLines(okRun(["stats", "runs.db", "top", "loss", "--limit", "1", "--json"]))).toHaveLength(1);
    expect(jsonLines(okRun(["tracks", "read", ".quiver", "robot/run-1", "pose", "--limit", "4", "--json"]))).toHaveLength(5); // + summary
    expect(jsonLines(okRun(["ds", "query", "images", "size > 0", "--root", ".ds", "--limit", "1", "--json"]))).toHaveLength(1);
    expect(jsonLines(okRun(["head", "runs.db", "--n", "4", "--json"]))).toHaveLength(4);
  });
});

describe("run ids by unique prefix", () => {
  it("the short ids a chart prints are accepted back; ambiguous and unknown prefixes are refused", async () => {
    const chart = okRun(["plot", "runs.db", "loss", "--x", "epoch", "--by", "track_id", "--width", "40", "--height", "6"]);
    const shown = [...chart.matchAll(/━━ [a-z]: (\S+)/g)].map((m) => m[1]!);
    expect(shown).toEqual(["7ae5edb1-2", "7ae5edb1-9", "2ffcf7b0"]); // shortest unique prefixes, at least 8
    for (const [i, id] of shown.entries()) {
      const rows = jsonLines(okRun(["head", "runs.db", "--track-id", id, "--limit", "100", "--json"]));
      expect(rows).toHaveLength(10);
      expect(rows.every((r) => r.track_id === IDS[i])).toBe(true);
    }
    const amb = run(["head", "runs.db", "--track-id", "7ae5"]);
    expect(amb.code).toBe(1);
    expect(errorOf(amb)).toEqual({ code: "INVALID_VALUE", message: expect.stringContaining(`is the start of 2 runs (${IDS[0]}, ${IDS[1]}); give more of it`) });
    expect(errorOf(run(["head", "runs.db", "--track-id", "ffff"])).code).toBe("NOT_FOUND");
    expect(JSON.parse(okRun(["set", "del.db", "note", "x", "--track-id", "2ffc", "--json"]))).toEqual({ key: "note", value: "x", rows: 10, track_id: IDS[2], where: null });
    expect(okRun(["delete", "del.db", "2ffcf7b0"])).toBe(`deleted 10 rows of run ${IDS[2]}\n`);
    expect(errorOf(run(["delete", "del.db", "2ffcf7b0"])).code).toBe("NOT_FOUND");
    const reader = await Reader.open(`duckdb:${join(cwd, "del.db")}`);
    expect(await reader.runs()).toEqual([]);
    await reader.close();
  });
});

describe("charts never drop points", () => {
  it("tracks plot reads all 25,000 points (no 10,000 cap) and the spike shows", () => {
    expect(okRun(["tracks", "plot", ".quiver", "robot/run-1", "pose", "--out", "pose.svg"])).toBe("wrote pose.svg (1 line, 25000 points)\n");
    const term = okRun(["tracks", "plot", ".quiver", "robot/run-1", "pose", "--width", "50", "--height", "6"]).split("\n");
    expect(term[1]).toMatch(/^\s*100 ┤\s+[\u2801-\u28ff]+$/); // the spike at point 17,000 reaches the top row
  });

  it("plot --by draws one line per run, in its run's order, coloured by the --by value", () => {
    okRun(["plot", "runs.db", "loss", "--x", "epoch", "--by", "model", "--out", "by.svg"]);
    const svg = readSvg("by.svg");
    const lines = [...svg.matchAll(/<polyline fill="none" stroke="(#[0-9a-f]+)"[^>]*points="([^"]+)"><title>([^<]+)<\/title>/g)].map((m) => ({
      colour: m[1],
      name: m[3],
      pts: m[2]!.split(" ").map((p) => p.split(",").map(Number) as [number, number]),
    }));
    expect(lines.map((l) => l.name)).toEqual(["mlp 7ae5edb1-2", "mlp 7ae5edb1-9", "cnn"]);
    expect(lines[0]!.colour).toBe(lines[1]!.colour); // one --by value, one colour
    expect(lines[2]!.colour).not.toBe(lines[0]!.colour);
    for (const l of lines) {
      expect(l.pts).toHaveLength(10);
      // loss falls with epoch within a run: no sawtooth between runs
      for (let i = 1; i < l.pts.length; i++) {
        expect(l.pts[i]![0]).toBeGreaterThan(l.pts[i - 1]![0]);
        expect(l.pts[i]![1]).toBeGreaterThan(l.pts[i - 1]![1]);
      }
    }
    expect(svg).toContain(">mlp (2 runs)</text>");
  });

  it("plot --band adds each group's mean and a ±1 sd band", () => {
    okRun(["plot", "runs.db", "loss", "--x", "epoch", "--by", "model", "--band", "--out", "band.svg"]);
    const svg = readSvg("band.svg");
    expect(svg.match(/<polygon class="band"/g)).toHaveLength(2);
    const means = [...svg.matchAll(/<polyline class="mean"[^>]*points="([^"]+)"/g)].map((m) => m[1]!.split(" ").map((p) => p.split(",").map(Number)));
    expect(means.map((m) => m.length)).toEqual([10, 10]);
    // mlp's runs have loss (10 - epoch) and (10 - epoch) / 2: the mean line lies between them
    const runs = [...svg.matchAll(/<polyline fill="none"[^>]*points="([^"]+)"><title>mlp /g)].map((m) => m[1]!.split(" ").map((p) => Number(p.split(",")[1])));
    for (let i = 0; i < 9; i++) expect(means[0]![i]![1]).toBeCloseTo((runs[0]![i]! + runs[1]![i]!) / 2, 1);
    expect(svg).toContain("mlp (mean ± sd of 2 runs)");
    const term = okRun(["plot", "runs.db", "loss", "--x", "epoch", "--by", "model", "--band", "--width", "40", "--height", "8"]);
    expect(term).toContain("░");
    expect(term).toContain("mean ± sd of 2 runs");
  });

  it("PNG comes from a real rasterizer: the size asked, anti-aliased text", async () => {
    const { decodePng, greyLevels } = await import("./png.js");
    okRun(["plot", "runs.db", "loss", "--x", "epoch", "--by", "track_id", "--out", "runs.png", "--width", "500", "--height", "300"]);
    const png = decodePng(readFileSync(join(cwd, "runs.png")));
    expect([png.width, png.height]).toEqual([500, 300]);
    expect(greyLevels(png)).toBeGreaterThan(20);
  });
});

function readSvg(name: string): string {
  return readFileSync(join(cwd, name), "utf8");
}
