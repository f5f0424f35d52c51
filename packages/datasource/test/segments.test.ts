/**
 * Events segments (src/segments.ts): a large commit on the default store writes its events as a
 * Parquet file under the root instead of appending them to DuckDB. The values come back exactly
 * on every path that reads them (the hot state, the SQL engine's events view, its aggregation for
 * asOf, another process), the files are valid Parquet for DuckDB and hyparquet, a crash between
 * the file and the commit row leaves an orphan that is never read and is removed by the next
 * commit, and a failed commit removes what it wrote.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import path from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { Bool, Float64, Int64, Table, TimestampMicrosecond, Utf8, makeData, makeVector, vectorFromArray } from "apache-arrow";
import { parquetReadObjects } from "hyparquet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QuiverError } from "@quiver/core";
import { Datasource } from "../dist/index.js";
import { segmentFiles, tempDir } from "./helpers.js";

const N = 3000;
const saved = { rows: process.env.QUIVER_DS_SEGMENT_ROWS, off: process.env.QUIVER_DS_SEGMENTS };
beforeAll(() => {
  process.env.QUIVER_DS_SEGMENT_ROWS = "1000";
  delete process.env.QUIVER_DS_SEGMENTS;
});
afterAll(() => {
  for (const [k, v] of [
    ["QUIVER_DS_SEGMENT_ROWS", saved.rows],
    ["QUIVER_DS_SEGMENTS", saved.off],
  ] as const)
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
});

const FLOATS = [0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1.5, -2.25e-300, Number.MAX_VALUE];
/** Microseconds since the epoch: µs precision, before 1970 too. */
const micros = (i: number): bigint => 1_700_000_000_123_456n + BigInt(i) * 1_000_001n - (i % 4 === 0 ? 2_000_000_000_000_000n : 0n);

/** N rows of every flat type, with nulls, non-ASCII paths and strings, and every special float. */
function bigTable(): Table {
  const paths = Array.from({ length: N }, (_, i) => `dir ü/${String(i).padStart(5, "0")}-日本.jpg`);
  const ts = new BigInt64Array(N);
  const tsValid = new Uint8Array(Math.ceil(N / 8));
  for (let i = 0; i < N; i++) {
    ts[i] = micros(i);
    if (i % 9 !== 4) tsValid[i >> 3]! |= 1 << (i & 7);
  }
  const nullTs = Array.from({ length: N }, (_, i) => i % 9 === 4).filter(Boolean).length;
  const taken = makeData({ type: new TimestampMicrosecond("UTC"), length: N, nullCount: nullTs, nullBitmap: tsValid, data: ts as never });
  return new Table({
    path: vectorFromArray(paths, new Utf8()),
    n: vectorFromArray(
      Array.from({ length: N }, (_, i) => (i % 7 === 3 ? null : BigInt(i) * 3_000_000_000_000n - 9_007_199_254_740_993n)),
      new Int64(),
    ),
    x: vectorFromArray(
      Array.from({ length: N }, (_, i) => (i % 11 === 5 ? null : FLOATS[i % FLOATS.length]!)),
      new Float64(),
    ),
    ok: vectorFromArray(
      Array.from({ length: N }, (_, i) => (i % 5 === 2 ? null : i % 3 === 0)),
      new Bool(),
    ),
    s: vectorFromArray(
      Array.from({ length: N }, (_, i) => (i % 6 === 1 ? null : `ça ${i} 🙂 ${"é".repeat(i % 40)}`)),
      new Utf8(),
    ),
    taken: makeVector(taken),
  });
}

/** The raw cells of a result by path: int64 and µs as bigint strings, floats with their sign of zero, as given. */
function cells(t: Table): Map<string, unknown[]> {
  const out = new Map<string, unknown[]>();
  const names = ["n", "x", "ok", "s", "taken"];
  const paths = t.getChild("path")!.toArray() as string[];
  const cols = names.map((c) => t.getChild(c)!);
  const raw = (v: unknown): unknown => (typeof v === "bigint" ? `${v}n` : typeof v === "number" && Object.is(v, -0) ? "-0" : v instanceof Date ? v.getTime() : v);
  const taken = t.getChild("taken")!;
  paths.forEach((p, i) => {
    const row = cols.map((c) => raw(c.get(i)));
    // the µs themselves, not a Date: read the 64-bit words of the column
    let off = i;
    for (const d of taken.data) {
      if (off < d.length) {
        row[4] = d.getValid(off) ? `${(d.values as unknown as BigInt64Array)[d.offset + off]}µs` : null;
        break;
      }
      off -= d.length;
    }
    out.set(p, row);
  });
  return out;
}

