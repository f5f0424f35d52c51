/**
 * Which image decoder the tensorizers use, by measurement: ours (PNG: png.ts on Node's zlib) and
 * jpeg-js (JPEG), both plain JS, next to the native decoders already in the workspace:
 * @resvg/resvg-js (the CLI's dependency; decodes an <image> while rendering an SVG) and, when its
 * prebuilt binary is present in node_modules, sharp (libvips). Images: SIZE×SIZE (default 512)
 * photo-like canvases encoded by Chromium (libpng, libjpeg-turbo at quality 0.9).
 *   node bench/decoders.mjs          (SIZE, ROUNDS)
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { measure, printComparisons } from "../../core/dist/bench.js";
import { decodeImage } from "../dist/index.js";

const SIZE = Number(process.env.SIZE ?? 512);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const here = path.dirname(fileURLToPath(import.meta.url));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-decoders-"));

function chromium(mime) {
  const html = path.join(tmp, "c.html");
  // gradients plus noise: compresses like a photo, not like a flat test card
  fs.writeFileSync(
    html,
    `<html><body><canvas id="c" width="${SIZE}" height="${SIZE}"></canvas><script>
const cv = document.getElementById("c"), c = cv.getContext("2d"), img = c.createImageData(${SIZE}, ${SIZE});
let s = 7; const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
for (let y = 0; y < ${SIZE}; y++) for (let x = 0; x < ${SIZE}; x++) { const o = (y * ${SIZE} + x) * 4;
  img.data[o] = (x + 40 * Math.sin(y / 17)) & 255; img.data[o + 1] = (y + 30 * rnd()) & 255; img.data[o + 2] = ((x ^ y) + 20 * rnd()) & 255; img.data[o + 3] = 255; }
c.putImageData(img, 0, 0);
document.body.setAttribute("data-img", cv.toDataURL("${mime}", 0.9));</script></body></html>`,
  );
  const out = spawnSync("chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", `file://${html}`], { encoding: "utf8", timeout: 120_000, maxBuffer: 1 << 28 });
  const m = /data:image\/(?:jpeg|png);base64,([^"]+)/.exec(out.stdout ?? "");
  if (!m) throw new Error(`chromium did not encode the image: ${out.stderr}`);
  return Buffer.from(m[1], "base64");
}

const png = chromium("image/png");
const jpg = chromium("image/jpeg");
console.error(`· PNG ${png.length} bytes, JPEG ${jpg.length} bytes, ${SIZE}×${SIZE}`);

const req = createRequire(path.join(here, "../../cli/package.json"));
let Resvg;
try {
  ({ Resvg } = req("@resvg/resvg-js"));
} catch (err) {
  console.error("· @resvg/resvg-js not loadable:", err.message);
}
let sharp;
try {
  sharp = createRequire(path.join(here, "../../../node_modules/.pnpm/sharp@0.33.5/node_modules/sharp/package.json"))("sharp");
} catch {
  /* not installed: measured when present only */
}
const resvgDecode = (bytes, mime) => {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}"><image width="${SIZE}" height="${SIZE}" href="data:${mime};base64,${bytes.toString("base64")}"/></svg>`;
  return new Resvg(svg).render().pixels;
};

const N = 20;
const rates = async (fn) => {
  let best = 0;
  for (let r = 0; r < ROUNDS; r++)
    best = Math.max(
      best,
      await measure(
        N,
        async () => {
          for (let i = 0; i < N; i++) await fn();
        },
        { repeat: 1 },
      ),
    );
  return best;
};
const rows = [];
for (const [name, bytes, mime, ours, oursName] of [
  ["PNG", png, "image/png", () => decodeImage(png), "png.ts (zlib)"],
  ["JPEG", jpg, "image/jpeg", () => decodeImage(jpg), "jpeg-js"],
]) {
  const o = await rates(ours);
  if (Resvg)
    rows.push({
      case: `decode ${name} ${SIZE}² ours: ${oursName}`,
      unit: "img/s",
      ours: o,
      against: "@resvg/resvg-js (native)",
      theirs: await rates(() => resvgDecode(bytes, mime)),
    });
  if (sharp)
    rows.push({
      case: `decode ${name} ${SIZE}² ours: ${oursName}`,
      unit: "img/s",
      ours: o,
      against: "sharp/libvips (native)",
      theirs: await rates(() => sharp(bytes).raw().toBuffer()),
    });
  if (!Resvg && !sharp) rows.push({ case: `decode ${name} ${SIZE}²`, unit: "img/s", ours: o, against: "(no native peer found)", theirs: o });
}
printComparisons("@quiver/datasource image decoders", rows);
console.log(
  `(load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")} on ${os.cpus().length} cores)`,
);
fs.rmSync(tmp, { recursive: true, force: true });
