/** Tracker.log row stamping over duckdb: the compiled fast path gives the generic path's results. */
import { Tracker } from "@quiver/core";
import { describe, expect, it } from "vitest";
import "../dist/index.js";

describe("Tracker.log stamping (core hot path) over duckdb:", () => {
  it("same rows, key order, params, overrides and errors as the generic path", async () => {
    const t = await Tracker.open("duckdb::memory:", { params: { model: "m" } });
    const a = await t.log({ x: 1, y: "a" });
    const b = await t.log({ x: 2.5, y: "b" }); // compiled path from here on
    expect(Object.keys(b)).toEqual(["x", "y", "model", "timestamp", "track_id"]);
    expect(b.timestamp).toBeInstanceOf(Date);
    expect(b.track_id).toBe(t.trackId);
    await expect(t.log({ x: "not a number", y: "c" })).rejects.toMatchObject({ code: "SCHEMA_MISMATCH" });
    await expect(t.log({ x: 3, y: 4 })).rejects.toMatchObject({ code: "SCHEMA_MISMATCH" });
    const c = await t.log({ x: null, y: undefined });
    expect(c).toMatchObject({ x: null, y: undefined, model: "m" });
    // A logged key that is also a param keeps its place and takes the param's value.
    const d = await t.log({ model: "ignored", x: 4 });
    expect(Object.keys(d)).toEqual(["model", "x", "timestamp", "track_id"]);
    expect(d.model).toBe("m");
    t.setParams({ lr: 0.1 });
    const e = await t.log({ x: 5, y: "e" });
    expect(e).toMatchObject({ x: 5, y: "e", model: "m", lr: 0.1 });
    // Logged "timestamp"/"track_id" are overwritten in place.
    const f = await t.log({ timestamp: 1, x: 6 });
    expect(f.timestamp).toBeInstanceOf(Date);
    // Nested objects still flatten; a new kind in a fresh column is learnt.
    const g = await t.log({ x: 7, nested: { k: true } });
    expect(g["nested.k"]).toBe(true);
    await t.log({ x: 8, y: "h", flag: true });
    await t.log({ x: 9, y: "i", flag: false });
    await expect(t.log({ x: 10, y: "j", flag: 1 })).rejects.toMatchObject({ code: "SCHEMA_MISMATCH" });
    const rows = await t.toRows();
    expect(rows.map((r) => r.x)).toEqual([1, 2.5, null, 4, 5, 6, 7, 8, 9]);
    expect(rows.map((r) => r.y)).toEqual(["a", "b", null, null, "e", null, null, "h", "i"]);
    expect(a.x).toBe(1);
    await t.close();
  });
});
