/** `quiver` run commands against real duckdb and msgpack stores, through the built binary. */
import "@quiver/store-duckdb";
import "@quiver/store-msgpack";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Reader, Tracker } from "@quiver/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorOf, inproc, jsonLines, ok, okIn, quiver, tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

interface Fixture {
  uri: string;
  runs: string[];
}

/** Two runs of 10 epochs each, plus a third run with another model. */
async function logRuns(uri: string): Promise<Fixture> {
  const runs: string[] = [];
  for (const [model, lr] of [
    ["mlp", 0.1],
    ["mlp", 0.01],
    ["cnn", 0.05],
  ] as const) {
    const t = await Tracker.open(uri, { params: { model, lr } });
    for (let epoch = 1; epoch <= 10; epoch++) await t.log({ epoch, loss: 1 / (epoch * lr * 10), accuracy: 1 - 1 / (epoch * lr * 10 + 1) });
    runs.push(t.trackId);
    await t.close();
  }
  return { uri, runs };
}

for (const scheme of ["duckdb", "msgpack"] as const) {
  describe(`runs on ${scheme}:`, () => {
    let fx: Fixture;
    beforeAll(async () => {
      fx = await logRuns(scheme === "duckdb" ? `duckdb:${join(tmp.dir, "runs.db")}` : `msgpack:${join(tmp.dir, "mp")}`);
    });

    it("head and tail print aligned tables and JSON lines", async () => {
      const table = ok(["head", fx.uri, "--n", "3"]).trimEnd().split("\n");
      expect(table).toHaveLength(5); // header, rule, 3 rows
      // The table is created on open (xetrack's order: timestamp, track_id, params), logged columns follow.
      expect(table[0]).toMatch(/^timestamp \(UTC\)\s+track_id\s+model\s+lr\s+epoch\s+loss\s+accuracy$/);
      expect(table[2]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\s+[0-9a-f-]{36}\s+mlp\s+0\.1\s+1\s+1\s+0\.5$/);
      const head = jsonLines(ok(["head", fx.uri, "--limit", "2", "--json"]));
      expect(head.map((r) => r.epoch)).toEqual([1, 2]);
      expect(head[0]).toMatchObject({ model: "mlp", lr: 0.1, track_id: fx.runs[0] });
      expect(typeof head[0]!.timestamp).toBe("string");
      expect(new Date(head[0]!.timestamp as string).getTime()).toBeGreaterThan(Date.UTC(2020, 0));
      const tail = jsonLines(await okIn(["tail", fx.uri, "--n", "2", "--json"]));
      expect(tail.map((r) => [r.model, r.epoch])).toEqual([
        ["cnn", 9],
        ["cnn", 10],
      ]);
      const run2 = jsonLines(await okIn(["tail", fx.uri, "--n", "1", "--json", "--track-id", fx.runs[1]!, "--columns", "epoch,lr"]));
      expect(run2).toEqual([{ epoch: 10, lr: 0.01 }]);
      const filtered = jsonLines(await okIn(["head", fx.uri, "--n", "100", "--json", "--where", "model = 'cnn' and epoch >= 9"]));
      expect(filtered.map((r) => r.epoch)).toEqual([9, 10]);
      const recent = jsonLines(await okIn(["head", fx.uri, "--n", "100", "--json", "--where", "timestamp >= date('2020-01-01') and timestamp < date('2999-01-01')"]));
      expect(recent).toHaveLength(30);
      expect(jsonLines(await okIn(["head", fx.uri, "--json", "--where", "timestamp < date('2020-01-01')"]))).toEqual([]);
    });

    it("reads the store from QUIVER_STORE and --store", () => {
      const env = jsonLines(ok(["head", "--n", "1", "--json"], { env: { QUIVER_STORE: fx.uri } }));
      expect(env[0]!.track_id).toBe(fx.runs[0]);
      const flag = jsonLines(ok(["tail", "--store", fx.uri, "--n", "1", "--json"]));
      expect(flag[0]!.track_id).toBe(fx.runs[2]);
    });

    it("columns lists names and types", async () => {
      const cols = jsonLines(await okIn(["columns", fx.uri, "--json"]));
      expect(cols).toEqual(
        expect.arrayContaining([
          { column: "epoch", type: expect.stringMatching(/int64/) },
          { column: "loss", type: expect.stringMatching(/float64/) },
          { column: "model", type: expect.stringMatching(/string|utf8/i) },
          { column: "track_id", type: expect.stringMatching(/string|utf8/i) },
        ]),
      );
    });

    it("ls lists runs and unique values", async () => {
      const runs = jsonLines(await okIn(["ls", fx.uri, "--json"]));
      expect(runs.map((r) => r.track_id)).toEqual(fx.runs);
      expect(runs.map((r) => r.rows)).toEqual([10, 10, 10]);
      const models = jsonLines(await okIn(["ls", fx.uri, "--unique", "model", "--json"]));
      expect(models).toEqual([
        { model: "mlp", rows: 20, runs: 2 },
        { model: "cnn", rows: 10, runs: 1 },
      ]);
    });

    it("stats describe, top and bottom", async () => {
      const d = jsonLines(await okIn(["stats", fx.uri, "describe", "epoch", "model", "--json"]));
      expect(d[0]).toMatchObject({ column: "epoch", count: 30, nulls: 0, mean: 5.5, min: 1, max: 10, "50%": 5.5 });
      expect(d[1]).toMatchObject({ column: "model", count: 30, unique: 2, top: "mlp", freq: 20 });
      const top = jsonLines(await okIn(["stats", fx.uri, "top", "accuracy", "--n", "2", "--json"]));
      expect(top.map((r) => [r.lr, r.epoch])).toEqual([
        [0.1, 10],
        [0.1, 9],
      ]);
      const bottom = jsonLines(await okIn(["stats", "bottom", "loss", "--store", fx.uri, "--n", "1", "--json"]));
      expect(bottom[0]).toMatchObject({ lr: 0.1, epoch: 10 });
      const people = await okIn(["stats", fx.uri, "describe", "loss"]);
      expect(people).toMatch(/^column\s+count\s+nulls\s+mean\s+std\s+min\s+25%\s+50%\s+75%\s+max/);
    });

    it("plot draws a braille chart with a legend per run", () => {
      const out = ok(["plot", fx.uri, "loss", "--x", "epoch", "--by", "model", "--width", "40", "--height", "8"]);
      expect(out).toMatch(/[\u2801-\u28ff]/);
      expect(out).toContain("└");
      expect(out).toMatch(/━━ a: mlp \(2 runs\)\s+━━ b: cnn$/m);
      expect(out).not.toContain("\x1b["); // piped: no colour
    });

    it("plot --out writes SVG and PNG files", async () => {
      const svg = join(tmp.dir, `${scheme}.svg`);
      expect(ok(["plot", fx.uri, "accuracy", "--x", "epoch", "--by", "track_id", "--out", svg])).toBe(`wrote ${svg} (3 lines, 30 points)\n`);
      const text = readFileSync(svg, "utf8");
      expect(text.match(/<polyline /g)).toHaveLength(3);
      const png = join(tmp.dir, `${scheme}.png`);
      expect(ok(["plot", fx.uri, "loss,accuracy", "--out", png, "--width", "320", "--height", "200"])).toBe(`wrote ${png} (6 lines in 2 groups, 60 points)\n`);
      const buf = readFileSync(png);
      expect(buf.subarray(1, 4).toString("ascii")).toBe("PNG");
      expect(buf.subarray(12, 16).toString("ascii")).toBe("IHDR");
      expect([buf.readUInt32BE(16), buf.readUInt32BE(20)]).toEqual([320, 200]);
      const bad = await inproc(["plot", fx.uri, "loss", "--out", join(tmp.dir, "x.jpg")]);
      expect(bad.code).toBe(1);
      expect(errorOf(bad).code).toBe("INVALID_VALUE");
    });

    it("sql runs on duckdb and is UNSUPPORTED elsewhere", async () => {
      const r = quiver(["sql", fx.uri, "SELECT model, count(*) AS n FROM events GROUP BY model ORDER BY model"]);
      if (scheme === "duckdb") {
        expect(r.code).toBe(0);
        expect(r.stdout.trimEnd().split("\n").slice(2)).toEqual([expect.stringMatching(/^cnn\s+10$/), expect.stringMatching(/^mlp\s+20$/)]);
        const j = jsonLines(await okIn(["sql", fx.uri, "SELECT max(epoch) AS m FROM events", "--json"]));
        expect(j).toEqual([{ m: 10 }]);
        const bad = await inproc(["sql", fx.uri, "SELEC nonsense"]);
        expect(bad.code).toBe(1);
        expect(bad.stderr).toMatch(/^quiver: [A-Z_]+: /);
      } else {
        expect(r.code).toBe(1);
        expect(errorOf(r).code).toBe("UNSUPPORTED");
        expect(r.stdout).toBe("");
      }
    });

    it("set changes a run back in time and delete removes it", async () => {
      const target = fx.runs[1]!;
      expect(ok(["set", fx.uri, "test_accuracy", "0.91", "--track-id", target])).toBe(`set test_accuracy = 0.91 on 10 rows of run ${target}\n`);
      expect(await okIn(["set", fx.uri, "note", "123", "--string", "--track-id", target])).toContain("on 10 rows");
      const rows = jsonLines(await okIn(["head", fx.uri, "--n", "100", "--json", "--where", "test_accuracy is not null"]));
      expect(rows).toHaveLength(10);
      expect(rows.every((r) => r.test_accuracy === 0.91 && r.note === "123" && r.track_id === target)).toBe(true);
      const missing = await inproc(["set", fx.uri, "x", "1", "--track-id", "no-such-run"]);
      expect(errorOf(missing).code).toBe("NOT_FOUND");
      const noId = await inproc(["set", fx.uri, "x", "1"]);
      expect(noId.code).toBe(2);
      expect(noId.stderr).toMatch(/^quiver: INVALID_VALUE: --track-id is required/);
      // a number into a string column is refused, nothing changes
      const mismatch = await inproc(["set", fx.uri, "model", "3", "--track-id", target]);
      expect(errorOf(mismatch).code).toBe("SCHEMA_MISMATCH");

      expect(ok(["delete", fx.uri, target])).toBe(`deleted 10 rows of run ${target}\n`);
      const again = quiver(["delete", fx.uri, target]);
      expect(again.code).toBe(1);
      expect(errorOf(again).code).toBe("NOT_FOUND");
      const reader = await Reader.open(fx.uri);
      expect((await reader.runs()).map((r) => r.track_id)).toEqual([fx.runs[0], fx.runs[2]]);
      await reader.close();
    });

    it("reports errors on stderr with the code and a non-zero exit", async () => {
      const missing = quiver(["head", `${scheme}:${join(tmp.dir, "nope", scheme === "duckdb" ? "x.db" : "x")}`]);
      expect(missing.code).toBe(1);
      expect(missing.stdout).toBe("");
      expect(errorOf(missing).code).toBe("NOT_FOUND");
      expect(existsSync(join(tmp.dir, "nope"))).toBe(false); // reading never creates a store
      const table = await inproc(["head", fx.uri, "--table", "nothing"]);
      expect(errorOf(table)).toEqual({ code: "NOT_FOUND", message: expect.stringContaining("tables: events") });
      const col = await inproc(["plot", fx.uri, "no_such_column"]);
      expect(errorOf(col).code).toBe("UNKNOWN_FIELD");
      const filter = await inproc(["head", fx.uri, "--where", "epoch >"]);
      expect(errorOf(filter).code).toBe("INVALID_QUERY");
      expect(filter.stderr).toContain("at column 8");
      const flag = quiver(["head", fx.uri, "--bogus"]);
      expect(flag.code).toBe(2);
      expect(errorOf(flag).message).toContain("--bogus");
      const n = await inproc(["head", fx.uri, "--n", "-3"]);
      expect(errorOf(n).code).toBe("INVALID_VALUE");
    });
  });
}

