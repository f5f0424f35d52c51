/** Hostile names and values never reach SQL as text. */
import { DuckDBInstance } from "@duckdb/node-api";
import { field, openStore, rowsToBatch, Tracker } from "@quiver/core";
import { describe, expect, it } from "vitest";
import "../dist/index.js";
import { tmpDb } from "./helpers.js";

const HOSTILE = [`x"; DROP TABLE events; --`, `a" , "b`, `'); DELETE FROM events; --`, `name with spaces and "quotes" and 'apostrophes'`, `$1`, `?`, `rowid`, `SELECT`, `ünï/cödé`];

describe("duckdb: SQL injection", () => {
  it("hostile column names are stored, queried, updated and deleted as names", async () => {
    const file = tmpDb();
    const s = await openStore(`duckdb:${file}`);
    await s.append("events", rowsToBatch([{ keep: 1 }]));
    const row = Object.fromEntries(HOSTILE.map((h, i) => [h, i]));
    await s.append("events", rowsToBatch([row, { ...row, [HOSTILE[0]!]: 100 }]));
    const names = (await s.schema("events"))!.fields.map((f) => f.name);
    expect(names).toEqual(["keep", ...HOSTILE]);
    for (const [i, h] of HOSTILE.entries()) expect(await s.count("events", field(h).eq(i).node)).toBe(i === 0 ? 1 : 2);
    expect(await s.update("events", field(HOSTILE[0]!).eq(100).node, { [HOSTILE[2]!]: 42 })).toBe(1);
    const got = [];
    for await (const b of s.scan("events", { columns: [HOSTILE[2]!, HOSTILE[0]!], orderBy: [{ column: HOSTILE[0]!, direction: "desc" }], rowIndex: HOSTILE[1] }))
      got.push(...b.toArray().map((r) => r.toJSON()));
    expect(got.map((r) => Object.keys(r))).toEqual([0, 1, 2].map(() => [HOSTILE[2], HOSTILE[0], HOSTILE[1]]));
    expect(await s.delete("events", field(HOSTILE[3]!).eq(3).node)).toBe(2);
    expect(await s.tables()).toEqual(["events"]);
    expect(await s.count("events")).toBe(1);
    await s.close();
  });

  it("hostile table names are tables, not SQL", async () => {
    const s = await openStore(`duckdb:${tmpDb()}`);
    await s.append("events", rowsToBatch([{ a: 1 }]));
    const tables = HOSTILE.filter((h) => !h.includes("/") || !h.startsWith("/"));
    for (const t of tables) await s.append(t, rowsToBatch([{ v: t }]));
    expect(await s.tables()).toEqual(["events", ...tables].sort());
    for (const t of tables) {
      expect(await s.count(t, field("v").eq(t).node)).toBe(1);
      expect(await s.update(t, undefined, { w: 1 })).toBe(1);
    }
    expect(await s.count("events")).toBe(1);
    for (const t of tables) expect(await s.drop(t)).toBe(true);
    expect(await s.tables()).toEqual(["events"]);
    await expect(s.append("../escape", rowsToBatch([{ a: 1 }]))).rejects.toMatchObject({ code: "INVALID_NAME" });
    await s.close();
  });

  it("hostile values round-trip and match only as values", async () => {
    const file = tmpDb();
    const t = await Tracker.open(`duckdb:${file}`);
    for (const h of HOSTILE) await t.log({ text: h, n: 1 });
    await t.flush();
    for (const h of HOSTILE) {
      expect((await t.where(field("text").eq(h))).numRows).toBe(1);
      expect((await t.where(field("text").startsWith(h))).numRows).toBeGreaterThanOrEqual(1);
    }
    expect((await t.where(field("text").eq(`' OR '1'='1`))).numRows).toBe(0);
    expect((await t.where(field("text").contains(`%`))).numRows).toBe(0); // no LIKE wildcards
    expect(await t.column("text")).toEqual(HOSTILE);
    expect(await t.setValue("note", `'); DROP TABLE events; --`)).toBe(HOSTILE.length);
    const tb = await t.sql("SELECT count(*) AS n FROM events WHERE text = $1 AND note = $2", [HOSTILE[0], `'); DROP TABLE events; --`]);
    expect(Number(tb.get(0)!.toJSON().n)).toBe(1);
    await t.close();
    const inst = await DuckDBInstance.create(file);
    const conn = await inst.connect();
    expect((await conn.runAndReadAll("SELECT count(*) FROM events")).getRows()).toEqual([[BigInt(HOSTILE.length)]]);
    conn.closeSync();
    inst.closeSync();
  });
});
