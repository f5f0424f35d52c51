/**
 * Run summaries (`store.runs(table, { columns })`, Reader.runs): rows, first/last timestamp and
 * per column last/min/max, the same from every store — an aggregate query, a kept summary or
 * core's scan — across appends, schema changes, updates and deletes. Expected values are
 * written out by hand, and checked against core's scan of the same table.
 */
import type { Schema } from "apache-arrow";
import { rowsToBatch } from "../arrow/build.js";
import type { Row } from "../arrow/values.js";
import { field } from "../query/query.js";
import { Reader } from "../runs/reader.js";
import type { RunSummary, Store, ValueKind } from "../store/contract.js";
import { listRuns, summarizeRuns, summaryColumns } from "../store-kit/runs.js";
import { assert, type ConformanceTarget, plain, type TestApi, withStore } from "./harness.js";

const t = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s));

/** Comparable form of summaries (Dates and bigints spelled out; NaN compares equal to NaN). */
function shape(runs: RunSummary[]): unknown {
  return runs.map((r) => ({
    track_id: r.track_id,
    rows: r.rows,
    first: plain(r.first),
    last: plain(r.last),
    ...(r.columns ? { columns: Object.fromEntries(Object.entries(r.columns).map(([k, c]) => [k, { last: plain(c.last), min: plain(c.min), max: plain(c.max) }])) } : {}),
  }));
}

/** Core's scan of the table: the reference every accelerator must agree with. */
async function scanned(store: Store, table: string, columns: "all" | readonly string[]): Promise<RunSummary[]> {
  const schema = (await store.schema(table))!;
  const cols = summaryColumns(schema, { columns });
  const read = ["track_id", "timestamp", ...cols];
  return summarizeRuns(store.scan(table, { columns: read }), true, cols);
}

