// A robot session (tracks + logs), an HDF5 file of camera frames and a datasource of images, then
// the dashboard over all three: the timeline, the array viewer and the gallery.
//   node examples/views.mjs [DIR] [--once]     (--once: ask the server what it shows, then stop)
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Session } from "@quiver/core";
import { Datasource } from "@quiver/datasource";
import { H5Logger } from "@quiver/store-h5";
import "@quiver/store-msgpack"; // registers msgpack:
import { encodePng, startServer } from "@quiver/ui";

const dir = resolve(process.argv[2] && !process.argv[2].startsWith("--") ? process.argv[2] : ".quiver-views-demo");
mkdirSync(dir, { recursive: true });

// Tracks: a pose at 100 Hz for 60 s and a log line every 5 s, on one time axis.
const t0 = Date.now() / 1000 - 60;
const session = await Session.open({ prefix: "robot/run1", store: `msgpack:${join(dir, "tracks")}` });
const pose = session.track("robot/pose");
for (let i = 0; i < 6000; i++) pose.append({ _ts: t0 + i / 100, position: [Math.sin(i / 300), Math.cos(i / 300), 0.5], speed: 1 + Math.sin(i / 40) / 3 });
await session.close();

// Arrays: 50 frames of 64×64 float32 and 50 RGB frames, readable while logged (SWMR).
const h5 = join(dir, "camera.h5");
const log = await H5Logger.open(h5, { replaceIfExists: true, concurrentReaders: true });
for (let f = 0; f < 50; f++) {
  const depth = new Float32Array(64 * 64).map((_, p) => Math.hypot((p % 64) - 32, Math.floor(p / 64) - 32) + f);
  log.log("camera/depth", { data: depth, shape: [64, 64] });
  log.log("camera/rgb", { data: new Uint8Array(32 * 32 * 3).map((_, k) => (k % 3 === 0 ? f * 5 : 128)), shape: [32, 32, 3] });
  log.log("loss", Math.exp(-f / 10));
}
await log.close();

// A datasource: 100 PNG images with a label each, and a saved view of the cats.
const images = join(dir, "images");
mkdirSync(images, { recursive: true });
for (let i = 0; i < 100; i++) {
  const rgba = new Uint8Array(48 * 48 * 4).map((_, k) => (k % 4 === 3 ? 255 : k % 4 === i % 3 ? 200 : 40));
  writeFileSync(join(images, `img-${i}.png`), encodePng({ width: 48, height: 48, data: rgba }));
}
const root = join(dir, ".quiver");
const ds = await Datasource.getOrCreate({ name: "pets", path: images, root });
await ds.scan();
await ds.uploadMetadata(Array.from({ length: 100 }, (_, i) => ({ path: `img-${i}.png`, label: ["cat", "dog", "bird"][i % 3] })));
await ds.where(ds.field("label").eq("cat")).saveDataset("cats");
await ds.close();

const server = await startServer({ store: `msgpack:${join(dir, "tracks")}`, port: 0, h5, datasources: root });
if (process.argv.includes("--once")) {
  const sources = await (await fetch(`${server.url}api/sources`)).json();
  const page = await (await fetch(`${server.url}api/ds/page`, { method: "POST", body: JSON.stringify({ source: "pets", filter: "label = 'cat'", offset: 0, limit: 10 }) })).json();
  console.log(`tracks: ${sources.tracks}, h5: ${sources.h5.length} file, gallery: ${page.total} cats`);
  await server.close();
} else {
  console.log(`timeline  ${server.url}?view=tracks\narrays    ${server.url}?view=arrays\ngallery   ${server.url}?view=gallery\n(Ctrl+C to stop)`);
}
