// node examples/quickstart.mjs — the README example on a temp folder of fake images.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Dataset, Datasource } from "@quiver/datasource";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-quickstart-"));
const data = path.join(dir, "data");
for (let i = 0; i < 10; i++) {
  fs.mkdirSync(path.join(data, "images"), { recursive: true });
  fs.writeFileSync(path.join(data, `images/00${i}.jpg`), `fake image ${i}`);
}
fs.writeFileSync(path.join(dir, "labels.csv"), "file,label\nimages/001.jpg,cat\nimages/006.jpg,dog\n");
const root = path.join(dir, ".quiver");

const ds = await Datasource.getOrCreate({ name: "images", path: data, root });
console.log("scan:", await ds.scan({ onProgress: (p) => p.phase === "done" && console.log("progress:", p) }));
await ds.metadataContext(async (ctx) => {
  ctx.updateMetadata("images/005.jpg", { episode: 5, has_baby_yoda: true });
  ctx.updateMetadata(["images/006.jpg", "images/007.jpg"], { episode: 6 });
  ctx.updateMetadata("images/000.jpg", { episode: 0, has_baby_yoda: true, mask: new Uint8Array([1, 2]) });
});
await ds.uploadMetadata(path.join(dir, "labels.csv"), { pathColumn: "file" });
const before = new Date();
await new Promise((r) => setTimeout(r, 2));
await ds.updateMetadata("images/007.jpg", { episode: 1 });

const q = ds
  .field("episode")
  .gt(5)
  .or(ds.field("episode").eq(0).and(ds.field("has_baby_yoda").eq(true)));
const result = await ds.where(q).orderBy("episode", "desc").all();
console.log("columns:", result.table.schema.fields.map((f) => f.name).join(", "));
console.table(result.rows.map(({ mtime, ...r }) => r));
for (const dp of result) {
  const text = Buffer.from(await dp.readFile()).toString();
  const mask = dp.metadata.mask ? [...(await dp.getBlob("mask"))] : null;
  console.log(dp.path, JSON.stringify(text), "mask:", mask);
}
console.log("download:", await result.downloadFiles({ targetDir: path.join(dir, "subset") }));
for await (const b of result.batches({ batchSize: 1, strategy: "background" }))
  console.log(
    "batch:",
    b.metadata.map((m) => m.path),
    b.files.map((f) => f.length),
  );
console.log("as it was before the last change:", (await ds.asOf(before).where(q).all()).paths);
console.log("parquet:", await result.toParquet(path.join(dir, "subset.parquet")));
await ds.where(q).saveDataset("yoda");
const yoda = await Dataset.get({ name: "yoda", root });
console.log("dataset yoda:", (await yoda.all()).paths);
await yoda.close();
await ds.close();
fs.rmSync(dir, { recursive: true, force: true });
