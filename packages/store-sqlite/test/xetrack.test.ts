/**
 * A database written the way xetrack writes one (Python's sqlite3 in a real child process, its
 * schema mirrored in fixtures/xetrack_db.py) opens as it is: Reader reads every value exactly,
 * nothing of the file changes, and copy moves the history (and the assets table) to duckdb:.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { batchToRows, copy, isQuiverError, openStore, Reader, rowsToBatch, type Row, type Store, typeName } from "@quiver/core";
import { describe, expect, it } from "vitest";
import "../dist/index.js";
import "@quiver/store-duckdb";
import { tmpDir } from "./helpers.js";

const SCRIPT = fileURLToPath(new URL("./fixtures/xetrack_db.py", import.meta.url));

type Tagged = null | { bool: boolean } | { int: string } | { float: string } | { bytes: string } | { str: string };
interface Written {
  columns: [string, string][];
  rows: (Record<string, Tagged> & { timestamp_us: string })[];
  assets: [string, string][];
  keys: [string, string][];
}

/** Writes a xetrack database at `file` with python3 and returns what the script read back. */
export function writeXetrack(file: string): Written {
  return JSON.parse(execFileSync("/usr/bin/python3", [SCRIPT, file], { encoding: "utf8" })) as Written;
}

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    fs.readdirSync(dir).map((f) => [
      f,
      createHash("sha256")
        .update(fs.readFileSync(path.join(dir, f)))
        .digest("hex"),
    ]),
  );
}

async function rows(store: Store, table: string): Promise<Row[]> {
  const out: Row[] = [];
  for await (const b of store.scan(table)) out.push(...batchToRows(b));
  return out;
}

/** The JS value Quiver gives for a value Python wrote (bigint: the column holds ints beyond 2^53). */
function expected(v: Tagged, bigint: boolean): unknown {
  if (v === null) return null;
  if ("int" in v) return bigint ? BigInt(v.int) : Number(v.int);
  if ("float" in v) return Number(v.float);
  if ("bytes" in v) return new Uint8Array(Buffer.from(v.bytes, "hex"));
  if ("bool" in v) return v.bool;
  return v.str;
}

