// A script that exits while its own process still holds the DuckDB file (a native call that
// outlives closeSync): the exit writer cannot open the file while the exiting process waits for
// it, so core hands the rows to a successor that writes them once that process has ended.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { openStore } from "@quiver/core";
import "../dist/index.js";

const dir = mkdtempSync(join(tmpdir(), "quiver-duckdb-held-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fixture = new URL("./fixtures/held-at-exit.mjs", import.meta.url).pathname;

async function rowsOf(uri: string): Promise<number[]> {
  const s = await openStore(uri, { readOnly: true });
  try {
    const out: number[] = [];
    for await (const b of s.scan("events", { columns: ["i"] })) for (const v of Array.from(b.getChild("i")!.toArray() as ArrayLike<number | bigint>)) out.push(Number(v));
    return out.sort((a, b) => a - b);
  } finally {
    await s.close();
  }
}

it("rows buffered at exit reach the file through a successor when the exiting process still holds it", async () => {
  const uri = `duckdb:${join(dir, "runs.db")}`;
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [fixture, uri], { encoding: "utf8", env: { ...process.env, QUIVER_DUCKDB_TEST_HOLD_AT_EXIT: "1" } });
  expect(r.status, r.stderr).toBe(0);
  // Without the successor the exit writer waits out lockTimeout (30 s) for a lock its parent holds.
  expect(Date.now() - t0).toBeLessThan(15_000);
  const folder = /Arrow IPC files in (\S+) \(manifest/.exec(r.stderr)?.[1];
  expect(r.stderr).toMatch(/written by process \d+ once this one has ended/);
  let rows: number[] = [];
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((res) => setTimeout(res, 100))) {
    rows = await rowsOf(uri).catch(() => []);
    if (rows.length >= 2000 && folder && !existsSync(folder)) break;
  }
  expect(rows).toEqual(Array.from({ length: 2000 }, (_, i) => i)); // each row once
  expect(folder && existsSync(folder)).toBe(false); // the successor removed its files
}, 40_000);
