import { Datasource } from "../dist/index.js";
import { tableFromArrays } from "apache-arrow";
import fs from "node:fs"; import os from "node:os"; import path from "node:path";
const N = Number(process.env.N ?? 1_000_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dsb-"));
const uri = process.env.S ?? `duckdb:${dir}/m.db?mode=exclusive`;
const ds = await Datasource.getOrCreate({ name: "b", path: dir, root: dir, store: uri });
const paths = Array.from({ length: N }, (_, i) => `images/${String(i).padStart(7, "0")}.jpg`);
const table = tableFromArrays({
  path: paths,
  episode: BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 10)),
  has_baby_yoda: Array.from({ length: N }, (_, i) => i % 3 === 0),
  score: Float64Array.from({ length: N }, (_, i) => i / 7),
  label: Array.from({ length: N }, (_, i) => `c${i % 50}`),
  frame: Int32Array.from({ length: N }, (_, i) => i),
  taken: Array.from({ length: N }, (_, i) => new Date(1.6e12 + i * 1000)),
});
let t0 = performance.now();
await ds.uploadMetadata(table);
let t = performance.now() - t0; console.log("upload", t.toFixed(0), "ms", (N / t * 1000 / 1000).toFixed(0), "k rows/s");
const q = ds.field("episode").gt(5).or(ds.field("episode").eq(0).and(ds.field("has_baby_yoda").eq(true)));
for (let k = 0; k < 3; k++) {
  t0 = performance.now();
  const r = await ds.where(q).all();
  t = performance.now() - t0; console.log("query", t.toFixed(0), "ms", r.length);
}
await ds.close();
