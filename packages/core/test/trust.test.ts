// Core's promises under store faults: nothing acknowledged is lost, refused rows never hold good
// ones hostage, the buffer stays bounded, and no timer throws.
import { describe, expect, it } from "vitest";
import type { RecordBatch } from "apache-arrow";
import { copy, MemoryStore, openStore, QuiverError, Reader, readRows, type Store, Session, teeStore, Tracker } from "../dist/index.js";

/** A memory store whose appends fail with an OS-style error while `down` is set. */
function faulty(inner: Store = new MemoryStore()): Store & { down: boolean; calls: number } {
  const s = Object.create(inner) as Store & { down: boolean; calls: number };
  s.down = false;
  s.calls = 0;
  s.append = async (table: string, batch: RecordBatch) => {
    s.calls++;
    if (s.down) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    return inner.append(table, batch);
  };
  return s;
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(QuiverError);
    return (e as QuiverError).code;
  }
  return undefined;
}

describe("a store fault", () => {
  it("keeps every row: flush rejects with IO while it lasts and writes them all after", async () => {
    const store = faulty();
    const t = await Tracker.open(store, { flushInterval: 0, batchSize: 100 });
    for (let i = 0; i < 250; i++) await t.log({ i });
    await t.flush();
    store.down = true;
    for (let i = 250; i < 1000; i++) await t.log({ i });
    const err = await t.flush().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QuiverError);
    expect((err as QuiverError).code).toBe("IO");
    expect((err as QuiverError).message).toContain("ENOSPC");
    expect((err as QuiverError).cause).toBeInstanceOf(Error);
    expect(await codeOf(t.close())).toBe("IO"); // close tells the truth and stays open
    store.down = false;
    await t.close();
    const rows = await readRows(store, "events", { columns: ["i"] });
    expect(rows.map((r) => r.i)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it("is reported to onError by the background flush, never thrown, and not retried in a hot loop", async () => {
    const store = faulty();
    const errors: unknown[] = [];
    const t = await Tracker.open(store, { flushInterval: 20, batchSize: 10, onError: (e) => errors.push(e) });
    store.down = true;
    for (let i = 0; i < 500; i++) await t.log({ i });
    await new Promise((r) => setTimeout(r, 120));
    expect(errors.length).toBeGreaterThan(0);
    expect((errors[0] as QuiverError).code).toBe("IO");
    // One attempt per interval while down, not one per logged row past batchSize.
    expect(store.calls).toBeLessThan(20);
    store.down = false;
    await t.close();
    expect(await store.count("events")).toBe(500);
  });

  it("bounds the buffer: past maxPending, log() refuses with IO instead of growing or dropping", async () => {
    const store = faulty();
    const t = await Tracker.open(store, { flushInterval: 0, batchSize: 10, maxPending: 100, onError: () => undefined });
    store.down = true;
    for (let i = 0; i < 100; i++) await t.log({ i });
    await t.flush().catch(() => undefined); // the store is known to fail now
    expect(await codeOf(t.log({ i: 100 }))).toBe("IO");
    store.down = false;
    await t.flush();
    await t.log({ i: 100 });
    await t.close();
    expect(await store.count("events")).toBe(101);
  });

  it("a user onError that throws does not crash the process", async () => {
    const store = faulty();
    store.down = true;
    const t = await Tracker.open(store, {
      flushInterval: 10,
      batchSize: 5,
      onError: () => {
        throw new Error("handler bug");
      },
    });
    for (let i = 0; i < 20; i++) await t.log({ i });
    await new Promise((r) => setTimeout(r, 60));
    store.down = false;
    await t.close();
    expect(await store.count("events")).toBe(20);
  });
});

describe("a row the store refuses", () => {
  it("is isolated: the good rows around it are written, the bad one is reported", async () => {
    const store = new MemoryStore();
    const t = await Tracker.open(store, { flushInterval: 0 });
    const other = await Tracker.open(store, { flushInterval: 0 });
    await t.log({ x: 1 });
    await t.flush();
    // Another tracker turns column y into a string before t writes its numbers for y.
    for (let i = 0; i < 50; i++) await t.log(i === 20 ? { i, y: 5 } : { i });
    await other.log({ y: "text" });
    await other.close();
    const err = await t.flush().catch((e: unknown) => e);
    expect((err as QuiverError).code).toBe("SCHEMA_MISMATCH");
    expect((err as QuiverError).message).toMatch(/1 of 50 buffered rows were refused/);
    // The buffer is healthy again, and the stored type now refuses such values at log().
    expect(await codeOf(t.log({ y: 6 }))).toBe("SCHEMA_MISMATCH");
    await t.log({ i: 50 });
    await t.close();
    const mine = (await readRows(store, "events", { columns: ["i"] })).map((r) => r.i).filter((v) => v != null);
    expect(mine).toEqual(Array.from({ length: 51 }, (_, i) => i).filter((i) => i !== 20));
  });

  it("in a Track: an existing column's type is known from the store at append()", async () => {
    const store = new MemoryStore();
    const s1 = await Session.open({ prefix: "p", store });
    s1.track("t").append({ v: 1 });
    await s1.close();
    const s2 = await Session.open({ prefix: "p", store });
    expect(await codeOf(() => s2.track("t").append({ v: [1, 2] }))).toBe("SCHEMA_MISMATCH");
    s2.track("t").append({ v: 2 });
    await s2.close();
    expect(await store.count("p/tracks/t")).toBe(2);
  });
});

describe("teeStore", () => {
  it("remembers which stores took a batch: a retry never writes twice", async () => {
    const a = new MemoryStore();
    const b = faulty();
    const tee = teeStore(a, b);
    const t = await Tracker.open(tee, { flushInterval: 0 });
    await t.log({ n: 1 });
    await t.flush();
    b.down = true;
    await t.log({ n: 2 });
    expect(await codeOf(t.flush())).toBe("IO");
    await t.log({ n: 3 });
    expect(await codeOf(t.flush())).toBe("IO");
    b.down = false;
    await t.close();
    expect((await readRows(a, "events", { columns: ["n"] })).map((r) => r.n)).toEqual([1, 2, 3]);
    expect((await readRows(b, "events", { columns: ["n"] })).map((r) => r.n)).toEqual([1, 2, 3]);
  });
});

describe("session params", () => {
  it("are a synchronous, merged key-value record: any JSON value, null kept, types may change", async () => {
    const store = new MemoryStore();
    const s = await Session.open({ prefix: "exp", store });
    expect(s.params.set({ lr: 0.1, opt: { name: "adam" }, note: null })).toEqual({ lr: 0.1, "opt.name": "adam", note: null });
    const merged = s.params.set({ lr: "auto", tags: ["a", 1, null], cfg: {} });
    expect(merged).toEqual({ lr: "auto", "opt.name": "adam", note: null, tags: ["a", 1, null], cfg: {} });
    expect(await codeOf(() => s.params.set({ bad: 1n }))).toBe("INVALID_VALUE");
    expect(await codeOf(() => s.params.set({ bad: Number.NaN }))).toBe("INVALID_VALUE");
    expect(await codeOf(() => s.params.set({ when: new Date() }))).toBe("INVALID_VALUE");
    await s.close(); // set() without await, then close(): flushed, no unhandled CLOSED
    const again = await Session.open({ prefix: "exp", store });
    expect(await again.params.get()).toEqual(merged);
    await again.close();
  });

  it("two sessions setting different keys do not overwrite each other", async () => {
    const store = new MemoryStore();
    const a = await Session.open({ prefix: "exp", store });
    const b = await Session.open({ prefix: "exp", store });
    a.params.set({ x: 1 });
    b.params.set({ y: 2 });
    await a.close();
    await b.close();
    const c = await Session.open({ prefix: "exp", store });
    expect(await c.params.get()).toEqual({ x: 1, y: 2 });
    await c.close();
  });
});

describe("reading never writes", () => {
  it("copy needs its source; Reader opens read-only and tail is newest by timestamp", async () => {
    expect(await codeOf(copy({ source: "memory:does-not-exist", target: "memory:" }))).toBe("NOT_FOUND");
    expect(await codeOf(Reader.open("memory:nowhere"))).toBe("NOT_FOUND");
    const store = await openStore("memory:reader-tail");
    const t = await Tracker.open(store, { flushInterval: 0 });
    // Flushed out of time order: the newest rows by timestamp are not the last written.
    const late = await Tracker.open(store, { flushInterval: 0 });
    const tick = () => new Promise((r) => setTimeout(r, 3));
    await late.log({ n: 0 });
    await tick();
    await t.log({ n: 1 });
    await tick();
    await t.log({ n: 2 });
    await t.flush();
    await late.flush();
    const r = await Reader.open("memory:reader-tail");
    expect((await r.toRows({ tail: 2 })).map((x) => x.n)).toEqual([1, 2]);
    expect((await r.toTable({ tail: 2 })).getChild("n")!.toArray()).toEqual(new BigInt64Array([1n, 2n]));
    expect(await codeOf(r.store.append("events", (await r.toTable()).batches[0]!))).toBe("UNSUPPORTED");
    expect(await r.deleteRun(t.trackId)).toBe(2); // writing methods reopen for writing
    await r.close();
    await t.close();
    await late.close();
  });
});

describe("session logs", () => {
  it("take an explicit _ts (so they sit on the data's time axis) and the fatal level", async () => {
    const store = new MemoryStore();
    const s = await Session.open({ prefix: "exp", store });
    s.track("t").append({ v: 1, _ts: 100 });
    s.log("at the point", { _ts: -1 });
    s.log("later", { level: "fatal", _ts: 250.5 });
    expect(await codeOf(() => s.log("x", { level: "panic" as never }))).toBe("INVALID_VALUE");
    expect(await codeOf(() => s.log("x", { _ts: Number.NaN }))).toBe("INVALID_TIMESTAMP");
    const logs = await s.logs.read();
    expect(logs.map((l) => [l._ts, l.level, l.message])).toEqual([
      [100, "info", "at the point"],
      [250.5, "fatal", "later"],
    ]);
    await s.close();
  });
});

describe("at exit", () => {
  it("a staged row the batch cannot hold is left out and named; every good row is kept", async () => {
    const { batchOfGood } = await import("../dist/write/buffer.js");
    const { rowsToBatch } = await import("../dist/index.js");
    const schema = rowsToBatch([{ n: 1 }]).schema;
    const rows = [{ n: 1 }, { n: "two" }, { n: 3 }];
    const staging = { fresh: () => [] as typeof rows, concat: (a: typeof rows, b: typeof rows) => a.concat(b), slice: (s: typeof rows, a: number, b: number) => s.slice(a, b) };
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stderr.write;
    let batch: Awaited<ReturnType<typeof batchOfGood>>;
    try {
      batch = batchOfGood(rows, staging, (r) => rowsToBatch(r, { schema }), "events");
    } finally {
      process.stderr.write = write;
    }
    expect(batch!.getChild("n")!.toArray()).toEqual(new BigInt64Array([1n, 3n]));
    expect(written.join("")).toMatch(/a row of events refused at exit/);
    expect(batchOfGood([], staging, (r) => rowsToBatch(r, { schema }), "events")).toBeUndefined();
  });
});
