/**
 * The gallery uses the datasource's field tags: a blob field tagged as the image thumbnail
 * (`ds.metadataField(f).setThumbnail("image")`) is the tile's picture, served from the blob store.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { Datasource } from "@quiver/datasource";
import { GalleryData } from "../dist/index.js";
import { tempDir } from "./helpers.js";

const closers: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c.close();
});

it("a thumbnail-tagged blob field is the tile's picture; the field's tags are listed", async () => {
  const { dir, cleanup } = tempDir();
  closers.push({ close: async () => cleanup() });
  const root = join(dir, ".quiver");
  writeFileSync(join(dir, "scan.dat"), "raw sensor data");
  writeFileSync(join(dir, "other.dat"), "more");
  const ds = await Datasource.getOrCreate({ name: "scans", path: dir, root });
  await ds.scan();
  await ds.metadataField("preview").setType("blob").setThumbnail("image").apply();
  const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
  await ds.updateMetadata("scan.dat", { preview: png });
  await ds.close();
  const g = new GalleryData(root);
  closers.push(g);
  const list = await g.list();
  expect(list.sources[0]!.fields.find((f) => f.name === "preview")).toEqual({ name: "preview", type: "blob", tags: ["image", "thumbnail_viz"] });
  const page = await g.page({ source: "scans", offset: 0, limit: 10 });
  const scan = page.items.find((i) => i.path === "scan.dat")!;
  expect(scan.kind).toBe("image");
  expect(scan.thumb).toMatch(/^[0-9a-f]{64}$/);
  expect([...(await g.blob(scan.thumb!)).body]).toEqual([...png]);
  const other = page.items.find((i) => i.path === "other.dat")!;
  expect([other.kind, other.thumb]).toEqual(["file", undefined]);
});
