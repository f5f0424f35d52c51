/**
 * Property-based round trip (fast-check): rows of every kind the store declares come back exactly
 * — through store.append + scan, Tracker.log + close + reopen, Track.append + read — and values
 * that cannot be stored exactly are refused at log()/append() without harming the rows around them.
 *
 * Runs are few (QUIVER_FC_RUNS, default 40) so a slow store stays quick; the seed is fixed
 * (QUIVER_FC_SEED overrides it) and printed with any failure, with the shrunk counterexample.
 */
import { Binary, LargeBinary, LargeUtf8, Table, Utf8, type Vector, vectorFromArray } from "apache-arrow";
import { rowsToBatch, type Row } from "../arrow/batches.js";
import { QuiverError } from "../errors.js";
import { Session } from "../series/session.js";
import type { Store } from "../store/contract.js";
import { Tracker } from "../runs/tracker.js";
import { assert, type ConformanceTarget, plain, rowsOf, type TestApi } from "./harness.js";
import { badCases, expected, expectedRow, type Fc, loadFastCheck, prelude, settlesEmptyLists, tableArb, type TableCase } from "./values-arbitraries.js";

const SEED = Number(process.env.QUIVER_FC_SEED ?? 20240611);
const RUNS = Number(process.env.QUIVER_FC_RUNS ?? 40);
const RUNS_PER_CASE = Math.max(1, Math.ceil(RUNS / 15));

/** Runs a property with the fixed seed; a failure names the seed, the shrunk case and the first error. */
async function check<T>(fc: Fc, what: string, arb: import("fast-check").Arbitrary<T>, body: (x: T) => Promise<void>, runs = RUNS): Promise<void> {
  const res = await fc.check(fc.asyncProperty(arb, body), { seed: SEED, numRuns: runs, interruptAfterTimeLimit: 60_000 });
  if (!res.failed) return;
  const shown = res.counterexample ? fc.stringify(res.counterexample[0]) : "(none)";
  const err = res.errorInstance as Error | undefined;
  throw new Error(
    `${what}: property failed (seed ${SEED}, path ${JSON.stringify(res.counterexamplePath)}; rerun with QUIVER_FC_SEED=${SEED}) after ${res.numRuns} runs, ${res.numShrinks} shrinks\n` +
      `counterexample: ${shown.length > 4000 ? `${shown.slice(0, 4000)}…` : shown}\n${err?.stack ?? String(err)}`,
    { cause: err },
  );
}

/** Exact comparison: -0 ≠ 0, NaN = NaN, typed arrays by constructor and values. */
function assertSame(actual: unknown, wanted: unknown, where: string): void {
  assert.deepStrictEqual(plain(actual), plain(wanted), where);
}

function dropNulls(r: Row): Row {
  return Object.fromEntries(Object.entries(r).filter(([, v]) => v !== null && v !== undefined));
}

/** Compares a table read back against the rows logged (columns of the case, `i` first). */
function compareRows(got: Row[], c: TableCase, where: string, start = 0): void {
  assert.equal(got.length - start, c.rows.length, `${where}: row count`);
  c.rows.forEach((r, k) => {
    const back = got[start + k]!;
    const want = expectedRow(r, c.columns);
    const picked: Row = { i: back.i };
    // Own properties only: a column named "constructor" that a row lacks is null, not Object.
    for (const col of c.columns) picked[col.name] = Object.hasOwn(back, col.name) ? (back[col.name] ?? null) : null;
    assertSame(picked, want, `${where}: row ${k}`);
  });
}

function refusedWith(err: unknown, codes: readonly string[], what: string): void {
  assert.ok(err instanceof QuiverError, `${what}: expected a QuiverError (${codes.join("/")}), got ${err === undefined ? "no error: the value was accepted" : String(err)}`);
  assert.ok(codes.includes(err.code), `${what}: expected ${codes.join("/")}, got ${err.code}: ${err.message}`);
}

