/**
 * The run summary sidecar (.quiver-runs.json): kept by appends, read by runs() without reading
 * the rows, never written by a reader, and never trusted when it does not match the index.
 */
import fs from "node:fs";
import path from "node:path";
import { openStore, Reader, Tracker } from "@quiver/core";
import { listRuns } from "@quiver/core/store-kit";
import { afterAll, describe, expect, it } from "vitest";
import { DATA_FILE, openMsgpackStore } from "../dist/index.js";
import { cleanup, exited, run, tmpRoot } from "./helpers.js";

afterAll(cleanup);

const SUMMARY = ".quiver-runs.json";

async function twoRuns(root: string): Promise<[string, string]> {
  const a = await Tracker.open(`msgpack:${root}`, { params: { model: "a" }, flushInterval: 0 });
  const b = await Tracker.open(`msgpack:${root}`, { params: { model: "b" }, flushInterval: 0 });
  for (let i = 0; i < 30; i++) await a.log({ step: i, loss: 1 / (i + 1) });
  await a.flush();
  await b.logBatch(Array.from({ length: 20 }, (_, i) => ({ step: i, loss: 2 / (i + 1) })));
  await a.close();
  await b.close();
  return [a.trackId, b.trackId];
}

/** The runs as core's scan computes them (no accelerator). */
async function scanned(root: string) {
  const store = openMsgpackStore(root, { readOnly: true });
  try {
    const schema = (await store.schema("events"))!;
    const { summarizeRuns, summaryColumns } = await import("@quiver/core/store-kit");
    const cols = summaryColumns(schema, { columns: "all" });
    return await summarizeRuns(store.scan("events", { columns: ["track_id", "timestamp", ...cols] }), true, cols);
  } finally {
    await store.close();
  }
}

describe("run summary sidecar", () => {
  it("appends keep it; runs() answers from it (a tampered count shows), and it matches a scan", async () => {
    const root = tmpRoot("summary");
    const [a, b] = await twoRuns(root);
    const file = path.join(root, "events", SUMMARY);
    const doc = JSON.parse(fs.readFileSync(file, "utf8"));
    expect(doc.runs.map((r: { id: string; n: number }) => [r.id, r.n])).toEqual([
      [a, 30],
      [b, 20],
    ]);
    const reader = await Reader.open(`msgpack:${root}`);
    expect(await reader.runs({ columns: "all" })).toEqual(await scanned(root));
    const runs = await reader.runs({ columns: ["loss", "model"] });
    expect(runs[0]!.columns).toEqual({ loss: { last: 1 / 30, min: 1 / 30, max: 1 }, model: { last: "a", min: "a", max: "a" } });
    await reader.close();
    // Proof that it is read: a count changed by hand (coverage left as is) is what runs() says.
    doc.runs[0].n = 12345;
    fs.writeFileSync(file, JSON.stringify(doc));
    const r2 = await Reader.open(`msgpack:${root}`);
    expect((await r2.runs())[0]!.rows).toBe(12345);
    await r2.close();
  });

  it("a reader never writes it; a stale or torn one is not trusted, and the next append rebuilds it", async () => {
    const root = tmpRoot("summary-stale");
    await twoRuns(root);
    const file = path.join(root, "events", SUMMARY);
    const truth = await scanned(root);
    const good = fs.readFileSync(file, "utf8");
    for (const bad of [JSON.stringify({ ...JSON.parse(good), gen: "other", runs: [] }), good.slice(0, 40), JSON.stringify({ ...JSON.parse(good), rows: 3, runs: [] })]) {
      fs.writeFileSync(file, bad);
      const before = fs.statSync(file).mtimeMs;
      const reader = await Reader.open(`msgpack:${root}`);
      expect(await reader.runs({ columns: "all" })).toEqual(truth); // core's scan answered
      await reader.close();
      expect(fs.readFileSync(file, "utf8")).toBe(bad); // untouched by the reader
      expect(fs.statSync(file).mtimeMs).toBe(before);
    }
    fs.rmSync(file);
    const reader = await Reader.open(`msgpack:${root}`);
    expect(await reader.runs()).toHaveLength(2);
    await reader.close();
    expect(fs.existsSync(file)).toBe(false);
    // A writer's append rebuilds it from the blocks, and adds its own rows.
    const c = await Tracker.open(`msgpack:${root}`, { params: { model: "c" }, flushInterval: 0 });
    await c.log({ step: 0, loss: 5 });
    await c.close();
    expect(JSON.parse(fs.readFileSync(file, "utf8")).runs).toHaveLength(3);
    expect(await listRuns(await openStore(`msgpack:${root}`, { readOnly: true }), "events", { columns: "all" })).toEqual(await scanned(root));
  });

  it("records appended after it by another tool are added in memory (the sidecar is not written)", async () => {
    const root = tmpRoot("summary-tail");
    const [a] = await twoRuns(root);
    const file = path.join(root, "events", SUMMARY);
    const before = fs.readFileSync(file, "utf8");
    // A dreamlake-style writer appends one msgpack map + "\n", without index or summary.
    const { pack } = await import("msgpackr");
    fs.appendFileSync(
      path.join(root, "events", DATA_FILE),
      Buffer.concat([pack({ step: 99, loss: 0.001, model: "a", track_id: a, timestamp: new Date(Date.now()) }), Buffer.from("\n")]),
    );
    const reader = await Reader.open(`msgpack:${root}`);
    const runs = await reader.runs({ columns: ["loss"] });
    expect(runs[0]!.rows).toBe(31);
    expect(runs[0]!.columns!.loss!.min).toBe(0.001);
    expect(await reader.runs({ columns: "all" })).toEqual(await scanned(root));
    await reader.close();
    expect(fs.readFileSync(file, "utf8")).toBe(before);
  });

  it("update and delete rebuild it; drop removes it", async () => {
    const root = tmpRoot("summary-rewrite");
    const [a, b] = await twoRuns(root);
    const reader = await Reader.open(`msgpack:${root}`);
    expect(await reader.setValue("model", "best", { trackId: b })).toBe(20);
    expect(await reader.deleteRun(a)).toBe(30);
    const doc = JSON.parse(fs.readFileSync(path.join(root, "events", SUMMARY), "utf8"));
    expect(doc.runs.map((r: { id: string }) => r.id)).toEqual([b]);
    expect((await reader.runs({ columns: ["model"] }))[0]!.columns!.model).toEqual({ last: "best", min: "best", max: "best" });
    await reader.close();
    const store = openMsgpackStore(root);
    await store.drop("events");
    await store.close();
    expect(fs.existsSync(path.join(root, "events"))).toBe(false);
  });

  it("writers in several processes at once keep one summary that matches a scan", async () => {
    const root = tmpRoot("summary-procs");
    const kids = ["p1", "p2", "p3"].map((id) => run("runs-writer.mjs", [root, id, "300"]));
    expect(await Promise.all(kids.map(exited))).toEqual([0, 0, 0]);
    // The sidecar is written at most once a second: a prefix of each run, never more than there is.
    const doc = JSON.parse(fs.readFileSync(path.join(root, "events", SUMMARY), "utf8"));
    expect(doc.runs.length).toBeGreaterThan(0);
    for (const r of doc.runs as { n: number }[]) expect(r.n).toBeLessThanOrEqual(300);
    const reader = await Reader.open(`msgpack:${root}`);
    expect(await reader.runs({ columns: "all" })).toEqual(await scanned(root));
    await reader.close();
  }, 60_000);
});
