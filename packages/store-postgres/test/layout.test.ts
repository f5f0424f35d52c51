/** What is really in PostgreSQL: tables, columns, types, names, indexes — read with a raw client. */
import { field, openStore, rowsToBatch, Session, Tracker } from "@quiver/core";
import { rowsOf } from "@quiver/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import "../dist/index.js";
import { freshSchema, raw, urlWith } from "./helpers.js";

const pg = raw();
afterAll(() => pg.end());

async function columns(schema: string, table: string): Promise<[string, string][]> {
  const r = await pg`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ${schema} AND table_name = ${table} ORDER BY ordinal_position`;
  return r.map((x) => [x.column_name as string, x.data_type as string]);
}

describe("postgres: layout", () => {
  it("a table per Quiver table, a column per key, added on first sight; int widens to float in place", async () => {
    const schema = freshSchema();
    const t = await Tracker.open(urlWith(schema), { params: { model: "m" } });
    await t.log({ loss: 1, tag: "a", ok: true, at: new Date(Date.UTC(2020, 0, 1, 0, 0, 0, 5)), raw: new Uint8Array([1, 2]), v: [1.5, 2], big: 5n });
    await t.flush();
    // In the order core hands the columns over (a Tracker creates its table on open with its
    // params, timestamp and track_id), which is core's business: compared by name here.
    const byName = (cs: [string, string][]) => [...cs].sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
    expect(byName(await columns(schema, "events"))).toEqual(
      byName([
        ["_quiver_pos", "bigint"],
        ["model", "text"],
        ["timestamp", "timestamp with time zone"],
        ["track_id", "text"],
        ["loss", "bigint"],
        ["tag", "text"],
        ["ok", "boolean"],
        ["at", "timestamp with time zone"],
        ["raw", "bytea"],
        ["v", "ARRAY"],
        ["big", "bigint"],
      ]),
    );
    expect((await columns(schema, "events"))[0]).toEqual(["_quiver_pos", "bigint"]);
    await t.log({ loss: 0.25, extra: "new" });
    await t.flush();
    const cols = await columns(schema, "events");
    expect(cols.find((c) => c[0] === "loss")![1]).toBe("double precision");
    expect(cols.at(-1)).toEqual(["extra", "text"]);
    // Plain SQL sees plain values.
    const rows = await pg.unsafe(`SELECT loss, tag, extra, big, at FROM ${schema}.events ORDER BY _quiver_pos`);
    expect(rows.map((r) => [r.loss, r.tag, r.extra])).toEqual([
      [1, "a", null],
      [0.25, null, "new"],
    ]);
    expect(String(rows[0]!.big)).toBe("5");
    expect((rows[0]!.at as Date).toISOString()).toBe("2020-01-01T00:00:00.005Z");
    expect((await t.toRows()).map((r) => [r.loss, r.big])).toEqual([
      [1, 5n],
      [0.25, null],
    ]);
    // The catalog keeps the exact types: the bigint column reads back as bigint.
    const cat = await pg.unsafe(`SELECT name, type, "bigint" FROM ${schema}._quiver_columns WHERE tbl = 'events' AND name IN ('big', 'v') ORDER BY name`);
    expect(cat.map((r) => [r.name, r.type, r.bigint])).toEqual([
      ["big", '"int64"', true],
      ["v", '"list<float64>"', false],
    ]);
    await t.close();
  });

  it("long table and column names map to short identifiers through the catalog, never truncated", async () => {
    const schema = freshSchema();
    const s = await openStore(urlWith(schema));
    const long = `project/${"x".repeat(120)}/tracks/robot/pose`;
    const twin = `project/${"x".repeat(120)}/tracks/robot/posf`; // same first 63 bytes
    const col = "é".repeat(100); // 200 bytes
    const col2 = `${"é".repeat(99)}e`;
    await s.append(long, rowsToBatch([{ [col]: 1, [col2]: 2 }]));
    await s.append(twin, rowsToBatch([{ [col]: 3 }]));
    expect(await s.tables()).toEqual([long, twin].sort());
    expect((await s.schema(long))!.fields.map((f) => f.name)).toEqual([col, col2]);
    expect(await rowsOf(s, long)).toEqual([{ [col]: 1, [col2]: 2 }]);
    expect(await rowsOf(s, twin)).toEqual([{ [col]: 3 }]);
    const idents = await pg.unsafe(`SELECT name, ident FROM ${schema}._quiver_tables ORDER BY name`);
    for (const r of idents) {
      expect(Buffer.byteLength(r.ident as string)).toBeLessThanOrEqual(63);
      expect(r.ident).toMatch(/^project\/x+~[0-9a-f]{12}$/);
    }
    expect(new Set(idents.map((r) => r.ident)).size).toBe(2);
    const cidents = await pg.unsafe(`SELECT ident FROM ${schema}._quiver_columns WHERE tbl = ${"$1"}`, [long]);
    expect(cidents.every((r) => Buffer.byteLength(r.ident as string) <= 63)).toBe(true);
    expect(await s.count(long, field(col2).eq(2).node)).toBe(1);
    // A short name that looks like a mapped one is kept apart.
    await s.append(idents[0]!.ident as string, rowsToBatch([{ a: 1 }]));
    expect((await s.tables()).length).toBe(3);
    expect(await rowsOf(s, long)).toEqual([{ [col]: 1, [col2]: 2 }]);
    await s.close();
  });

  it("a string with NUL moves its column to bytea (text cannot hold U+0000); queries still match", async () => {
    const schema = freshSchema();
    const s = await openStore(urlWith(schema));
    await s.append("t", rowsToBatch([{ s: "plain", l: ["a", "b"] }]));
    expect(await columns(schema, "t")).toEqual([
      ["_quiver_pos", "bigint"],
      ["s", "text"],
      ["l", "ARRAY"],
    ]);
    await s.append("t", rowsToBatch([{ s: "nul\u0000inside", l: ["x\u0000", null] }]));
    expect(await columns(schema, "t")).toEqual([
      ["_quiver_pos", "bigint"],
      ["s", "bytea"],
      ["l", "ARRAY"],
    ]);
    expect(await rowsOf(s, "t")).toEqual([
      { s: "plain", l: ["a", "b"] },
      { s: "nul\u0000inside", l: ["x\u0000", null] },
    ]);
    expect(await s.count("t", field("s").startsWith("nul\u0000").node)).toBe(1);
    expect(await s.count("t", field("s").endsWith("ain").node)).toBe(1);
    expect(await s.count("t", field("s").contains("\u0000").node)).toBe(1);
    expect(await s.count("t", field("s").eq("plain").node)).toBe(1);
    expect(await s.count("t", field("l").contains("x\u0000").node)).toBe(1);
    expect(await s.count("t", field("s").gt("o").node)).toBe(1);
    await s.close();
  });

  it("tracks: `_ts` is indexed and a time window is an index scan; track indexes follow insertion order", async () => {
    const schema = freshSchema();
    const url = urlWith(schema);
    const session = await Session.open({ prefix: "p/e", store: url });
    const tr = session.track("robot/pose");
    const t0 = 1_700_000_000;
    await tr.appendBatch(Array.from({ length: 20_000 }, (_, i) => ({ _ts: t0 + i, x: i })));
    const w = await tr.readByTime({ startTime: t0 + 100, endTime: t0 + 110 });
    expect(w.data.map((d) => d.index)).toEqual(Array.from({ length: 10 }, (_, i) => 100 + i));
    const r = await tr.read({ startIndex: 19_995, limit: 10 });
    expect(r.data.map((d) => d.data.x)).toEqual([19995, 19996, 19997, 19998, 19999]);
    await session.close();
    const [{ ident }] = await pg.unsafe(`SELECT ident FROM ${schema}._quiver_tables WHERE name = 'p/e/tracks/robot/pose'`);
    await pg.unsafe(`ANALYZE ${schema}."${ident}"`);
    const plan = (await pg.unsafe(`EXPLAIN SELECT * FROM ${schema}."${ident}" WHERE _ts >= 1700000100 AND _ts < 1700000110 ORDER BY _ts, _quiver_pos LIMIT 1000`))
      .map((x) => x["QUERY PLAN"])
      .join("\n");
    expect(plan).toMatch(/Index Scan/);
  });

  it("delete keeps positions dense and in order (rowIndex after a delete)", async () => {
    const s = await openStore(urlWith(freshSchema()));
    await s.append("t", rowsToBatch(Array.from({ length: 10 }, (_, i) => ({ i }))));
    expect(await s.delete("t", field("i").in([0, 3, 4]).node)).toBe(3);
    expect(await rowsOf(s, "t", { rowIndex: "k" })).toEqual([1, 2, 5, 6, 7, 8, 9].map((i, k) => ({ i, k })));
    await s.append("t", rowsToBatch([{ i: 10 }]));
    expect((await rowsOf(s, "t", { rowIndex: "k", where: field("i").ge(9).node })).map((r) => r.k)).toEqual([6, 7]);
    expect(await s.update("t", field("i").eq(10).node, { note: "last" })).toBe(1);
    expect((await rowsOf(s, "t", { orderBy: [{ column: "i", direction: "desc" }], limit: 1 }))[0]).toEqual({ i: 10, note: "last" });
    await s.close();
  });

  it("sql(): PostgreSQL SQL on the store's schema first, $n parameters, Arrow out; dialect postgres", async () => {
    const schema = freshSchema();
    const t = await Tracker.open(urlWith(schema));
    await t.logBatch([
      { epoch: 1, loss: 0.5 },
      { epoch: 2, loss: 0.25 },
    ]);
    expect(t.store.capabilities.dialect).toBe("postgres");
    const tb = await t.sql("SELECT epoch, loss FROM events WHERE loss < $1 ORDER BY epoch", [0.4]);
    expect(tb.toArray().map((r) => r.toJSON())).toEqual([{ epoch: 2n, loss: 0.25 }]);
    const n = await t.sql("SELECT count(*) AS n, max(timestamp) AS last, array_agg(epoch ORDER BY epoch) AS e FROM events");
    const row = n.get(0)!.toJSON();
    expect(row.n).toBe(2n);
    expect(row.last).toBeTypeOf("number");
    expect(Array.from(row.e as Iterable<bigint>)).toEqual([1n, 2n]);
    await expect(t.sql("SELEC 1")).rejects.toMatchObject({ code: "INVALID_QUERY" });
    await expect(t.sql("SELECT * FROM no_such_table")).rejects.toMatchObject({ code: "INVALID_QUERY" });
    await t.close();
  });
});

