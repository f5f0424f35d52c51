/**
 * `quiver ls --metrics` through the real binary, on duckdb: (one GROUP BY) and msgpack: (the
 * kept summary): params (constant within each run) and per metric last/min/max, the same from
 * both stores.
 */
import path from "node:path";
import "@quiver/store-duckdb";
import "@quiver/store-msgpack";
import { Tracker } from "@quiver/core";
import { afterAll, describe, expect, it } from "vitest";
import { jsonLines, ok, tempDir } from "./helpers.js";

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const c of cleanups) c();
});

describe("quiver ls --metrics", () => {
  it("shows params and last/min/max per metric, computed inside the store", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const shown: unknown[] = [];
    for (const uri of [`duckdb:${path.join(t.dir, "runs.db")}`, `msgpack:${path.join(t.dir, "runs")}`]) {
      for (const [id, lr] of [
        ["run-a", 0.1],
        ["run-b", 0.01],
      ] as const) {
        const tr = await Tracker.open(uri, { trackId: id, params: { model: "mlp", lr } });
        for (let epoch = 1; epoch <= 3; epoch++) await tr.log({ epoch, loss: lr * 10 + 1 / epoch, phase: epoch === 3 ? "done" : "train" });
        await tr.close();
      }
      const rows = jsonLines(ok(["ls", uri, "--metrics", "--json"]));
      expect(rows).toEqual([
        { track_id: "run-a", rows: 3, model: "mlp", lr: 0.1, epoch: 3, "epoch:min": 1, "epoch:max": 3, loss: 1 + 1 / 3, "loss:min": 1 + 1 / 3, "loss:max": 2, phase: "done" },
        {
          track_id: "run-b",
          rows: 3,
          model: "mlp",
          lr: 0.01,
          epoch: 3,
          "epoch:min": 1,
          "epoch:max": 3,
          loss: 0.1 + 1 / 3,
          "loss:min": 0.1 + 1 / 3,
          "loss:max": 1.1,
          phase: "done",
        },
      ]);
      shown.push(ok(["ls", uri, "--metrics"]));
    }
    // The table reads the same from both stores.
    expect(shown[1]).toBe(shown[0]);
    expect(shown[0]).toMatch(/^track_id\s+rows\s+model\s+lr\s+epoch\s+epoch:min/m);
  });
});
