/**
 * Chart images without native dependencies: SVG as text, PNG rasterised here (lines, a 3×5
 * bitmap font for labels) and encoded with node:zlib.
 */
import { deflateSync } from "node:zlib";
import { axisTicks, bounds, type ChartOptions, cleanSeries, formatTick, line, niceTicks, PALETTE, type Series } from "./chart.js";
import { formatNumber } from "./output.js";

interface Layout {
  W: number;
  H: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function layout(opts: ChartOptions, legendRows: number): Layout {
  const W = Math.max(200, opts.width ?? 800);
  const H = Math.max(150, opts.height ?? 450);
  return { W, H, left: 70, right: 20, top: opts.title ? 36 : 16, bottom: 46 + 18 * legendRows };
}

function prepare(input: Series[], opts: ChartOptions) {
  const series = input.map(cleanSeries).filter((s) => s.xs.length > 0);
  const b = bounds(series);
  const L = layout(opts, Math.ceil(series.length / 4));
  const pw = L.W - L.left - L.right;
  const ph = L.H - L.top - L.bottom;
  const sx = (x: number) => L.left + ((x - b.xmin) / (b.xmax - b.xmin)) * pw;
  const sy = (y: number) => L.top + (1 - (y - b.ymin) / (b.ymax - b.ymin)) * ph;
  const xticks = axisTicks(b.xmin, b.xmax, Math.max(2, Math.floor(pw / 110)), opts.xIsTime === true);
  const yticks = niceTicks(b.ymin, b.ymax, Math.max(2, Math.floor(ph / 60)));
  const xspan = b.xmax - b.xmin;
  return { series, b, L, pw, ph, sx, sy, xticks, yticks, xlabel: (t: number) => formatTick(t, opts.xIsTime === true, xspan) };
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const hex = (rgb: [number, number, number]) => "#" + rgb.map((c) => c.toString(16).padStart(2, "0")).join("");

/** The chart as an SVG document. */
export function chartToSvg(input: Series[], opts: ChartOptions = {}): string {
  const { series, L, pw, ph, sx, sy, xticks, yticks, xlabel } = prepare(input, opts);
  const f = (n: number) => Number(n.toFixed(2));
  const parts: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L.W}" height="${L.H}" viewBox="0 0 ${L.W} ${L.H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${L.W}" height="${L.H}" fill="#ffffff"/>`,
  ];
  if (opts.title) parts.push(`<text x="${L.W / 2}" y="22" text-anchor="middle" font-size="15">${esc(opts.title)}</text>`);
  parts.push(`<g stroke="#e5e5e5" stroke-width="1">`);
  for (const t of yticks) parts.push(`<line x1="${L.left}" x2="${L.left + pw}" y1="${f(sy(t))}" y2="${f(sy(t))}"/>`);
  for (const t of xticks) parts.push(`<line x1="${f(sx(t))}" x2="${f(sx(t))}" y1="${L.top}" y2="${L.top + ph}"/>`);
  parts.push(`</g>`);
  parts.push(`<g stroke="#333333" stroke-width="1"><line x1="${L.left}" y1="${L.top + ph}" x2="${L.left + pw}" y2="${L.top + ph}"/><line x1="${L.left}" y1="${L.top}" x2="${L.left}" y2="${L.top + ph}"/></g>`);
  parts.push(`<g fill="#333333">`);
  for (const t of yticks) parts.push(`<text x="${L.left - 6}" y="${f(sy(t) + 4)}" text-anchor="end">${esc(formatNumber(t))}</text>`);
  for (const t of xticks) parts.push(`<text x="${f(sx(t))}" y="${L.top + ph + 16}" text-anchor="middle">${esc(xlabel(t))}</text>`);
  if (opts.xLabel) parts.push(`<text x="${L.left + pw / 2}" y="${L.top + ph + 32}" text-anchor="middle">${esc(opts.xLabel)}</text>`);
  if (opts.yLabel) parts.push(`<text transform="translate(14 ${L.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  parts.push(`</g>`);
  series.forEach((s, si) => {
    const pts = s.xs.map((x, i) => `${f(sx(x))},${f(sy(s.ys[i]!))}`).join(" ");
    const c = hex(PALETTE[si % PALETTE.length]!.rgb);
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2" stroke-linejoin="round" points="${pts}"><title>${esc(s.name)}</title></polyline>`);
    const lx = L.left + (si % 4) * Math.floor(pw / 4);
    const ly = L.top + ph + 44 + Math.floor(si / 4) * 18;
    parts.push(`<line x1="${lx}" x2="${lx + 20}" y1="${ly - 4}" y2="${ly - 4}" stroke="${c}" stroke-width="3"/><text x="${lx + 26}" y="${ly}">${esc(s.name)}</text>`);
  });
  parts.push(`</svg>`);
  return parts.join("\n") + "\n";
}

