/** Data for the timeline, array and gallery tests (and the bench): a session, an HDF5 file, a datasource of images. */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openStore, rowsToBatch, Session } from "@quiver/core";
import { Datasource } from "@quiver/datasource";
import { H5Logger } from "@quiver/store-h5";
import "@quiver/store-msgpack";
import { encodePng } from "../dist/index.js";

export const T0 = 1_700_000_000;

/**
 * A msgpack session "robot/demo" with `robot/pose` ({ position: [x, y, z], speed }, `points`
 * points 0.01 s apart, speed 99 at point `spike`), `camera/left` (every 10th instant) and logs.
 */
export async function makeSession(root: string, points: number, spike = Math.floor(points / 3), uri = `msgpack:${root}`): Promise<{ uri: string; prefix: string }> {
  const session = await Session.open({ prefix: "robot/demo", store: uri, flushInterval: 0 });
  const pose = session.track("robot/pose");
  for (let s = 0; s < points; s += 50_000) {
    const rows = [];
    for (let i = s; i < Math.min(points, s + 50_000); i++)
      rows.push({ _ts: T0 + i / 100, position: [Math.sin(i / 500), Math.cos(i / 500), i / points], speed: i === spike ? 99 : 1 + Math.sin(i / 50) / 2 });
    await pose.appendBatch(rows);
  }
  const cam = session.track("camera/left");
  const frames = [];
  for (let i = 0; i < points; i += 10) frames.push({ _ts: T0 + i / 100 + 0.001, frame_id: i / 10, file: `frame-${i / 10}.png` });
  await cam.appendBatch(frames);
  await session.close();
  // Log entries on the same time axis (Session.log stamps "now"): rows of <prefix>/logs as Session writes them.
  const store = await openStore(uri);
  const entries = [];
  for (let i = 0; i < 50; i++)
    entries.push({
      _ts: T0 + (i * points) / 100 / 50 + 0.002,
      level: i % 10 === 7 ? "error" : i % 5 === 0 ? "warn" : "info",
      message: i % 10 === 7 ? `motor stall ${i}` : `checkpoint ${i}`,
    });
  await store.append("robot/demo/logs", rowsToBatch(entries));
  await store.close();
  return { uri, prefix: "robot/demo" };
}

/** An H5Logger file: `loss` (1-D, a spike), `image` (N×64×64 float32), `rgb` (N×32×32×3 uint8), `train/acc`. */
export async function makeH5(file: string, frames = 20, points = 100_000): Promise<{ spike: number }> {
  const log = await H5Logger.open(file, { replaceIfExists: true });
  const spike = Math.floor(points * 0.6) + 7;
  for (let i = 0; i < points; i++) log.log("loss", i === spike ? 42 : Math.exp(-i / points));
  for (let f = 0; f < frames; f++) {
    const img = new Float32Array(64 * 64);
    for (let p = 0; p < img.length; p++) img[p] = f * 10 + (p % 64) / 64;
    log.log("image", { data: img, shape: [64, 64] });
    const rgb = new Uint8Array(32 * 32 * 3);
    for (let p = 0; p < 32 * 32; p++) (rgb[p * 3] = 255), (rgb[p * 3 + 1] = (f * 12) % 256), (rgb[p * 3 + 2] = 0);
    log.log("rgb", { data: rgb, shape: [32, 32, 3] });
    log.log("train/acc", f / frames);
  }
  await log.close();
  return { spike };
}

/** A small PNG of one colour. */
export function png(w: number, h: number, rgb: [number, number, number]): Buffer {
  const data = new Uint8Array(w * h * 4);
  for (let p = 0; p < w * h; p++) data.set([rgb[0], rgb[1], rgb[2], 255], p * 4);
  return encodePng({ width: w, height: h, data });
}

/**
 * A datasource "pets" over `folder`: `n` PNG images in images/ (label cat/dog/bird, split,
 * score), two text files, and a symlink `escape.png` pointing outside the folder. A saved
 * dataset "cats" (label = 'cat'). Returns the commit time before the last change (for asOf).
 */
export async function makeDatasource(root: string, folder: string, n: number, outside: string): Promise<{ before: Date }> {
  mkdirSync(join(folder, "images"), { recursive: true });
  mkdirSync(join(folder, "docs"), { recursive: true });
  const labels = ["cat", "dog", "bird"];
  const colours: [number, number, number][] = [
    [220, 40, 40],
    [40, 160, 40],
    [40, 40, 220],
  ];
  const one = [png(48, 32, colours[0]!), png(48, 32, colours[1]!), png(48, 32, colours[2]!)];
  for (let i = 0; i < n; i++) writeFileSync(join(folder, "images", `${String(i).padStart(6, "0")}.png`), one[i % 3]!);
  writeFileSync(join(folder, "docs", "readme.txt"), "hello");
  writeFileSync(join(folder, "docs", "labels.csv"), "a,b\n1,2\n");
  writeFileSync(outside, "secret outside the datasource");
  symlinkSync(outside, join(folder, "escape.png"));
  const ds = await Datasource.getOrCreate({ name: "pets", path: folder, root });
  await ds.scan();
  const rows = [];
  for (let i = 0; i < n; i++)
    rows.push({ path: `images/${String(i).padStart(6, "0")}.png`, label: labels[i % 3]!, split: i % 10 === 0 ? "test" : "train", score: (i % 100) / 100 });
  await ds.uploadMetadata(rows);
  await ds.updateMetadata("docs/readme.txt", { note: new Uint8Array([1, 2, 3]) });
  await new Promise((r) => setTimeout(r, 5));
  const before = new Date();
  await new Promise((r) => setTimeout(r, 5));
  await ds.updateMetadata("images/000000.png", { label: "tiger" });
  await ds.where(ds.field("label").eq("cat")).saveDataset("cats");
  await ds.close();
  return { before };
}
