/**
 * A COMMIT whose answer is lost (the connection drops between the server committing and the
 * client hearing it): the batch is neither lost nor written twice. Through a real TCP proxy
 * that swallows the server's "COMMIT" and cuts the connection.
 */
import { isQuiverError, openStore, rowsToBatch, Tracker } from "@quiver/core";
import { rowsOf } from "@quiver/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import "../dist/index.js";
import { baseUrl, freshSchema, raw } from "./helpers.js";
import { type CommitProxy, startProxy } from "./proxy.js";

const pg = raw();
let proxy: CommitProxy;
beforeAll(async () => {
  proxy = await startProxy(baseUrl());
});
afterAll(async () => {
  await proxy.close();
  await pg.end();
});

function url(schema: string): string {
  const u = new URL(proxy.url);
  u.searchParams.set("schema", schema);
  return u.toString();
}

const rows = (from: number, n: number) => Array.from({ length: n }, (_, k) => ({ i: from + k, loss: 1 / (from + k + 1) }));

async function stored(schema: string, table: string): Promise<number[]> {
  const r = await pg.unsafe(`SELECT i FROM "${schema}"."${table}" ORDER BY _quiver_pos`);
  return r.map((x) => Number(x.i));
}

describe("postgres: a lost COMMIT answer", () => {
  it("is settled at once when the server can be asked: the append resolves, its rows are there once", async () => {
    const schema = freshSchema("doubt");
    const s = await openStore(url(schema));
    await s.append("t", rowsToBatch(rows(0, 10)));
    const lost = proxy.loseNextCommit();
    await s.append("t", rowsToBatch(rows(10, 10))); // the answer never comes; the store asks
    await lost;
    await s.append("t", rowsToBatch(rows(20, 10)));
    expect(await stored(schema, "t")).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect((await rowsOf(s, "t")).map((r) => r.i)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    await s.close();
  });

  it("while the server cannot be asked: IO, and the retry of the same rows (alone or ahead of newer ones) writes them once", async () => {
    const schema = freshSchema("doubt");
    const s = await openStore(url(schema));
    await s.append("t", rowsToBatch(rows(0, 5)));
    const lost = proxy.loseNextCommit(true);
    const batch = rowsToBatch(rows(5, 5));
    const err = await s.append("t", batch).catch((e: unknown) => e);
    await lost;
    await proxy.refuse(false);
    expect(isQuiverError(err, "IO")).toBe(true);
    expect(await stored(schema, "t")).toEqual(Array.from({ length: 10 }, (_, i) => i)); // it did commit
    // core's buffer retries the failed rows ahead of what was logged since.
    await s.append("t", rowsToBatch([...rows(5, 5), ...rows(10, 3)]));
    expect(await stored(schema, "t")).toEqual(Array.from({ length: 13 }, (_, i) => i));
    // A batch that merely looks like an earlier one is an ordinary append.
    await s.append("t", rowsToBatch(rows(5, 5)));
    expect((await stored(schema, "t")).length).toBe(18);
    await s.close();
  });

  it("a Tracker whose flush lost the COMMIT answer keeps every row once", async () => {
    const schema = freshSchema("doubt");
    const t = await Tracker.open(url(schema), { flushInterval: 0 });
    for (const r of rows(0, 100)) await t.log(r);
    await t.flush();
    for (const r of rows(100, 100)) await t.log(r);
    const lost = proxy.loseNextCommit(true);
    const err = await t.flush().catch((e: unknown) => e);
    await lost;
    expect(isQuiverError(err, "IO")).toBe(true);
    await proxy.refuse(false);
    for (const r of rows(200, 100)) await t.log(r);
    await t.close();
    expect(await stored(schema, "events")).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  it("a connection lost during COMMIT that rolled back: IO, nothing written, and the retry writes the rows once", async () => {
    const schema = freshSchema("doubt");
    const s = await openStore(url(schema));
    await s.append("t", rowsToBatch(rows(0, 5)));
    // COMMIT of the next batch waits in a deferred trigger; its session is ended meanwhile.
    await pg.unsafe(`CREATE FUNCTION "${schema}".slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.i = 5 THEN PERFORM pg_sleep(3); END IF; RETURN NULL; END $$`);
    await pg.unsafe(`CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON "${schema}".t DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION "${schema}".slow()`);
    const pending = s.append("t", rowsToBatch(rows(5, 5))).catch((e: unknown) => e);
    let killed = 0;
    for (let k = 0; k < 100 && killed === 0; k++) {
      await new Promise((r) => setTimeout(r, 50));
      const r = await pg.unsafe(`SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query = 'COMMIT'`);
      killed = r[0]!.n as number;
    }
    expect(killed).toBe(1);
    const err = await pending;
    expect(isQuiverError(err, "IO")).toBe(true);
    expect(await stored(schema, "t")).toEqual([0, 1, 2, 3, 4]); // rolled back
    await pg.unsafe(`DROP TRIGGER slow ON "${schema}".t`);
    await s.append("t", rowsToBatch(rows(5, 5)));
    expect(await stored(schema, "t")).toEqual(Array.from({ length: 10 }, (_, i) => i));
    await s.close();
  });
});
