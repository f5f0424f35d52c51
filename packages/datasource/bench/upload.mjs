/**
 * The upload alone, quickly: uploadMetadata of an N-row × 6-field Arrow table into a fresh
 * datasource (default store) next to LanceDB createTable of the same table (IPC bytes), in
 * alternating rounds, then the first seed query after each of our uploads. `node bench/upload.mjs`
 * (N=1000000, ROUNDS=3; QUIVER_DS_SEGMENTS=0 for the events-table path). run.mjs is the full bench.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { tableToIPC } from "apache-arrow";
import * as lancedb from "@lancedb/lancedb";
import { Datasource } from "../dist/index.js";
import { benchData } from "./data.mjs";

const N = Number(process.env.N ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-ds-upload-"));
const { table } = benchData(N);
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
