/**
 * `quiver copy sqlite:xetrack.db duckdb:runs.db`: a database written the way xetrack writes one
 * (python3's sqlite3 in a child process, fixtures of @quiver/store-sqlite) moves over in one
 * command through the real binary, the runs show in `quiver ls`, copying again adds 0, the
 * assets table follows with --table, and the xetrack file is left as it was.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { errorOf, jsonLines, ok, quiver, tempDir } from "./helpers.js";

const XETRACK = fileURLToPath(new URL("../../store-sqlite/test/fixtures/xetrack_db.py", import.meta.url));
const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const c of cleanups) c();
});

const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

describe("quiver copy sqlite: (a xetrack database) → duckdb:", () => {
  it("moves a user's xetrack history over in one command, idempotently, assets too", () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const db = path.join(t.dir, "xetrack.db");
    const written = JSON.parse(execFileSync("/usr/bin/python3", [XETRACK, db], { encoding: "utf8" })) as { rows: unknown[] };
    const before = sha(db);
    const runs = path.join(t.dir, "runs.db");

    const out = ok(["copy", `sqlite:${db}`, `duckdb:${runs}`], { cwd: t.dir });
    expect(out).toContain(`copied ${written.rows.length} new rows`);
    expect(jsonLines(ok(["copy", `sqlite:${db}`, `duckdb:${runs}`, "--json"]))[0]).toMatchObject({ added: 0, already_there: 6, table: "events" });
    expect(jsonLines(ok(["copy", `sqlite:${db}`, `duckdb:${runs}`, "--table", "assets", "--json"]))[0]).toMatchObject({ added: 1 });
    expect(sha(db)).toBe(before); // the source is only read

    const ls = jsonLines(ok(["ls", `duckdb:${runs}`, "--json"]));
    expect(ls.map((r) => [r.track_id, r.rows])).toEqual([
      ["brave-fox-0042", 3],
      ["calm-owl-0007", 3],
    ]);
    // The same history read straight from the xetrack file.
    expect(jsonLines(ok(["ls", `sqlite:${db}`, "--json"])).map((r) => [r.track_id, r.rows])).toEqual(ls.map((r) => [r.track_id, r.rows]));
    // A bare .db path is taken by its header: xetrack's SQLite file and our DuckDB file.
    expect(jsonLines(ok(["ls", db, "--json"])).map((r) => r.track_id)).toEqual(["brave-fox-0042", "calm-owl-0007"]);
    expect(jsonLines(ok(["ls", runs, "--json"])).map((r) => r.track_id)).toEqual(["brave-fox-0042", "calm-owl-0007"]);
    expect(sha(db)).toBe(before);
    const head = jsonLines(ok(["head", `duckdb:${runs}`, "--json"]));
    expect(head[0]).toMatchObject({ track_id: "brave-fox-0042", model: "resnet18", accuracy: 0.9, epoch: 1 });
  });

  it("a missing sqlite: file is NOT_FOUND and is not created", () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const r = quiver(["copy", `sqlite:${path.join(t.dir, "none.db")}`, `duckdb:${path.join(t.dir, "runs.db")}`]);
    expect(r.code).not.toBe(0);
    expect(errorOf(r).code).toBe("NOT_FOUND");
  });
});