describe("copy between stores", () => {
  it("merges runs across schemes and adds nothing the second time", async () => {
    const src = await logRuns(`duckdb:${join(tmp.dir, "copy-src.db")}`);
    const dst = `msgpack:${join(tmp.dir, "copy-dst")}`;
    expect(ok(["copy", src.uri, dst])).toBe(`copied 30 new rows from ${src.uri} to ${dst} (0 already there)\n`);
    expect(ok(["copy", src.uri, dst])).toBe(`copied 0 new rows from ${src.uri} to ${dst} (30 already there)\n`);
    const back = `duckdb:${join(tmp.dir, "copy-back.db")}`;
    expect(JSON.parse(ok(["copy", dst, back, "--json"]))).toEqual({ added: 30, already_there: 0, assets: 0, source: dst, target: back, table: "events" });
    expect(JSON.parse(ok(["copy", dst, back, "--json"]))).toEqual({ added: 0, already_there: 30, assets: 0, source: dst, target: back, table: "events" });
    const a = jsonLines(await okIn(["head", src.uri, "--n", "100", "--json"]));
    const b = jsonLines(await okIn(["head", back, "--n", "100", "--json"]));
    expect(b).toEqual(a);
    const same = await inproc(["copy", src.uri, src.uri]);
    expect(errorOf(same).code).toBe("INVALID_VALUE");
    const missing = await inproc(["copy", `duckdb:${join(tmp.dir, "none.db")}`, dst]);
    expect(errorOf(missing).code).toBe("NOT_FOUND");
  });
});
