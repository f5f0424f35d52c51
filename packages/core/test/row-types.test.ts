/**
 * Declared row types carry through Tracker, Reader and Track. The assertions are checked twice:
 * the values by vitest, the types by `pnpm typecheck` (tsc over test/, `@ts-expect-error` lines
 * must be errors). Integer columns read back as numbers where they fit, so JSON.stringify works.
 */
import type { Float64, Int64, TimestampMicrosecond, Utf8 } from "apache-arrow";
import { describe, expect, expectTypeOf, it } from "vitest";
import { MemoryStore, Reader, type Row, rowsToBatch, Session, type StoredRow, Tracker } from "../dist/index.js";

interface Metrics {
  loss: number;
  epoch: number;
  tag?: string;
  image?: Float64Array;
  optimizer?: { lr: number; name: string };
}

describe("Tracker.open<R>()", () => {
  it("types log(), last, reads and tables by R", async () => {
    const tracker = await Tracker.open<Metrics>("memory:", { params: { model: "mlp" } });
    const logged = await tracker.log({ loss: 0.5, epoch: 1, optimizer: { lr: 0.1, name: "sgd" } });
    await tracker.log({ loss: 0.25, epoch: 2, image: Float64Array.of(1, 2) });
    const notCalled = (): void => {
      // @ts-expect-error a misspelt column is refused by the compiler
      void tracker.log({ los: 1, epoch: 1 });
      // @ts-expect-error so is a value of another type
      void tracker.log({ loss: "low", epoch: 1 });
      // @ts-expect-error and in a batch
      void tracker.logBatch([{ loss: 1 }]);
    };
    void notCalled;

    const loss: number = tracker.last!.loss;
    expect(loss).toBe(0.25);
    expectTypeOf(logged["optimizer.lr"]).toEqualTypeOf<number | undefined>(); // flattened as stored
    expectTypeOf(tracker.last!.timestamp).toEqualTypeOf<Date>();
    expectTypeOf(tracker.last!.image).toEqualTypeOf<Float64Array | undefined>(); // as logged
    expect(logged["optimizer.lr"]).toBe(0.1);
    // @ts-expect-error the nested object itself is not a column
    void tracker.last!.optimizer;

    const rows = await tracker.toRows();
    expectTypeOf(rows[0]!.loss).toEqualTypeOf<number>();
    expectTypeOf(rows[0]!.tag).toEqualTypeOf<string | null | undefined>(); // null, or absent while no row has it
    expectTypeOf(rows[0]!.image).toEqualTypeOf<number[] | null | undefined>(); // Float64Array reads back as number[]
    expectTypeOf(rows[0]!["optimizer.name"]).toEqualTypeOf<string | null | undefined>();
    expectTypeOf(rows[0]!.track_id).toEqualTypeOf<string>();
    expect(rows.map((r) => [r.epoch, r.tag, r.image, r["optimizer.name"]])).toEqual([
      [1, undefined, null, "sgd"], // no row has a tag: no such column
      [2, undefined, [1, 2], null],
    ]);
    expectTypeOf(await tracker.head()).toEqualTypeOf<StoredRow<Metrics>[]>();
    expectTypeOf(await tracker.tail()).toEqualTypeOf<StoredRow<Metrics>[]>();
    expectTypeOf(await tracker.column("epoch")).toEqualTypeOf<number[]>();
    // @ts-expect-error no such column
    await tracker.column("epochs").catch(() => undefined);

    const table = await tracker.where({ field: "epoch", op: "ge", value: 2 });
    expectTypeOf(table.getChild("loss")).toEqualTypeOf<import("apache-arrow").Vector<Float64 | Int64> | null>();
    expectTypeOf(table.getChild("timestamp")).toEqualTypeOf<import("apache-arrow").Vector<TimestampMicrosecond> | null>();
    expectTypeOf(table.getChild("track_id")).toEqualTypeOf<import("apache-arrow").Vector<Utf8> | null>();
    // @ts-expect-error typed tables know their columns
    table.getChild("lss");
    expect(table.numRows).toBe(1);
    expect((await tracker.toTable()).getChild("epoch")!.length).toBe(2);

    const child = await tracker.child({ params: { lr: 0.01 } });
    expectTypeOf(child).toEqualTypeOf<Tracker<Metrics>>();
    await child.close();
    await tracker.close();
  });

  it("without R, rows stay plain Rows (nothing existing breaks)", async () => {
    const tracker = await Tracker.open("memory:");
    expectTypeOf(tracker).toEqualTypeOf<Tracker<Row>>();
    const row: Row = { anything: 1, _ts: "x" };
    await tracker.log(row);
    expectTypeOf(tracker.last).toEqualTypeOf<Row | undefined>();
    expectTypeOf(await tracker.toRows()).toEqualTypeOf<Row[]>();
    expectTypeOf(await tracker.column("anything")).toEqualTypeOf<unknown[]>();
    const t = await tracker.toTable();
    expect(t.getChild("anything")!.get(0)).toBe(1n); // Arrow's own get() of an Int64 is a bigint
    await tracker.close();
  });

  it("Reader.open<R>() types its reads", async () => {
    const store = new MemoryStore();
    const t = await Tracker.open<Metrics>(store);
    await t.log({ loss: 1, epoch: 3 });
    await t.close();
    const reader = await Reader.open<Metrics>(store);
    const rows = await reader.toRows({ tail: 1 });
    expectTypeOf(rows[0]!.epoch).toEqualTypeOf<number>();
    expect(rows[0]!.epoch).toBe(3);
    const table = await reader.where({ field: "epoch", op: "eq", value: 3 });
    // @ts-expect-error typed table
    table.getChild("epoc");
    expect((await reader.toTable()).numRows).toBe(1);
  });
});

