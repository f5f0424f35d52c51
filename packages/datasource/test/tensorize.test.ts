/**
 * Tensorizers for batches(): real PNGs written by Python's standard library (every row filter,
 * colour type and bit depth we decode, with the pixels they hold) and real JPEGs and PNGs encoded
 * by Chromium's canvas (libjpeg-turbo, libpng), decoded to H×W×C uint8 and stacked per batch.
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Datasource, type Tensor, decodeImage } from "../dist/index.js";
import { expectCode, tempDir, writeFiles } from "./helpers.js";

const dir = tempDir("quiver-tensor-");
const data = path.join(dir, "data");
const pngs = path.join(data, "png");
let expected: Record<string, { shape: number[]; data: number[] }>;
const opened: Datasource[] = [];

/** Chromium draws on a canvas and encodes it: an independent JPEG/PNG encoder. */
function chromiumEncode(width: number, height: number, draw: string, mime: "image/jpeg" | "image/png"): Buffer {
  const html = path.join(dir, `c${Math.random().toString(36).slice(2)}.html`);
  fs.writeFileSync(
    html,
    `<html><body><canvas id="c" width="${width}" height="${height}"></canvas><script>const c = document.getElementById("c").getContext("2d");${draw};document.body.setAttribute("data-img", document.getElementById("c").toDataURL("${mime}", 1.0));</script></body></html>`,
  );
  const out = spawnSync("chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", `file://${html}`], { encoding: "utf8", timeout: 60_000 });
  const m = /data:image\/(?:jpeg|png);base64,([^"]+)/.exec(out.stdout ?? "");
  if (!m) throw new Error(`chromium did not encode the image: ${out.error?.message ?? out.stderr}`);
  return Buffer.from(m[1]!, "base64");
}

const RED = [200, 30, 40];
const GREEN = [20, 180, 90];
// two 8×8 blocks (JPEG's block size), so each block's pixels decode within a few levels of its colour
const twoBlocks = (a: number[], b: number[]): string => `c.fillStyle = "rgb(${a})"; c.fillRect(0, 0, 8, 8); c.fillStyle = "rgb(${b})"; c.fillRect(8, 0, 8, 8)`;

beforeAll(() => {
  execFileSync("python3", [path.resolve("test/fixtures/make_pngs.py"), pngs]);
  expected = JSON.parse(fs.readFileSync(path.join(pngs, "expected.json"), "utf8"));
  fs.rmSync(path.join(pngs, "expected.json"));
  writeFiles(data, {
    "jpg/a.jpg": chromiumEncode(16, 8, twoBlocks(RED, GREEN), "image/jpeg"),
    "jpg/b.jpg": chromiumEncode(16, 8, twoBlocks(GREEN, RED), "image/jpeg"),
    "odd/wide.jpg": chromiumEncode(24, 8, twoBlocks(RED, RED), "image/jpeg"),
    "odd/alpha.png": chromiumEncode(16, 8, `c.fillStyle = "rgba(10, 20, 250, 0.5)"; c.fillRect(0, 0, 16, 8)`, "image/png"),
    "odd/notes.txt": "1 2.5, 3\n4",
    "odd/broken.png": fs.readFileSync(path.join(pngs, "rgb8.png")).subarray(0, 40),
  });
}, 120_000);
afterAll(async () => {
  for (const d of opened) await d.close();
});

function near(t: Tensor, h: number, w: number, colourAt: (x: number) => number[], tol = 8): void {
  expect(t.dtype).toBe("uint8");
  expect(t.shape).toEqual([h, w, 3]);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < 3; k++) expect(Math.abs(t.data[(y * w + x) * 3 + k]! - colourAt(x)[k]!)).toBeLessThanOrEqual(tol);
}

