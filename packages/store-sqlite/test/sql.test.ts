/** sql(): SQLite's dialect over the file's tables, params bound as SQLite takes them, results typed by their values. */
import { isQuiverError, openStore, rowsToBatch, typeName } from "@quiver/core";
import { describe, expect, it } from "vitest";
import "../dist/index.js";
import { tmpDb } from "./helpers.js";

describe("sqlite: sql()", () => {
  it("declares the sqlite dialect, binds booleans, Dates and bigints, and types results by their values", async () => {
    const s = await openStore(`sqlite:${tmpDb()}`);
    try {
      expect(s.capabilities).toMatchObject({
        sql: true,
        dialect: "sqlite",
        update: true,
        delete: true,
        pushdown: true,
        timeIndex: true,
        concurrentWriters: true,
        persistent: true,
      });
      await s.append("events", rowsToBatch([{ ok: true, at: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)), big: 2n ** 60n, x: 0.5, name: "a" }]));
      const t = await s.sql!(
        `SELECT count(*) AS n, max(big) AS big, max(x) AS x, min(name) AS name, 1 AS one, 1 AS one, x'00ff' AS bytes FROM events WHERE ok = ? AND at = ? AND big = ?`,
        [true, new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)), 2n ** 60n],
      );
      expect(t.schema.fields.map((f) => `${f.name}: ${typeName(f.type)}`)).toEqual([
        "n: int64",
        "big: int64",
        "x: float64",
        "name: string",
        "one: int64",
        "one_1: int64",
        "bytes: binary",
      ]);
      const row = t.get(0)!.toJSON();
      expect([Number(row.n), row.big, row.x, row.name]).toEqual([1, 2n ** 60n, 0.5, "a"]);
      expect(t.schema.fields[1]!.metadata.get("quiver:bigint")).toBe("1");
      expect(Array.from(row.bytes as Uint8Array)).toEqual([0, 255]);
      const empty = await s.sql!(`SELECT * FROM events WHERE 0`);
      expect(empty.numRows).toBe(0);
    } finally {
      await s.close();
    }
  });

  it("a mistake in the statement is INVALID_QUERY naming SQLite's reason; nothing changes", async () => {
    const s = await openStore(`sqlite:${tmpDb()}`);
    try {
      await s.append("t", rowsToBatch([{ a: 1 }]));
      for (const bad of ["SELEC 1", "SELECT * FROM missing", "SELECT nope FROM t"]) {
        let err: unknown;
        try {
          await s.sql!(bad);
        } catch (e) {
          err = e;
        }
        expect(isQuiverError(err, "INVALID_QUERY"), `${bad}: ${String(err)}`).toBe(true);
      }
      expect(await s.count("t")).toBe(1);
    } finally {
      await s.close();
    }
  });
});
