import { tableFromArrays } from "apache-arrow";
import { vectorToValues, openStore } from "@quiver/core";
import "@quiver/store-duckdb";
import { prepare } from "../dist/events.js";
import { normalizePath } from "../dist/paths.js";
import { BlobStore } from "../dist/blobs.js";
import fs from "node:fs"; import os from "node:os"; import path from "node:path";
const N = 1_000_000;
const paths = Array.from({ length: N }, (_, i) => `images/${String(i).padStart(7, "0")}.jpg`);
const cols = { path: paths, episode: Array.from({ length: N }, (_, i) => i % 10), has_baby_yoda: Array.from({ length: N }, (_, i) => i % 3 === 0), score: Array.from({ length: N }, (_, i) => i / 7), label: Array.from({ length: N }, (_, i) => `c${i % 50}`), frame: Array.from({ length: N }, (_, i) => i), taken: Array.from({ length: N }, (_, i) => new Date(1.6e12 + i * 1000)) };
let t0 = performance.now();
for (const p of paths) normalizePath(p);
console.log("paths", (performance.now() - t0).toFixed(0));
t0 = performance.now();
const fields = new Map(Object.entries(cols).filter(([k]) => k !== "path"));
const { batch } = prepare({ paths, fields }, new Map(), new BlobStore("/tmp/x"), 0, new Date());
console.log("prepare", (performance.now() - t0).toFixed(0));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dsp-"));
for (const mode of ["exclusive", "shared"]) {
  const store = await openStore(`duckdb:${dir}/${mode}.db?mode=${mode}`);
  t0 = performance.now();
  await store.append("datasource/x/events", batch);
  console.log("append", mode, (performance.now() - t0).toFixed(0));
  await store.close();
}
