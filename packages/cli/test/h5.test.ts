/** `quiver h5` against a real HDF5 file written by H5Logger and checked with h5ls. */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import "@quiver/store-duckdb";
import { Tracker } from "@quiver/core";
import { H5Logger } from "@quiver/store-h5";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorOf, inproc, jsonLines, ok, okIn, quiver, tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const FILE = join(tmp.dir, "logging_data.h5");

beforeAll(async () => {
  const logger = await H5Logger.open(FILE, { replaceIfExists: true });
  for (let i = 0; i < 10; i++) logger.log("number", i % 2);
  for (let f = 0; f < 4; f++) {
    const data = new Float32Array(64 * 64);
    for (let k = 0; k < data.length; k++) data[k] = f + k / data.length;
    logger.log("image", { data, shape: [64, 64] });
  }
  await logger.close();
});

describe("h5", () => {
  it("ls shows names, dtypes, shapes and lengths (as h5ls does)", () => {
    const rows = jsonLines(ok(["h5", "ls", FILE, "--json"]));
    expect(rows).toEqual([
      { name: "image", dtype: "float32", shape: [4, 64, 64], length: 4 },
      { name: "number", dtype: expect.stringMatching(/^(int|float)64$/), shape: [10], length: 10 },
    ]);
    const h5ls = execFileSync("h5ls", ["-r", FILE], { encoding: "utf8" });
    expect(h5ls).toMatch(/image\s+Dataset \{4\/\w+, 64, 64\}/);
    expect(ok(["h5", "ls", FILE])).toMatch(/^image\s+float32\s+\(4, 64, 64\)\s+4$/m);
  });

  it("show prints a slice of scalars and summaries of arrays", async () => {
    expect(jsonLines(ok(["h5", "show", FILE, "number", "--slice", "2:6", "--json"]))).toEqual([
      { index: 2, value: 0 },
      { index: 3, value: 1 },
      { index: 4, value: 0 },
      { index: 5, value: 1 },
      { summary: { from: 2, to: 6, length: 10, dtype: expect.any(String), shape: [10] } },
    ]);
    expect(jsonLines(await okIn(["h5", "show", FILE, "number", "--slice", "-2:", "--json"])).map((r) => r.index)).toEqual([8, 9, undefined]);
    const people = ok(["h5", "show", FILE, "image", "--slice", "1:3"]).trimEnd().split("\n");
    expect(people[0]).toMatch(/^index\s+shape\s+min\s+max\s+mean$/);
    expect(people[2]).toMatch(/^\s*1\s+64×64\s+1\s+1\.99976\s+1\.49988$/);
    expect(people[4]).toBe("entries 1..3 of 4 (float32, shape (4, 64, 64))");
    const frame = jsonLines(await okIn(["h5", "show", FILE, "image", "--slice", "3", "--json"]))[0]!;
    const value = frame.value as { data: number[]; shape: number[] } | number[];
    const data = Array.isArray(value) ? value : value.data;
    expect(data).toHaveLength(64 * 64);
    expect(data[0]).toBe(3);
  });

  it("show --image draws a frame", async () => {
    const pic = (await okIn(["h5", "show", FILE, "image", "--slice", "2", "--image"])).split("\n");
    expect(pic[0]).toBe("[2] 64×64");
    expect(pic.slice(1, 33).every((l) => l.length <= 64)).toBe(true);
    // values rise with the flat index (k / 4096 within a frame): dark on top, bright at the bottom
    expect(pic[1]).toBe("");
    expect(pic[32]).toBe("@".repeat(64));
    expect(errorOf(await inproc(["h5", "show", FILE, "number", "--image"])).code).toBe("INVALID_VALUE");
  });

  it("run commands read Tracker tables in an h5: store too", async () => {
    const uri = `h5:${join(tmp.dir, "runs.h5")}`;
    const t = await Tracker.open(uri, { params: { model: "mlp" } });
    for (let epoch = 1; epoch <= 5; epoch++) await t.log({ epoch, loss: 1 / epoch });
    await t.close();
    const rows = jsonLines(ok(["tail", uri, "--n", "2", "--json"]));
    expect(rows.map((r) => [r.epoch, r.loss, r.model, r.track_id])).toEqual([
      [4, 0.25, "mlp", t.trackId],
      [5, 0.2, "mlp", t.trackId],
    ]);
    const sql = await inproc(["sql", uri, "SELECT 1"]);
    expect(errorOf(sql).code).toBe("UNSUPPORTED");
    const dst = `duckdb:${join(tmp.dir, "from-h5.db")}`;
    expect(await okIn(["copy", uri, dst])).toBe(`copied 5 new rows from ${uri} to ${dst} (0 already there)\n`);
  });

  it("errors name the problem", async () => {
    expect(errorOf(quiver(["h5", "show", FILE, "nope"]))).toEqual({ code: "NOT_FOUND", message: expect.stringContaining("datasets: image, number") });
    expect(errorOf(await inproc(["h5", "ls", join(tmp.dir, "missing.h5")])).code).toBe("NOT_FOUND");
    expect(errorOf(await inproc(["h5", "show", FILE, "number", "--slice", "x:y"])).code).toBe("INVALID_VALUE");
    const usage = quiver(["h5", "frobnicate"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("h5 commands: ls, show");
  });
});