describe("session.track<P>(name)", () => {
  it("types append() and the points read back", async () => {
    interface Pose {
      position: number[];
      label?: string;
      frame?: { data: Float32Array; shape: number[] };
    }
    const session = await Session.open({ prefix: "p", store: "memory:" });
    const pose = session.track<Pose>("robot/pose");
    pose.append({ position: [1, 2, 3], _ts: 10 });
    pose.append({ position: [4, 5, 6], label: "b", frame: { data: new Float32Array(4), shape: [2, 2] }, _ts: 11 });
    // @ts-expect-error a point needs its declared fields
    expect(() => pose.append({ label: "no position", _ts: 12 })).not.toThrow();
    // @ts-expect-error and _ts is a number
    expect(() => pose.append({ position: [], _ts: "13" })).toThrow(/_ts/);
    const r = await pose.readByTime({ startTime: 10, endTime: 12 });
    const p0: number[] = r.data[0]!.data.position;
    expectTypeOf(r.data[0]!.data._ts).toEqualTypeOf<number>();
    expectTypeOf(r.data[0]!.data.label).toEqualTypeOf<string | undefined>(); // nulls are left out of points
    expectTypeOf(r.data[1]!.data.frame).toEqualTypeOf<{ data: import("../dist/index.js").TypedArray; shape: number[] } | undefined>();
    expect(p0).toEqual([1, 2, 3]);
    expect(r.data[0]!.data.label).toBeUndefined();
    expect(r.data[1]!.data.frame!.shape).toEqual([2, 2]);
    const table = await pose.toTable();
    expectTypeOf(table.getChild("_ts")).toEqualTypeOf<import("apache-arrow").Vector<Float64 | Int64> | null>();
    // @ts-expect-error typed table
    table.getChild("positions");
    expectTypeOf(session.track("any")).toEqualTypeOf<import("../dist/index.js").Track<Row>>();
    session.track("any").append({ whatever: 1 });
    await session.close();
  });
});

describe("integer columns read back as numbers where they fit", () => {
  it("Int64 within ±2^53 is a number, beyond it a bigint; bigint-tagged columns stay bigint", async () => {
    const store = new MemoryStore();
    await store.append(
      "t",
      rowsToBatch([
        { n: 1, big: 2n ** 60n },
        { n: -(2 ** 53) + 1, big: 5n },
        { n: 2 ** 53 - 1, big: null },
      ]),
    );
    // An Int64 column written by another tool (no bigint tag), e.g. DuckDB's BIGINT or count(*).
    const { tableFromArrays } = await import("apache-arrow");
    const foreign = tableFromArrays({ c: BigInt64Array.of(3n, -(2n ** 53n), 2n ** 53n, 2n ** 62n) });
    await store.append("u", foreign.batches[0]!);
    const reader = await Reader.open(store, { table: "t" });
    const rows = await reader.toRows();
    expect(rows.map((r) => r.n)).toEqual([1, -(2 ** 53) + 1, 2 ** 53 - 1]);
    expect(rows.map((r) => r.big)).toEqual([2n ** 60n, 5n, null]); // logged as bigints: exact, as logged
    expect(JSON.stringify(rows.map((r) => r.n))).toBe(`[1,${-(2 ** 53) + 1},${2 ** 53 - 1}]`);
    const u = await (await Reader.open(store, { table: "u" })).toRows();
    expect(u.map((r) => r.c)).toEqual([3, -(2 ** 53), 2n ** 53n, 2n ** 62n]);
    expect(typeof u[0]!.c).toBe("number");
  });
});