// ---------------------------------------------------------------------------------------------
// PNG

/** 3×5 glyphs, rows top to bottom, "#" = ink. Lowercase letters draw as uppercase. */
const FONT: Record<string, string> = {
  "0": "### #.# #.# #.# ###", "1": ".#. ##. .#. .#. ###", "2": "### ..# ### #.. ###", "3": "### ..# ### ..# ###",
  "4": "#.# #.# ### ..# ..#", "5": "### #.. ### ..# ###", "6": "### #.. ### #.# ###", "7": "### ..# ..# ..# ..#",
  "8": "### #.# ### #.# ###", "9": "### #.# ### ..# ###", ".": "... ... ... ... .#.", "-": "... ... ### ... ...",
  "+": "... .#. ### .#. ...", ":": "... .#. ... .#. ...", "_": "... ... ... ... ###", "/": "..# ..# .#. #.. #..",
  "(": ".#. #.. #.. #.. .#.", ")": ".#. ..# ..# ..# .#.", ",": "... ... ... .#. #..", "=": "... ### ... ### ...",
  "%": "#.# ..# .#. #.. #.#", " ": "... ... ... ... ...", "?": "### ..# .## ... .#.", "A": ".#. #.# ### #.# #.#",
  "B": "##. #.# ##. #.# ##.", "C": ".## #.. #.. #.. .##", "D": "##. #.# #.# #.# ##.", "E": "### #.. ##. #.. ###",
  "F": "### #.. ##. #.. #..", "G": ".## #.. #.# #.# .##", "H": "#.# #.# ### #.# #.#", "I": "### .#. .#. .#. ###",
  "J": "..# ..# ..# #.# .#.", "K": "#.# #.# ##. #.# #.#", "L": "#.. #.. #.. #.. ###", "M": "#.# ### ### #.# #.#",
  "N": "##. #.# #.# #.# #.#", "O": ".#. #.# #.# #.# .#.", "P": "##. #.# ##. #.. #..", "Q": ".#. #.# #.# ##. .##",
  "R": "##. #.# ##. #.# #.#", "S": ".## #.. .#. ..# ##.", "T": "### .#. .#. .#. .#.", "U": "#.# #.# #.# #.# ###",
  "V": "#.# #.# #.# #.# .#.", "W": "#.# #.# ### ### #.#", "X": "#.# #.# .#. #.# #.#", "Y": "#.# #.# .#. .#. .#.",
  "Z": "### ..# .#. #.. ###", "·": "... ... .#. ... ...", "×": "... #.# .#. #.# ...", "[": "##. #.. #.. #.. ##.",
  "]": ".## ..# ..# ..# .##", "<": "..# .#. #.. .#. ..#", ">": "#.. .#. ..# .#. #..", "!": ".#. .#. .#. ... .#.",
  "'": ".#. .#. ... ... ...", '"': "#.# #.# ... ... ...", "*": "... #.# .#. #.# ...", "#": "#.# ### #.# ### #.#",
  "&": ".#. #.# .#. #.# .##", "@": "### #.# ### #.. ###", "|": ".#. .#. .#. .#. .#.", "…": "... ... ... ... #.#",
  "^": ".#. #.# ... ... ...", "~": "... ... ##. ..# ...", ";": "... .#. ... .#. #..", "$": ".## ##. .#. .## ##.",
};
const SCALE = 2;
const CHAR_W = 4 * SCALE;

type RGB = readonly [number, number, number];