export function valuesTests(t: TestApi, target: ConformanceTarget): void {
  const to = Math.max(target.timeout ?? 30_000, 120_000);
  const it = (name: string, fn: () => Promise<void>) => t.it(name, fn, to);
  let seq = 0;

  it("store.append + scan round-trips generated rows of every declared kind exactly", async () => {
    const fc = await loadFastCheck();
    const store = await target.create();
    try {
      const kinds = store.capabilities.kinds;
      await check(fc, `${target.name}: append + scan`, fc.tuple(tableArb(fc, kinds), fc.nat()), async ([c, cut]) => {
        const table = `prop/append${seq++}`;
        // One or two appends: the second evolves the schema the first created.
        let k = c.rows.length > 1 ? 1 + (cut % (c.rows.length - 1)) : c.rows.length;
        if (settlesEmptyLists(c.rows.slice(0, k), c.columns)) k = c.rows.length;
        await store.append(table, rowsToBatch(c.rows.slice(0, k)));
        if (k < c.rows.length) await store.append(table, rowsToBatch(c.rows.slice(k), { schema: await store.schema(table) }));
        compareRows(await rowsOf(store, table), c, table);
      });
    } finally {
      await store.close().catch(() => undefined);
    }
  });

  it("store.append of a sliced batch (an Arrow offset > 0) stores exactly the rows of the slice", async () => {
    const fc = await loadFastCheck();
    const store = await target.create();
    try {
      const kinds = store.capabilities.kinds;
      await check(fc, `${target.name}: append of a slice`, fc.tuple(tableArb(fc, kinds), fc.nat(), fc.nat()), async ([c, a, b]) => {
        if (c.rows.length < 2) return;
        const table = `prop/slice${seq++}`;
        // Arrow JS slices the offsets and fixed-width values but not the validity bits or booleans.
        const from = 1 + (a % (c.rows.length - 1));
        const to = from + 1 + (b % (c.rows.length - from));
        const part = rowsToBatch(c.rows).slice(from, to);
        await store.append(table, part);
        compareRows(await rowsOf(store, table), { ...c, rows: c.rows.slice(from, to) }, table);
      });
    } finally {
      await store.close().catch(() => undefined);
    }
  });

  it("LargeUtf8 / LargeBinary columns (pyarrow, polars) append to string and binary columns and the other way round, exactly", async () => {
    const store = await target.create();
    const kinds = store.capabilities.kinds;
    const bin = kinds.includes("binary");
    const batch = (large: boolean, s: (string | null)[], b: (Uint8Array | null)[]) => {
      const cols: Record<string, Vector> = { s: vectorFromArray(s, large ? new LargeUtf8() : new Utf8()) };
      if (bin) cols.b = vectorFromArray(b, large ? new LargeBinary() : new Binary());
      return new Table(cols).batches[0]!;
    };
    const strings = [
      ["a", "", null, "é\u0000z"],
      ["b", "longer text", null, "ω"],
    ] as const;
    const bytes = [
      [new Uint8Array([1, 2]), new Uint8Array(0), null, new Uint8Array([0])],
      [new Uint8Array([255]), null, new Uint8Array([3, 4, 5]), new Uint8Array(0)],
    ];
    try {
      for (const [name, first] of [
        ["prop/large-first", true],
        ["prop/large-second", false],
      ] as const) {
        await store.append(name, batch(first, [...strings[0]], bytes[0]!));
        await store.append(name, batch(!first, [...strings[1]], bytes[1]!));
        const got = await rowsOf(store, name);
        assertSame(
          got.map((r) => r.s ?? null),
          [...strings[0], ...strings[1]],
          `${name}: strings`,
        );
        if (bin)
          assertSame(
            got.map((r) => r.b ?? null),
            [...bytes[0]!, ...bytes[1]!],
            `${name}: bytes`,
          );
      }
    } finally {
      await store.close().catch(() => undefined);
    }
  });

  it("Tracker.log + close + reopen reads back generated rows exactly", async () => {
    const fc = await loadFastCheck();
    let store: Store = await target.create();
    try {
      const kinds = store.capabilities.kinds;
      const reopen = store.capabilities.persistent && target.reopen !== undefined;
      await check(
        fc,
        `${target.name}: Tracker.log + reopen`,
        tableArb(fc, kinds),
        async (c) => {
          const table = `prop/log${seq++}`;
          const tr = await Tracker.open(store, { table, flushInterval: 0 });
          for (const r of c.rows) await tr.log(r);
          await tr.close();
          if (reopen) {
            await store.close();
            store = await target.reopen!(store);
          }
          compareRows(await rowsOf(store, table), c, table);
        },
        Math.ceil(RUNS / 2),
      );
    } finally {
      await store.close().catch(() => undefined);
    }
  });

  it("Track.append + read gives back generated points exactly", async () => {
    const fc = await loadFastCheck();
    const store = await target.create();
    try {
      const kinds = store.capabilities.kinds;
      await check(
        fc,
        `${target.name}: Track.append + read`,
        tableArb(fc, kinds),
        async (c) => {
          const s = await Session.open({ prefix: `prop/s${seq++}`, store, flushInterval: 0 });
          const tr = s.track("values");
          for (const r of c.rows) tr.append(r);
          await s.close();
          const again = await Session.open({ prefix: s.prefix, store, flushInterval: 0 });
          const got = (await again.track("values").read({ limit: 1000 })).data;
          await again.close();
          assert.equal(got.length, c.rows.length, "point count");
          c.rows.forEach((r, k) => {
            const back = { ...got[k]!.data } as Row;
            delete back._ts;
            assertSame(dropNulls(back), dropNulls(Object.fromEntries(Object.entries(r).map(([key, v]) => [key, expected(v)]))), `point ${k}`);
          });
        },
        Math.ceil(RUNS / 2),
      );
    } finally {
      await store.close().catch(() => undefined);
    }
  });

  it("refuses at log()/append() what cannot round-trip, and stores the good rows around it", async () => {
    const fc = await loadFastCheck();
    let store: Store = await target.create();
    try {
      const kinds = store.capabilities.kinds;
      const bad = badCases(kinds);
      const reopen = store.capabilities.persistent && target.reopen !== undefined;
      // Every case, each over a few generated tables.
      for (const b of bad) {
        await check(
          fc,
          `${target.name}: refused ${b.what}`,
          tableArb(fc, kinds, 3),
          async (c) => {
            const pre = prelude(kinds);
            const good: Row[] = c.rows.map((r) => ({ ...r, s_ok: "text" }));
            // Logged twice before the bad row, which has its keys: the compiled fast path sees the bad value.
            const base: Row = { i: 0.5, s_ok: "text" };
            const badRow = b.row(base);
            const logged = [pre, good[0]!, base, base];
            const table = `prop/bad${seq++}`;
            const tr = await Tracker.open(store, { table, flushInterval: 0 });
            for (const r of logged) await tr.log(r);
            let err: unknown;
            await tr.log(badRow).catch((e: unknown) => (err = e));
            refusedWith(err, b.codes, `Tracker.log(${b.what})`);
            for (const r of good.slice(1)) await tr.log(r);
            await tr.close();
            if (reopen) {
              await store.close();
              store = await target.reopen!(store);
            }
            const rows = await rowsOf(store, table);
            const cols = [...c.columns, { name: "s_ok", sort: "string" }];
            compareRows(rows, { columns: cols, rows: [...logged.slice(1), ...good.slice(1)] }, `${table} after ${b.what}`, 1);

            // Track.append is synchronous: it throws, and the points around it are written.
            const s = await Session.open({ prefix: `prop/b${seq++}`, store, flushInterval: 0 });
            const track = s.track("values");
            for (const r of logged) track.append(r);
            let terr: unknown;
            try {
              track.append(badRow);
            } catch (e) {
              terr = e;
            }
            refusedWith(terr, b.codes, `Track.append(${b.what})`);
            for (const r of good.slice(1)) track.append(r);
            await s.close();
            const again = await Session.open({ prefix: s.prefix, store, flushInterval: 0 });
            const pts = (await again.track("values").read({ limit: 1000 })).data;
            await again.close();
            const want = [...logged, ...good.slice(1)].map((r) => r.i);
            assertSame(
              pts.map((p) => (p.data as Row).i),
              want,
              `Track after ${b.what}: every good point stored, in order`,
            );
          },
          RUNS_PER_CASE,
        );
      }
    } finally {
      await store.close().catch(() => undefined);
    }
  });
}
