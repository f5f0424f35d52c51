import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Bool, Float64, Int32, Int64, Table, TimestampMicrosecond, Utf8, makeVector, tableFromArrays } from "apache-arrow";
import { DuckDBInstance } from "@duckdb/node-api";
import { buildData } from "@quiver/core";
import { Datasource } from "../dist/index.js";
import { STORES, expectCode, shardEventsSql, tempDir, writeFiles } from "./helpers.js";

const opened: Datasource[] = [];
afterAll(async () => {
  for (const d of opened) await d.close();
});

/** Runs SQL in a fresh DuckDB (the real tool reads what we wrote). */
async function duck(sql: string): Promise<Record<string, unknown>[]> {
  const inst = await DuckDBInstance.create(":memory:");
  const c = await inst.connect();
  try {
    return (await c.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    c.closeSync();
    inst.closeSync();
  }
}

const col = (type: Int64 | Float64 | Bool | Utf8 | TimestampMicrosecond | Int32, values: unknown[]) => makeVector(buildData(type, values));

describe.each(STORES)("metadata files on %s", (_label, storeFor) => {
  async function fresh() {
    const dir = tempDir();
    const root = path.join(dir, ".quiver");
    const ds = await Datasource.getOrCreate({ name: "files", path: path.join(dir, "data"), root, store: storeFor(root) });
    opened.push(ds);
    return { dir, ds };
  }

  it("uploads an Arrow table (pathColumn by name or index) with its column types", async () => {
    const { ds } = await fresh();
    const t = new Table({
      id: col(new Int64(), [1, 2, 3]),
      file: col(new Utf8(), ["a.jpg", "b.jpg", "c.jpg"]),
      score: col(new Float64(), [1, 2, null]),
      ok: col(new Bool(), [true, false, true]),
      when: col(new TimestampMicrosecond("UTC"), [new Date("2024-01-01T00:00:00Z"), null, new Date(0)]),
      small: col(new Int32(), [7, 8, 9]),
    });
    expect(await ds.uploadMetadata(t, { pathColumn: "file" })).toBe(3);
    // a Float64 column of whole numbers makes a float field (Arrow types win over inference)
    expect(Object.fromEntries((await ds.fields()).map((f) => [f.name, f.type]))).toEqual({ id: "int", score: "float", ok: "bool", when: "datetime", small: "int" });
    const rows = (await ds.all()).rows;
    expect(rows[0]).toEqual({ path: "a.jpg", id: 1, score: 1, ok: true, when: new Date("2024-01-01T00:00:00Z"), small: 7 });
    expect(rows[2]).toMatchObject({ path: "c.jpg", score: null, when: new Date(0) });
    // null cells leave fields untouched; an existing float field takes an int column
    await ds.uploadMetadata(new Table({ file: col(new Utf8(), ["a.jpg"]), score: col(new Int64(), [5]), ok: col(new Bool(), [null]) }), { pathColumn: 0 });
    expect((await ds.head(1)).rows[0]).toMatchObject({ score: 5, ok: true });
    await expectCode(ds.uploadMetadata(new Table({ file: col(new Utf8(), ["a.jpg"]), ok: col(new Int64(), [1]) })), "SCHEMA_MISMATCH", /"ok" is bool/);
    await expectCode(ds.uploadMetadata(t, { pathColumn: "nope" }), "UNKNOWN_FIELD", /nope/);
    await expectCode(ds.uploadMetadata(t, { pathColumn: 9 }), "UNKNOWN_FIELD");
  });

  it("uploads a table built with apache-arrow's tableFromArrays (dictionary strings, typed arrays)", async () => {
    const { ds } = await fresh();
    const t = tableFromArrays({ path: ["x/1.png", "x/2.png"], label: ["cat", "dog"], score: Float32Array.from([0.5, 0.25]), n: Int32Array.from([1, 2]), ok: [true, false] });
    await ds.uploadMetadata(t);
    expect(Object.fromEntries((await ds.fields()).map((f) => [f.name, f.type]))).toEqual({ label: "string", score: "float", n: "int", ok: "bool" });
    expect((await ds.where(ds.field("label").eq("dog")).all()).rows).toEqual([{ path: "x/2.png", label: "dog", score: 0.25, n: 2, ok: false }]);
  });

  it("uploads CSV with typed inference and names file and row on bad input", async () => {
    const { dir, ds } = await fresh();
    const csv = path.join(dir, "meta.csv");
    fs.writeFileSync(
      csv,
      'path,episode,score,yoda,taken,note\nimages/1.jpg,1,0.5,true,2024-01-02T03:04:05Z,"hello, world"\nimages/2.jpg,2,1,FALSE,2024-01-03,""\nimages/3.jpg,,2.5,,,\n',
    );
    expect(await ds.uploadMetadata(csv)).toBe(3);
    expect(Object.fromEntries((await ds.fields()).map((f) => [f.name, f.type]))).toEqual({ episode: "int", score: "float", yoda: "bool", taken: "datetime", note: "string" });
    const rows = (await ds.all()).rows;
    expect(rows).toEqual([
      { path: "images/1.jpg", episode: 1, score: 0.5, yoda: true, taken: new Date("2024-01-02T03:04:05Z"), note: "hello, world" },
      { path: "images/2.jpg", episode: 2, score: 1, yoda: false, taken: new Date("2024-01-03T00:00:00Z"), note: "" },
      { path: "images/3.jpg", episode: null, score: 2.5, yoda: null, taken: null, note: null },
    ]);
    const ragged = path.join(dir, "ragged.csv");
    fs.writeFileSync(ragged, "path,a\nx.jpg,1\ny.jpg,2,3\n");
    await expectCode(ds.uploadMetadata(ragged), "INVALID_VALUE", /ragged\.csv row 2 \(line 3\)/);
    const quote = path.join(dir, "quote.csv");
    fs.writeFileSync(quote, 'path,a\nx.jpg,1\ny.jpg,"2\n');
    await expectCode(ds.uploadMetadata(quote), "INVALID_VALUE", /quote\.csv row 2 .*unterminated/);
    // a known field is parsed as its type; a cell that is not is the field's SCHEMA_MISMATCH
    const typed = path.join(dir, "typed.csv");
    fs.writeFileSync(typed, "name,episode\nq.jpg,3\nr.jpg,three\n");
    await expectCode(ds.uploadMetadata(typed, { pathColumn: "name" }), "SCHEMA_MISMATCH", /typed\.csv row 2 .*"episode" is int/);
    const badPath = path.join(dir, "badpath.csv");
    fs.writeFileSync(badPath, "path,episode\nok.jpg,3\n../up.jpg,4\n");
    await expectCode(ds.uploadMetadata(badPath), "INVALID_PATH", /badpath\.csv row 2/);
    expect((await ds.all()).length).toBe(3); // nothing of the failed uploads was written
  });

  it("uploads Parquet written by DuckDB and errors name the file", async () => {
    const { dir, ds } = await fresh();
    const pq = path.join(dir, "meta.parquet");
    await duck(`COPY (SELECT 'img/' || i || '.jpg' AS path, i::INTEGER AS episode, i / 2 AS half, i % 2 = 0 AS even, 'n' || i AS name,
      TIMESTAMP '2024-01-01' + INTERVAL (i) HOUR AS at, CASE WHEN i = 1 THEN NULL ELSE i END AS maybe FROM range(3) t(i)) TO '${pq}' (FORMAT parquet)`);
    expect(await ds.uploadMetadata(pq)).toBe(3);
    const rows = (await ds.all()).rows;
    expect(rows[1]).toEqual({ path: "img/1.jpg", episode: 1, half: 0.5, even: false, name: "n1", at: new Date("2024-01-01T01:00:00Z"), maybe: null });
    const broken = path.join(dir, "broken.parquet");
    fs.writeFileSync(broken, fs.readFileSync(pq).subarray(0, 40));
    await expectCode(ds.uploadMetadata(broken), "INVALID_VALUE", /broken\.parquet/);
    const nulls = path.join(dir, "nullpath.parquet");
    await duck(`COPY (SELECT CASE WHEN i = 1 THEN NULL ELSE 'p' || i END AS path, i AS v FROM range(2) t(i)) TO '${nulls}' (FORMAT parquet)`);
    await expectCode(ds.uploadMetadata(nulls), "INVALID_PATH", /nullpath\.parquet row 2/);
    await expectCode(ds.uploadMetadata(path.join(dir, "x.json")), "INVALID_VALUE", /parquet/);
  });

  it("exports Parquet and CSV that DuckDB reads, round-tripping every type and nulls", async () => {
    const { dir, ds } = await fresh();
    const when = new Date("2024-05-06T07:08:09.123Z");
    await ds.uploadMetadata([
      { path: "a/1.jpg", i: 1, f: 0.25, b: true, s: 'quote " and, comma', d: when },
      { path: "a/2.jpg", i: -(2 ** 40), f: null, b: false, s: null, d: null },
      { path: "a/3.jpg", i: null, f: 3, b: null, s: "", d: new Date(0) },
    ]);
    const res = await ds.all();
    const pq = await res.toParquet(path.join(dir, "out/x.parquet"));
    const fromDuck = await duck(`SELECT * FROM read_parquet('${pq}') ORDER BY path`);
    expect(fromDuck.map((r) => ({ ...r, i: r.i === null ? null : Number(r.i) }))).toEqual([
      { path: "a/1.jpg", i: 1, f: 0.25, b: true, s: 'quote " and, comma', d: when },
      { path: "a/2.jpg", i: -(2 ** 40), f: null, b: false, s: null, d: null },
      { path: "a/3.jpg", i: null, f: 3, b: null, s: "", d: new Date(0) },
    ]);
    const csv = await res.toCSV(path.join(dir, "out/x.csv"));
    const csvDuck = await duck(`SELECT * FROM read_csv('${csv}', header = true) ORDER BY path`);
    expect(csvDuck[0]).toMatchObject({ path: "a/1.jpg", f: 0.25, b: true, s: 'quote " and, comma' });
    expect(csvDuck[1]!.s).toBeNull();
    // both files come back identically through uploadMetadata
    for (const file of [pq, csv]) {
      const { ds: other } = await fresh();
      await other.uploadMetadata(file);
      expect((await other.all()).rows).toEqual(res.rows);
    }
  });

  it("scans a few thousand files with progress", async () => {
    const { dir, ds } = await fresh();
    const files: Record<string, string> = {};
    for (let i = 0; i < 2000; i++) files[`d${i % 10}/f${i}.bin`] = "x".repeat(i % 7);
    writeFiles(path.join(dir, "data"), files);
    const seen: number[] = [];
    const r = await ds.scan({ onProgress: (p) => p.phase === "stat" && seen.push(p.done), progressEvery: 500 });
    expect(r).toEqual({ files: 2000, added: 2000, changed: 0, removed: 0 });
    expect(seen).toEqual([500, 1000, 1500, 2000, 2000]);
    expect((await ds.where(ds.field("size").eq(6)).all()).length).toBe(285);
  });
});

describe("persistence", () => {
  it("two processes creating and writing one datasource at once take turns; nothing is lost", async () => {
    const dir = tempDir();
    const root = path.join(dir, ".quiver");
    const dist = path.resolve("dist/index.js");
    const script = path.join(dir, "writer.mjs");
    fs.writeFileSync(
      script,
      `import { Datasource } from ${JSON.stringify(dist)};
       const [who] = process.argv.slice(2);
       // both create it at once: they must end up with the same datasource
       const ds = await Datasource.getOrCreate({ name: "shared", path: ${JSON.stringify(path.join(dir, "data"))}, root: ${JSON.stringify(root)} });
       for (let i = 0; i < 15; i++) {
         await ds.updateMetadata(who + "/" + i, { who, i });
         await ds.updateMetadata("seed", { who: "child", i }); // both update the same datapoint too
         if (i % 5 === 0) await ds.where(ds.field("who").eq(who)).all(); // and read between writes
       }
       await ds.close();`,
    );
    const { spawn } = await import("node:child_process");
    const run = (who: string) =>
      new Promise<string>((res, rej) => {
        const p = spawn(process.execPath, [script, who], { stdio: ["ignore", "pipe", "pipe"] });
        let err = "";
        p.stderr.on("data", (d) => (err += d));
        p.on("exit", (code) => (code === 0 ? res(err) : rej(new Error(`${who} exited ${code}: ${err}`))));
      });
    await Promise.all([run("a"), run("b")]);
    const back = await Datasource.get({ name: "shared", root });
    opened.push(back);
    const rows = (await back.all()).rows;
    expect(rows.length).toBe(31);
    expect(rows.filter((r) => r.who === "a").map((r) => r.i)).toEqual([0, 1, 10, 11, 12, 13, 14, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(rows.find((r) => r.path === "seed")).toMatchObject({ who: "child", i: 14 });
    expect((await Datasource.list({ root })).map((d) => (opened.push(d), d.name))).toEqual(["shared"]);
    const versions = await back.versions();
    expect(versions.length).toBe(60);
    // every commit got its own _seq range: the event log has exactly one row per commit here
    expect(Number((await back.store.sql!(`SELECT count(DISTINCT _seq)::BIGINT AS n FROM ${await shardEventsSql(back)}`)).get(0)!.n)).toBe(60);
  });

  it("another process opens the default DuckDB store and sees the metadata, blobs and datasets", async () => {
    const dir = tempDir();
    const root = path.join(dir, ".quiver");
    writeFiles(path.join(dir, "data"), { "a.jpg": "A" });
    const ds = await Datasource.getOrCreate({ name: "p", path: path.join(dir, "data"), root });
    await ds.scan();
    await ds.updateMetadata("a.jpg", { label: "cat", thumb: new Uint8Array([4, 2]) });
    await ds.where(ds.field("label").eq("cat")).saveDataset("cats");
    await ds.close();
    expect(fs.existsSync(path.join(root, "datasources.db"))).toBe(true);
    const script = path.join(dir, "child.mjs");
    const dist = path.resolve("dist/index.js");
    fs.writeFileSync(
      script,
      `import { Dataset } from ${JSON.stringify(dist)};
       const d = await Dataset.get({ name: "cats", root: ${JSON.stringify(root)} });
       const r = await d.all();
       const dp = [...r][0];
       console.log(JSON.stringify({ n: r.length, path: dp.path, label: dp.metadata.label, size: dp.metadata.size, blob: [...await dp.getBlob("thumb")], file: Buffer.from(await dp.readFile()).toString() }));
       await d.close();`,
    );
    const out = spawnSync(process.execPath, [script], { encoding: "utf8", timeout: 60_000 });
    expect(out.stderr).toBe("");
    expect(JSON.parse(out.stdout)).toEqual({ n: 1, path: "a.jpg", label: "cat", size: 1, blob: [4, 2], file: "A" });
  });
});
