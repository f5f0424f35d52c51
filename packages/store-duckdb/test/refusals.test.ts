/** A write the store refuses changes nothing; names DuckDB treats specially are ordinary columns. */
import { field, openStore, rowsToBatch, Session, type Store } from "@quiver/core";
import { tableFromArrays } from "apache-arrow";
import { describe, expect, it } from "vitest";
import "../dist/index.js";
import { tmpDb } from "./helpers.js";

const names = async (s: Store, t: string) => (await s.schema(t))?.fields.map((f) => f.name);

describe("duckdb: refused writes change nothing", () => {
  it("a column differing only in case: INVALID_NAME naming both, no column added, nothing written", async () => {
    const s = await openStore(`duckdb:${tmpDb()}`);
    await s.append("t", rowsToBatch([{ Loss: 1, step: 0 }]));
    const err = await s.append("t", rowsToBatch([{ step: 1, extra: 2, loss: 0.5 }])).catch((e: unknown) => e as Error & { code: string });
    expect(err).toMatchObject({ code: "INVALID_NAME" });
    expect(err!.message).toContain('"loss"');
    expect(err!.message).toContain('"Loss"');
    expect(await names(s, "t")).toEqual(["Loss", "step"]);
    expect(await s.count("t")).toBe(1);
    // Both spellings in one batch of a new table: the table is not created.
    // (core's rowsToBatch refuses that too: built with Arrow directly, as another front-end might)
    await expect(s.append("u", tableFromArrays({ a: new Float64Array([1]), A: new Float64Array([2]) }).batches[0]!)).rejects.toMatchObject({ code: "INVALID_NAME" });
    expect(await s.tables()).toEqual(["t"]);
    // The store is not wedged: the next good batch goes in.
    await s.append("t", rowsToBatch([{ Loss: 0.25, step: 2 }]));
    expect(await s.count("t")).toBe(2);
    await s.close();
  });

  it("a refused update adds no column (case clash, type clash)", async () => {
    const s = await openStore(`duckdb:${tmpDb()}`);
    await s.append(
      "t",
      rowsToBatch([
        { Name: "a", n: 1 },
        { Name: "b", n: 2 },
      ]),
    );
    await expect(s.update("t", undefined, { added: 1, name: "x" })).rejects.toMatchObject({ code: "INVALID_NAME" });
    await expect(s.update("t", undefined, { added: 1, n: "not a number" })).rejects.toMatchObject({ code: "SCHEMA_MISMATCH" });
    await expect(s.update("t", undefined, { added: [1, 2], n: [3] })).rejects.toMatchObject({ code: "SCHEMA_MISMATCH" });
    expect(await names(s, "t")).toEqual(["Name", "n"]);
    expect(await s.update("t", field("n").eq(2).node, { added: true })).toBe(1);
    expect(await names(s, "t")).toEqual(["Name", "n", "added"]);
    await s.close();
  });

  it("a value of the wrong type for a column: SCHEMA_MISMATCH, nothing of the batch, no new column", async () => {
    const s = await openStore(`duckdb:${tmpDb()}`);
    await s.append("t", rowsToBatch([{ x: 1 }]));
    await expect(s.append("t", rowsToBatch([{ x: [1, 2], y: 3 }]))).rejects.toMatchObject({ code: "SCHEMA_MISMATCH" });
    expect(await names(s, "t")).toEqual(["x"]);
    expect(await s.count("t")).toBe(1);
    await s.close();
  });
});

describe("duckdb: a user column named rowid is an ordinary column", () => {
  for (const col of ["rowid", "ROWID", "__quiver_idx"]) {
    it(`Track indexes follow insertion order with a column ${JSON.stringify(col)}`, async () => {
      const store = await openStore(`duckdb:${tmpDb()}`);
      const s = await Session.open({ prefix: "p/e", store, flushInterval: 0 });
      const tr = s.track("t");
      for (let i = 0; i < 50; i++) tr.append({ [col]: 1000 - i, step: i });
      const all = await tr.read({ limit: 1000 });
      expect(all.data.map((p) => p.index)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect(all.data.map((p) => p.data.step)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      expect(all.data.map((p) => p.data[col])).toEqual(Array.from({ length: 50 }, (_, i) => 1000 - i));
      const page = await tr.read({ startIndex: 10, limit: 5 });
      expect(page.data.map((p) => [p.index, p.data.step])).toEqual([10, 11, 12, 13, 14].map((i) => [i, i]));
      await s.close();
      await store.close();
    });
  }

  it("scan: rowIndex, orderBy ties and list updates keep insertion order with a rowid column", async () => {
    const s = await openStore(`duckdb:${tmpDb()}`);
    await s.append("t", rowsToBatch(Array.from({ length: 20 }, (_, i) => ({ i, rowid: 100 - i, g: i % 2, v: [i] }))));
    const scan = async (opts: Parameters<Store["scan"]>[1]) => {
      const out: Record<string, unknown>[] = [];
      for await (const b of s.scan("t", opts)) out.push(...b.toArray().map((r) => r.toJSON() as Record<string, unknown>));
      return out.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v])));
    };
    expect((await scan({ rowIndex: "idx", columns: ["i"] })).map((r) => [r.i, r.idx])).toEqual(Array.from({ length: 20 }, (_, i) => [i, i]));
    expect((await scan({ orderBy: [{ column: "g" }], columns: ["i"] })).map((r) => r.i)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
    expect((await scan({ rowIndex: "idx", where: field("g").eq(1).node, columns: ["i"], limit: 3 })).map((r) => [r.i, r.idx])).toEqual([
      [1, 1],
      [3, 3],
      [5, 5],
    ]);
    expect(await s.update("t", field("i").eq(3).node, { v: [9, 9] })).toBe(1);
    expect((await scan({ columns: ["i", "rowid"] })).map((r) => [r.i, r.rowid])).toEqual(Array.from({ length: 20 }, (_, i) => [i, 100 - i]));
    await s.close();
  });
});
