/** `quiver ds` against a real datasource (files in a folder, metadata in its store). */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Datasource } from "@quiver/datasource";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorOf, inproc, jsonLines, ok, okIn, quiver, tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const DATA = join(tmp.dir, "data");
const ROOT = join(tmp.dir, ".quiver");

beforeAll(async () => {
  mkdirSync(join(DATA, "images"), { recursive: true });
  for (const n of ["000", "001", "005", "006", "007"]) writeFileSync(join(DATA, "images", `${n}.jpg`), `image ${n}`);
  const ds = await Datasource.getOrCreate({ name: "images", path: DATA, root: ROOT });
  await ds.metadataContext(async (ctx) => {
    ctx.updateMetadata("images/005.jpg", { episode: 5, has_baby_yoda: true });
    ctx.updateMetadata(["images/006.jpg", "images/007.jpg"], { episode: 6, has_baby_yoda: false });
    ctx.updateMetadata("images/000.jpg", { episode: 0, has_baby_yoda: true });
    ctx.updateMetadata("images/001.jpg", { episode: 1, has_baby_yoda: false });
  });
  await ds.close();
});

const paths = (text: string) => jsonLines(text).map((r) => r.path);

describe("ds", () => {
  it("scan indexes the files, ls lists the datasource", () => {
    expect(ok(["ds", "scan", "images", "--root", ROOT])).toBe("scanned images: 5 files (5 added, 0 changed, 0 removed)\n");
    writeFileSync(join(DATA, "images", "008.jpg"), "image 008");
    expect(JSON.parse(ok(["ds", "scan", "images", "--root", ROOT, "--json"]))).toMatchObject({ name: "images", files: 6, added: 1 });
    const created = ok(["ds", "scan", "more", "--path", join(DATA, "images"), "--root", ROOT]);
    expect(created).toContain("scanned more: 6 files");
    const list = jsonLines(ok(["ds", "ls", "--root", ROOT, "--json"]));
    expect(list.map((r) => r.name)).toEqual(["images", "more"]);
    expect(list[0]!.fields).toContain("episode");
  });

  it("query filters with the filter language", async () => {
    const q = async (f: string, ...more: string[]) => paths(await okIn(["ds", "query", "images", f, "--root", ROOT, "--json", ...more]));
    expect(await q("episode > 5 and has_baby_yoda = false")).toEqual(["images/006.jpg", "images/007.jpg"]);
    expect(await q("episode > 5 or episode = 0 and has_baby_yoda = true")).toEqual(["images/000.jpg", "images/006.jpg", "images/007.jpg"]);
    expect(await q("episode in (0, 1) or path endswith '8.jpg'")).toEqual(["images/000.jpg", "images/001.jpg", "images/008.jpg"]);
    expect(await q("episode is null")).toEqual(["images/008.jpg"]);
    expect(await q("not (episode >= 5)")).toEqual(["images/000.jpg", "images/001.jpg"]);
    expect(await q("episode >= 0", "--order-by", "episode", "--desc", "--limit", "2")).toEqual(["images/006.jpg", "images/007.jpg"]);
    const sel = jsonLines(await okIn(["ds", "query", "images", "episode = 5", "--root", ROOT, "--json", "--select", "episode"]));
    expect(sel).toEqual([{ path: "images/005.jpg", episode: 5 }]);
    const people = ok(["ds", "query", "images", "has_baby_yoda = true", "--root", ROOT, "--select", "episode,has_baby_yoda"]).trimEnd().split("\n");
    expect(people[0]).toMatch(/^path\s+episode\s+has_baby_yoda$/);
    expect(people[people.length - 1]).toBe("2 datapoints");
  });

  it("bad filter syntax points at the column", async () => {
    const r = quiver(["ds", "query", "images", "episode > 5 and has_baby_yoda = ", "--root", ROOT]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.split("\n");
    expect(lines[0]).toMatch(/^quiver: INVALID_QUERY: expected a value .* at column 33$/);
    expect(lines[1]).toBe("  episode > 5 and has_baby_yoda = ");
    expect(lines[2]).toBe("  " + " ".repeat(32) + "^");
    const unknown = await inproc(["ds", "query", "images", "colour = 'red'", "--root", ROOT]);
    expect(errorOf(unknown).code).toBe("UNKNOWN_FIELD");
    expect(errorOf(await inproc(["ds", "query", "nope", "episode > 1", "--root", ROOT])).code).toBe("NOT_FOUND");
  });

  it("upload adds metadata from CSV, export writes CSV and Parquet", async () => {
    const csv = join(tmp.dir, "labels.csv");
    writeFileSync(csv, "file,label\nimages/000.jpg,cat\nimages/008.jpg,dog\n");
    expect(ok(["ds", "upload", "images", csv, "--path-column", "file", "--root", ROOT])).toBe(`uploaded metadata from ${csv} to images (2 rows)\n`);
    expect(paths(await okIn(["ds", "query", "images", "label in ('cat', 'dog')", "--root", ROOT, "--json"]))).toEqual(["images/000.jpg", "images/008.jpg"]);

    const out = join(tmp.dir, "export.csv");
    expect(ok(["ds", "export", "images", "--csv", out, "--where", "episode >= 5", "--root", ROOT])).toBe(`wrote 3 datapoints to ${out}\n`);
    const lines = readFileSync(out, "utf8").trim().split(/\r?\n/);
    expect(lines[0]).toMatch(/^"?path"?,/);
    expect(lines.slice(1).map((l) => l.split(",")[0]!.replace(/"/g, ""))).toEqual(["images/005.jpg", "images/006.jpg", "images/007.jpg"]);

    const pq = join(tmp.dir, "all.parquet");
    const r = quiver(["ds", "export", "images", "--parquet", pq, "--root", ROOT]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(`wrote 6 datapoints to ${pq}\n`);
    expect(readFileSync(pq).subarray(0, 4).toString("ascii")).toBe("PAR1");
    expect(errorOf(await inproc(["ds", "export", "images", "--root", ROOT])).code).toBe("INVALID_VALUE");
  });
});
