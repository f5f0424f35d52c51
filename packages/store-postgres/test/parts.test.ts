/** A big batch goes to the server in parts (store.ts, fastAppend): every row back exactly, in order. */
import { openStore, rowsToBatch } from "@quiver/core";
import { batchToRows } from "@quiver/core/store-kit";
import { rowsOf } from "@quiver/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import "../dist/index.js";
import { freshUrl, raw, schemaOf } from "./helpers.js";

const pg = raw();
afterAll(() => pg.end());

describe("postgres: a batch sent in parts", () => {
  it("10 001 rows of every common kind, nulls among them, come back exactly and in order", async () => {
    const url = freshUrl("parts");
    const s = await openStore(url);
    const row = (i: number) => ({
      i,
      x: i % 7 === 0 ? null : i / 3,
      s: i % 11 === 0 ? null : `é${i}🙂`.repeat(1 + (i % 3)),
      ok: i % 2 === 0,
      at: new Date(1_700_000_000_000 + i),
      big: BigInt(i) * 1_000_000_007n,
      v: [i, i + 0.5],
      b: new Uint8Array([i & 255, 0, 255]),
    });
    await s.append("t", rowsToBatch([row(-1)])); // the table exists: the next append takes the fast path
    const batch = rowsToBatch(
      Array.from({ length: 10_001 }, (_, i) => row(i)),
      { schema: await s.schema("t") },
    );
    await s.append("t", batch);
    const back = await rowsOf(s, "t");
    expect(back.length).toBe(10_002);
    expect(back.slice(1)).toEqual(batchToRows(batch));
    const [p] = await pg.unsafe(`SELECT count(DISTINCT _quiver_pos)::int AS d, max(_quiver_pos)::int AS hi FROM "${schemaOf(url)}".t`);
    expect([p!.d, p!.hi]).toEqual([10_002, 10_001]);
    await s.close();
  });
});
