/**
 * `quiver copy` between msgpack:/duckdb: and a real PostgreSQL, both ways: every value as
 * logged, and copying again adds 0 (a laptop's runs merged into the shared database).
 */
import path from "node:path";
import { openStore, rowsToBatch, type Store } from "@quiver/core";
import { rowsOf } from "@quiver/core/testing";
import "@quiver/store-duckdb";
import "@quiver/store-msgpack";
import "@quiver/store-postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonLines, ok, tempDir } from "./helpers.js";
import { lakeRows, type PgServer, pgSchemaUrl, pgServer } from "./lake.js";

let pg: PgServer;
const cleanups: (() => void)[] = [];
beforeAll(() => {
  pg = pgServer();
});
afterAll(() => {
  for (const c of cleanups) c();
  pg?.stop();
});

const byRunAndEpoch = (rows: Record<string, unknown>[]) => [...rows].sort((a, b) => String(a.track_id).localeCompare(String(b.track_id)) || Number(a.epoch) - Number(b.epoch));

async function withOpen<T>(uri: string, fn: (s: Store) => Promise<T>): Promise<T> {
  const s = await openStore(uri, { readOnly: true });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

function copy(src: string, dst: string): Record<string, unknown> {
  return jsonLines(ok(["copy", src, dst, "--json"]))[0]!;
}

describe.each([
  ["msgpack", (dir: string) => `msgpack:${path.join(dir, "laptop")}`],
  ["duckdb", (dir: string) => `duckdb:${path.join(dir, "laptop.db")}`],
])("quiver copy %s: ⇄ postgres:", (_label, laptopFor) => {
  it("merges the laptop's runs into the shared database and back, exactly and idempotently", async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const laptop = laptopFor(t.dir);
    const rows = lakeRows(600);
    const s = await openStore(laptop);
    for (let i = 0; i < rows.length; i += 200) await s.append("events", rowsToBatch(rows.slice(i, i + 200), { schema: await s.schema("events") }));
    await s.close();
    const shared = pgSchemaUrl(pg.url);

    expect(copy(laptop, shared)).toMatchObject({ added: 600, already_there: 0 });
    expect(copy(laptop, shared)).toMatchObject({ added: 0, already_there: 600 });
    const want = byRunAndEpoch(await withOpen(laptop, (x) => rowsOf(x, "events")));
    expect(want).toHaveLength(600);
    expect(byRunAndEpoch(await withOpen(shared, (x) => rowsOf(x, "events")))).toEqual(want);

    // Back into a fresh laptop store of the same kind.
    const t2 = tempDir();
    cleanups.push(t2.cleanup);
    const back = laptopFor(t2.dir);
    expect(copy(shared, back)).toMatchObject({ added: 600 });
    expect(copy(shared, back)).toMatchObject({ added: 0 });
    expect(byRunAndEpoch(await withOpen(back, (x) => rowsOf(x, "events")))).toEqual(want);

    // A new run on the laptop merges in; nothing else is doubled.
    const again = await openStore(laptop);
    await again.append("events", rowsToBatch([{ track_id: "new", timestamp: new Date(5), epoch: 0, loss: 0.5 }], { schema: await again.schema("events") }));
    await again.close();
    expect(copy(laptop, shared)).toMatchObject({ added: 1, already_there: 600 });
    expect(await withOpen(shared, (x) => x.count("events"))).toBe(601);
  });
});