describe("image decoding", () => {
  it("decodes every PNG Python wrote to exactly its pixels (H×W×C uint8)", () => {
    expect(Object.keys(expected).sort()).toEqual(["gray1.png", "gray8.png", "graya8.png", "pal.png", "palt.png", "rgb16.png", "rgb8.png", "rgba8.png"]);
    for (const [file, e] of Object.entries(expected)) {
      const t = decodeImage(fs.readFileSync(path.join(pngs, file)), file);
      expect([file, t.shape, t.dtype]).toEqual([file, e.shape, "uint8"]);
      expect(Array.from(t.data)).toEqual(e.data);
    }
  });

  it("decodes Chromium's JPEGs and PNGs", () => {
    near(decodeImage(fs.readFileSync(path.join(data, "jpg/a.jpg"))), 8, 16, (x) => (x < 8 ? RED : GREEN));
    const png = decodeImage(fs.readFileSync(path.join(data, "odd/alpha.png")));
    expect(png.shape).toEqual([8, 16, 4]);
    expect(Math.abs(png.data[3]! - 128)).toBeLessThanOrEqual(1); // alpha kept, not composited
  });

  it("refuses what is not an image, naming it", async () => {
    await expectCode(async () => decodeImage(fs.readFileSync(path.join(data, "odd/broken.png")), "odd/broken.png"), "INVALID_VALUE", /broken\.png/);
    await expectCode(async () => decodeImage(new TextEncoder().encode("hello"), "x.bin"), "INVALID_VALUE", /not a PNG or JPEG/);
  });
});

const TENSOR_STORES: [string, () => string | undefined][] = [
  ["memory", () => `memory:tensor-${process.pid}-${Math.random()}`],
  ["duckdb", () => undefined], // default: duckdb:<root>/datasources.db
];

