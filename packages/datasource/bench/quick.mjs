import { Datasource } from "../dist/index.js";
import { tableFromArrays, vectorFromArray, Utf8, TimestampMicrosecond, Table } from "apache-arrow";
import { buildData } from "@quiver/core";
import { makeVector } from "apache-arrow";
import fs from "node:fs"; import os from "node:os"; import path from "node:path";
const N = Number(process.env.N ?? 1_000_000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dsb-"));
const uri = process.env.S ?? `duckdb:${dir}/m.db?mode=exclusive`;
const ds = await Datasource.getOrCreate({ name: "b", path: dir, root: dir, store: uri });
const paths = Array.from({ length: N }, (_, i) => `images/${String(i).padStart(7, "0")}.jpg`);
const table = new Table({
  path: vectorFromArray(paths, new Utf8()),
  episode: vectorFromArray(BigInt64Array.from({ length: N }, (_, i) => BigInt(i % 10))),
  has_baby_yoda: vectorFromArray(Array.from({ length: N }, (_, i) => i % 3 === 0)),
  score: vectorFromArray(Float64Array.from({ length: N }, (_, i) => i / 7)),
  label: vectorFromArray(Array.from({ length: N }, (_, i) => `c${i % 50}`), new Utf8()),
  frame: vectorFromArray(BigInt64Array.from({ length: N }, (_, i) => BigInt(i))),
  taken: makeVector(buildData(new TimestampMicrosecond("UTC"), Array.from({ length: N }, (_, i) => new Date(1.6e12 + i * 1000)))),
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
