/**
 * The upload alone, quickly: uploadMetadata of an N-row × 6-field Arrow table into a fresh
 * datasource (default store) next to LanceDB createTable of the same table (IPC bytes), in
 * alternating rounds, then the first seed query after each of our uploads. `node bench/upload.mjs`
 * (N=1000000, ROUNDS=3; QUIVER_DS_SEGMENTS=0 for the events-table path). run.mjs is the full bench.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Bool, Float64, Int64, Table, TimestampMicrosecond, Utf8, makeVector, tableToIPC } from "apache-arrow";
import * as lancedb from "@lancedb/lancedb";
import { buildData } from "@quiver/core";
import { Datasource } from "../dist/index.js";

const N = Number(process.env.N ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-ds-upload-"));
const cols = {
  path: Array.from({ length: N }, (_, i) => `images/${String(i).padStart(7, "0")}.jpg`),
  episode: Array.from({ length: N }, (_, i) => i % 10),
  has_baby_yoda: Array.from({ length: N }, (_, i) => i % 3 === 0),
  score: Array.from({ length: N }, (_, i) => i / 7),
  label: Array.from({ length: N }, (_, i) => `c${i % 50}`),
  frame: Array.from({ length: N }, (_, i) => i),
  taken: Array.from({ length: N }, (_, i) => new Date(1.6e12 + i * 1000)),
};
const types = {
  path: new Utf8(),
  episode: new Int64(),
  has_baby_yoda: new Bool(),
  score: new Float64(),
  label: new Utf8(),
  frame: new Int64(),
  taken: new TimestampMicrosecond("UTC"),
};
const table = new Table(Object.fromEntries(Object.keys(cols).map((k) => [k, makeVector(buildData(types[k], cols[k]))])));
const lance = await lancedb.connect(path.join(tmp, "lance"));
const ours = [];
const theirs = [];
const first = [];
for (let r = 0; r < ROUNDS; r++) {
  const ds = await Datasource.getOrCreate({ name: "up", path: tmp, root: path.join(tmp, `root${r}`) });
  let t0 = performance.now();
  await ds.uploadMetadata(table);
  ours.push(performance.now() - t0);
  const q = ds
    .field("episode")
    .gt(5)
    .or(ds.field("episode").eq(0).and(ds.field("has_baby_yoda").eq(true)));
  t0 = performance.now();
  await ds.where(q).all();
  first.push(performance.now() - t0);
  await ds.close();
  t0 = performance.now();
  await lance.inner.createTable(`t${r}`, Buffer.from(tableToIPC(table, "file")), "create", [], undefined);
  theirs.push(performance.now() - t0);
}
const best = (a) => Math.min(...a);
const f = (a) => a.map((x) => x.toFixed(0)).join(", ");
console.log(
  `upload ${N} rows: ours ${f(ours)} ms; LanceDB ${f(theirs)} ms; best ratio ${(best(theirs) / best(ours)).toFixed(2)}×; first seed query after our upload ${f(first)} ms (load ${os.loadavg()[0].toFixed(1)})`,
);
fs.rmSync(tmp, { recursive: true, force: true });