describe.each(TENSOR_STORES)("batches({ tensorizers }) on %s", (_label, storeFor) => {
  async function open(): Promise<Datasource> {
    const root = tempDir("quiver-tensor-root-");
    const ds = await Datasource.getOrCreate({ name: "imgs", path: data, root, store: storeFor() });
    opened.push(ds);
    await ds.scan();
    await ds.metadataContext((ctx) => {
      ctx.updateMetadata("jpg/a.jpg", { label: 0, box: [1, 2, 3, 4] });
      ctx.updateMetadata("jpg/b.jpg", { label: 1, box: [5, 6, 7, 8] });
      for (const f of Object.keys(expected)) ctx.updateMetadata(`png/${f}`, { label: 2, kind: f });
    });
    return ds;
  }

  it('"auto": images by extension, numbers by value; stacked per batch as torch collates', async () => {
    const ds = await open();
    const r = await ds.where(ds.field("path").startsWith("jpg/")).all();
    const got: Tensor[][] = [];
    for await (const b of r.batches({ batchSize: 2, tensorizers: "auto", metadataColumns: ["label", "box"] })) {
      expect(b.files).toHaveLength(2);
      got.push(b.tensors!);
    }
    expect(got).toHaveLength(1);
    const [images, labels, boxes] = got[0]!;
    expect(images!.shape).toEqual([2, 8, 16, 3]);
    const per = 8 * 16 * 3;
    near({ ...images!, data: images!.data.subarray(0, per), shape: [8, 16, 3] }, 8, 16, (x) => (x < 8 ? RED : GREEN));
    near({ ...images!, data: images!.data.subarray(per), shape: [8, 16, 3] }, 8, 16, (x) => (x < 8 ? GREEN : RED));
    expect(labels).toEqual({ data: Float32Array.of(0, 1), shape: [2], dtype: "float32" });
    expect(boxes).toEqual({ data: Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8), shape: [2, 4], dtype: "float32" });
  });

  it("a list of names and functions, one per entry; every strategy gives the same tensors", async () => {
    const ds = await open();
    const r = await ds.where(ds.field("kind").isNotNull()).orderBy("kind").all();
    const only = (file: string) => r.paths.indexOf(`png/${file}`);
    const byStrategy: unknown[] = [];
    for (const strategy of ["lazy", "background", "preload"] as const) {
      const seen: { path: string; image: number[]; shape: number[]; len: Tensor }[] = [];
      for await (const b of r.batches({
        batchSize: 1,
        strategy,
        loadFiles: false,
        metadataColumns: ["kind"],
        tensorizers: ["image", (v) => ({ data: Int32Array.of(String(v).length), shape: [1], dtype: "int32" })],
      })) {
        expect(b.files).toBeUndefined(); // loadFiles: false keeps only the tensors
        const [img, len] = b.tensors!;
        seen.push({ path: b.metadata[0]!.path as string, image: Array.from(img!.data), shape: img!.shape, len: len! });
      }
      for (const [file, e] of Object.entries(expected)) {
        const s = seen[only(file)]!;
        expect([s.path, s.shape]).toEqual([`png/${file}`, [1, ...e.shape]]);
        expect(s.image).toEqual(e.data);
        expect(s.len).toEqual({ data: Int32Array.of(file.length), shape: [1, 1], dtype: "int32" });
      }
      byStrategy.push(seen);
    }
    expect(byStrategy[1]).toEqual(byStrategy[0]);
    expect(byStrategy[2]).toEqual(byStrategy[0]);
  });

  it("a blob field and a file column (a path to another file) are tensorized from their bytes", async () => {
    const ds = await open();
    const rgb = fs.readFileSync(path.join(pngs, "rgb8.png"));
    await ds.updateMetadata(["jpg/a.jpg", "jpg/b.jpg"], { mask: new Uint8Array(rgb), seg: "png/gray8.png" });
    const r = await ds.where(ds.field("path").startsWith("jpg/")).all();
    let n = 0;
    for await (const b of r.batches({ batchSize: 2, tensorizers: "auto", metadataColumns: ["mask", "seg"], fileColumns: ["seg"] })) {
      const [images, masks, segs] = b.tensors!;
      expect(images!.shape).toEqual([2, 8, 16, 3]);
      expect(masks!.shape).toEqual([2, ...expected["rgb8.png"]!.shape]);
      expect(Array.from(masks!.data)).toEqual([...expected["rgb8.png"]!.data, ...expected["rgb8.png"]!.data]);
      expect(segs!.shape).toEqual([2, ...expected["gray8.png"]!.shape]);
      expect(Array.from(segs!.data.subarray(0, expected["gray8.png"]!.data.length))).toEqual(expected["gray8.png"]!.data);
      expect(b.metadata[0]!.seg).toBe("png/gray8.png"); // the rows keep the value
      n++;
    }
    expect(n).toBe(1);
    await ds.updateMetadata("jpg/a.jpg", { seg: "../outside.png" });
    const drain = async (it: AsyncIterable<unknown>): Promise<void> => {
      for await (const _ of it);
    };
    const again = await ds.where(ds.field("path").startsWith("jpg/")).all();
    await expectCode(drain(again.batches({ tensorizers: "auto", metadataColumns: ["seg"], fileColumns: ["seg"] })), "INVALID_PATH", /seg/);
    await expectCode(drain(again.batches({ tensorizers: "auto", metadataColumns: ["mask"], fileColumns: ["seg"] })), "INVALID_VALUE", /fileColumns/);
  });

  it("numeric files, bytes, and clear errors for what cannot be tensorized", async () => {
    const ds = await open();
    const notes = await ds.where(ds.field("path").eq("odd/notes.txt")).all();
    for await (const b of notes.batches({ tensorizers: "numeric" })) expect(b.tensors![0]).toEqual({ data: Float32Array.of(1, 2.5, 3, 4), shape: [1, 4], dtype: "float32" });
    for await (const b of notes.batches({ tensorizers: ["bytes"] })) expect(b.tensors![0]!.shape).toEqual([1, 10]);
    const drain = async (it: AsyncIterable<unknown>): Promise<void> => {
      for await (const _ of it);
    };
    await expectCode(drain(notes.batches({ tensorizers: "auto" })), "INVALID_VALUE", /cannot guess.*notes\.txt/);
    await expectCode(drain(notes.batches({ tensorizers: "audio" })), "UNSUPPORTED", /function/);
    await expectCode(drain(notes.batches({ tensorizers: ["image", "numeric"] })), "INVALID_VALUE", /one per entry/);
    const mixed = await ds.where(ds.field("path").in(["jpg/a.jpg", "odd/wide.jpg"])).all();
    await expectCode(drain(mixed.batches({ batchSize: 2, tensorizers: "image" })), "INVALID_VALUE", /wide\.jpg.*shape \[8,24,3\]/);
    const one: number[][] = [];
    for await (const b of mixed.batches({ batchSize: 1, tensorizers: "image" })) one.push(b.tensors![0]!.shape);
    expect(one).toEqual([
      [1, 8, 16, 3],
      [1, 8, 24, 3],
    ]);
    const broken = await ds.where(ds.field("path").eq("odd/broken.png")).all();
    await expectCode(drain(broken.batches({ tensorizers: "image" })), "INVALID_VALUE", /odd\/broken\.png/);
    const png = await ds.where(ds.field("kind").eq("rgb8.png")).all();
    await expectCode(drain(png.batches({ tensorizers: "auto", metadataColumns: ["kind"] })), "INVALID_VALUE", /not numeric/);
    await expectCode(drain(png.batches({ metadataColumns: ["nope"], tensorizers: "auto" })), "UNKNOWN_FIELD");
  });
});
