/**
 * The run table from a store's own run summaries (store.runs with columns: the summary
 * msgpack: keeps on append) is the run table DuckDB's GROUP BY gives.
 */
import { join } from "node:path";
import { copy, openStore, type Store } from "@quiver/core";
import "@quiver/store-msgpack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunsData } from "../dist/index.js";
import { makeRuns, tempDir } from "./helpers.js";

const tmp = tempDir();
let duck: Store;
let pack: Store;

beforeAll(async () => {
  const file = join(tmp.dir, "runs.db");
  await makeRuns(file, [
    { lr: 0.1, points: 2_000, spikes: [777], model: "a" },
    { lr: 0.01, points: 300, model: "b" },
  ]);
  duck = await openStore(`duckdb:${file}`, { readOnly: true });
  const w = await openStore(`msgpack:${join(tmp.dir, "runs")}`);
  await copy({ source: duck, target: w });
  await w.close();
  pack = await openStore(`msgpack:${join(tmp.dir, "runs")}`, { readOnly: true });
}, 60_000);

afterAll(async () => {
  await duck?.close();
  await pack?.close();
  tmp.cleanup();
});

describe("RunsData over msgpack's kept run summaries", () => {
  it("gives the same run table as DuckDB's SQL", async () => {
    const [a, b] = await Promise.all([new RunsData(duck).page({ table: "events", limit: 10 }), new RunsData(pack).page({ table: "events", limit: 10 })]);
    expect(b.ids).toEqual(a.ids);
    expect(b.columns).toEqual(a.columns);
    expect(b.rows).toEqual(a.rows);
    const key = (k: string) => a.columns.findIndex((c) => c.key === k);
    expect(b.rows[0]![key("loss:max")]).toBe(50);
  });
});
