// The timeline, array viewer and gallery figures of `pnpm bench` (issue 15's targets): a 100k-point
// track view ready, scrubbing the cursor, the first gallery page of a 10k-image datasource and a
// 64×64 frame slider step, all in headless Chromium against a fresh server.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Session } from "@quiver/core";
import { Datasource } from "@quiver/datasource";
import { H5Logger } from "@quiver/store-h5";
import "@quiver/store-msgpack";
import { encodePng, startServer } from "../dist/index.js";

/** Runs `act` in the page and resolves with the ms until data-ready went 0 and back to 1. */
async function step(page, act, arg) {
  return page.evaluate(
    ([src, a]) =>
      new Promise((resolve) => {
        const t0 = performance.now();
        let busy = false;
        const check = () => {
          const v = document.body.dataset.ready;
          if (v === "0") busy = true;
          if (busy && v === "1") {
            obs.disconnect();
            resolve(performance.now() - t0);
          }
        };
        const obs = new MutationObserver(check);
        obs.observe(document.body, { attributes: true, attributeFilter: ["data-ready"] });
        new Function("a", src)(a);
        check();
      }),
    [act, arg],
  );
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function benchViews({ context, dir, report, openReady }) {
  // A session with a 100k-point track (position list of 3 + speed) and logs.
  const t0 = 1_700_000_000;
  const uri = `msgpack:${join(dir, "tracks")}`;
  const session = await Session.open({ prefix: "bench/session", store: uri, flushInterval: 0 });
  const pose = session.track("robot/pose");
  for (let s = 0; s < 100_000; s += 50_000) {
    const rows = [];
    for (let i = s; i < s + 50_000; i++) rows.push({ _ts: t0 + i / 100, position: [Math.sin(i / 500), Math.cos(i / 500), i / 1e5], speed: 1 + Math.sin(i / 50) / 2 });
    await pose.appendBatch(rows);
  }
  await session.close();

  // An H5Logger file of 200 frames of 64×64 float32.
  const h5 = join(dir, "frames.h5");
  const log = await H5Logger.open(h5, { replaceIfExists: true });
  for (let f = 0; f < 200; f++) {
    const img = new Float32Array(64 * 64);
    for (let p = 0; p < img.length; p++) img[p] = Math.sin((p + f * 64) / 300);
    log.log("frames", { data: img, shape: [64, 64] });
  }
  await log.close();

  // A datasource of 10,000 PNG images (96×64) with labels.
  const folder = join(dir, "images");
  mkdirSync(folder, { recursive: true });
  const pngs = [0, 1, 2, 3].map((k) => {
    const data = new Uint8Array(96 * 64 * 4);
    for (let p = 0; p < 96 * 64; p++) data.set([(p * 7 + k * 60) % 256, (p >> 6) * 4, k * 70, 255], p * 4);
    return encodePng({ width: 96, height: 64, data });
  });
  for (let i = 0; i < 10_000; i++) writeFileSync(join(folder, `${String(i).padStart(5, "0")}.png`), pngs[i % 4]);
  const root = join(dir, ".quiver");
  const ds = await Datasource.getOrCreate({ name: "bench", path: folder, root });
  await ds.scan();
  await ds.uploadMetadata(
    Array.from({ length: 10_000 }, (_, i) => ({ path: `${String(i).padStart(5, "0")}.png`, label: ["cat", "dog", "bird", "fish"][i % 4], score: (i % 100) / 100 })),
  );
  await ds.close();

  const srv = await startServer({ store: uri, port: 0, h5, datasources: root });
  try {
    const tl = await openReady(`${srv.url}?view=tracks&focus=${encodeURIComponent("robot/pose")}`);
    const n = await tl.page.evaluate(() => window.quiver.inspect().panels["robot/pose"].n);
    if (n !== 100_000) throw new Error(`the timeline drew ${n} points, not 100,000`);
    report("tracks: 100k-point track view, open → ready (cold server)", tl.ms, "ms", 2000);
    // Dragging the scrub slider: 1/1000 of the session per input event (0.2 s, 20 points here).
    const slide = [];
    for (let k = 1; k <= 40; k++)
      slide.push(await step(tl.page, "const s = document.querySelector('input[name=cursor]'); s.value = String(a); s.dispatchEvent(new Event('input'));", 300 + k));
    report("tracks: scrub slider step, panels + points table (median of 40)", median(slide), "ms", 50);
    // Jumps of 45 s (4,500 points): the points table needs a round trip each time.
    const jump = [];
    for (let k = 1; k <= 20; k++) jump.push(await step(tl.page, "window.quiver.view().setCursor(a)", t0 + k * 45));
    report("tracks: cursor jump of 45 s, panels + points table (median of 20)", median(jump), "ms", 50);
    await tl.page.close();

    const g = await openReady(`${srv.url}?view=gallery`);
    const info = await g.page.evaluate(() => window.quiver.inspect());
    if (info.total !== 10_000 || info.thumbs < 20) throw new Error(`gallery: ${info.total} datapoints, ${info.thumbs} thumbnails drawn`);
    report(`gallery: 10k images, first page with ${info.thumbs} thumbnails (cold)`, g.ms, "ms", 1000);
    await g.page.close();

    const a = await openReady(`${srv.url}?view=arrays&ds=/frames`);
    const frames = [];
    for (let k = 1; k <= 20; k++)
      frames.push(await step(a.page, "const s = document.querySelector('input[name=frame]'); s.value = String(a); s.dispatchEvent(new Event('input'));", k * 7));
    report("arrays: 64×64 frame slider step (median of 20)", median(frames), "ms", 30);
    await a.page.close();
  } finally {
    await srv.close();
  }
  void context;
}
