/**
 * Spans (catalog.ts): a run's rows are found through the positions each append recorded, not a
 * per-row index. A read of one run is exact however runs interleave (within a batch, across
 * writers, quick/big/first appends), after writes this store did not make (a user's SQL, an
 * older version of the store), after updates that move rows between runs and deletes that
 * renumber; tables made before spans and track_ids that are not text keep an index.
 */
import type { Store } from "@quiver/core";
import { field, openStore, rowsToBatch, Tracker } from "@quiver/core";
import { rowsOf } from "@quiver/core/testing";
import { afterAll, describe, expect, it } from "vitest";
import "../dist/index.js";
import { freshSchema, raw, urlWith } from "./helpers.js";

const pg = raw();
afterAll(() => pg.end());

const runRows = async (s: Store, table: string, id: string) => (await rowsOf(s, table, { where: field("track_id").eq(id).node })).map((r) => r.x);
const state = async (schema: string, table = "events") => (await pg.unsafe(`SELECT spans FROM "${schema}"._quiver_tables WHERE name = $1`, [table]))[0]?.spans as string | null;
const spans = async (schema: string) =>
  (await pg.unsafe(`SELECT track_id, lo::int, hi::int FROM "${schema}"._quiver_spans ORDER BY lo, track_id`)).map((r) => [r.track_id, r.lo, r.hi]);