function expected(table: Table): Map<string, unknown[]> {
  return cells(table);
}

describe("events segments on the default DuckDB store", () => {
  it("a large upload goes to a Parquet segment, and comes back exactly from the hot state, the SQL engine and asOf", async () => {
    const root = tempDir();
    const ds = await Datasource.getOrCreate({ name: "big", path: root, root });
    const table = bigTable();
    await ds.uploadMetadata(table);
    const files = segmentFiles(ds);
    expect(files.map((f) => path.basename(f))).toEqual(["0-0.parquet"]);
    expect(await ds.store.schema(`datasource/${ds.id}/events`)).toBeUndefined(); // nothing went through DuckDB's appender
    const want = expected(table);
    const hot = (await ds.all()).table;
    expect(hot.numRows).toBe(N);
    expect(cells(hot)).toEqual(want);
    expect(cells((await ds.asOf(new Date()).all()).table)).toEqual(want);
    // another Datasource object, hot state off: the SQL engine over events ∪ read_parquet
    process.env.QUIVER_DS_HOT = "0";
    const sql = await Datasource.get({ name: "big", root });
    delete process.env.QUIVER_DS_HOT;
    expect(cells((await sql.all()).table)).toEqual(want);
    const q = sql.field("x").gt(1).and(sql.field("s").contains("🙂"));
    const hq = await ds.where(q).all();
    expect((await sql.where(q).all()).paths).toEqual(hq.paths);
    expect(hq.length).toBeGreaterThan(100);
    // an update of a few rows, then a clear: the engines fold the segment with the table's rows
    await ds.updateMetadata(["dir ü/00001-日本.jpg", "dir ü/00002-日本.jpg"], { x: -0, s: "neu" });
    await ds.deleteMetadata("dir ü/00003-日本.jpg", "taken");
    const after = cells((await ds.all()).table);
    expect(cells((await sql.all()).table)).toEqual(after);
    expect(after.get("dir ü/00001-日本.jpg")!.slice(1, 4)).toEqual(["-0", false, "neu"]);
    expect(after.get("dir ü/00003-日本.jpg")![4]).toBeNull();
    expect(cells((await sql.asOf((await sql.versions())[0]!).all()).table)).toEqual(want);
    await sql.close();
    await ds.close();
  });

  it("writes Parquet that DuckDB's read_parquet and hyparquet read back as uploaded", async () => {
    const root = tempDir();
    const ds = await Datasource.getOrCreate({ name: "pq", path: root, root });
    const table = bigTable();
    await ds.uploadMetadata(table);
    const [file] = segmentFiles(ds);
    await ds.close();
    const want = [...expected(table).entries()];
    // DuckDB, a fresh instance
    const db = await DuckDBInstance.create(":memory:");
    const c = await db.connect();
    const types = (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`)).getRowObjectsJS().map((r) => `${r.column_name}:${r.column_type}`);
    expect(types).toEqual(["path:VARCHAR", "_seq:BIGINT", "n:BIGINT", "x:DOUBLE", "ok:BOOLEAN", "s:VARCHAR", "taken:TIMESTAMP"]);
    const duck = (await c.runAndReadAll(`SELECT path, _seq, n, x, ok, s, epoch_us(taken) AS us FROM read_parquet('${file}')`)).getRowObjectsJS();
    c.closeSync();
    db.closeSync();
    const fmt = (r: Record<string, unknown>): [string, unknown[]] => [
      r.path as string,
      [
        r.n === null || r.n === undefined ? null : `${BigInt(r.n as bigint)}n`,
        typeof r.x === "number" && Object.is(r.x, -0) ? "-0" : (r.x ?? null),
        r.ok ?? null,
        r.s ?? null,
        r.us === null || r.us === undefined ? null : `${BigInt(r.us as bigint)}µs`,
      ],
    ];
    expect(duck.map(fmt)).toEqual(want);
    expect(duck.map((r) => Number(r._seq))).toEqual(Array.from({ length: N }, (_, i) => i));
    // hyparquet, another reader (asked for the raw µs instead of a Date)
    const bytes = fs.readFileSync(file!);
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
    const parsers = { timestampFromMicroseconds: (us: bigint) => `${us}µs` } as never;
    const hyp = (await parquetReadObjects({ file: ab, utf8: true, parsers })) as Record<string, unknown>[];
    expect(hyp.length).toBe(N);
    expect(hyp.map((r) => fmt({ ...r, us: undefined, taken: undefined }))).toEqual(want.map(([p, w]) => [p, [...w.slice(0, 4), null]]));
    expect(hyp.map((r) => r.taken ?? null)).toEqual(want.map(([, w]) => w[4]));
  });

  it("a process killed between the segment and its commit row leaves an orphan: never read, removed by the next commit", async () => {
    const root = tempDir();
    const ds = await Datasource.getOrCreate({ name: "crash", path: root, root });
    await ds.updateMetadata("before.jpg", { n: 1 });
    await ds.close();
    const script = `const { Datasource } = await import(${JSON.stringify(path.resolve("dist/index.js"))});
      const ds = await Datasource.get({ name: "crash", root: ${JSON.stringify(root)} });
      await ds.uploadMetadata(Array.from({ length: 50 }, (_, i) => ({ path: "lost/" + i, n: i })));
      console.log("not killed");`;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, QUIVER_DS_SEGMENT_ROWS: "10", QUIVER_DS_TEST_CRASH_AFTER_SEGMENT: "1" },
    });
    expect(child.signal).toBe("SIGKILL");
    expect(child.stdout).toBe("");
    const again = await Datasource.get({ name: "crash", root });
    expect(segmentFiles(again).map((f) => path.basename(f))).toEqual(["1-0.parquet"]); // renamed into place, never committed
    expect((await again.all()).rows).toEqual([{ path: "before.jpg", n: 1 }]);
    expect(await again.versions()).toHaveLength(1);
    process.env.QUIVER_DS_HOT = "0";
    const sql = await Datasource.get({ name: "crash", root });
    delete process.env.QUIVER_DS_HOT;
    expect((await sql.all()).paths).toEqual(["before.jpg"]);
    // the next commit (to the events table) removes the orphan…
    await again.updateMetadata("after.jpg", { n: 2 });
    expect(segmentFiles(again)).toEqual([]);
    expect((await sql.all()).paths).toEqual(["after.jpg", "before.jpg"]);
    // …and a large one at the same seq0 writes its own segment
    await again.uploadMetadata(Array.from({ length: 1500 }, (_, i) => ({ path: `kept/${String(i).padStart(4, "0")}`, n: -i })));
    expect(segmentFiles(again).map((f) => path.basename(f))).toEqual(["2-0.parquet"]);
    const rows = (await sql.all()).rows;
    expect(rows).toHaveLength(1502);
    expect(rows.find((r) => r.path === "kept/1499")).toEqual({ path: "kept/1499", n: -1499 });
    expect(rows.some((r) => String(r.path).startsWith("lost/"))).toBe(false);
    await sql.close();
    await again.close();
  });

  it("a commit whose commits row fails removes its segment and changes nothing; a retry succeeds", async () => {
    const root = tempDir();
    const ds = await Datasource.getOrCreate({ name: "fail", path: root, root });
    await ds.updateMetadata("a.jpg", { n: 1 });
    const store = ds.store as unknown as { append: (...a: unknown[]) => Promise<void> };
    const real = store.append;
    store.append = async (...a: unknown[]) => {
      if (String(a[0]).endsWith("/commits")) throw new QuiverError("IO", "appending to commits: ENOSPC: no space left on device (injected); free disk space and retry");
      return real.apply(ds.store, a);
    };
    const rows = Array.from({ length: 1200 }, (_, i) => ({ path: `b/${i}`, n: i }));
    try {
      await expect(ds.uploadMetadata(rows)).rejects.toMatchObject({ code: "IO" });
    } finally {
      store.append = real;
    }
    expect(segmentFiles(ds)).toEqual([]);
    expect((await ds.all()).paths).toEqual(["a.jpg"]);
    expect(await ds.uploadMetadata(rows)).toBe(1200);
    expect(segmentFiles(ds).map((f) => path.basename(f))).toEqual(["1-0.parquet"]);
    expect((await ds.all()).length).toBe(1201);
    // an unwritable segments folder is IO naming it, and nothing is written
    const dir = path.join(root, "segments", ds.id);
    fs.rmSync(dir, { recursive: true });
    fs.writeFileSync(dir, "not a folder");
    const err = await ds.uploadMetadata(rows.map((r) => ({ ...r, n: -r.n }))).catch((e: unknown) => e as QuiverError);
    expect(err).toMatchObject({ code: "IO" });
    expect((err as Error).message).toContain(dir);
    expect((await ds.all()).rows.find((r) => r.path === "b/7")).toEqual({ path: "b/7", n: 7 });
    fs.rmSync(dir);
    await ds.close();
  });

  it("a segment's writes going short are carried on; one failing is IO naming the file, leaves no file and changes nothing", async () => {
    const root = tempDir();
    const ds = await Datasource.getOrCreate({ name: "w", path: root, root });
    const table = bigTable();
    const real = fs.writev;
    const patch = (fake: typeof fs.writev): void => {
      (fs as { writev: typeof fs.writev }).writev = fake;
      syncBuiltinESMExports(); // segments.ts imports writev by name
    };
    let calls = 0;
    try {
      // every write takes at most 1000 bytes of its first buffer: the file is still whole
      patch(((fd: number, bufs: NodeJS.ArrayBufferView[], pos: number, cb: never) => {
        calls++;
        const b = bufs.find((x) => x.byteLength > 0) ?? bufs[0]!;
        const at = bufs.indexOf(b);
        const part = new Uint8Array(b.buffer, b.byteOffset, Math.min(b.byteLength, 1000));
        // the empty buffers before it count for nothing
        real(fd, at > 0 ? [...bufs.slice(0, at), part] : [part], pos, cb);
      }) as never);
      await ds.uploadMetadata(table);
      expect(calls).toBeGreaterThan(10);
      expect(cells((await ds.all()).table)).toEqual(expected(table));
      // one write failing (the disk full)
      patch(((_fd: number, _bufs: unknown, _pos: number, cb: (err: Error | null) => void) => {
        const err = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
        setImmediate(() => cb(err));
      }) as never);
      const other = Array.from({ length: 1200 }, (_, i) => ({ path: `other/${i}`, n: i }));
      const err = (await ds.uploadMetadata(other).catch((e: unknown) => e)) as QuiverError;
      expect(err).toMatchObject({ code: "IO" });
      expect(err.message).toMatch(/ENOSPC/);
      expect(err.message).toContain(".parquet.tmp-");
    } finally {
      patch(real);
    }
    const dir = path.join(root, "segments", ds.id);
    expect(fs.readdirSync(dir)).toEqual(["0-0.parquet"]);
    expect(await ds.versions()).toHaveLength(1);
    expect(cells((await ds.all()).table)).toEqual(expected(table));
    await ds.close();
  });

  it("reads segments under a root whose path has quotes, spaces and glob characters", async () => {
    const root = path.join(tempDir(), "it's [a] root*");
    const rows = Array.from({ length: 1100 }, (_, i) => ({ path: `p/${String(i).padStart(4, "0")}`, n: i }));
    const ds = await Datasource.getOrCreate({ name: "odd", path: root, root });
    await ds.uploadMetadata(rows);
    expect(segmentFiles(ds)).toHaveLength(1);
    process.env.QUIVER_DS_HOT = "0";
    const sql = await Datasource.get({ name: "odd", root });
    delete process.env.QUIVER_DS_HOT;
    expect((await sql.all()).rows).toEqual(rows);
    expect((await sql.asOf(new Date()).where(sql.field("n").ge(1000)).all()).length).toBe(100);
    await sql.close();
    await ds.close();
  });

  it("is off with QUIVER_DS_SEGMENTS=0 and on other stores; deleteSource removes the folder", async () => {
    const root = tempDir();
    const rows = Array.from({ length: 1100 }, (_, i) => ({ path: `p/${i}`, n: i }));
    process.env.QUIVER_DS_SEGMENTS = "0";
    const off = await Datasource.getOrCreate({ name: "off", path: root, root });
    await off.uploadMetadata(rows);
    delete process.env.QUIVER_DS_SEGMENTS;
    expect(segmentFiles(off)).toEqual([]);
    expect(await off.store.count(`datasource/${off.id}/events`)).toBe(1100);
    await off.close();
    const other = tempDir();
    const explicit = await Datasource.getOrCreate({ name: "x", path: root, root: other, store: `duckdb:${path.join(other, "meta.db")}` });
    await explicit.uploadMetadata(rows);
    expect(fs.existsSync(path.join(other, "segments"))).toBe(false);
    expect((await explicit.all()).length).toBe(1100);
    await explicit.close();
    const on = await Datasource.getOrCreate({ name: "on", path: root, root });
    await on.uploadMetadata(rows);
    expect(segmentFiles(on)).toHaveLength(1);
    await on.deleteSource();
    expect(fs.existsSync(path.join(root, "segments", on.id))).toBe(false);
  });
});
