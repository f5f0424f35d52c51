import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { field, not } from "@quiver/core";
import { Dataset, Datasource } from "../dist/index.js";
import { STORES, expectCode, tempDir, writeFiles } from "./helpers.js";

const opened: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const d of opened) await d.close();
});

describe.each(STORES)("Datasource on %s", (_label, storeFor) => {
  let dir: string;
  let data: string;
  let root: string;
  let store: string | undefined;

  async function open(name = "images", p = data): Promise<Datasource> {
    const ds = await Datasource.getOrCreate({ name, path: p, root, store });
    opened.push(ds);
    return ds;
  }

  beforeEach(() => {
    dir = tempDir();
    data = path.join(dir, "data");
    root = path.join(dir, ".quiver");
    store = storeFor(root);
    writeFiles(data, {
      "images/000.jpg": "a",
      "images/005.jpg": "bb",
      "images/006.jpg": "ccc",
      "images/007.jpg": "dddd",
      "labels/l.txt": "hello",
    });
  });

  it("creates, gets, lists and deletes datasources; files are never touched", async () => {
    const ds = await open();
    expect(ds.name).toBe("images");
    expect(ds.path).toBe(path.resolve(data));
    const again = await open();
    expect(again.id).toBe(ds.id);
    const got = await Datasource.get({ name: "images", root, store });
    opened.push(got);
    expect(got.id).toBe(ds.id);
    await open("other");
    const all = await Datasource.list({ root, store });
    opened.push(...all);
    expect(all.map((d) => d.name)).toEqual(["images", "other"]);
    await ds.updateMetadata("images/000.jpg", { episode: 1 });
    await ds.deleteSource();
    await expectCode(Datasource.get({ name: "images", root, store }), "NOT_FOUND", /images/);
    expect(fs.readFileSync(path.join(data, "images/000.jpg"), "utf8")).toBe("a");
    // A new datasource of the same name starts clean.
    const fresh = await open();
    expect((await fresh.all()).length).toBe(0);
    await expectCode(Datasource.getOrCreate({ name: "../x", path: data, root, store }), "INVALID_NAME");
  });

  it("scans files, and a rescan picks up new, changed and removed files", async () => {
    const ds = await open();
    const progress: string[] = [];
    const r1 = await ds.scan({ onProgress: (p) => progress.push(p.phase), progressEvery: 2 });
    expect(r1).toEqual({ files: 5, added: 5, changed: 0, removed: 0 });
    expect(progress).toContain("stat");
    expect(progress.at(-1)).toBe("done");
    const res = await ds.all();
    expect(res.rows.map((r) => [r.path, r.size])).toEqual([
      ["images/000.jpg", 1],
      ["images/005.jpg", 2],
      ["images/006.jpg", 3],
      ["images/007.jpg", 4],
      ["labels/l.txt", 5],
    ]);
    expect(res.rows[0]!.mtime).toBeInstanceOf(Date);
    // metadata survives a removal; a removed file without metadata disappears
    await ds.updateMetadata("images/006.jpg", { episode: 6 });
    fs.rmSync(path.join(data, "images/006.jpg"));
    fs.rmSync(path.join(data, "images/007.jpg"));
    writeFiles(data, { "images/000.jpg": "changed!", "images/new/008.jpg": "x" });
    const r2 = await ds.scan();
    expect(r2).toEqual({ files: 4, added: 1, changed: 1, removed: 2 });
    const rows = (await ds.all()).rows;
    expect(rows.map((r) => r.path)).toEqual(["images/000.jpg", "images/005.jpg", "images/006.jpg", "images/new/008.jpg", "labels/l.txt"]);
    expect(rows.find((r) => r.path === "images/000.jpg")!.size).toBe(8);
    expect(rows.find((r) => r.path === "images/006.jpg")).toMatchObject({ size: null, episode: 6 });
    expect(await ds.scan()).toEqual({ files: 4, added: 0, changed: 0, removed: 0 });
  });

  it("never indexes its own root when the root is inside the folder", async () => {
    const inner = await Datasource.getOrCreate({ name: "inner", path: data, root: path.join(data, ".quiver"), store });
    opened.push(inner);
    await inner.updateMetadata("images/000.jpg", { blob: new Uint8Array([1, 2]) });
    await inner.scan();
    expect((await inner.all()).rows.every((r) => !String(r.path).startsWith(".quiver"))).toBe(true);
  });

  it("keeps separate metadata for datasources over the same folder", async () => {
    const a = await open("a");
    const b = await open("b");
    await a.updateMetadata("images/000.jpg", { label: "cat" });
    await b.updateMetadata("images/000.jpg", { label: 3 });
    expect((await a.all()).rows).toEqual([{ path: "images/000.jpg", label: "cat" }]);
    expect((await b.all()).rows).toEqual([{ path: "images/000.jpg", label: 3 }]);
  });

  it("metadataContext is all or nothing", async () => {
    const ds = await open();
    await ds.metadataContext((ctx) => {
      ctx.updateMetadata("images/005.jpg", { episode: 5, has_baby_yoda: true });
      ctx.updateMetadata(["images/006.jpg", "images/007.jpg"], { episode: 6 });
    });
    await expect(
      ds.metadataContext((ctx) => {
        ctx.updateMetadata("images/000.jpg", { episode: 0 });
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    // a wrong type anywhere in the batch: the field is named and nothing is written
    const err = await expectCode(
      ds.metadataContext((ctx) => {
        ctx.updateMetadata("images/000.jpg", { episode: 0, note: "new field" });
        ctx.updateMetadata("images/001.jpg", { episode: "zero" });
      }),
      "SCHEMA_MISMATCH",
      /"episode".*int/,
    );
    expect(err.message).toMatch(/nothing/);
    const rows = (await ds.all()).rows;
    expect(rows.map((r) => r.path)).toEqual(["images/005.jpg", "images/006.jpg", "images/007.jpg"]);
    expect((await ds.fields()).map((f) => f.name)).toEqual(["episode", "has_baby_yoda"]);
  });

  it("infers types on first sight and enforces them after", async () => {
    const ds = await open();
    const when = new Date("2024-01-02T03:04:05.678Z");
    await ds.updateMetadata("a.jpg", { i: 1, f: 1.5, b: true, s: "x", d: when, blob: new Uint8Array([9]) });
    await ds.updateMetadata("b.jpg", { mixed: 1, f: 2 });
    await ds.uploadMetadata([
      { path: "c.jpg", mixed2: 1 },
      { path: "d.jpg", mixed2: 2.5 },
    ]);
    expect(Object.fromEntries((await ds.fields()).map((f) => [f.name, f.type]))).toEqual({
      i: "int",
      f: "float",
      b: "bool",
      s: "string",
      d: "datetime",
      blob: "blob",
      mixed: "int",
      mixed2: "float",
    });
    await expectCode(ds.updateMetadata("x.jpg", { i: 1.5 }), "SCHEMA_MISMATCH", /"i" is int/);
    await expectCode(ds.updateMetadata("x.jpg", { b: 1 }), "SCHEMA_MISMATCH", /"b" is bool/);
    await expectCode(ds.updateMetadata("x.jpg", { d: "2024-01-01" }), "SCHEMA_MISMATCH", /"d" is datetime/);
    await expectCode(ds.updateMetadata("x.jpg", { s: new Uint8Array(1) }), "SCHEMA_MISMATCH", /"s" is string/);
    await expectCode(ds.updateMetadata("x.jpg", { o: { a: 1 } }), "INVALID_VALUE");
    await expectCode(ds.updateMetadata("x.jpg", { path: "p" }), "INVALID_NAME");
    const a = (await ds.where(field("path").eq("a.jpg")).all()).rows[0]!;
    expect(a).toMatchObject({ i: 1, f: 1.5, b: true, s: "x" });
    expect((a.d as Date).toISOString()).toBe(when.toISOString());
    expect(a.blob).toMatch(/^[0-9a-f]{64}$/);
  });

  it("rejects paths that leave the folder and normalises the rest", async () => {
    const ds = await open();
    await expectCode(ds.updateMetadata("../etc/passwd", { x: 1 }), "INVALID_PATH", /\.\./);
    await expectCode(ds.updateMetadata("/etc/passwd", { x: 1 }), "INVALID_PATH", /absolute/);
    await expectCode(ds.updateMetadata(["ok.jpg", "a/../../b"], { x: 1 }), "INVALID_PATH");
    await expectCode(
      ds.uploadMetadata([
        { path: "ok.jpg", x: 1 },
        { path: "/abs", x: 2 },
      ]),
      "INVALID_PATH",
      /row 2/,
    );
    expect((await ds.all()).length).toBe(0);
    await ds.updateMetadata("./images//005.jpg", { x: 1 });
    expect((await ds.all()).rows).toEqual([{ path: "images/005.jpg", x: 1 }]);
  });

  it("accepts metadata before the files exist, then scan joins them", async () => {
    const ds = await open();
    await ds.updateMetadata("images/later.jpg", { episode: 9 });
    expect((await ds.all()).rows).toEqual([{ path: "images/later.jpg", episode: 9 }]);
    writeFiles(data, { "images/later.jpg": "123" });
    await ds.scan();
    const row = (await ds.where(ds.field("episode").eq(9)).all()).rows[0]!;
    expect(row).toMatchObject({ path: "images/later.jpg", episode: 9, size: 3 });
  });

  it("deletes metadata fields and datapoints, keeping history", async () => {
    const ds = await open();
    await ds.updateMetadata(["a", "b", "c"], { x: 1, y: "keep" });
    await new Promise((r) => setTimeout(r, 3));
    const before = new Date();
    await new Promise((r) => setTimeout(r, 5));
    await ds.deleteMetadata(["a", "b"], "x");
    await ds.deleteDatapoints("c");
    expect((await ds.all()).rows).toEqual([
      { path: "a", x: null, y: "keep" },
      { path: "b", x: null, y: "keep" },
    ]);
    expect((await ds.asOf(before).all()).rows.map((r) => [r.path, r.x])).toEqual([
      ["a", 1],
      ["b", 1],
      ["c", 1],
    ]);
    // a cleared field takes a value again; a deleted datapoint comes back only with new metadata
    await ds.updateMetadata("c", { y: "back" });
    expect((await ds.where(field("path").eq("c")).all()).rows).toEqual([{ path: "c", x: null, y: "back" }]);
    // null in updateMetadata clears
    await ds.updateMetadata("a", { y: null });
    expect((await ds.where(field("path").eq("a")).all()).length).toBe(0);
  });

  it("a path repeated in one upload merges in row order (later rows win)", async () => {
    const ds = await open();
    await ds.uploadMetadata([
      { path: "b", v: 1 },
      { path: "a", v: 1, w: "x" },
      { path: "b", v: 2, w: "y" },
      { path: "a", v: 3 },
    ]);
    expect((await ds.all()).rows).toEqual([
      { path: "a", v: 3, w: "x" },
      { path: "b", v: 2, w: "y" },
    ]);
    await ds.uploadMetadata([
      { path: "c", v: 9 },
      { path: "a", v: 4 },
    ]); // overlaps an earlier upload
    expect((await ds.all()).rows.map((r) => r.v)).toEqual([4, 2, 9]);
  });

  it("handles quotes, percent signs and unicode in field names, paths and values", async () => {
    const ds = await open();
    const f = `it's "odd" %_\\`;
    await ds.updateMetadata([`a'b".jpg`, "ünï/cødé 1.jpg"], { [f]: "x'y\"%_", n: 1 });
    await ds.updateMetadata(`a'b".jpg`, { n: 2 }); // an update of an existing path (SQL table mode)
    await ds.deleteMetadata("ünï/cødé 1.jpg", f);
    const rows = (await ds.where(ds.field("n").ge(1)).all()).rows;
    expect(rows).toEqual([
      { path: `a'b".jpg`, [f]: "x'y\"%_", n: 2 },
      { path: "ünï/cødé 1.jpg", [f]: null, n: 1 },
    ]);
    expect((await ds.where(ds.field(f).startsWith("x'y\"%")).all()).length).toBe(1);
    expect((await ds.where(ds.field(f).endsWith("_")).all()).length).toBe(1);
    expect((await ds.where(ds.field(f).contains("%")).all()).length).toBe(1);
    expect((await ds.where(ds.field("path").eq("ünï/cødé 1.jpg")).all()).length).toBe(1);
  });

  it("answers every query operator, combinators, select, orderBy, limit and head", async () => {
    const ds = await open();
    await ds.uploadMetadata([
      { path: "images/000.jpg", episode: 0, has_baby_yoda: true, name: "alpha", t: new Date("2024-01-01T00:00:00Z") },
      { path: "images/001.jpg", episode: 0, has_baby_yoda: false, name: "beta", t: new Date("2024-02-01T00:00:00Z") },
      { path: "images/005.jpg", episode: 5, has_baby_yoda: true, name: "gamma" },
      { path: "images/006.jpg", episode: 6, name: "alphabet" },
      { path: "images/007.jpg", episode: 7, has_baby_yoda: false },
    ]);
    const paths = async (v: { all(): Promise<{ rows: Record<string, unknown>[] }> }) => (await v.all()).rows.map((r) => String(r.path).slice(7, 10));
    const q = ds
      .field("episode")
      .gt(5)
      .or(ds.field("episode").eq(0).and(ds.field("has_baby_yoda").eq(true)));
    expect(await paths(ds.where(q))).toEqual(["000", "006", "007"]);
    expect(await paths(ds.where(ds.field("episode").ne(0)))).toEqual(["005", "006", "007"]);
    expect(await paths(ds.where(ds.field("episode").ge(6)))).toEqual(["006", "007"]);
    expect(await paths(ds.where(ds.field("episode").lt(5)))).toEqual(["000", "001"]);
    expect(await paths(ds.where(ds.field("episode").le(5)))).toEqual(["000", "001", "005"]);
    expect(await paths(ds.where(ds.field("name").contains("lph")))).toEqual(["000", "006"]);
    expect(await paths(ds.where(ds.field("name").startsWith("al")))).toEqual(["000", "006"]);
    expect(await paths(ds.where(ds.field("name").endsWith("ta")))).toEqual(["001"]);
    expect(await paths(ds.where(ds.field("name").endsWith("%")))).toEqual([]);
    expect(await paths(ds.where(ds.field("name").isNull()))).toEqual(["007"]);
    expect(await paths(ds.where(ds.field("has_baby_yoda").isNotNull()))).toEqual(["000", "001", "005", "007"]);
    expect(await paths(ds.where(ds.field("episode").in([5, 7])))).toEqual(["005", "007"]);
    expect(await paths(ds.where(ds.field("t").gt(new Date("2024-01-15T00:00:00Z"))))).toEqual(["001"]);
    // not(): SQL three-valued logic, null rows never match
    expect(await paths(ds.where(not(ds.field("has_baby_yoda").eq(true))))).toEqual(["001", "007"]);
    // chained where = AND
    const chained = ds.where(ds.field("episode").gt(0)).where(ds.field("has_baby_yoda").eq(true));
    expect(await paths(chained)).toEqual(["005"]);
    const sel = await ds.select("name").orderBy("episode", "desc").limit(3).fetch();
    expect(sel.rows).toEqual([
      { path: "images/007.jpg", name: null },
      { path: "images/006.jpg", name: "alphabet" },
      { path: "images/005.jpg", name: "gamma" },
    ]);
    expect(sel.table.schema.fields.map((f) => f.name)).toEqual(["path", "name"]);
    expect((await ds.head(2)).length).toBe(2);
    expect((await ds.head()).length).toBe(5);
    await expectCode(ds.where(ds.field("nope").eq(1)).all(), "UNKNOWN_FIELD", /nope/);
    await expectCode(ds.select("nope").all(), "UNKNOWN_FIELD");
    await expectCode(() => ds.field("episode").eq({} as never), "INVALID_QUERY");
    await expectCode(() => ds.field("episode").eq([1] as never), "INVALID_QUERY");
    await expectCode(ds.where(ds.field("episode").eq("5")).all(), "INVALID_QUERY", /episode/);
    await expectCode(ds.where(ds.field("episode").contains("5")).all(), "INVALID_QUERY");
  });

  it("queries the metadata as it was (asOf)", async () => {
    const ds = await open();
    await ds.updateMetadata("a", { v: 1 });
    await new Promise((r) => setTimeout(r, 3));
    const t1 = new Date();
    await new Promise((r) => setTimeout(r, 5));
    await ds.updateMetadata("a", { v: 2, w: "new" });
    await ds.updateMetadata("b", { v: 3 });
    await new Promise((r) => setTimeout(r, 3));
    const t2 = new Date();
    await new Promise((r) => setTimeout(r, 5));
    await ds.deleteDatapoints("a");
    expect((await ds.asOf(t1).all()).rows).toEqual([{ path: "a", v: 1, w: null }]);
    expect((await ds.asOf(t2).where(ds.field("v").ge(2)).all()).rows).toEqual([
      { path: "a", v: 2, w: "new" },
      { path: "b", v: 3, w: null },
    ]);
    expect((await ds.all()).rows).toEqual([{ path: "b", v: 3, w: null }]);
    expect((await ds.asOf(new Date(0)).all()).length).toBe(0);
    expect((await ds.versions()).length).toBe(4);
  });

  it("stores blobs once by hash and fetches them on demand", async () => {
    const ds = await open();
    const big = new Uint8Array(1000).map((_, i) => i % 251);
    await ds.updateMetadata(["images/000.jpg", "images/005.jpg"], { thumb: big });
    await ds.updateMetadata("images/006.jpg", { thumb: new Uint8Array([1, 2, 3]) });
    const blobFiles = fs.readdirSync(path.join(root, "blobs"), { recursive: true }).filter((f) => String(f).length > 3);
    expect(blobFiles.length).toBe(2);
    const res = await ds.all();
    const hashes = res.rows.map((r) => r.thumb);
    expect(hashes[0]).toBe(hashes[1]);
    expect(hashes[0]).toMatch(/^[0-9a-f]{64}$/);
    const dps = [...res];
    expect(await dps[0]!.getBlob("thumb")).toEqual(big);
    expect(await dps[2]!.getBlob("thumb")).toEqual(new Uint8Array([1, 2, 3]));
    const inMem = await res.getBlobFields("thumb", { loadIntoMemory: true });
    expect(inMem.rows[2]!.thumb).toEqual(new Uint8Array([1, 2, 3]));
    const onDisk = await res.getBlobFields("thumb");
    expect(fs.readFileSync(onDisk.rows[0]!.thumb as string)).toEqual(Buffer.from(big));
    expect(await [...onDisk][0]!.getBlob("thumb")).toEqual(big);
    await expect(res.getBlobFields("path")).rejects.toThrow(/not a blob/);
  });

  it("reads files, downloads them keeping the tree and reports vanished ones", async () => {
    const ds = await open();
    await ds.scan();
    const res = await ds.where(ds.field("path").startsWith("images/")).all();
    expect(Buffer.from(await [...res][1]!.readFile()).toString()).toBe("bb");
    fs.rmSync(path.join(data, "images/007.jpg"));
    const target = path.join(dir, "out");
    const report = await res.downloadFiles({ targetDir: target });
    expect(report).toEqual({ targetDir: target, copied: 3, missing: ["images/007.jpg"] });
    expect(fs.readFileSync(path.join(target, "images/006.jpg"), "utf8")).toBe("ccc");
  });

  it("streams training batches with lazy, background and preload strategies", async () => {
    const ds = await open();
    await ds.scan();
    const res = await ds.all();
    for (const strategy of ["lazy", "background", "preload"] as const) {
      const got: string[] = [];
      const sizes: number[] = [];
      for await (const b of res.batches({ batchSize: 2, strategy })) {
        sizes.push(b.metadata.length);
        b.files!.forEach((f, i) => got.push(`${b.metadata[i]!.path}=${Buffer.from(f).toString()}`));
      }
      expect(sizes).toEqual([2, 2, 1]);
      expect(got).toEqual(["images/000.jpg=a", "images/005.jpg=bb", "images/006.jpg=ccc", "images/007.jpg=dddd", "labels/l.txt=hello"]);
    }
    const meta = [];
    for await (const b of res.batches({ batchSize: 10, loadFiles: false })) meta.push(b);
    expect(meta.length).toBe(1);
    expect(meta[0]!.files).toBeUndefined();
    fs.rmSync(path.join(data, "labels/l.txt"));
    const it = res.batches({ batchSize: 2, strategy: "background" });
    await expect(
      (async () => {
        for await (const _ of it) void _;
      })(),
    ).rejects.toThrow(/labels\/l.txt/);
  });

  it("serialises concurrent writes: each commit gets its own range, later calls win", async () => {
    const ds = await open();
    await Promise.all(Array.from({ length: 12 }, (_, i) => ds.updateMetadata(`p${String(i).padStart(2, "0")}`, { v: i })));
    await Promise.all([ds.updateMetadata("p00", { v: 100 }), ds.updateMetadata("p00", { v: 200 }), ds.deleteMetadata("p01", "v")]);
    const rows = (await ds.all()).rows;
    expect(rows.length).toBe(11);
    expect(rows[0]).toEqual({ path: "p00", v: 200 });
    expect((await ds.versions()).length).toBe(15);
  });

  it("accepts the hash of a stored blob, so an exported table re-uploads", async () => {
    const ds = await open();
    await ds.updateMetadata("a", { thumb: new Uint8Array([1, 2, 3]), n: 1 });
    const csv = await (await ds.all()).toCSV(path.join(dir, "export.csv"));
    await ds.deleteDatapoints("a");
    await ds.uploadMetadata(csv);
    const [dp] = [...(await ds.all())];
    expect(await dp!.getBlob("thumb")).toEqual(new Uint8Array([1, 2, 3]));
    await expectCode(ds.updateMetadata("b", { thumb: "f".repeat(64) }), "SCHEMA_MISMATCH", /"thumb" is blob/);
  });

  it("saves datasets and gives back the same view", async () => {
    const ds = await open();
    await ds.uploadMetadata([
      { path: "a", e: 1 },
      { path: "b", e: 7 },
      { path: "c", e: 9 },
    ]);
    await new Promise((r) => setTimeout(r, 3));
    const when = new Date();
    await new Promise((r) => setTimeout(r, 3));
    await ds.where(ds.field("e").gt(5)).select("e").orderBy("e", "desc").saveDataset("big");
    await ds.updateMetadata("d", { e: 10 });
    const d = await Dataset.get({ name: "big", root, store });
    opened.push(d);
    expect(d.name).toBe("big");
    expect(d.datasource.name).toBe("images");
    expect((await d.all()).rows.map((r) => r.path)).toEqual(["d", "c", "b"]);
    await ds.asOf(when).where(ds.field("e").gt(5)).saveDataset("then");
    const then = await Dataset.get({ name: "then", root, store });
    opened.push(then);
    expect((await then.all()).rows.map((r) => r.path)).toEqual(["b", "c"]);
    // a dataset's view can be refined further
    expect((await d.where(d.field("e").lt(10)).all()).length).toBe(2);
    await expectCode(Dataset.get({ name: "nope", root, store }), "NOT_FOUND");
  });
});
