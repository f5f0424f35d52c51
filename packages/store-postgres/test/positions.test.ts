/**
 * Positions handed out on the server (`_quiver_append` and the `_quiver_pos` identity): a stale
 * cached schema or a dropped table is caught there and the append takes the slow path; tables
 * and catalogs made before the identity are brought up to it; an older writer's appends
 * (explicit positions from the catalog row) and ours interleave densely.
 */
import { openStore, rowsToBatch } from "@quiver/core";
import { rowsOf } from "@quiver/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import "../dist/index.js";
import { freshSchema, raw, urlWith } from "./helpers.js";

const pg = raw();
afterAll(() => pg.end());

async function positions(schema: string, table: string): Promise<[number, number][]> {
  const r = await pg.unsafe(`SELECT _quiver_pos::int AS p, a FROM "${schema}"."${table}" ORDER BY _quiver_pos`);
  return r.map((x) => [x.p as number, Number(x.a)]);
}

async function identity(schema: string, table: string): Promise<string> {
  const [r] = await pg.unsafe(`SELECT attidentity FROM pg_attribute WHERE attrelid = to_regclass(quote_ident($1) || '.' || quote_ident($2)) AND attname = '_quiver_pos'`, [
    schema,
    table,
  ]);
  return r!.attidentity as string;
}

describe("postgres: positions on the server", () => {
  it("a writer whose cached schema is stale (another widened the column) appends right: caught by the server, slow path", async () => {
    const schema = freshSchema("stale");
    const a = await openStore(urlWith(schema));
    const b = await openStore(urlWith(schema));
    await a.append("t", rowsToBatch([{ a: 1 }])); // a caches `a` as int64
    await b.append("t", rowsToBatch([{ a: 2.5 }])); // b widens it to double
    await a.append("t", rowsToBatch([{ a: 3 }])); // encoded for int64: the server says the version moved
    await a.append("t", rowsToBatch([{ a: 4 }]));
    expect(await positions(schema, "t")).toEqual([
      [0, 1],
      [1, 2.5],
      [2, 3],
      [3, 4],
    ]);
    const [c] = await pg.unsafe(`SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 't' AND column_name = 'a'`, [schema]);
    expect(c!.data_type).toBe("double precision");
    expect((await rowsOf(b, "t")).map((r) => r.a)).toEqual([1, 2.5, 3, 4]);
    await a.close();
    await b.close();
  });

  it("a big batch (sent in parts) of a writer whose cached schema is stale appends right, and the connection goes on", async () => {
    const schema = freshSchema("stalebig");
    const a = await openStore(urlWith(schema, "&max=1"));
    const b = await openStore(urlWith(schema));
    await a.append("t", rowsToBatch([{ a: 1 }]));
    await b.append("t", rowsToBatch([{ a: 2.5 }]));
    const big = Array.from({ length: 5000 }, (_, k) => ({ a: k }));
    await a.append("t", rowsToBatch(big)); // the lock's answer says the version moved: rolled back, slow path
    await a.append("t", rowsToBatch([{ a: 7 }])); // on the same (only) connection
    await b.append("t", rowsToBatch([{ a: 8 }])); // the table's lock was not left held
    const got = await positions(schema, "t");
    expect(got.length).toBe(5004);
    expect(got.map((r) => r[0])).toEqual(Array.from({ length: 5004 }, (_, i) => i));
    expect(got.map((r) => r[1])).toEqual([1, 2.5, ...big.map((r) => r.a), 7, 8]);
    await a.close();
    await b.close();
  }, 30_000);

  it("two writers taking turns get dense positions in turn (each sets the sequence before its rows; no cached values reused)", async () => {
    const schema = freshSchema("turns");
    const a = await openStore(urlWith(schema, "&max=1"));
    const b = await openStore(urlWith(schema, "&max=1"));
    await a.append("t", rowsToBatch([{ a: -1 }]));
    for (let k = 0; k < 10; k++) {
      const s = k % 2 ? b : a;
      await s.append("t", rowsToBatch([0, 1, 2].map((j) => ({ a: 3 * k + j }))));
    }
    expect(await positions(schema, "t")).toEqual(Array.from({ length: 31 }, (_, i) => [i, i - 1]));
    await a.close();
    await b.close();
  });

  it("a writer whose table was dropped by another appends to a new one", async () => {
    const schema = freshSchema("dropped");
    const a = await openStore(urlWith(schema));
    const b = await openStore(urlWith(schema));
    await a.append("t", rowsToBatch([{ a: 1 }]));
    await a.append("t", rowsToBatch([{ a: 2 }]));
    expect(await b.drop!("t")).toBe(true);
    await a.append("t", rowsToBatch([{ a: 3 }]));
    await a.append("t", rowsToBatch([{ a: 4 }]));
    expect(await positions(schema, "t")).toEqual([
      [0, 3],
      [1, 4],
    ]);
    await a.close();
    await b.close();
  });

  it("a catalog and table made before positions were an identity are brought up to it; an older writer's appends interleave densely", async () => {
    const schema = freshSchema("older");
    const s = await openStore(urlWith(schema));
    await s.append("t", rowsToBatch([{ a: 0 }, { a: 1 }]));
    await s.close();
    expect(await identity(schema, "t")).toBe("d");
    // What an older version made: no function, no identity.
    await pg.unsafe(`DROP FUNCTION "${schema}"._quiver_append(text, text, text, bigint, bigint, text)`);
    await pg.unsafe(`ALTER TABLE "${schema}".t ALTER COLUMN _quiver_pos DROP IDENTITY`);
    expect(await identity(schema, "t")).toBe("");
    // An older writer's append: the table's lock, the catalog row's positions, explicit positions.
    const older = async (a: number) =>
      pg.begin(async (tx) => {
        await tx.unsafe(`SELECT pg_advisory_xact_lock(${0x51564552 + 1}, hashtext($1))`, [`${schema}.t`]);
        const [r] = await tx.unsafe(`UPDATE "${schema}"._quiver_tables SET rows = rows + 1 WHERE name = 't' RETURNING rows - 1 AS start`);
        await tx.unsafe(`INSERT INTO "${schema}".t (_quiver_pos, a) VALUES ($1, $2)`, [r!.start, a]);
      });
    await older(2);
    const t = await openStore(urlWith(schema));
    await t.append("t", rowsToBatch([{ a: 3 }])); // brings the table up to the identity
    expect(await identity(schema, "t")).toBe("d");
    const [fn] = await pg.unsafe(`SELECT to_regprocedure($1) IS NOT NULL AS ok`, [`"${schema}"._quiver_append(text,text,text,bigint,bigint,text)`]);
    expect(fn!.ok).toBe(true);
    await t.append("t", rowsToBatch([{ a: 4 }, { a: 5 }]));
    await older(6);
    await t.append("t", rowsToBatch([{ a: 7 }]));
    expect(await positions(schema, "t")).toEqual(Array.from({ length: 8 }, (_, i) => [i, i]));
    expect((await rowsOf(t, "t")).map((r) => r.a)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    await t.close();
  });
});