describe("postgres: opening", () => {
  it("a batch the server refuses (a user's CHECK constraint) fails with IO saying why, and stores nothing", async () => {
    const schema = freshSchema("refused");
    const s = await openStore(urlWith(schema));
    await s.append("events", rowsToBatch([{ x: 1 }]));
    await pg.unsafe(`ALTER TABLE "${schema}".events ADD CONSTRAINT small CHECK (x < 100)`);
    // One part (the quick append) and several (in parts, positions from the lock's answer).
    for (const n of [1, 20_000]) {
      const err = await s.append("events", rowsToBatch(Array.from({ length: n }, () => ({ x: 500 })))).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "IO" });
      expect((err as Error).message).toContain('violates check constraint "small"');
    }
    expect(await s.count("events")).toBe(1);
    await s.close();
  });

  it("readOnly: NOT_FOUND for a missing schema or database, creating nothing; writes are UNSUPPORTED", async () => {
    const schema = freshSchema("ro");
    await expect(openStore(urlWith(schema), { readOnly: true })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await pg`SELECT 1 FROM pg_namespace WHERE nspname = ${schema}`).toHaveLength(0);
    const u = new URL(urlWith(schema));
    u.pathname = "/no_such_db_quiver";
    await expect(openStore(u.toString(), { readOnly: true })).rejects.toMatchObject({ code: "NOT_FOUND" });
    const w = await openStore(urlWith(schema));
    await w.append("t", rowsToBatch([{ a: 1 }]));
    await w.close();
    const r = await openStore(urlWith(schema), { readOnly: true });
    expect(await rowsOf(r, "t")).toEqual([{ a: 1 }]);
    await expect(r.append("t", rowsToBatch([{ a: 2 }]))).rejects.toMatchObject({ code: "UNSUPPORTED" });
    await expect(r.sql!("INSERT INTO t (_quiver_pos, a) VALUES (5, 5)")).rejects.toMatchObject({ code: "UNSUPPORTED" });
    await expect(r.sql!("CREATE TABLE x (a int)")).rejects.toMatchObject({ code: "UNSUPPORTED" });
    await r.close();
  });

  it("a server that is not there: IO naming host and port", async () => {
    const net = await import("node:net");
    const port = await new Promise<number>((resolve) => {
      const srv = net.createServer().listen(0, "127.0.0.1", () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const err = await openStore(`postgres://postgres@127.0.0.1:${port}/postgres`).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "IO" });
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
  });

  it("URL options; postgresql: is the same store; bad URLs are INVALID_URI", async () => {
    const schema = freshSchema();
    const a = await openStore(urlWith(schema, "&max=2"));
    await a.append("t", rowsToBatch([{ a: 1 }]));
    await a.close();
    const b = await openStore(urlWith(schema).replace(/^postgres:/, "postgresql:"));
    expect(b.uri.startsWith("postgres://")).toBe(true);
    expect(await b.count("t")).toBe(1);
    await b.close();
    await expect(openStore(urlWith(schema, "&colour=red"))).rejects.toMatchObject({ code: "INVALID_URI" });
    await expect(openStore(urlWith(schema, "&max=0"))).rejects.toMatchObject({ code: "INVALID_URI" });
    await expect(openStore("postgres:localhost/db")).rejects.toMatchObject({ code: "INVALID_URI" });
  });
});
