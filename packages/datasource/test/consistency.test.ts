import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { field } from "@quiver/core";
import { Datasource } from "../dist/index.js";
import { segmentFiles, tempDir } from "./helpers.js";

const opened: Datasource[] = [];
afterAll(async () => {
  for (const d of opened) await d.close();
});

/** A seeded PRNG so a failure is reproducible. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

// With 70 fields first, `s` and `flag` live in a second events table (shard 1) while `n` is in
// the first: clears and deletions (kept in shard 0) must reach them in both engines.
it.each([0, 70])("the SQL engine (DuckDB) and the fold engine (memory) agree after every step, now and asOf (%i fields first)", async (filler) => {
  const dir = tempDir();
  const mem = await Datasource.getOrCreate({ name: "c", path: dir, root: path.join(dir, "m"), store: `memory:consistency-${process.pid}-${filler}` });
  const duck = await Datasource.getOrCreate({ name: "c", path: dir, root: path.join(dir, "d") });
  opened.push(mem, duck);
  if (filler) {
    const row: Record<string, unknown> = { n: 0 };
    for (let i = 0; i < filler; i++) row[`f${i}`] = i;
    for (const ds of [mem, duck]) await ds.updateMetadata("filler.jpg", row);
  }
  const r = rng(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const paths = Array.from({ length: 8 }, (_, i) => `p/${i}.jpg`);
  const times: Date[] = [];
  const q = field("n")
    .gt(3)
    .or(field("s").eq("b").and(field("flag").eq(true)));
  for (let step = 0; step < 40; step++) {
    const kind = step < 2 ? "upload" : pick(["update", "update", "update", "clear", "delete", "upload"]);
    const targets = [...new Set(Array.from({ length: 1 + Math.floor(r() * 3) }, () => pick(paths)))];
    const values: Record<string, unknown> = {};
    if (r() < 0.7) values.n = Math.floor(r() * 8);
    if (r() < 0.5) values.s = pick(["a", "b", "c"]);
    if (r() < 0.4) values.flag = r() < 0.5;
    if (r() < 0.1) values[`extra${step}`] = step; // new fields appear over time
    if (r() < 0.1) values.n = null; // explicit clear
    const rows = targets.map((p) => ({ path: `new/${step}/${p}`, n: step % 7, s: pick(["a", "b"]), flag: true }));
    for (const ds of [mem, duck]) {
      if (kind === "update" && Object.keys(values).length) await ds.updateMetadata(targets, values);
      else if (kind === "clear") await ds.deleteMetadata(targets, ["n", "s"]);
      else if (kind === "delete") await ds.deleteDatapoints(targets);
      else if (kind === "upload") await ds.uploadMetadata(rows);
    }
    const [a, b] = [await mem.all(), await duck.all()];
    expect(b.rows, `step ${step} (${kind})`).toEqual(a.rows);
    const [qa, qb] = [await mem.where(q).all(), await duck.where(q).all()];
    expect(qb.rows, `query at step ${step}`).toEqual(qa.rows);
    if (step % 5 === 0) {
      await new Promise((res) => setTimeout(res, 2));
      times.push(new Date());
      await new Promise((res) => setTimeout(res, 2));
    }
  }
  for (const t of times) {
    const [a, b] = [await mem.asOf(t).all(), await duck.asOf(t).where(field("path").startsWith("")).all()];
    expect(b.rows).toEqual(a.rows);
  }
  expect(times.length).toBe(8);
  if (filler) {
    const shards = new Set((await duck.store.tables()).filter((t) => t.startsWith(`datasource/${duck.id}/events`)).map((t) => Number(t.split("events-")[1] ?? 0)));
    for (const f of segmentFiles(duck)) shards.add(Number(f.slice(f.lastIndexOf("-") + 1, -".parquet".length)));
    expect(shards.size).toBeGreaterThanOrEqual(2);
  }
});