/** An RGB raster with the few drawing operations a chart needs. */
export class Raster {
  readonly data: Uint8Array;
  constructor(
    readonly width: number,
    readonly height: number,
    bg: RGB = [255, 255, 255],
  ) {
    this.data = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) this.data.set(bg, i * 3);
  }
  px(x: number, y: number, c: RGB): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.data.set(c, (y * this.width + x) * 3);
  }
  line(x0: number, y0: number, x1: number, y1: number, c: RGB, thick = 1): void {
    line(Math.round(x0), Math.round(y0), Math.round(x1), Math.round(y1), (x, y) => {
      for (let dx = 0; dx < thick; dx++) for (let dy = 0; dy < thick; dy++) this.px(x + dx - (thick >> 1), y + dy - (thick >> 1), c);
    });
  }
  text(s: string, x: number, y: number, c: RGB, anchor: "start" | "middle" | "end" = "start"): void {
    const w = s.length * CHAR_W;
    let cx = anchor === "middle" ? x - w / 2 : anchor === "end" ? x - w : x;
    cx = Math.round(cx);
    for (const ch of s) {
      const g = FONT[ch] ?? FONT[ch.toUpperCase()] ?? FONT["?"]!;
      const rows = g.split(" ");
      for (let r = 0; r < 5; r++)
        for (let k = 0; k < 3; k++)
          if (rows[r]![k] === "#") for (let a = 0; a < SCALE; a++) for (let b2 = 0; b2 < SCALE; b2++) this.px(cx + k * SCALE + a, y + r * SCALE + b2, c);
      cx += CHAR_W;
    }
  }
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "ascii");
  Buffer.from(data.buffer, data.byteOffset, data.byteLength).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** An RGB raster as PNG bytes (8-bit truecolour, filter 0 per row). */
export function encodePng(r: Raster): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(r.width, 0);
  ihdr.writeUInt32BE(r.height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  const stride = r.width * 3;
  const raw = Buffer.alloc((stride + 1) * r.height);
  for (let y = 0; y < r.height; y++) Buffer.from(r.data.buffer, r.data.byteOffset + y * stride, stride).copy(raw, y * (stride + 1) + 1);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw, { level: 6 })), chunk("IEND", new Uint8Array(0))]);
}

/** The chart rasterised as PNG bytes. */
export function chartToPng(input: Series[], opts: ChartOptions = {}): Buffer {
  const { series, L, pw, ph, sx, sy, xticks, yticks, xlabel } = prepare(input, opts);
  const r = new Raster(L.W, L.H);
  const grid: RGB = [229, 229, 229];
  const ink: RGB = [51, 51, 51];
  for (const t of yticks) r.line(L.left, sy(t), L.left + pw, sy(t), grid);
  for (const t of xticks) r.line(sx(t), L.top, sx(t), L.top + ph, grid);
  r.line(L.left, L.top + ph, L.left + pw, L.top + ph, ink);
  r.line(L.left, L.top, L.left, L.top + ph, ink);
  if (opts.title) r.text(opts.title, L.W / 2, 10, ink, "middle");
  for (const t of yticks) r.text(formatNumber(t), L.left - 6, sy(t) - 5, ink, "end");
  for (const t of xticks) r.text(xlabel(t), sx(t), L.top + ph + 8, ink, "middle");
  if (opts.xLabel) r.text(opts.xLabel, L.left + pw / 2, L.top + ph + 24, ink, "middle");
  series.forEach((s, si) => {
    const c = PALETTE[si % PALETTE.length]!.rgb;
    for (let i = 1; i < s.xs.length; i++) r.line(sx(s.xs[i - 1]!), sy(s.ys[i - 1]!), sx(s.xs[i]!), sy(s.ys[i]!), c, 2);
    if (s.xs.length === 1) r.line(sx(s.xs[0]!) - 2, sy(s.ys[0]!), sx(s.xs[0]!) + 2, sy(s.ys[0]!), c, 3);
    const lx = L.left + (si % 4) * Math.floor(pw / 4);
    const ly = L.top + ph + 40 + Math.floor(si / 4) * 18;
    r.line(lx, ly + 4, lx + 20, ly + 4, c, 3);
    r.text(s.name, lx + 26, ly, ink);
  });
  return encodePng(r);
}
