/** core's copy between duckdb: and postgres:, both ways, idempotently (a laptop's runs merged into the shared database). */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { copy, openStore, Tracker } from "@quiver/core";
import { rowsOf } from "@quiver/core/testing";
import "@quiver/store-duckdb";
import { afterAll, describe, expect, it } from "vitest";
import "../dist/index.js";
import { freshUrl } from "./helpers.js";

const dirs: string[] = [];
function tmpDb(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-pg-copy-"));
  dirs.push(d);
  return path.join(d, "runs.db");
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const sortRows = (rows: Record<string, unknown>[]) => rows.sort((a, b) => String(a.track_id).localeCompare(String(b.track_id)) || Number(a.epoch) - Number(b.epoch));

describe("postgres: copy", () => {
  it("duckdb → postgres → duckdb: every value as logged; copying again adds 0", async () => {
    const laptop = `duckdb:${tmpDb()}`;
    for (const run of ["a", "b"]) {
      const t = await Tracker.open(laptop, { trackId: run, params: { model: "m", lr: 0.1 } });
      for (let e = 0; e < 50; e++)
        await t.log({ epoch: e, loss: 1 / (e + 1), tag: `ep${e}`, big: BigInt(e) * 10n ** 15n, hist: [e, -0, e / 3], ok: e % 2 === 0, at: new Date(Date.UTC(2024, 0, 1) + e) });
      await t.close();
    }
    const shared = freshUrl("copy");
    expect(await copy({ source: laptop, target: shared })).toBe(100);
    expect(await copy({ source: laptop, target: shared })).toBe(0);
    const src = await openStore(laptop, { readOnly: true });
    const dst = await openStore(shared, { readOnly: true });
    const want = sortRows(await rowsOf(src, "events"));
    expect(sortRows(await rowsOf(dst, "events"))).toEqual(want);
    // And back into a fresh laptop file.
    const back = `duckdb:${tmpDb()}`;
    expect(await copy({ source: shared, target: back })).toBe(100);
    expect(await copy({ source: shared, target: back })).toBe(0);
    const b = await openStore(back, { readOnly: true });
    expect(sortRows(await rowsOf(b, "events"))).toEqual(want);
    // A run added on the laptop merges in; the others are not doubled.
    const t = await Tracker.open(laptop, { trackId: "c" });
    await t.log({ epoch: 0, loss: 0.5 });
    await t.close();
    expect(await copy({ source: laptop, target: shared })).toBe(1);
    expect(await dst.count("events")).toBe(101);
    for (const s of [src, dst, b]) await s.close();
  });
});
