/**
 * Name fuzzing (fast-check): any table name is either refused with INVALID_NAME — and then
 * nothing is created — or stored under exactly that name, apart from every other table. Names
 * are drawn to hit what stores map names to: path segments, SQL identifiers, quotes, `%`, `;`,
 * unicode, case-only differences and long names.
 */
import { rowsToBatch } from "../arrow/batches.js";
import { QuiverError } from "../errors.js";
import { validateName } from "../names.js";
import { assert, type ConformanceTarget, rowsOf, type TestApi, withStore } from "./harness.js";
import { loadFastCheck } from "./values-arbitraries.js";

const SEED = Number(process.env.QUIVER_FC_SEED ?? 20240611);
const RUNS = Number(process.env.QUIVER_FC_RUNS ?? 40);

const TRICKY = [
  "..",
  ".",
  "",
  "/",
  "a/../b",
  "a//b",
  "/abs",
  "C:\\x",
  "a\\b",
  "x\u0000y",
  "tab\there",
  "new\nline",
  '"; DROP TABLE events; --',
  "it's",
  "100%",
  "a;b",
  "événements",
  "数据/表",
  "🚀/launch",
  "Events",
  "events",
  "a.b",
  "a b",
  "-lead",
  "trail-",
  "CON",
  "nul",
  "x".repeat(300),
  "y".repeat(1025),
];

function isValid(name: string): boolean {
  try {
    validateName(name, "table name");
    return true;
  } catch {
    return false;
  }
}

export function namesTests(t: TestApi, target: ConformanceTarget): void {
  t.it(
    "a table name is refused with INVALID_NAME (creating nothing) or kept exactly, apart from every other",
    async () => {
      const fc = await loadFastCheck();
      const segment = fc.oneof(fc.constantFrom(...TRICKY), fc.string({ minLength: 0, maxLength: 12 }), fc.string({ unit: "binary", minLength: 1, maxLength: 8 }));
      const name = fc.oneof(
        segment,
        fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join("/")),
      );
      await withStore(target, async (store) => {
        await store.append("anchor", rowsToBatch([{ n: -1 }]));
        const history = new Map<string, number[]>([["anchor", [-1]]]);
        let n = 0;
        await fc.assert(
          fc.asyncProperty(name, async (nm) => {
            const before = await store.tables();
            const valid = isValid(nm);
            let err: unknown;
            try {
              await store.append(nm, rowsToBatch([{ n }]));
            } catch (e) {
              err = e;
            }
            if (!valid) {
              assert.ok(
                err instanceof QuiverError && err.code === "INVALID_NAME",
                `${JSON.stringify(nm)}: expected INVALID_NAME, got ${err === undefined ? "success" : String(err)}`,
              );
              assert.deepEqual(await store.tables(), before, `${JSON.stringify(nm)}: a refused name created nothing`);
              return;
            }
            // A store may refuse a valid name it cannot map (say, too long), but only as INVALID_NAME.
            if (err !== undefined) {
              assert.ok(err instanceof QuiverError && err.code === "INVALID_NAME", `${JSON.stringify(nm)}: a valid name failed with ${String(err)}`);
              assert.deepEqual(await store.tables(), before);
              return;
            }
            const rows = await rowsOf(store, nm, { columns: ["n"] });
            const want = [...(history.get(nm) ?? []), n];
            assert.deepEqual(
              rows.map((r) => Number(r.n)),
              want,
              `${JSON.stringify(nm)}: its rows, and no other table's`,
            );
            history.set(nm, want);
            assert.ok((await store.tables()).includes(nm), `${JSON.stringify(nm)} is listed by tables()`);
            n++;
          }),
          { seed: SEED, numRuns: RUNS },
        );
        // Every table still holds exactly its own rows.
        for (const [nm, rows] of history)
          assert.deepEqual(
            (await rowsOf(store, nm, { columns: ["n"] })).map((r) => Number(r.n)),
            rows,
            `${JSON.stringify(nm)} at the end`,
          );
      });
    },
    target.timeout ?? 60_000,
  );
}
