/**
 * Multivalue fields, declared fields and tags, get(path), fetch() vs all(), getBlobFields(),
 * results uploaded into another datasource, rescans after deletions, zoned datetimes — on every
 * store of STORES (memory, DuckDB, msgpack, PostgreSQL), with real folders and files.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { Field, RecordBatch, Schema, Struct, Table, TimestampMillisecond, Utf8, makeData } from "apache-arrow";
import { buildData, field, not, parseFilter } from "@quiver/core";
import { Datasource, ZonedDate } from "../dist/index.js";
import { STORES, expectCode, tempDir, writeFiles } from "./helpers.js";

const opened: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const d of opened) await d.close();
});

describe.each(STORES)("declared and multivalue fields on %s", (_label, storeFor) => {
  let dir: string;
  let data: string;
  let root: string;
  let store: string | undefined;

  async function open(name = "images", r = root, s = store): Promise<Datasource> {
    const ds = await Datasource.getOrCreate({ name, path: data, root: r, store: s });
    opened.push(ds);
    return ds;
  }
  const paths = async (v: { all(): Promise<{ paths: string[] }> }): Promise<string[]> => (await v.all()).paths;

  beforeEach(() => {
    dir = tempDir();
    data = path.join(dir, "data");
    root = path.join(dir, ".quiver");
    store = storeFor(root);
    writeFiles(data, { "a.jpg": "a", "b.jpg": "bb", "c.jpg": "ccc", "d.jpg": "dddd" });
  });

  it("multivalue fields: lists of one type, contains means 'has this element', strings keep substring", async () => {
    const ds = await open();
    await ds.metadataContext((ctx) => {
      ctx.updateMetadata("a.jpg", { tags: ["cat", "dog"], ids: [1, 2], name: "catalog" });
      ctx.updateMetadata("b.jpg", { tags: ["dog"], ids: [3], name: "bobcat" });
      ctx.updateMetadata("c.jpg", { tags: "bird", name: "c" }); // one value into a list field: a list of one
    });
    expect(await ds.fields()).toEqual([
      { name: "tags", type: "string[]", multivalue: true },
      { name: "ids", type: "int[]", multivalue: true },
      { name: "name", type: "string" },
    ]);
    const rows = (await ds.all()).rows;
    expect(rows).toEqual([
      { path: "a.jpg", tags: ["cat", "dog"], ids: [1, 2], name: "catalog" },
      { path: "b.jpg", tags: ["dog"], ids: [3], name: "bobcat" },
      { path: "c.jpg", tags: ["bird"], ids: null, name: "c" },
    ]);
    expect(await paths(ds.where(field("tags").contains("cat")))).toEqual(["a.jpg"]); // not "bobcat"'s substring
    expect(await paths(ds.where(field("tags").contains("do")))).toEqual([]); // an element, not a substring of one
    expect(await paths(ds.where(field("name").contains("cat")))).toEqual(["a.jpg", "b.jpg"]); // a string: substring
    expect(await paths(ds.where(field("ids").contains(3)))).toEqual(["b.jpg"]);
    expect(await paths(ds.where(field("tags").contains("dog").and(field("ids").contains(1))))).toEqual(["a.jpg"]);
    // three-valued logic: c has no ids, so neither contains(1) nor its negation match it
    expect(await paths(ds.where(not(field("ids").contains(1))))).toEqual(["b.jpg"]);
    expect(await paths(ds.where(field("ids").isNull()))).toEqual(["c.jpg"]);
    // the filter language (the dashboard's, the CLI's) says the same
    expect(await paths(ds.where(parseFilter("tags contains 'dog' and not ids contains 2")))).toEqual(["b.jpg"]);
    // an update replaces the list; a clear removes it; asOf gives the lists as they were
    const before = new Date();
    await new Promise((r) => setTimeout(r, 5));
    await ds.updateMetadata("b.jpg", { tags: ["cat", "owl"] });
    await ds.updateMetadata("a.jpg", { tags: null });
    expect(await paths(ds.where(field("tags").contains("cat")))).toEqual(["b.jpg"]);
    expect(await paths(ds.asOf(before).where(field("tags").contains("cat")))).toEqual(["a.jpg"]);
    expect((await ds.asOf(before).select("tags").all()).rows.map((r) => r.tags)).toEqual([["cat", "dog"], ["dog"], ["bird"]]);
    // refusals, nothing written
    await expectCode(ds.updateMetadata("a.jpg", { ids: ["x"] }), "SCHEMA_MISMATCH", /ids/);
    await expectCode(ds.updateMetadata("a.jpg", { ids: [1, null] }), "INVALID_VALUE");
    await expectCode(ds.updateMetadata("a.jpg", { name: ["a", "b"] }), "SCHEMA_MISMATCH", /one value/);
    await expectCode(ds.updateMetadata("a.jpg", { pics: [new Uint8Array([1])] }), "INVALID_VALUE", /blob/);
    await expectCode(ds.where(field("ids").contains("3")).all(), "INVALID_QUERY");
    await expectCode(ds.where(field("tags").eq("cat")).all(), "INVALID_QUERY", /multivalue/);
    await expectCode(ds.orderBy("tags").all(), "INVALID_QUERY", /multivalue/);
    expect((await ds.get("b.jpg")).metadata.tags).toEqual(["cat", "owl"]);
  });

  it("multivalue fields round-trip through CSV and Parquet, and keep int64 exactly", async () => {
    const ds = await open();
    await ds.updateMetadata("a.jpg", { tags: ["x,y", 'q"uote'], ids: [2n ** 60n + 1n, 5], w: [0.5, 2] });
    const r = await ds.all();
    expect(r.rows[0]).toEqual({ path: "a.jpg", tags: ["x,y", 'q"uote'], ids: [2n ** 60n + 1n, 5], w: [0.5, 2] });
    await r.toCSV(path.join(dir, "out.csv"));
    await r.toParquet(path.join(dir, "out.parquet"));
    const back = await open("back");
    await back.metadataField("tags").setType("string[]").apply();
    await back.metadataField("ids").setType("int[]").apply();
    await back.metadataField("w").setType("float[]").apply();
    await back.uploadMetadata(path.join(dir, "out.csv"));
    expect((await back.all()).rows).toEqual(r.rows);
    const pq = await open("pq");
    await pq.uploadMetadata(path.join(dir, "out.parquet")); // list columns are typed by the file
    expect((await pq.fields()).map((f) => f.type)).toEqual(["string[]", "int[]", "float[]"]);
    expect((await pq.all()).rows).toEqual(r.rows);
  });

  it("declared fields: setType before any value, tags persisted, type fixed", async () => {
    const ds = await open();
    await ds.scan();
    const f = await ds.metadataField("score").setType("float").addTags("metric").apply();
    expect(f).toEqual({ name: "score", type: "float", tags: ["metric"], empty: true });
    await ds.metadataField("mask").setType("annotation").apply();
    await ds.metadataField("notes").setType("document").apply();
    await ds.metadataField("thumb").setType("blob").setThumbnail("image").apply();
    // a declared field with no values yet is listed and queried as all-null
    expect((await ds.fields()).map((x) => [x.name, x.type, x.tags ?? [], x.empty ?? false])).toEqual([
      ["size", "int", [], false],
      ["mtime", "datetime", [], false],
      ["score", "float", ["metric"], true],
      ["mask", "blob", ["annotation"], true],
      ["notes", "blob", ["text_document"], true],
      ["thumb", "blob", ["image", "thumbnail_viz"], true],
    ]);
    expect(await paths(ds.where(field("score").isNull()))).toEqual(["a.jpg", "b.jpg", "c.jpg", "d.jpg"]);
    expect(await paths(ds.where(field("score").gt(0)))).toEqual([]);
    // the declared type wins over inference: 1 into a float field, a CSV of whole numbers too
    await ds.updateMetadata("a.jpg", { score: 1 });
    fs.writeFileSync(path.join(dir, "s.csv"), "path,score\nb.jpg,2\n");
    await ds.uploadMetadata(path.join(dir, "s.csv"));
    expect((await ds.fields()).find((x) => x.name === "score")).toEqual({ name: "score", type: "float", tags: ["metric"] });
    await ds.updateMetadata("a.jpg", { score: 1.5 });
    // a type cannot change; tags can
    await expectCode(ds.metadataField("score").setType("int").apply(), "SCHEMA_MISMATCH", /float/);
    await expectCode(ds.metadataField("size").setAnnotation().apply(), "INVALID_VALUE", /blob/);
    await expectCode(ds.metadataField("fresh").addTags("x").apply(), "INVALID_VALUE", /setType/);
    await expectCode(async () => ds.metadataField("bad").setType("list" as never), "INVALID_VALUE");
    await ds.metadataField("score").removeTags("metric").addTags("loss").apply();
    await ds.metadataField("thumb").setThumbnail(undefined, false).apply();
    // persisted: a new process (a fresh open of the store) sees the declarations
    await ds.close();
    const again = await open();
    const fields = await again.fields();
    expect(fields.find((x) => x.name === "score")!.tags).toEqual(["loss"]);
    expect(fields.find((x) => x.name === "thumb")!.tags).toBeUndefined();
    expect((await again.all()).rows.find((r) => r.path === "a.jpg")!.score).toBe(1.5);
    if (_label !== "memory") {
      // …and so does another process (this one lets go of the DuckDB file first)
      await again.close();
      const script = `const { Datasource } = await import(${JSON.stringify(path.resolve("dist/index.js"))});
        const ds = await Datasource.get({ name: "images", root: ${JSON.stringify(root)}, store: ${JSON.stringify(store)} });
        console.log(JSON.stringify(await ds.fields())); await ds.close();`;
      const out = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8", timeout: 60_000 });
      expect(out.stderr).toBe("");
      expect(JSON.parse(out.stdout)).toEqual(JSON.parse(JSON.stringify(fields)));
    }
  });

  it("document and annotation fields: documents load as text; annotations parse; exports write them", async () => {
    const ds = await open();
    await ds.metadataField("notes").setType("document").apply();
    await ds.metadataField("ann").setType("annotation").apply();
    const ann = { boxes: [[1, 2, 3, 4]], label: "cat" };
    await ds.updateMetadata("a.jpg", { notes: "a long text ".repeat(100), ann: new TextEncoder().encode(JSON.stringify(ann)), mask: new Uint8Array([9, 9]) });
    const r = await ds.all();
    expect(r.rows[0]!.notes).toBe("a long text ".repeat(100)); // a document comes back as its text
    expect(r.rows[0]!.ann).toMatch(/^[0-9a-f]{64}$/); // other blobs as their hash
    expect((await r.getAnnotations()).rows[0]!.ann).toEqual(ann);
    expect(r.fieldsTagged("annotation")).toEqual(["ann"]);
    // getBlobFields() with no names: every blob field but the documents (DagsHub #366)
    const all = await r.getBlobFields({ loadIntoMemory: true });
    expect(all.rows[0]!.mask).toEqual(new Uint8Array([9, 9]));
    expect(new TextDecoder().decode(all.rows[0]!.ann as Uint8Array)).toBe(JSON.stringify(ann));
    expect(all.rows[0]!.notes).toBe("a long text ".repeat(100));
    const onDisk = await r.getBlobFields();
    expect(fs.readFileSync(onDisk.rows[0]!.mask as string)).toEqual(Buffer.from([9, 9]));
    // exports write the annotation's and the document's content, other blobs as hashes
    await r.toCSV(path.join(dir, "x.csv"));
    const csv = fs.readFileSync(path.join(dir, "x.csv"), "utf8");
    expect(csv).toContain('"{""boxes"":[[1,2,3,4]],""label"":""cat""}"');
    expect(csv).toContain("a long text a long text");
    expect(csv).toContain(r.rows[0]!.mask as string);
  });

  it("get(path) gives one datapoint; fetch() keeps limit(), all() ignores it (DagsHub)", async () => {
    const ds = await open();
    await ds.scan();
    await ds.updateMetadata("b.jpg", { label: "dog" });
    const dp = await ds.get("./b.jpg");
    expect(dp.path).toBe("b.jpg");
    expect(dp.metadata.label).toBe("dog");
    expect(new TextDecoder().decode(await dp.readFile())).toBe("bb");
    await expectCode(ds.get("nope.jpg"), "NOT_FOUND", /nope\.jpg/);
    await expectCode(ds.get("../x"), "INVALID_PATH");
    const limited = ds.where(field("size").gt(0)).limit(2);
    expect((await limited.fetch()).paths).toEqual(["a.jpg", "b.jpg"]);
    expect((await limited.all()).paths).toEqual(["a.jpg", "b.jpg", "c.jpg", "d.jpg"]);
    expect((await limited.head(1)).paths).toEqual(["a.jpg"]);
    await limited.saveDataset("two");
    const { Dataset } = await import("../dist/index.js");
    const set = await Dataset.get({ name: "two", root, store });
    expect((await set.fetch()).length).toBe(2);
    expect((await set.all()).length).toBe(4);
  });

  it("a rescan does not re-add deleted datapoints; new metadata does, and then the file is indexed again", async () => {
    const ds = await open();
    expect((await ds.scan()).added).toBe(4);
    await ds.deleteDatapoints(["b.jpg", "c.jpg"]);
    expect(await paths(ds)).toEqual(["a.jpg", "d.jpg"]);
    fs.writeFileSync(path.join(data, "e.jpg"), "new");
    expect(await ds.scan()).toEqual({ files: 5, added: 1, changed: 0, removed: 0 });
    expect(await paths(ds)).toEqual(["a.jpg", "d.jpg", "e.jpg"]);
    // re-added by an explicit update; the next scan gives it its size again
    await ds.updateMetadata("b.jpg", { label: "back" });
    await ds.scan();
    expect((await ds.get("b.jpg")).metadata).toMatchObject({ size: 2, label: "back" });
    // deleted and updated in one change: a datapoint, indexed
    await ds.metadataContext((ctx) => void ctx.deleteDatapoints("c.jpg").updateMetadata("c.jpg", { label: "c" }));
    await ds.scan();
    expect((await ds.get("c.jpg")).metadata.size).toBe(3);
    expect((await ds.all()).length).toBe(5);
  });

  it("a blob field stays a blob when a result is uploaded into a new datasource (DagsHub PR #593)", async () => {
    const ds = await open();
    await ds.updateMetadata("a.jpg", { mask: new Uint8Array([1, 2, 3]), n: 1 });
    await ds.updateMetadata("b.jpg", { n: 2 });
    const r = await ds.all();
    // same root: the Arrow table (hashes + field metadata) is enough
    const same = await open("same");
    await same.uploadMetadata(r.table);
    expect((await same.fields()).find((f) => f.name === "mask")!.type).toBe("blob");
    expect(await (await same.get("a.jpg")).getBlob("mask")).toEqual(new Uint8Array([1, 2, 3]));
    // another root: the result itself carries its blobs over
    const otherRoot = path.join(dir, ".other");
    const other = await open("other", otherRoot, storeFor(otherRoot));
    await expectCode(other.uploadMetadata(r.table), "INVALID_VALUE", /upload the QueryResult itself/);
    await other.uploadMetadata(r);
    expect((await other.fields()).find((f) => f.name === "mask")!.type).toBe("blob");
    const dp = await other.get("a.jpg");
    expect(await dp.getBlob("mask")).toEqual(new Uint8Array([1, 2, 3]));
    expect(fs.existsSync(path.join(otherRoot, "blobs", (dp.metadata.mask as string).slice(0, 2), dp.metadata.mask as string))).toBe(true);
    // after getBlobFields the values are blob file paths or bytes: still blobs
    const third = await open("third", otherRoot, storeFor(otherRoot));
    await third.uploadMetadata((await r.getBlobFields("mask")).table);
    const fourth = await open("fourth", otherRoot, storeFor(otherRoot));
    await fourth.uploadMetadata((await r.getBlobFields("mask", { loadIntoMemory: true })).table);
    for (const d of [third, fourth]) expect(await (await d.get("a.jpg")).getBlob("mask")).toEqual(new Uint8Array([1, 2, 3]));
  });

  it("datetimes keep their time zone: ZonedDate in and out, queries on the instant, CSV both ways", async () => {
    const ds = await open();
    const z = new ZonedDate("2022-04-05T15:30:00.999+05:30");
    expect(z.toISOString()).toBe("2022-04-05T10:00:00.999Z");
    await ds.updateMetadata("a.jpg", { t: z });
    await ds.updateMetadata("b.jpg", { t: new Date("2022-04-05T10:00:00.500Z") });
    expect(await ds.fields()).toEqual([{ name: "t", type: "datetime" }]); // the offsets' field is hidden
    const rows = (await ds.all()).rows;
    expect(rows[0]!.t).toBeInstanceOf(ZonedDate);
    expect((rows[0]!.t as ZonedDate).toZonedISOString()).toBe("2022-04-05T15:30:00.999+05:30");
    expect((rows[0]!.t as ZonedDate).timeZone).toBe("+05:30");
    expect(rows[1]!.t).not.toBeInstanceOf(ZonedDate); // a plain Date is UTC
    expect(await paths(ds.where(field("t").gt(new Date("2022-04-05T10:00:00.600Z"))))).toEqual(["a.jpg"]);
    expect((await ds.select("t").all()).rows[0]!.t).toBeInstanceOf(ZonedDate);
    const csvFile = path.join(dir, "t.csv");
    await (await ds.all()).toCSV(csvFile);
    expect(fs.readFileSync(csvFile, "utf8")).toContain("2022-04-05T15:30:00.999+05:30");
    const back = await open("back");
    await back.uploadMetadata(csvFile);
    expect(JSON.stringify((await back.all()).rows.map((r) => r.t))).toBe('["2022-04-05T15:30:00.999+05:30","2022-04-05T10:00:00.500Z"]');
    // a plain Date replaces the zone; asOf gives the zoned value back
    const before = new Date();
    await new Promise((r) => setTimeout(r, 5));
    await ds.updateMetadata("a.jpg", { t: new Date("2023-01-01T00:00:00Z") });
    expect((await ds.get("a.jpg")).metadata.t).not.toBeInstanceOf(ZonedDate);
    expect(((await ds.asOf(before).all()).rows[0]!.t as ZonedDate).timeZone).toBe("+05:30");
    // an Arrow timestamp column in an offset zone keeps it
    const arrow = await open("arrow");
    const ts = new Field("t", new TimestampMillisecond("-08:00"), true);
    const table = new Table([
      new RecordBatch(
        new Schema([new Field("path", new Utf8(), true), ts]),
        makeData({
          type: new Struct([new Field("path", new Utf8(), true), ts]),
          length: 1,
          nullCount: 0,
          children: [buildData(new Utf8(), ["a.jpg"], "path"), buildData(ts.type, [new Date("2024-01-01T12:00:00Z")], "t")],
        }),
      ),
    ]);
    await arrow.uploadMetadata(table);
    expect(((await arrow.get("a.jpg")).metadata.t as ZonedDate).toZonedISOString()).toBe("2024-01-01T04:00:00.000-08:00");
    await expectCode(async () => new ZonedDate("2022-04-05T15:30:00"), "INVALID_VALUE", /offset/);
    await expectCode(async () => new ZonedDate(0, "+25:00"), "INVALID_VALUE");
    await expectCode(ds.updateMetadata("a.jpg", { "x\uE000tz": "1" }), "INVALID_NAME");
  });
});