const indexes = async (schema: string, table: string) =>
  (await pg.unsafe(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2 ORDER BY indexdef`, [schema, table])).map((r) => r.indexdef as string);

describe("postgres: runs found through spans", () => {
  it("interleaved runs (writers, batches of every size, runs mixed within a batch) each read back exactly, in order; a run written alone has one span", async () => {
    const schema = freshSchema("spans");
    const url = urlWith(schema);
    const want = new Map<string, number[]>();
    const add = (id: string, xs: number[]) => want.set(id, [...(want.get(id) ?? []), ...xs]);
    const ts = await Promise.all([0, 1, 2].map(() => Tracker.open(url)));
    let x = 0;
    const sizes = [1, 3, 2500, 1, 2048, 2049, 7, 5000, 1];
    for (const n of sizes) {
      for (const t of ts) {
        const rows = Array.from({ length: n }, () => ({ x: x++ }));
        await t.logBatch(rows);
        add(
          t.trackId,
          rows.map((r) => r.x),
        );
      }
    }
    for (const t of ts) {
      for (let k = 0; k < 5; k++) {
        const r = { x: x++ };
        await t.log(r);
        add(t.trackId, [r.x]);
      }
      await t.flush();
    }
    // One batch of several runs, interleaved row by row, as copy() or a user's append sends.
    const s = await openStore(url);
    const mixed = Array.from({ length: 3000 }, (_, k) => ({ x: x++, track_id: ["p", "q", ts[0]!.trackId][k % 3]! }));
    await s.append("events", rowsToBatch(mixed));
    for (const r of mixed) add(r.track_id, [r.x]);
    // A slice of a batch (an Arrow offset: its value offsets come sliced, its validity bits do
    // not), with a run id that starts with a BOM and rows without a run.
    const more = Array.from({ length: 40 }, (_, k) => ({ x: x++, track_id: k % 4 === 3 ? null : ["\uFEFFbom", "p", "bom"][k % 3]! }));
    await s.append("events", rowsToBatch(more).slice(7, 31));
    for (const r of more.slice(7, 31)) if (r.track_id !== null) add(r.track_id, [r.x]);
    for (const [id, xs] of want) expect(await runRows(s, "events", id)).toEqual(xs);
    for (const t of ts) expect((await t.toRows()).map((r) => r.x)).toEqual(want.get(t.trackId));
    expect(await s.count("events", field("track_id").eq(ts[1]!.trackId).node)).toBe(want.get(ts[1]!.trackId)!.length);
    expect(await runRows(s, "events", "nobody")).toEqual([]);
    expect(await state(schema)).toBe("ok");
    // No per-row index on track_id: the primary key only.
    expect((await indexes(schema, "events")).filter((d) => d.includes("track_id"))).toEqual([]);

    // A run written alone, in many appends of every path, is one span.
    const alone = freshSchema("alone");
    const t = await Tracker.open(urlWith(alone));
    for (const n of sizes) await t.logBatch(Array.from({ length: n }, (_, k) => ({ x: k })));
    await t.close();
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(await spans(alone)).toEqual([[t.trackId, 0, total - 1]]);
    for (const tr of ts) await tr.close();
    await s.close();
  });

  it("a run written among many others (read span by span) reads exactly, with filters, order, limit, offset and count, and when its spans are not trusted", async () => {
    const schema = freshSchema("among");
    const s = await openStore(urlWith(schema));
    const want = new Map<string, number[]>();
    let x = 0;
    for (let round = 0; round < 6; round++)
      for (let r = 0; r < 8; r++) {
        const rows = Array.from({ length: 1 + ((round * 8 + r) % 5) }, () => ({ x: x++, track_id: `r${r}` }));
        await s.append("events", rowsToBatch(rows));
        want.set(`r${r}`, [...(want.get(`r${r}`) ?? []), ...rows.map((q) => q.x)]);
      }
    const [{ n }] = await pg.unsafe(`SELECT count(*)::int AS n FROM "${schema}"._quiver_spans WHERE track_id = 'r3'`);
    expect(n).toBe(6); // one span per append: other runs were written in between
    const check = async () => {
      for (const [id, xs] of want) {
        const run = field("track_id").eq(id);
        expect(await runRows(s, "events", id)).toEqual(xs);
        expect(await s.count("events", run.node)).toBe(xs.length);
        expect((await rowsOf(s, "events", { where: run.and(field("x").ge(60)).node })).map((r) => r.x)).toEqual(xs.filter((v) => v >= 60));
        expect((await rowsOf(s, "events", { where: run.node, orderBy: [{ column: "x", direction: "desc" }], limit: 3, offset: 1 })).map((r) => r.x)).toEqual(
          [...xs].reverse().slice(1, 4),
        );
        expect((await rowsOf(s, "events", { where: run.node, limit: 2 })).map((r) => r.x)).toEqual(xs.slice(0, 2));
      }
    };
    await check();
    await pg.unsafe(`UPDATE "${schema}"._quiver_tables SET spans = 'stale'`);
    await check();
    await s.close();
  });

  it("reads of a run go through its spans: without them it reads nothing; when they are not 'ok' the whole table is read", async () => {
    const schema = freshSchema("through");
    const url = urlWith(schema);
    const s = await openStore(url);
    await s.append("events", rowsToBatch([0, 1, 2, 3].map((x) => ({ x, track_id: x % 2 ? "odd" : "even" }))));
    expect(await runRows(s, "events", "odd")).toEqual([1, 3]);
    // Spans taken away under the store (nothing fires): the read is narrowed to nothing.
    await pg.unsafe(`DELETE FROM "${schema}"._quiver_spans WHERE track_id = 'odd'`);
    expect(await runRows(s, "events", "odd")).toEqual([]);
    expect(await runRows(s, "events", "even")).toEqual([0, 2]);
    // Not trusted: every row is looked at again.
    await pg.unsafe(`UPDATE "${schema}"._quiver_tables SET spans = 'stale'`);
    expect(await runRows(s, "events", "odd")).toEqual([1, 3]);
    // The next append rebuilds them from the rows.
    await s.append("events", rowsToBatch([{ x: 4, track_id: "odd" }]));
    expect(await state(schema)).toBe("ok");
    expect(await spans(schema)).toEqual([
      ["even", 0, 0],
      ["odd", 1, 1],
      ["even", 2, 2],
      ["odd", 3, 4],
    ]);
    expect(await runRows(s, "events", "odd")).toEqual([1, 3, 4]);
    await s.close();
  });

  it("rows a user's SQL (or an older version of the store) writes are found: the table's spans go 'stale' and are rebuilt by the next append", async () => {
    const schema = freshSchema("foreign");
    const url = urlWith(schema);
    const t = await Tracker.open(url);
    await t.logBatch([{ x: 1 }, { x: 2 }]);
    const s = await openStore(url);
    // An older version's append (or a user's): the table's lock, the catalog row's positions,
    // explicit positions, and no spans.
    await pg.begin(async (tx) => {
      await tx.unsafe(`SELECT pg_advisory_xact_lock(${0x51564552 + 1}, hashtext($1))`, [`${schema}.events`]);
      const [r] = await tx.unsafe(`UPDATE "${schema}"._quiver_tables SET rows = rows + 2 WHERE name = 'events' RETURNING rows - 2 AS start`);
      await tx.unsafe(`INSERT INTO "${schema}".events (_quiver_pos, track_id, x) VALUES ($1, $2, 3), ($1::int8 + 1, 'other', 99)`, [r!.start, t.trackId]);
    });
    expect(await state(schema)).toBe("stale");
    expect((await t.toRows()).map((r) => r.x)).toEqual([1, 2, 3]);
    // Through the store's own sql() too (a user's statement, not one of its writes), and TRUNCATE.
    await t.logBatch([{ x: 4 }]);
    expect(await state(schema)).toBe("ok");
    expect((await t.toRows()).map((r) => r.x)).toEqual([1, 2, 3, 4]);
    expect(await runRows(s, "events", "other")).toEqual([99]);
    await s.sql!(`UPDATE events SET track_id = $1 WHERE x = 99`, [t.trackId]);
    expect(await state(schema)).toBe("stale");
    expect((await t.toRows()).map((r) => r.x)).toEqual([1, 2, 3, 99, 4]);
    await t.logBatch([{ x: 5 }]);
    expect(await state(schema)).toBe("ok");
    expect((await t.toRows()).map((r) => r.x)).toEqual([1, 2, 3, 99, 4, 5]);
    // A plain INSERT: its position comes from the identity, past the catalog's count; and one
    // under session_replication_role = replica, where ordinary triggers do not fire.
    await s.sql!(`INSERT INTO events (track_id, x) VALUES ($1, 6)`, [t.trackId]);
    expect(await state(schema)).toBe("stale");
    await t.logBatch([{ x: 7 }]);
    expect(await state(schema)).toBe("ok");
    expect((await t.toRows()).map((r) => r.x).sort((a, b) => Number(a) - Number(b))).toEqual([1, 2, 3, 4, 5, 6, 7, 99]);
    await pg.begin(async (tx) => {
      await tx.unsafe("SET LOCAL session_replication_role = replica");
      await tx.unsafe(`UPDATE "${schema}".events SET track_id = 'other' WHERE x = 99`);
    });
    expect(await state(schema)).toBe("stale");
    expect(await runRows(s, "events", "other")).toEqual([99]);
    await pg.unsafe(`TRUNCATE "${schema}".events`);
    expect(await state(schema)).toBe("stale");
    await t.close();
    await s.close();
  });

  it("a user's INSERT at the next position (or past it) and DELETE leave the positions dense again at the next append, which then stores its rows", async () => {
    const schema = freshSchema("dense");
    const url = urlWith(schema);
    const t = await Tracker.open(url);
    await t.logBatch([{ x: 0 }, { x: 1 }, { x: 2 }]);
    const T = `"${schema}".events`;
    // Positions the store would hand out next: before, the next append met them (unique violation, for ever).
    await pg.unsafe(`INSERT INTO ${T} (_quiver_pos, track_id, x) VALUES (3, $1, 3), (9, $1, 4)`, [t.trackId]);
    await t.logBatch([{ x: 5 }, { x: 6 }]);
    await pg.unsafe(`DELETE FROM ${T} WHERE x = 1`);
    await t.log({ x: 7 });
    await t.flush();
    const rows = await pg.unsafe(`SELECT _quiver_pos::int AS p, x::int AS x FROM ${T} ORDER BY _quiver_pos`);
    expect(rows.map((r) => [r.p, r.x])).toEqual([0, 2, 3, 4, 5, 6, 7].map((x, p) => [p, x]));
    const [c] = await pg.unsafe(`SELECT rows::int AS n FROM "${schema}"._quiver_tables WHERE name = 'events'`);
    expect(c!.n).toBe(7);
    expect(await state(schema)).toBe("ok");
    expect(await spans(schema)).toEqual([[t.trackId, 0, 6]]);
    // Reads by position (a Track's pages, a Reader's offsets) go on from there.
    const s = await openStore(url);
    expect((await rowsOf(s, "events", { offset: 3, limit: 2 })).map((r) => r.x)).toEqual([4, 5]);
    await s.close();
    await t.close();
  });

  it("an update moving rows to another run and a delete that renumbers the positions keep every run's reads exact", async () => {
    const schema = freshSchema("moves");
    const url = urlWith(schema);
    const s = await openStore(url);
    for (let k = 0; k < 4; k++) await s.append("events", rowsToBatch([0, 1, 2].map((i) => ({ x: 10 * k + i, track_id: k % 2 ? "b" : "a" }))));
    // a: 0 1 2 | 20 21 22 — b: 10 11 12 | 30 31 32
    expect(await s.update("events", field("x").eq(21).node, { track_id: "b" })).toBe(1);
    expect(await runRows(s, "events", "a")).toEqual([0, 1, 2, 20, 22]);
    expect(await runRows(s, "events", "b")).toEqual([10, 11, 12, 21, 30, 31, 32]);
    expect(await s.delete("events", field("x").lt(12).node)).toBe(5);
    expect(await runRows(s, "events", "a")).toEqual([20, 22]);
    expect(await runRows(s, "events", "b")).toEqual([12, 21, 30, 31, 32]);
    expect(await spans(schema)).toEqual([
      ["b", 0, 0],
      ["a", 1, 1],
      ["b", 2, 2],
      ["a", 3, 3],
      ["b", 4, 6],
    ]);
    expect(await state(schema)).toBe("ok");
    await s.close();
  });

  it("a table made before spans keeps its index and its reads; a track_id that is not text is indexed", async () => {
    const schema = freshSchema("before");
    const url = urlWith(schema);
    const s = await openStore(url);
    await s.append("events", rowsToBatch([{ x: 0, track_id: "a" }]));
    // What an older version made: no spans, an index on (track_id, _quiver_pos).
    await pg.unsafe(`UPDATE "${schema}"._quiver_tables SET spans = NULL`);
    await pg.unsafe(`DELETE FROM "${schema}"._quiver_spans`);
    await pg.unsafe(`CREATE INDEX ON "${schema}".events (track_id COLLATE "C", _quiver_pos)`);
    const t = await openStore(url);
    await t.append("events", rowsToBatch([{ x: 1, track_id: "a" }]));
    await t.append("events", rowsToBatch(Array.from({ length: 3000 }, (_, k) => ({ x: 2 + k, track_id: "a" }))));
    expect((await runRows(t, "events", "a")).length).toBe(3002);
    expect(await spans(schema)).toEqual([]);
    expect(await state(schema)).toBe(null);

    // Numbers as track_id: indexed, out of spans.
    await t.append("nums", rowsToBatch([{ x: 0, track_id: 7 }]));
    expect(await state(schema, "nums")).toBe(null);
    expect((await indexes(schema, "nums")).some((d) => d.includes("track_id"))).toBe(true);
    expect((await rowsOf(t, "nums", { where: field("track_id").eq(7).node })).map((r) => r.x)).toEqual([0]);
    // Strings that meet a NUL move to bytes: indexed from then on, out of spans.
    await t.append("nul", rowsToBatch([{ x: 0, track_id: "a" }]));
    expect(await state(schema, "nul")).toBe("ok");
    await t.append("nul", rowsToBatch([{ x: 1, track_id: "b\u0000c" }]));
    expect(await state(schema, "nul")).toBe(null);
    expect((await indexes(schema, "nul")).some((d) => d.includes("track_id"))).toBe(true);
    expect((await rowsOf(t, "nul", { where: field("track_id").eq("a").node })).map((r) => r.x)).toEqual([0]);
    expect((await rowsOf(t, "nul", { where: field("track_id").eq("b\u0000c").node })).map((r) => r.x)).toEqual([1]);
    await s.close();
    await t.close();
  });
});
