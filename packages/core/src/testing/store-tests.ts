/** Store-level conformance: what every Store plugin must do, or declare it cannot. */
import { rowsToBatch, type Row } from "../arrow/batches.js";
import { and, field, not, or, type QueryNode } from "../query/query.js";
import type { Store } from "../store/contract.js";
import { assert, type ConformanceTarget, plain, rejectsWith, rowsOf, type TestApi, withStore } from "./harness.js";

const T0 = Date.UTC(2024, 0, 1);

/** 20 rows with every scalar kind and a few nulls, for query tests. */
export function queryRows(): Row[] {
  return Array.from({ length: 20 }, (_, i) => ({
    i,
    f: i % 5 === 0 ? null : i / 4,
    s: ["alpha", "beta", "gamma", "delta"][i % 4]! + i,
    b: i % 3 === 0,
    t: new Date(T0 + i * 60_000),
  }));
}

async function ids(store: Store, where: QueryNode): Promise<number[]> {
  const rows = await rowsOf(store, "q", { where, columns: ["i"] });
  const got = rows.map((r) => Number(r.i));
  assert.equal(await store.count("q", where), got.length, "count(where) agrees with scan(where)");
  return got;
}

function expectIds(pred: (r: Row) => boolean): number[] {
  return queryRows()
    .filter(pred)
    .map((r) => r.i as number);
}

