/** defineStore's rule book, checked on small drivers that record what they were asked. */
import { Field, Int64, makeData, RecordBatch, Schema, Struct, Table } from "apache-arrow";
import { describe, expect, it } from "vitest";
import { field, MemoryStore, Reader, readRows, rowsToBatch, type Row, Session, teeStore, Tracker } from "../dist/index.js";
import {
  ALL_KINDS,
  batchToRows,
  DRIVER_DEFAULTS,
  defineStore,
  definePlugin,
  listRuns,
  mergeSchemas,
  QuiverError,
  readTimeRange,
  rewriteBatches,
  type Store,
  type StoreDriver,
} from "../dist/store-kit/index.js";

interface Recorded {
  driver: StoreDriver;
  calls: string[];
  tables: Map<string, { schema: Schema; batches: RecordBatch[] }>;
}

/** A memory driver that logs every call (name and table). `extra` adds or overrides methods. */
function recording(extra: Partial<StoreDriver> = {}): Recorded {
  const calls: string[] = [];
  const tables = new Map<string, { schema: Schema; batches: RecordBatch[] }>();
  const log = (m: string, t?: string) => void calls.push(t === undefined ? m : `${m} ${t}`);
  const driver: StoreDriver = {
    scheme: "rec",
    uri: "rec:test",
    append(table, batch) {
      log("append", table);
      const t = tables.get(table);
      const schema = mergeSchemas(t?.schema, batch.schema);
      tables.set(table, { schema, batches: [...(t?.batches ?? []), batch] });
    },
    read(table, columns) {
      log(`read${columns ? `[${columns.join(",")}]` : ""}`, table);
      return tables.get(table)?.batches ?? [];
    },
    schema: (table) => tables.get(table)?.schema,
    tables: () => [...tables.keys()],
    drop(table) {
      log("drop", table);
      return tables.delete(table);
    },
    flush: () => log("flush"),
    close: () => log("close"),
    ...extra,
  };
  return { driver, calls, tables };
}

