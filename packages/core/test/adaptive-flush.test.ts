/**
 * The adaptive flush of the write buffer: a row is written soon after the logging pauses, a
 * logger that keeps going is batched (at most one write per flushDelay), a loop that never
 * yields writes by batchSize alone, and a failing store is not hammered.
 */
import type { RecordBatch } from "apache-arrow";
import { describe, expect, it, vi } from "vitest";
import { MemoryStore, Session, Tracker } from "../dist/index.js";
import { SessionRecords } from "../dist/series/record.js";
import { WriteBuffer } from "../dist/write/buffer.js";

/** A memory store that records the size of every append. */
class CountingStore extends MemoryStore {
  appends: number[] = [];
  fail = false;
  override async append(table: string, batch: RecordBatch): Promise<void> {
    if (this.fail) throw Object.assign(new Error("EIO: device gone"), { code: "EIO" });
    if (batch.numRows > 0) this.appends.push(batch.numRows); // (open may create the table with an empty batch)
    return super.append(table, batch);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits until `cond` holds (a loaded machine may take far longer than the 5 ms tick). */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await sleep(2);
  }
}

describe("adaptive flush", () => {
  it("writes a row soon after logging pauses, without flush()", async () => {
    const store = new CountingStore();
    const t = await Tracker.open(store, { flushInterval: 0 });
    await t.log({ loss: 1 });
    expect(store.appends).toEqual([]); // staged, not yet written
    await until(() => store.appends.length > 0);
    expect(store.appends).toEqual([1]);
    expect(await store.count("events")).toBe(1);
    await t.close();
  });

  it("batches a logger that keeps going: at most one write per flushDelay", async () => {
    // A clock of our own: a row every 1 ms for 400 ms, so the logging never pauses 5 ms however
    // loaded the machine is (with the real clock, a GC pause or a busy CI box is a pause).
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
    try {
      const store = new CountingStore();
      const t = await Tracker.open(store, { flushInterval: 0, flushDelay: 40 });
      for (let n = 0; n < 400; n++) {
        await t.log({ i: n });
        await vi.advanceTimersByTimeAsync(1);
      }
      expect(store.appends.length).toBeLessThanOrEqual(400 / 40 + 1);
      expect(store.appends.length).toBeGreaterThanOrEqual(400 / 40 - 2);
      await t.close();
      expect(await store.count("events")).toBe(400);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a loop that never yields writes by batchSize", async () => {
    const store = new CountingStore();
    const t = await Tracker.open(store, { flushInterval: 0, batchSize: 1000 });
    for (let i = 0; i < 5000; i++) await t.log({ i });
    await t.close();
    expect(store.appends.every((n) => n >= 1000)).toBe(true);
    expect(await store.count("events")).toBe(5000);
  });

  it("flushDelay: 0 turns it off", async () => {
    const store = new CountingStore();
    const t = await Tracker.open(store, { flushInterval: 0, flushDelay: 0 });
    await t.log({ loss: 1 });
    await sleep(40);
    expect(store.appends).toEqual([]);
    await t.close();
    expect(store.appends).toEqual([1]);
  });

  it("does not retry a failing store on its own (the interval or flush() does)", async () => {
    const store = new CountingStore();
    const errors: unknown[] = [];
    const t = await Tracker.open(store, { flushInterval: 0, onError: (e) => errors.push(e) });
    store.fail = true;
    await t.log({ loss: 1 });
    await until(() => errors.length > 0);
    expect(errors).toHaveLength(1);
    await t.log({ loss: 2 });
    await sleep(30);
    expect(errors).toHaveLength(1); // no write attempt while it fails
    store.fail = false;
    await t.close();
    expect(await store.count("events")).toBe(2);
  });

  it("Track points are written soon after appending pauses", async () => {
    const store = new CountingStore();
    const s = await Session.open({ prefix: "p", store, flushInterval: 0 });
    s.track("loss").append({ value: 0.5 });
    let n = 0;
    for (const end = Date.now() + 5000; n === 0 && Date.now() < end; await sleep(2)) n = (await store.schema("p/tracks/loss")) ? await store.count("p/tracks/loss") : 0;
    expect(n).toBe(1);
    await s.close();
  });
});

describe("append receipts at exit", () => {
  type Receipt = { tracked: boolean; committed: boolean };
  const staging = { fresh: (): number[] => [], concat: (a: number[], b: number[]) => a.concat(b), slice: (s: number[], a: number, b: number) => s.slice(a, b) };
  const push = (x: number, into: number[]) => void into.push(x);
  /** A buffer whose writes never finish (the process exits meanwhile); `seen` gets each write's receipt. */
  const closes: number[] = [];
  function hanging(supports: boolean, seen: Receipt[], track = true) {
    return new WriteBuffer<number[]>(
      (_rows, r) => {
        if (track) r.tracked = true;
        seen.push(r);
        return new Promise<void>(() => undefined);
      },
      staging,
      { flushInterval: 0 },
      "t",
      { capabilities: { appendReceipts: supports } as never, closeSync: () => void closes.push(1) },
    );
  }

  it("a write in flight that its store did not commit is taken again, ahead of the rest", async () => {
    const seen: Receipt[] = [];
    const b = hanging(true, seen);
    b.stage(push, 1);
    await until(() => seen.length > 0); // the adaptive flush started the write
    expect(seen).toHaveLength(1);
    b.stage(push, 2);
    const before = closes.length;
    expect(b.takeAll()).toEqual([1, 2]);
    expect(closes.length).toBe(before + 1); // the store was closed first: its receipt is final
    b.stop();
  });

  it("a commit that closeSync lets finish counts: taken only after the store settled it", async () => {
    const seen: Receipt[] = [];
    const b = new WriteBuffer<number[]>(
      (_rows, r) => {
        r.tracked = true;
        seen.push(r);
        return new Promise<void>(() => undefined);
      },
      staging,
      { flushInterval: 0 },
      "t",
      // closeSync lets the running COMMIT finish: the receipt turns committed there.
      { capabilities: { appendReceipts: true } as never, closeSync: () => void (seen[0]!.committed = true) },
    );
    b.stage(push, 1);
    await until(() => seen.length > 0);
    b.stage(push, 2);
    expect(b.takeAll()).toEqual([2]); // not [1, 2]: that would write row 1 twice
    b.stop();
  });

  it("one it committed is not (no duplicate); a store without receipts keeps the old rule", async () => {
    const seen: Receipt[] = [];
    const b = hanging(true, seen);
    b.stage(push, 1);
    await until(() => seen.length > 0);
    seen[0]!.committed = true;
    b.stage(push, 2);
    expect(b.takeAll()).toEqual([2]);
    b.stop();
    const old: Receipt[] = [];
    const c = hanging(false, old, false);
    c.stage(push, 1);
    await until(() => old.length > 0);
    c.stage(push, 2);
    expect(c.takeAll()).toEqual([2]);
    c.stop();
    // A store with receipts whose append was not called yet (untracked): nothing stored, taken.
    const early: Receipt[] = [];
    const d = hanging(true, early, false);
    d.stage(push, 1);
    await until(() => early.length > 0);
    expect(d.takeAll()).toEqual([1]);
    d.stop();
  });

  it("a write a server store cannot settle comes apart with its token (appended again with it)", async () => {
    const b = new WriteBuffer<number[]>(
      (_rows, r) => {
        r.tracked = true;
        r.token = "tok-1";
        return new Promise<void>(() => undefined);
      },
      staging,
      { flushInterval: 0 },
      "t",
      { capabilities: { appendReceipts: true } as never, closeSync: () => undefined },
    );
    b.stage(push, 1);
    await until(() => b.pending === 0); // handed to the write
    b.stage(push, 2);
    expect(b.takeParts()).toEqual({ inDoubt: { items: [1], token: "tok-1" }, rest: [2] });
    b.stop();
  });
});

describe("the session record at exit", () => {
  /** A memory store with receipts whose appends to the record table hang until closeSync, which commits them or not. */
  class HangingRecordStore extends MemoryStore {
    receipts: { tracked: boolean; committed: boolean }[] = [];
    hang = false;
    calls = 0;
    commitOnClose = true;
    constructor() {
      super();
      Object.defineProperty(this, "capabilities", { value: { ...this.capabilities, appendReceipts: true } });
    }
    override async append(table: string, batch: RecordBatch, options?: { receipt?: { tracked: boolean; committed: boolean } }): Promise<void> {
      if (!this.hang || !table.endsWith("/session")) return super.append(table, batch);
      this.calls++;
      if (options?.receipt) {
        options.receipt.tracked = true;
        this.receipts.push(options.receipt);
      }
      return new Promise<void>(() => undefined);
    }
    override closeSync(): void {
      for (const r of this.receipts) r.committed = this.commitOnClose;
    }
  }

  it.each([
    [true, 0],
    [false, 1],
  ])("a description whose write was in flight is taken again only if the store did not commit it (committed: %s)", async (commitOnClose, taken) => {
    const store = new HangingRecordStore();
    store.commitOnClose = commitOnClose;
    const rec = new SessionRecords(() => store, undefined, "p/e", undefined);
    await rec.open({}, (err: unknown) => {
      throw err;
    });
    store.hang = true;
    rec.describeTrack("loss", { description: "the loss" });
    void rec.flush();
    await until(() => store.calls > 0);
    const out = rec.takeSync();
    expect(out.reduce((n: number, b: { batch: RecordBatch }) => n + b.batch.numRows, 0)).toBe(taken);
  });
});