export function storeTests(t: TestApi, target: ConformanceTarget): void {
  const to = target.timeout ?? 30_000;
  const it = (name: string, fn: () => Promise<void>) => t.it(name, fn, to);

  it("appends and scans back every value kind it declares, nulls included", async () => {
    await withStore(target, async (store) => {
      const kinds = store.capabilities.kinds;
      const full: Row = {};
      if (kinds.includes("int")) full.int = -42;
      if (kinds.includes("float")) full.float = 0.125;
      if (kinds.includes("bigint")) full.big = 2n ** 60n + 1n;
      if (kinds.includes("bool")) full.bool = true;
      if (kinds.includes("string")) full.str = "héllo, wörld ✓";
      if (kinds.includes("timestamp")) full.time = new Date(T0 + 1234);
      if (kinds.includes("binary")) full.bin = new Uint8Array([0, 1, 254, 255]);
      if (kinds.includes("list")) {
        full.list = [1.5, -2, 3];
        full.f32 = new Float32Array([1.5, 2.5]);
        full.tags = ["a", "b"];
      }
      if (kinds.includes("tensor")) full.img = { data: new Float32Array([1, 2, 3, 4, 5, 6]), shape: [2, 3] };
      const empty: Row = Object.fromEntries(Object.keys(full).map((k) => [k, null]));
      await store.append("kinds", rowsToBatch([full, empty, full]));
      const rows = await rowsOf(store, "kinds");
      assert.equal(rows.length, 3);
      assert.deepEqual(plain(rows[0]), plain(full));
      assert.deepEqual(plain(rows[1]), plain(empty));
      assert.deepEqual(plain(rows[2]), plain(full));
      const schema = await store.schema("kinds");
      assert.deepEqual(
        schema?.fields.map((f) => f.name),
        Object.keys(full),
      );
    });
  });

  it("keeps insertion order over many appends and a large batch", async () => {
    await withStore(target, async (store) => {
      for (let k = 0; k < 5; k++) await store.append("order", rowsToBatch(Array.from({ length: 7 }, (_, i) => ({ n: k * 7 + i }))));
      const big = Array.from({ length: 20_000 }, (_, i) => ({ n: 35 + i, s: `row-${i}` }));
      await store.append("order", rowsToBatch(big));
      const rows = await rowsOf(store, "order", { columns: ["n"] });
      assert.equal(rows.length, 20_035);
      rows.forEach((r, i) => assert.equal(r.n, i));
      assert.equal(await store.count("order"), 20_035);
    });
  });

  it("evolves the schema: new columns appear, old rows read them as null", async () => {
    await withStore(target, async (store) => {
      await store.append("evo", rowsToBatch([{ a: 1 }, { a: 2 }]));
      await store.append("evo", rowsToBatch([{ a: 3, b: "x" }]));
      await store.append("evo", rowsToBatch([{ c: true }]));
      assert.deepEqual(
        (await store.schema("evo"))?.fields.map((f) => f.name),
        ["a", "b", "c"],
      );
      assert.deepEqual(await rowsOf(store, "evo"), [
        { a: 1, b: null, c: null },
        { a: 2, b: null, c: null },
        { a: 3, b: "x", c: null },
        { a: null, b: null, c: true },
      ]);
    });
  });

  it("puts integers into a float column and widens an integer column for floats", async () => {
    await withStore(target, async (store) => {
      await store.append("num", rowsToBatch([{ x: 0.5, y: 1 }]));
      await store.append("num", rowsToBatch([{ x: 2, y: 2 }]));
      await store.append("num", rowsToBatch([{ x: 3, y: 2.5 }]));
      assert.deepEqual(await rowsOf(store, "num"), [
        { x: 0.5, y: 1 },
        { x: 2, y: 2 },
        { x: 3, y: 2.5 },
      ]);
    });
  });

  it("rejects an incompatible type with SCHEMA_MISMATCH and keeps what was stored", async () => {
    await withStore(target, async (store) => {
      await store.append("mm", rowsToBatch([{ n: 1, s: "a" }]));
      await rejectsWith(store.append("mm", rowsToBatch([{ n: "one", s: "b" }])), "SCHEMA_MISMATCH", ["n"]);
      await rejectsWith(store.append("mm", rowsToBatch([{ n: 2, s: 5 }])), "SCHEMA_MISMATCH", ["s"]);
      assert.deepEqual(await rowsOf(store, "mm"), [{ n: 1, s: "a" }]);
      await store.append("mm", rowsToBatch([{ n: 2, s: "b" }]));
      assert.equal(await store.count("mm"), 2);
    });
  });

  it("filters with every Query operator, with SQL null semantics", async () => {
    await withStore(target, async (store) => {
      await store.append("q", rowsToBatch(queryRows()));
      const f = (r: Row) => r.f as number | null;
      assert.deepEqual(await ids(store, field("i").eq(3).node), [3]);
      assert.deepEqual(
        await ids(store, field("i").ne(3).node),
        expectIds((r) => r.i !== 3),
      );
      assert.deepEqual(await ids(store, field("i").gt(15).node), [16, 17, 18, 19]);
      assert.deepEqual(await ids(store, field("i").ge(18).node), [18, 19]);
      assert.deepEqual(await ids(store, field("i").lt(2).node), [0, 1]);
      assert.deepEqual(await ids(store, field("i").le(1).node), [0, 1]);
      assert.deepEqual(
        await ids(store, field("f").gt(3).node),
        expectIds((r) => f(r) !== null && f(r)! > 3),
      );
      assert.deepEqual(
        await ids(store, field("f").ne(1).node),
        expectIds((r) => f(r) !== null && f(r) !== 1),
        "ne never matches null",
      );
      assert.deepEqual(
        await ids(store, not(field("f").lt(2)).node),
        expectIds((r) => f(r) !== null && !(f(r)! < 2)),
        "not(null) is null",
      );
      assert.deepEqual(await ids(store, field("f").isNull().node), [0, 5, 10, 15]);
      assert.deepEqual(
        await ids(store, field("f").isNotNull().node),
        expectIds((r) => f(r) !== null),
      );
      assert.deepEqual(await ids(store, field("i").in([1, 4, 99]).node), [1, 4]);
      assert.deepEqual(await ids(store, field("s").in(["beta1", "gamma2"]).node), [1, 2]);
      assert.deepEqual(
        await ids(store, field("s").contains("amm").node),
        expectIds((r) => (r.s as string).includes("amm")),
      );
      assert.deepEqual(
        await ids(store, field("s").startsWith("del").node),
        expectIds((r) => (r.s as string).startsWith("del")),
      );
      assert.deepEqual(await ids(store, field("s").endsWith("1").node), [1, 11]);
      assert.deepEqual(
        await ids(store, field("b").eq(true).node),
        expectIds((r) => r.b === true),
      );
      assert.deepEqual(await ids(store, field("t").ge(new Date(T0 + 18 * 60_000)).node), [18, 19]);
      assert.deepEqual(await ids(store, field("t").lt(new Date(T0 + 60_000)).node), [0]);
      // The seed's example: (episode > 5) | ((episode == 0) & has_baby_yoda)
      const seed = or(field("i").gt(17), and(field("i").eq(0), field("b").eq(true))).node;
      assert.deepEqual(await ids(store, seed), [0, 18, 19]);
      assert.deepEqual(await ids(store, and(field("i").ge(5), field("i").lt(8), not(field("i").eq(6))).node), [5, 7]);
      assert.deepEqual(await ids(store, or(field("f").isNull(), field("i").eq(1)).node), [0, 1, 5, 10, 15]);
      assert.equal(await store.count("q"), 20);
    });
  });

  it("projects columns, orders (nulls last), offsets and limits", async () => {
    await withStore(target, async (store) => {
      await store.append("q", rowsToBatch(queryRows()));
      const proj = await rowsOf(store, "q", { columns: ["s", "i"], limit: 2 });
      assert.deepEqual(proj, [
        { s: "alpha0", i: 0 },
        { s: "beta1", i: 1 },
      ]);
      assert.deepEqual(
        (await rowsOf(store, "q", { offset: 18 })).map((r) => r.i),
        [18, 19],
      );
      assert.deepEqual(
        (await rowsOf(store, "q", { offset: 3, limit: 2 })).map((r) => r.i),
        [3, 4],
      );
      assert.deepEqual(await rowsOf(store, "q", { limit: 0 }), []);
      const desc = await rowsOf(store, "q", { orderBy: [{ column: "i", direction: "desc" }], limit: 3, columns: ["i"] });
      assert.deepEqual(
        desc.map((r) => r.i),
        [19, 18, 17],
      );
      const byF = await rowsOf(store, "q", { orderBy: [{ column: "f" }], columns: ["i", "f"] });
      assert.deepEqual(
        byF.slice(-4).map((r) => r.f),
        [null, null, null, null],
        "nulls last ascending",
      );
      assert.deepEqual(
        byF.slice(0, 2).map((r) => r.i),
        [1, 2],
      );
      const byFd = await rowsOf(store, "q", { orderBy: [{ column: "f", direction: "desc" }], columns: ["f"] });
      assert.equal(byFd[0]!.f, 19 / 4);
      assert.deepEqual(
        byFd.slice(-4).map((r) => r.f),
        [null, null, null, null],
        "nulls last descending",
      );
      const multi = await rowsOf(store, "q", {
        orderBy: [
          { column: "b", direction: "desc" },
          { column: "i", direction: "desc" },
        ],
        columns: ["i"],
        limit: 3,
      });
      assert.deepEqual(
        multi.map((r) => r.i),
        [18, 15, 12],
      );
      const filtered = await rowsOf(store, "q", { where: field("i").ge(10).node, orderBy: [{ column: "i", direction: "desc" }], offset: 1, limit: 2, columns: ["i"] });
      assert.deepEqual(
        filtered.map((r) => r.i),
        [18, 17],
      );
    });
  });

  it("reports each row's insertion position with rowIndex", async () => {
    await withStore(target, async (store) => {
      await store.append("ri", rowsToBatch([{ v: "a" }, { v: "b" }]));
      await store.append("ri", rowsToBatch([{ v: "c" }, { v: "d" }]));
      const rows = await rowsOf(store, "ri", { where: field("v").ne("b").node, rowIndex: "_idx" });
      assert.deepEqual(
        rows.map((r) => [r.v, Number(r._idx)]),
        [
          ["a", 0],
          ["c", 2],
          ["d", 3],
        ],
      );
      const desc = await rowsOf(store, "ri", { orderBy: [{ column: "v", direction: "desc" }], limit: 2, rowIndex: "_idx", columns: ["v"] });
      assert.deepEqual(
        desc.map((r) => [r.v, Number(r._idx)]),
        [
          ["d", 3],
          ["c", 2],
        ],
      );
    });
  });

  it("updates rows by query, adding columns as needed (or declares it cannot)", async () => {
    await withStore(target, async (store) => {
      await store.append("u", rowsToBatch(queryRows()));
      if (!store.capabilities.update) {
        await rejectsWith(store.update("u", field("i").eq(1).node, { s: "x" }), "UNSUPPORTED");
        return;
      }
      assert.equal(await store.update("u", field("i").lt(3).node, { s: "changed", note: "new" }), 3);
      const rows = await rowsOf(store, "u", { columns: ["i", "s", "note"], limit: 4 });
      assert.deepEqual(rows, [
        { i: 0, s: "changed", note: "new" },
        { i: 1, s: "changed", note: "new" },
        { i: 2, s: "changed", note: "new" },
        { i: 3, s: "delta3", note: null },
      ]);
      await rejectsWith(store.update("u", field("i").eq(5).node, { i: "five" }), "SCHEMA_MISMATCH", ["i"]);
      assert.equal(await store.count("u", field("i").eq(5).node), 1);
      assert.equal(await store.update("u", undefined, { all: 1 }), 20);
      assert.equal(await store.count("u", field("all").eq(1).node), 20);
    });
  });

  it("deletes rows by query and drops tables (or declares it cannot)", async () => {
    await withStore(target, async (store) => {
      await store.append("d", rowsToBatch(queryRows()));
      if (!store.capabilities.delete) {
        await rejectsWith(store.delete("d", field("i").eq(1).node), "UNSUPPORTED");
        return;
      }
      assert.equal(await store.delete("d", field("i").ge(15).node), 5);
      assert.equal(await store.count("d"), 15);
      assert.deepEqual(
        (await rowsOf(store, "d", { columns: ["i"], offset: 13 })).map((r) => r.i),
        [13, 14],
      );
      await store.append("d", rowsToBatch([{ i: 100 }]));
      assert.deepEqual(
        (await rowsOf(store, "d", { columns: ["i"], offset: 14 })).map((r) => r.i),
        [14, 100],
      );
      assert.equal(await store.drop("d"), true);
      assert.equal(await store.drop("d"), false);
      assert.equal(await store.schema("d"), undefined);
      assert.equal(await store.count("d"), 0);
    });
  });

  it("lists tables with hierarchical names and their schemas; missing tables are empty", async () => {
    await withStore(target, async (store) => {
      assert.deepEqual(await store.tables(), []);
      await store.append("runs/b", rowsToBatch([{ x: 1 }]));
      await store.append("a", rowsToBatch([{ y: "s" }]));
      await store.append("runs/deep/c", rowsToBatch([{ z: true }]));
      assert.deepEqual(await store.tables(), ["a", "runs/b", "runs/deep/c"]);
      assert.deepEqual(
        (await store.schema("runs/deep/c"))?.fields.map((f) => f.name),
        ["z"],
      );
      assert.equal(await store.schema("nope"), undefined);
      assert.equal(await store.count("nope"), 0);
      assert.deepEqual(await rowsOf(store, "nope"), []);
    });
  });

  it("rejects names that would escape the root with INVALID_NAME, writing nothing", async () => {
    await withStore(target, async (store) => {
      const batch = rowsToBatch([{ x: 1 }]);
      for (const bad of ["../escape", "/abs/path", "a/../../b", "a\u0000b", "", "a//b", "./a", "C:\\x"]) {
        await rejectsWith(store.append(bad, batch), "INVALID_NAME");
      }
      assert.deepEqual(await store.tables(), []);
    });
  });

  it("rejects unknown fields in queries, columns and orderBy with UNKNOWN_FIELD", async () => {
    await withStore(target, async (store) => {
      await store.append("uf", rowsToBatch([{ a: 1 }]));
      await rejectsWith(rowsOf(store, "uf", { where: field("nope").eq(1).node }), "UNKNOWN_FIELD", ["nope"]);
      await rejectsWith(store.count("uf", field("nope").eq(1).node), "UNKNOWN_FIELD", ["nope"]);
      await rejectsWith(rowsOf(store, "uf", { columns: ["a", "nope"] }), "UNKNOWN_FIELD", ["nope"]);
      await rejectsWith(rowsOf(store, "uf", { orderBy: [{ column: "nope" }] }), "UNKNOWN_FIELD", ["nope"]);
      assert.equal(await store.count("uf"), 1);
    });
  });

  it("answers sql() if it declares SQL", async () => {
    await withStore(target, async (store) => {
      if (!store.capabilities.sql) {
        assert.equal(typeof store.sql, "undefined", "a store without SQL must not expose sql()");
        return;
      }
      await store.append("events", rowsToBatch([{ a: 1 }, { a: 2 }]));
      const t = await store.sql!('SELECT SUM(a) AS total FROM "events"');
      assert.equal(Number(t.getChild("total")!.get(0)), 3);
    });
  });

  it("fails with CLOSED after close", async () => {
    const store = await target.create();
    await store.append("c", rowsToBatch([{ a: 1 }]));
    await store.close();
    await rejectsWith(store.append("c", rowsToBatch([{ a: 2 }])), "CLOSED");
    await rejectsWith(store.count("c"), "CLOSED");
  });

  it("keeps everything across close and reopen (persistent stores)", async () => {
    const store = await target.create();
    const persistent = store.capabilities.persistent;
    await store.append("p/t", rowsToBatch(queryRows()));
    await store.append("p/t", rowsToBatch([{ i: 20, extra: "late" }]));
    await store.flush();
    await store.close();
    if (!persistent) return;
    assert.ok(target.reopen, "a persistent store's conformance target must provide reopen()");
    const again = await target.reopen(store);
    try {
      assert.deepEqual(await again.tables(), ["p/t"]);
      const rows = await rowsOf(again, "p/t");
      assert.equal(rows.length, 21);
      assert.deepEqual(plain(rows[3]), plain({ ...queryRows()[3], extra: null }));
      assert.deepEqual(rows[20]!.extra, "late");
      await again.append("p/t", rowsToBatch([{ i: 21 }]));
      assert.equal(await again.count("p/t"), 22);
    } finally {
      await again.close();
    }
  });
}