export function runsTests(test: TestApi, target: ConformanceTarget): void {
  const to = target.timeout ?? 30_000;
  const it = (name: string, fn: () => Promise<void>) => test.it(name, fn, to);

  it("runs(table, { columns }) gives per run its rows, first/last and per column last/min/max", async () => {
    await withStore(target, async (store) => {
      const has = (k: ValueKind) => store.capabilities.kinds.includes(k);
      const keep = (r: Row): Row => {
        const o: Row = {};
        for (const [k, v] of Object.entries(r)) if ((k !== "big" || has("bigint")) && (k !== "tags" || has("list"))) o[k] = v;
        return o;
      };
      const append = async (rows: Row[]) => {
        const schema: Schema | undefined = await store.schema("events");
        await store.append("events", rowsToBatch(rows.map(keep), { schema }), { layout: "rows" });
      };
      await append([
        { track_id: "a", timestamp: t(1), loss: 0.5, step: 1, name: "z", ok: true, big: 5n, tags: [1, 2] },
        { track_id: "b", timestamp: t(2), loss: Number.NaN, step: 1, name: "é", ok: false, big: -3n, tags: [] },
        { track_id: "a", timestamp: t(3), loss: 0.25, step: 2, name: null, ok: false, big: 2n, tags: null },
      ]);
      // A later append adds a column (when) and brings a row without a run.
      await append([
        { track_id: "a", timestamp: t(4), loss: null, step: 3, name: "\u{1F600}", ok: null, big: null, when: new Date(100) },
        { track_id: "b", timestamp: t(5), loss: 2, step: 2, name: "\uFFFD", ok: true, big: null, when: new Date(50) },
        { track_id: null, timestamp: t(6), loss: 9, step: 9, name: "n", ok: true, big: 9n, when: new Date(9) },
      ]);
      await append([{ track_id: "a", timestamp: t(0), loss: 0.75, step: 4, name: "\uFFFD", ok: null, big: null, when: new Date(10) }]);
      await store.flush();

      const c = (last: unknown, min: unknown, max: unknown) => ({ last: plain(last), min: plain(min), max: plain(max) });
      const a: Record<string, unknown> = {
        loss: c(0.75, 0.25, 0.75),
        step: c(4, 1, 4),
        // By code point: U+FFFD < U+1F600 (UTF-16 code units would say otherwise).
        name: c("\uFFFD", "z", "\u{1F600}"),
        ok: c(false, false, true),
        when: c(new Date(10), new Date(10), new Date(100)),
      };
      const b: Record<string, unknown> = {
        loss: c(2, 2, Number.NaN), // NaN sorts above every number
        step: c(2, 1, 2),
        name: c("\uFFFD", "é", "\uFFFD"),
        ok: c(true, false, true),
        when: c(new Date(50), new Date(50), new Date(50)),
      };
      if (has("bigint")) {
        a.big = c(2n, 2n, 5n);
        b.big = c(-3n, -3n, -3n);
      }
      const order = (o: Record<string, unknown>, names: string[]) => Object.fromEntries(names.filter((n) => n in o).map((n) => [n, o[n]]));
      const names = ["loss", "step", "name", "ok", "big", "when"];
      const expected = [
        { track_id: "a", rows: 4, first: plain(t(0)), last: plain(t(4)), columns: order(a, names) },
        { track_id: "b", rows: 2, first: plain(t(2)), last: plain(t(5)), columns: order(b, names) },
      ];
      const got = shape(await listRuns(store, "events", { columns: "all" })) as typeof expected;
      // Column order is not part of the contract: compare by name.
      const byName = (runs: typeof expected) => runs.map((r) => ({ ...r, columns: order(r.columns, names) }));
      assert.deepStrictEqual(byName(got), expected);
      assert.deepStrictEqual(byName(shape(await scanned(store, "events", "all")) as typeof expected), expected);

      // Named columns: scalar ones the table has; a list and a missing name are left out.
      const some = await listRuns(store, "events", { columns: ["loss", "nope", "tags"] });
      assert.deepStrictEqual(
        some.map((r) => Object.keys(r.columns ?? {})),
        [["loss"], ["loss"]],
      );
      // Without columns: no columns property; with an empty list: an empty one.
      assert.deepStrictEqual(
        (await listRuns(store, "events")).map((r) => [r.track_id, r.rows, r.columns]),
        [
          ["a", 4, undefined],
          ["b", 2, undefined],
        ],
      );
      assert.deepStrictEqual(
        (await listRuns(store, "events", { columns: [] })).map((r) => r.columns),
        [{}, {}],
      );

      // Reader.runs is the same answer.
      const reader = await Reader.open(store);
      assert.deepStrictEqual(byName(shape(await reader.runs({ columns: "all" })) as typeof expected), expected);
      await reader.close();

      // After an update and a delete the summaries follow the rows.
      if (store.capabilities.update) {
        await store.update("events", field("track_id").eq("b").node, { loss: 100 });
        const after = await listRuns(store, "events", { columns: ["loss"] });
        assert.deepStrictEqual(shape(after), shape(await scanned(store, "events", ["loss"])));
        assert.deepStrictEqual(after[1]!.columns!.loss, { last: 100, min: 100, max: 100 });
      }
      if (store.capabilities.delete) {
        await store.delete("events", field("track_id").eq("a").node);
        const after = await listRuns(store, "events", { columns: "all" });
        assert.deepStrictEqual(
          after.map((r) => r.track_id),
          ["b"],
        );
        assert.deepStrictEqual(shape(after), shape(await scanned(store, "events", "all")));
      }
      // And appends after them.
      await append([{ track_id: "c", timestamp: t(7), loss: 1, step: 1, name: "c", ok: true, big: null, when: new Date(1) }]);
      assert.deepStrictEqual(shape(await listRuns(store, "events", { columns: "all" })), shape(await scanned(store, "events", "all")));
    });
  });

  it("runs() of many appends by several writers agree with a scan (summaries kept across reopen)", async () => {
    await withStore(target, async (store) => {
      let seed = 7;
      const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
      for (let k = 0; k < 12; k++) {
        const rows: Row[] = [];
        for (let i = 0; i < 50; i++) {
          const x = rnd();
          rows.push({
            track_id: `run-${Math.floor(x * 5)}`,
            timestamp: new Date(1_700_000_000_000 + k * 1000 + i),
            v: x < 0.1 ? null : x * 10,
            n: Math.floor(x * 100),
            s: x.toString(36).slice(2, 6),
          });
        }
        await store.append("events", rowsToBatch(rows, { schema: await store.schema("events") }), { layout: k % 2 ? "columns" : "rows" });
      }
      await store.flush();
      assert.deepStrictEqual(shape(await listRuns(store, "events", { columns: "all" })), shape(await scanned(store, "events", "all")));
      if (target.reopen) {
        await store.close();
        const again = await target.reopen(store);
        try {
          assert.deepStrictEqual(shape(await listRuns(again, "events", { columns: "all" })), shape(await scanned(again, "events", "all")));
        } finally {
          await again.close();
        }
      }
    });
  });
}