describe("sqlite: a database xetrack wrote", () => {
  it("reads as it is: xetrack's columns and types, every value exactly, runs, assets; the file unchanged", async () => {
    const dir = tmpDir();
    const file = path.join(dir, "xetrack.db");
    const py = writeXetrack(file);
    const before = snapshot(dir);

    const store = await openStore(`sqlite:${file}`, { readOnly: true });
    try {
      // xetrack ≥ 0.3 names its table "default"; Quiver shows it as its own "events".
      expect(await store.tables()).toEqual(["assets", "counts", "events", "keys"]);
      const schema = (await store.schema("events"))!;
      expect(schema.fields.map((f) => f.name)).toEqual(py.columns.map(([n]) => n));
      const types = Object.fromEntries(schema.fields.map((f) => [f.name, typeName(f.type)]));
      expect(types).toEqual({
        track_id: "string",
        timestamp: "timestamp",
        model: "string",
        accuracy: "float64",
        loss: "float64",
        epoch: "int64",
        lr: "float64", // INTEGER, then 0.5: the values decide
        note: "string", // TEXT from a None, then 3 (stored as '3'), then text
        flag: "int64", // a bool, as xetrack stores it (0/1 in an INTEGER column)
        config: "string", // str(dict), xetrack's way
        blob: "binary",
        big: "int64",
        weights: "string", // the asset's hash
        raw: "binary", // bytes in a TEXT column stay a blob
        a_b: "string",
        x_y: "string",
        unicode: "string",
        test_accuracy: "float64",
      });
      expect(schema.fields.find((f) => f.name === "big")!.metadata.get("quiver:bigint")).toBe("1");

      const got = await rows(store, "events");
      expect(got.length).toBe(py.rows.length);
      const ts: bigint[] = [];
      for await (const b of store.scan("events", { columns: ["timestamp"] })) for (const v of b.getChildAt(0)!.data[0]!.values as BigInt64Array) ts.push(v);
      py.rows.forEach((want, i) => {
        for (const [name] of py.columns) {
          if (name === "timestamp") continue;
          const v = got[i]![name];
          const e = expected(want[name]!, name === "big");
          if (typeof e === "number") expect(Object.is(v, e), `${name} of row ${i}: ${String(v)} vs ${e}`).toBe(true);
          else expect(v, `${name} of row ${i}`).toEqual(e);
        }
        // The time to the microsecond, in Arrow (a JS Date holds milliseconds).
        expect(ts[i]).toBe(BigInt(want.timestamp_us));
        expect((got[i]!.timestamp as Date).getTime()).toBe(Math.floor(Number(want.timestamp_us) / 1000));
      });

      const assets = await rows(store, "assets");
      expect(assets.map((a) => [a.key, Buffer.from(a.value as Uint8Array).toString("hex")])).toEqual(py.assets);
      expect((await rows(store, "keys")).map((a) => [a.key, Buffer.from(a.value as Uint8Array).toString("hex")])).toEqual(py.keys);

      // Filters and counts over xetrack's columns.
      expect(await store.count("events")).toBe(6);
      const reader = await Reader.open(store);
      const runs = await reader.runs();
      expect(runs.map((r) => [r.track_id, r.rows])).toEqual([
        ["brave-fox-0042", 3],
        ["calm-owl-0007", 3],
      ]);
      expect(runs[0]!.first!.getTime()).toBe(Math.floor(Number(py.rows[0]!.timestamp_us) / 1000));
      expect(runs[1]!.last!.getTime()).toBe(Math.floor(Number(py.rows[5]!.timestamp_us) / 1000));
      const t = await store.sql!(`SELECT count(*) AS n FROM "default" WHERE accuracy > ?`, [0.8]);
      expect(Number(t.getChild("n")!.get(0))).toBe(3);
    } finally {
      await store.close();
    }
    expect(snapshot(dir)).toEqual(before); // reading created, changed or left nothing
  });

  it("an older xetrack's table named events (and its day-first timestamps) reads as Quiver's events", async () => {
    const dir = tmpDir();
    const file = path.join(dir, "old.db");
    execFileSync("/usr/bin/python3", [
      "-c",
      `import sqlite3
c = sqlite3.connect(${JSON.stringify(file)})
c.execute('CREATE TABLE events (track_id TEXT, timestamp TEXT, PRIMARY KEY (track_id, timestamp))')
c.execute('ALTER TABLE events ADD COLUMN accuracy REAL')
c.execute("INSERT INTO events VALUES ('old-run', '18-08-2023 11:02:35.162360', 0.9)")
c.execute("INSERT INTO events VALUES ('old-run', '18-08-2023 11:02:36.000001', 0.95)")
c.commit()`,
    ]);
    const target = `duckdb:${path.join(dir, "runs.db")}`;
    expect(await copy({ source: `sqlite:${file}`, target })).toBe(2);
    const duck = await openStore(target, { readOnly: true });
    try {
      const got = await rows(duck, "events");
      expect(got.map((r) => [r.track_id, (r.timestamp as Date).toISOString(), r.accuracy])).toEqual([
        ["old-run", "2023-08-18T11:02:35.162Z", 0.9],
        ["old-run", "2023-08-18T11:02:36.000Z", 0.95],
      ]);
    } finally {
      await duck.close();
    }
  });

  it("refuses to write into xetrack's tables (UNSUPPORTED, saying how to copy), changing nothing", async () => {
    const dir = tmpDir();
    const file = path.join(dir, "xetrack.db");
    writeXetrack(file);
    const store = await openStore(`sqlite:${file}`);
    try {
      const before = await store.count("events");
      let err: unknown;
      try {
        await store.append("events", rowsToBatch([{ track_id: "x", accuracy: 1 }]));
      } catch (e) {
        err = e;
      }
      expect(isQuiverError(err, "UNSUPPORTED")).toBe(true);
      expect((err as Error).message).toContain("quiver copy sqlite:");
      await expect(store.drop("assets")).rejects.toMatchObject({ code: "UNSUPPORTED" });
      await expect(store.delete("events", undefined)).rejects.toMatchObject({ code: "UNSUPPORTED" });
      expect(await store.count("events")).toBe(before);
      // A table of Quiver's own beside xetrack's works as usual.
      await store.append("mine", rowsToBatch([{ a: 1 }]));
      expect(await store.tables()).toEqual(["assets", "counts", "events", "keys", "mine"]);
    } finally {
      await store.close();
    }
    // Python's sqlite3 still reads xetrack's table as it wrote it.
    const n = execFileSync("/usr/bin/python3", ["-c", `import sqlite3; print(sqlite3.connect(${JSON.stringify(file)}).execute('SELECT count(*) FROM "default"').fetchone()[0])`], {
      encoding: "utf8",
    });
    expect(n.trim()).toBe("6");
  });

  it("copy moves the whole history to duckdb: in one call (again: 0), assets too; times to the microsecond", async () => {
    const dir = tmpDir();
    const file = path.join(dir, "xetrack.db");
    const py = writeXetrack(file);
    const target = `duckdb:${path.join(dir, "runs.db")}`;
    expect(await copy({ source: `sqlite:${file}`, target })).toBe(6);
    expect(await copy({ source: `sqlite:${file}`, target })).toBe(0);
    expect(await copy({ source: `sqlite:${file}`, target, table: "assets" })).toBe(1);
    const duck = await openStore(target, { readOnly: true });
    try {
      const got = await rows(duck, "events");
      expect(got.length).toBe(6);
      // copy moves Arrow data, so DuckDB holds the microseconds xetrack wrote.
      const ts: bigint[] = [];
      for await (const b of duck.scan("events", { columns: ["timestamp"] })) for (const v of b.getChildAt(0)!.data[0]!.values as BigInt64Array) ts.push(v);
      py.rows.forEach((want, i) => {
        for (const [name] of py.columns) {
          const v = got[i]![name];
          if (name === "timestamp") {
            expect(ts[i]).toBe(BigInt(want.timestamp_us));
            continue;
          }
          const e = expected(want[name]!, name === "big");
          if (typeof e === "number") expect(Object.is(v, e), `${name} of row ${i}`).toBe(true);
          else expect(v, `${name} of row ${i}`).toEqual(e);
        }
      });
      const reader = await Reader.open(duck);
      expect((await reader.runs()).map((r) => [r.track_id, r.rows])).toEqual([
        ["brave-fox-0042", 3],
        ["calm-owl-0007", 3],
      ]);
      const assets = await rows(duck, "assets");
      expect(assets.map((a) => [a.key, Buffer.from(a.value as Uint8Array).toString("hex")])).toEqual(py.assets);
    } finally {
      await duck.close();
    }
  });
});