async function errorOf(f: () => unknown): Promise<QuiverError> {
  try {
    const r = f();
    if (r && typeof (r as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function")
      for await (const _ of r as AsyncIterable<unknown>) {
        /* drain */
      }
    else await r;
  } catch (err) {
    expect(err).toBeInstanceOf(QuiverError);
    return err as QuiverError;
  }
  throw new Error("expected a QuiverError, got none");
}

async function rows(src: AsyncIterable<RecordBatch>): Promise<Row[]> {
  const out: Row[] = [];
  for await (const b of src) out.push(...batchToRows(b));
  return out;
}

/** Every Store method that takes a table, called with `table`. */
function everyTableCall(s: Store, table: string): [string, () => unknown][] {
  const batch = rowsToBatch([{ a: 1 }]);
  return [
    ["append", () => s.append(table, batch)],
    ["scan", () => s.scan(table)],
    ["count", () => s.count(table)],
    ["schema", () => s.schema(table)],
    ["update", () => s.update(table, undefined, { a: 2 })],
    ["delete", () => s.delete(table, undefined)],
    ["drop", () => s.drop(table)],
    ["readByTime", () => s.readByTime!(table, {})],
    ["runs", () => s.runs!(table)],
  ];
}

const withRewrite = (r: Recorded): Partial<StoreDriver> => ({
  rewrite(table, where, change) {
    r.calls.push(`rewrite ${table} ${change.op}`);
    const t = r.tables.get(table)!;
    const out = rewriteBatches(t.batches, t.schema, where, change);
    r.tables.set(table, { schema: out.schema, batches: out.batches });
    return out.changed;
  },
});

function rewritable(): Recorded {
  const r = recording();
  Object.assign(r.driver, withRewrite(r));
  return r;
}

describe("defineStore: the rule book", () => {
  it("validates the table name of every call before the driver sees it", async () => {
    const r = rewritable();
    const s = defineStore(r.driver);
    for (const bad of ["../x", "/abs", "a//b", "", "a\u0000b"]) {
      for (const [m, call] of everyTableCall(s, bad)) expect((await errorOf(call)).code, `${m}(${JSON.stringify(bad)})`).toBe("INVALID_NAME");
    }
    expect(r.calls).toEqual([]);
  });

  it("validates the column names of appended batches (and of update values)", async () => {
    const r = rewritable();
    const s = defineStore(r.driver);
    const good = rowsToBatch([{ a: 1 }]);
    for (const bad of ["", "x\u0000y", "\ud800", "c".repeat(256)]) {
      const f = new Field(bad, new Int64(), true);
      const batch = new RecordBatch(new Schema([f]), makeData({ type: new Struct([f]), length: 1, nullCount: 0, children: [good.data.children[0]!] }));
      expect((await errorOf(() => s.append("t", batch))).code).toBe("INVALID_NAME");
    }
    await s.append("t", good);
    expect((await errorOf(() => s.update("t", undefined, { "x\u0000y": 1 }))).code).toBe("INVALID_NAME");
    expect(r.calls).toEqual(["append t"]);
  });

  it("fails every call with one CLOSED message after close; close is idempotent", async () => {
    const r = rewritable();
    const s = defineStore(r.driver);
    await s.append("t", rowsToBatch([{ a: 1 }]));
    await Promise.all([s.close(), s.close()]);
    await s.close();
    expect(r.calls.filter((c) => c === "close")).toHaveLength(1);
    const messages = new Set<string>();
    for (const [, call] of [...everyTableCall(s, "t"), ["tables", () => s.tables()] as const, ["flush", () => s.flush()] as const]) {
      const e = await errorOf(call);
      expect(e.code).toBe("CLOSED");
      messages.add(e.message);
    }
    expect([...messages]).toEqual(['rec:test is closed; open it again with openStore("rec:test")']);
  });

  it("read-only: every write is UNSUPPORTED with one message, flush writes nothing, reads work", async () => {
    const r = rewritable();
    await defineStore(r.driver).append("t", rowsToBatch([{ a: 1 }]));
    r.calls.length = 0;
    const s = defineStore(r.driver, { readOnly: true });
    const messages = new Set<string>();
    for (const call of [() => s.append("t", rowsToBatch([{ a: 2 }])), () => s.update("t", undefined, { a: 3 }), () => s.delete("t", undefined), () => s.drop("t")]) {
      const e = await errorOf(call);
      expect(e.code).toBe("UNSUPPORTED");
      messages.add(e.message);
    }
    expect([...messages]).toEqual(["rec:test was opened read-only; open it without readOnly to write"]);
    await s.flush();
    expect(await s.count("t")).toBe(1);
    expect(r.calls).toEqual(["read[] t"]);
  });

  it("a where on a missing table still throws UNKNOWN_FIELD (scan, count, update, delete); without one it is empty", async () => {
    const s = defineStore(rewritable().driver);
    const where = field("nope").eq(1).node;
    for (const call of [() => s.scan("missing", { where }), () => s.count("missing", where), () => s.update("missing", where, { a: 1 }), () => s.delete("missing", where)]) {
      const e = await errorOf(call);
      expect(e.code).toBe("UNKNOWN_FIELD");
      expect(e.message).toContain("nope");
    }
    expect(await readRows(s, "missing")).toEqual([]);
    expect(await s.count("missing")).toBe(0);
    expect(await s.update("missing", undefined, { a: 1 })).toBe(0);
    expect(await s.delete("missing", undefined)).toBe(0);
    expect(await rows(s.readByTime!("missing", { start: 0 }))).toEqual([]);
    expect(await s.runs!("missing")).toEqual([]);
  });

  it("derives capabilities from the driver's methods, with defaults for what it does not state", () => {
    const bare = defineStore(recording().driver);
    expect(bare.capabilities).toEqual({
      sql: false,
      update: false,
      delete: false,
      pushdown: false,
      timeIndex: false,
      concurrentWriters: false,
      persistent: true,
      kinds: ALL_KINDS,
    });
    expect(typeof bare.sql).toBe("undefined");
    expect(DRIVER_DEFAULTS).toEqual({ persistent: true, concurrentWriters: false, kinds: ALL_KINDS });
    const full = defineStore(
      recording({
        capabilities: { persistent: false, concurrentWriters: true, kinds: ["int", "string"] },
        scan: () => undefined,
        rewrite: () => 0,
        readByTime: () => undefined,
        sql: { dialect: "sqlite", run: () => new Table() },
      }).driver,
    );
    expect(full.capabilities).toEqual({
      sql: true,
      dialect: "sqlite",
      update: true,
      delete: true,
      pushdown: true,
      timeIndex: true,
      concurrentWriters: true,
      persistent: false,
      kinds: ["int", "string"],
    });
    expect(typeof full.sql).toBe("function");
  });

  it("without rewrite, update and delete are UNSUPPORTED and never emulated with drop + append", async () => {
    const r = recording();
    const s = defineStore(r.driver);
    await s.append("t", rowsToBatch([{ a: 1 }, { a: 2 }]));
    for (const call of [() => s.update("t", undefined, { a: 5 }), () => s.delete("t", field("a").eq(1).node)]) expect((await errorOf(call)).code).toBe("UNSUPPORTED");
    expect(r.calls).toEqual(["append t"]);
    expect(await s.count("t")).toBe(2);
  });

  it("update: SCHEMA_MISMATCH before the driver is called; the driver gets typed values and the merged schema", async () => {
    const r = rewritable();
    let change: unknown;
    const rewrite = r.driver.rewrite!;
    r.driver.rewrite = (t, w, c, sch) => ((change = c), rewrite(t, w, c, sch));
    const s = defineStore(r.driver);
    await s.append(
      "t",
      rowsToBatch([
        { i: 1, s: "a" },
        { i: 2, s: "b" },
      ]),
    );
    const e = await errorOf(() => s.update("t", undefined, { i: "one" }));
    expect(e.code).toBe("SCHEMA_MISMATCH");
    expect(r.calls).toEqual(["append t"]);
    expect(await s.update("t", field("i").eq(2).node, { s: "B", note: "new", skip: undefined })).toBe(1);
    const c = change as { op: string; set: Row; values: RecordBatch; schema: Schema };
    expect(c.op).toBe("update");
    expect(c.set).toEqual({ s: "B", note: "new" });
    expect(c.values.numRows).toBe(1);
    expect(c.schema.fields.map((f) => f.name)).toEqual(["i", "s", "note"]);
    expect(await readRows(s, "t")).toEqual([
      { i: 1, s: "a", note: null },
      { i: 2, s: "B", note: "new" },
    ]);
    expect(await s.update("t", field("i").ge(1).node, {})).toBe(2); // nothing to set: rows matched
  });

  it("turns a driver's own errors into IO naming the store and table, cause kept; Quiver errors pass through", async () => {
    const disk = Object.assign(new Error("no space left on device, write"), { code: "ENOSPC" });
    const r = recording({
      append: () => {
        throw disk;
      },
      flush: async () => {
        throw new Error("fsync failed");
      },
    });
    const s = defineStore(r.driver);
    const e = await errorOf(() => s.append("runs/a", rowsToBatch([{ a: 1 }])));
    expect(e.code).toBe("IO");
    expect(e.message).toContain("rec:test");
    expect(e.message).toContain('"runs/a"');
    expect(e.message).toContain("ENOSPC");
    expect(e.cause).toBe(disk);
    expect((await errorOf(() => s.flush())).message).toContain("fsync failed");
    // A refusal of the driver's own stays what it is.
    const refused = new QuiverError("SCHEMA_MISMATCH", "column a holds numbers");
    const s2 = defineStore(recording({ append: () => Promise.reject(refused) }).driver);
    expect(await errorOf(() => s2.append("t", rowsToBatch([{ a: 1 }])))).toBe(refused);
  });

  it("an error in the middle of reading is IO too, after the batches before it", async () => {
    const s = defineStore(
      recording({
        schema: () => rowsToBatch([{ a: 1 }]).schema,
        read: () =>
          (async function* () {
            yield rowsToBatch([{ a: 1 }]);
            throw Object.assign(new Error("input/output error"), { code: "EIO" });
          })(),
      }).driver,
    );
    const seen: number[] = [];
    const e = await errorOf(async () => {
      for await (const b of s.scan("t")) seen.push(b.numRows);
    });
    expect(e.code).toBe("IO");
    expect(e.message).toContain("EIO");
    expect(seen).toEqual([1]);
    expect((await errorOf(() => s.count("t"))).code).toBe("IO");
  });

  it("a failed close is IO, leaves the store usable, and may be retried", async () => {
    let fail = true;
    const r = recording({
      close: () => {
        if (fail) throw new Error("close failed");
      },
    });
    const s = defineStore(r.driver);
    expect((await errorOf(() => s.close())).code).toBe("IO");
    // Still open: a store whose close failed keeps working until a close succeeds.
    expect(await s.count("t")).toBe(0);
    fail = false;
    await s.close();
    expect((await errorOf(() => s.count("t"))).code).toBe("CLOSED");
  });

  it("sql: needs a string, runs on the driver's engine in its dialect, and is absent without one", async () => {
    const seen: unknown[] = [];
    const s = defineStore(recording({ sql: { dialect: "postgres", run: (text, params) => (seen.push([text, params]), new Table()) } }).driver);
    expect(s.capabilities.dialect).toBe("postgres");
    await s.sql!("SELECT 1", [1]);
    expect(seen).toEqual([["SELECT 1", [1]]]);
    expect((await errorOf(() => s.sql!("  "))).code).toBe("INVALID_QUERY");
    await s.close();
    expect((await errorOf(() => s.sql!("SELECT 1"))).code).toBe("CLOSED");
  });
});

describe("defineStore: accelerators and fallbacks", () => {
  it("scan without pushdown reads only the columns it needs and answers over read", async () => {
    const r = recording();
    const s = defineStore(r.driver);
    await s.append(
      "t",
      rowsToBatch([
        { a: 1, b: "x", c: true },
        { a: 2, b: "y", c: false },
      ]),
    );
    r.calls.length = 0;
    expect(await readRows(s, "t", { columns: ["b"], where: field("a").gt(1).node })).toEqual([{ b: "y" }]);
    expect(await s.count("t")).toBe(2);
    expect(await s.count("t", field("c").eq(true).node)).toBe(1);
    expect(r.calls).toEqual(["read[a,b] t", "read[] t", "read[c] t"]);
  });

  it("uses the driver's scan and count (pushdown), with options checked first; undefined falls back", async () => {
    const r = recording();
    const asked: unknown[] = [];
    r.driver.scan = (table, options, schema) => {
      asked.push({ table, limit: options.limit, columns: schema.fields.map((f) => f.name) });
      return options.limit === 1 ? [rowsToBatch([{ a: 42 }])] : undefined;
    };
    r.driver.count = (_t, where) => (where ? undefined : 1000);
    const s = defineStore(r.driver);
    await s.append("t", rowsToBatch([{ a: 1 }, { a: 2 }]));
    expect(await readRows(s, "t", { limit: 1 })).toEqual([{ a: 42 }]);
    expect(await readRows(s, "t", { limit: 5 })).toEqual([{ a: 1 }, { a: 2 }]);
    expect(asked).toEqual([
      { table: "t", limit: 1, columns: ["a"] },
      { table: "t", limit: 5, columns: ["a"] },
    ]);
    expect(await s.count("t")).toBe(1000);
    expect(await s.count("t", field("a").eq(2).node)).toBe(1);
    expect((await errorOf(() => s.scan("t", { columns: ["zz"] }))).code).toBe("UNKNOWN_FIELD");
    expect(asked).toHaveLength(2); // refused before the driver
  });

  it("readByTime: the driver's index when it serves the range, the equivalent scan when not", async () => {
    const r = recording();
    const served: unknown[] = [];
    r.driver.readByTime = (_t, range) => {
      served.push(range);
      return range.column === "_ts" && range.limit === 1 ? [rowsToBatch([{ _ts: 99 }])] : undefined;
    };
    const s = defineStore(r.driver);
    await s.append(
      "t",
      rowsToBatch([
        { _ts: 1, v: "a" },
        { _ts: 2, v: "b" },
      ]),
    );
    expect(await rows(s.readByTime!("t", { limit: 1 }))).toEqual([{ _ts: 99 }]);
    expect(await rows(s.readByTime!("t", { start: 2 }))).toEqual([{ _ts: 2, v: "b" }]);
    expect(served).toEqual([
      { column: "_ts", limit: 1 },
      { column: "_ts", start: 2 },
    ]);
    expect((await errorOf(() => s.readByTime!("t", { start: Number.NaN }))).code).toBe("INVALID_TIMESTAMP");
    expect((await errorOf(() => s.readByTime!("t", { column: "when" }))).code).toBe("UNKNOWN_FIELD");
  });

  it("readByTime without an index equals the scan it stands for: bounds, reverse, ties in insertion order, offset, limit", async () => {
    const data: Row[] = [];
    for (let i = 0; i < 200; i++) data.push({ _ts: Math.floor((i * 7919) % 50) / 2, i, tag: i % 3 === 0 ? null : `t${i}` });
    const s = new MemoryStore();
    for (let k = 0; k < 200; k += 37) await s.append("t", rowsToBatch(data.slice(k, k + 37)));
    const want = (start: number | undefined, end: number | undefined, reverse: boolean, offset: number, limit: number | undefined) => {
      const inside = data.map((r, idx) => ({ r, idx })).filter(({ r }) => (start === undefined || (r._ts as number) >= start) && (end === undefined || (r._ts as number) < end));
      inside.sort((a, b) => ((a.r._ts as number) - (b.r._ts as number) || a.idx - b.idx) * (reverse ? -1 : 1));
      return inside.slice(offset, limit === undefined ? undefined : offset + limit).map(({ r }) => r.i);
    };
    let cases = 0;
    for (const start of [undefined, 0, 3.5, 24.5]) {
      for (const end of [undefined, 3.5, 10, 30]) {
        for (const reverse of [false, true]) {
          for (const [offset, limit] of [
            [0, undefined],
            [0, 5],
            [7, 11],
          ] as [number, number | undefined][]) {
            const got = (await rows(s.readByTime!("t", { start, end, reverse, offset, limit, columns: ["i"] }))).map((r) => r.i);
            expect(got, JSON.stringify({ start, end, reverse, offset, limit })).toEqual(want(start, end, reverse, offset, limit));
            // Any store (a tee has no readByTime of its own) gives the same window.
            const tee = teeStore(s);
            expect((await rows(readTimeRange(tee, "t", { start, end, reverse, offset, limit, columns: ["i"] }))).map((r) => r.i)).toEqual(got);
            cases++;
          }
        }
      }
    }
    expect(cases).toBe(96);
    // rowIndex on request, and no internal tie column leaks into results.
    const withIdx = await rows(s.readByTime!("t", { start: 0, end: 1, rowIndex: "_idx" }));
    expect(withIdx.every((r) => Object.keys(r).join() === "_ts,i,tag,_idx")).toBe(true);
    expect(withIdx.map((r) => Number(r._idx))).toEqual(want(0, 1, false, 0, undefined));
  });

  it("runs: the driver's summaries when it keeps them, else what Reader.runs computes", async () => {
    const store = new MemoryStore();
    const t = await Tracker.open(store, { trackId: "a", flushInterval: 0 });
    await t.logBatch([{ x: 1 }, { x: 2 }]);
    await t.close();
    const t2 = await Tracker.open(store, { trackId: "b", flushInterval: 0 });
    await t2.log({ x: 3 });
    await t2.close();
    const reader = await Reader.open(store);
    const fromReader = await reader.runs();
    expect(fromReader.map((r) => [r.track_id, r.rows])).toEqual([
      ["a", 2],
      ["b", 1],
    ]);
    expect(await store.runs("events")).toEqual(fromReader);
    expect(await listRuns(teeStore(store), "events")).toEqual(fromReader);
    const kept = [{ track_id: "k", rows: 7, first: null, last: null }];
    expect(await defineStore(recording({ schema: () => rowsToBatch([{ track_id: "x" }]).schema, runs: () => kept }).driver).runs!("events")).toBe(kept);
  });

  it("definePlugin names the store scheme:location and passes readOnly through", async () => {
    const opened: unknown[] = [];
    const plugin = definePlugin("kit", (location, options) => {
      opened.push([location, options.readOnly]);
      const r = recording();
      return { ...r.driver, scheme: undefined, uri: undefined };
    });
    const s = await plugin.open("some/where", { readOnly: true });
    expect([s.scheme, s.uri]).toEqual(["kit", "kit:some/where"]);
    expect((await errorOf(() => s.append("t", rowsToBatch([{ a: 1 }])))).code).toBe("UNSUPPORTED");
    expect(opened).toEqual([["some/where", true]]);
    // Sessions and Tracks run over a defined store like over any other.
    const w = await plugin.open("w");
    const session = await Session.open({ prefix: "p", store: w, flushInterval: 0 });
    session.track("loss").append({ v: 1, _ts: 10 }).append({ v: 2, _ts: 11 });
    await session.flush();
    expect((await session.track("loss").readByTime({ startTime: 11 })).data.map((p) => p.data.v)).toEqual([2]);
    await session.close();
  });

  it("checks the driver has the required methods", () => {
    const { read: _read, ...noRead } = recording().driver;
    expect(() => defineStore(noRead as StoreDriver)).toThrow(/read\(\)/);
  });
});
