/** toParquet / toCSV through DuckDB COPY, read back by DuckDB. */
import fs from "node:fs";
import path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { openStore, rowsToBatch, Tracker } from "@quiver/core";
import { describe, expect, it } from "vitest";
import { toCSV, toParquet } from "../dist/index.js";
import { tmpDb, tmpDir } from "./helpers.js";

async function readBack(sql: string): Promise<unknown[][]> {
  const inst = await DuckDBInstance.create(":memory:");
  const conn = await inst.connect();
  try {
    return (await conn.runAndReadAll(sql)).getRows();
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

const q = (p: string) => `'${p.replaceAll("'", "''")}'`;

describe("duckdb: export", () => {
  it("toParquet of a table and toCSV of a query read back in DuckDB", async () => {
    const file = tmpDb();
    const t = await Tracker.open(`duckdb:${file}`, { params: { model: "m" } });
    for (let i = 0; i < 1000; i++) await t.log({ i, x: i / 2, tag: i % 2 ? "odd" : "even", when: new Date(1_700_000_000_000 + i * 1000), v: [i, i + 1] });
    await t.flush();
    const dir = tmpDir();
    const pq = path.join(dir, 'it\'s a "table".parquet');
    expect(await toParquet(t.store, "events", pq)).toBe(1000);
    expect(fs.existsSync(pq)).toBe(true);
    expect(await readBack(`SELECT count(*), sum(i), min("when")::VARCHAR, max(len(v)) FROM read_parquet(${q(pq)})`)).toEqual([[1000n, 499500n, "2023-11-14 22:13:20", 2n]]);
    const csv = path.join(dir, "odd.csv");
    expect(await toCSV(t.store, { sql: "SELECT i, tag FROM events WHERE tag = $1 AND i < $2 ORDER BY i", params: ["odd", 10] }, csv)).toBe(5);
    expect(fs.readFileSync(csv, "utf8").trim().split("\n")).toEqual(["i,tag", "1,odd", "3,odd", "5,odd", "7,odd", "9,odd"]);
    expect(await readBack(`SELECT sum(i) FROM read_csv(${q(csv)})`)).toEqual([[25n]]);
    await t.close();
  });

  it("unknown tables are NOT_FOUND and other stores UNSUPPORTED", async () => {
    const s = await openStore(`duckdb:${tmpDb()}`);
    await s.append("a", rowsToBatch([{ x: 1 }]));
    await expect(toParquet(s, "missing", path.join(tmpDir(), "x.parquet"))).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(toParquet(s, { table: "b" }, path.join(tmpDir(), "x.parquet"))).rejects.toMatchObject({ code: "NOT_FOUND" });
    const m = await openStore("memory:");
    await expect(toCSV(m, "a", path.join(tmpDir(), "x.csv"))).rejects.toMatchObject({ code: "UNSUPPORTED" });
    await s.close();
  });
});
