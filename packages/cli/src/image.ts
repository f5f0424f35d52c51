/**
 * Chart images: SVG written here as text, PNG rasterised from that same SVG by resvg (a real
 * renderer: anti-aliased lines, text in the system's fonts, ids in their own case). resvg is a
 * native module, loaded only when a PNG is asked for.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { QuiverError } from "@quiver/core";
import { axisTicks, bounds, type ChartOptions, cleanSeries, formatTick, groupBands, groupsOf, legendName, niceTicks, PALETTE, type Series, withBands } from "./chart.js";
import { decimate } from "./decimate.js";
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

export const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const hex = (rgb: readonly [number, number, number]) => "#" + rgb.map((c) => c.toString(16).padStart(2, "0")).join("");

/** Fonts looked for, in order; the first one installed is the chart's family (see fontFamily). */
const FONTS: [family: string, files: string[]][] = [
  ["DejaVu Sans", ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/TTF/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf"]],
  ["Liberation Sans", ["/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf", "/usr/share/fonts/liberation/LiberationSans-Regular.ttf"]],
  ["Helvetica", ["/System/Library/Fonts/Helvetica.ttc"]],
  ["Arial", ["C:\\Windows\\Fonts\\arial.ttf", "/Library/Fonts/Arial.ttf"]],
];
let family: string | undefined | null = null;

/** The sans-serif family this machine has (undefined: let resvg pick among the system's fonts). */
function fontFamily(): string | undefined {
  if (family === null) family = FONTS.find(([, files]) => files.some((f) => existsSync(f)))?.[0];
  return family;
}

/** The chart as an SVG document. */
export function chartToSvg(input: Series[], opts: ChartOptions = {}): string {
  const series = input.map(cleanSeries).filter((s) => s.xs.length > 0);
  const groups = groupsOf(series);
  const L = layout(opts, Math.ceil(groups.names.length / 4));
  const pw = L.W - L.left - L.right;
  const ph = L.H - L.top - L.bottom;
  let b = bounds(series);
  const bands = opts.band ? groupBands(series, groups, b, pw) : [];
  b = withBands(b, bands);
  const sx = (x: number) => L.left + ((x - b.xmin) / (b.xmax - b.xmin)) * pw;
  const sy = (y: number) => L.top + (1 - (y - b.ymin) / (b.ymax - b.ymin)) * ph;
  const xticks = axisTicks(b.xmin, b.xmax, Math.max(2, Math.floor(pw / 110)), opts.xIsTime === true);
  const yticks = niceTicks(b.ymin, b.ymax, Math.max(2, Math.floor(ph / 60)));
  const xspan = b.xmax - b.xmin;
  const f = (n: number) => Number(n.toFixed(2));
  const fonts = [fontFamily(), "DejaVu Sans", "Liberation Sans", "Helvetica", "Arial", "sans-serif"].filter((x, i, a) => x && a.indexOf(x) === i);
  const parts: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${L.W}" height="${L.H}" viewBox="0 0 ${L.W} ${L.H}" font-family="${esc(fonts.map((x) => (x!.includes(" ") ? `'${x}'` : x)).join(", "))}" font-size="12">`,
    `<rect width="${L.W}" height="${L.H}" fill="#ffffff"/>`,
  ];
  if (opts.title) parts.push(`<text x="${L.W / 2}" y="22" text-anchor="middle" font-size="15">${esc(opts.title)}</text>`);
  parts.push(`<g stroke="#e5e5e5" stroke-width="1">`);
  for (const t of yticks) parts.push(`<line x1="${L.left}" x2="${L.left + pw}" y1="${f(sy(t))}" y2="${f(sy(t))}"/>`);
  for (const t of xticks) parts.push(`<line x1="${f(sx(t))}" x2="${f(sx(t))}" y1="${L.top}" y2="${L.top + ph}"/>`);
  parts.push(`</g>`);
  parts.push(
    `<g stroke="#333333" stroke-width="1"><line x1="${L.left}" y1="${L.top + ph}" x2="${L.left + pw}" y2="${L.top + ph}"/><line x1="${L.left}" y1="${L.top}" x2="${L.left}" y2="${L.top + ph}"/></g>`,
  );
  parts.push(`<g fill="#333333">`);
  for (const t of yticks) parts.push(`<text x="${L.left - 6}" y="${f(sy(t) + 4)}" text-anchor="end">${esc(formatNumber(t))}</text>`);
  for (const t of xticks) parts.push(`<text x="${f(sx(t))}" y="${L.top + ph + 16}" text-anchor="middle">${esc(formatTick(t, opts.xIsTime === true, xspan))}</text>`);
  if (opts.xLabel) parts.push(`<text x="${L.left + pw / 2}" y="${L.top + ph + 32}" text-anchor="middle">${esc(opts.xLabel)}</text>`);
  if (opts.yLabel) parts.push(`<text transform="translate(14 ${L.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  parts.push(`</g>`);
  const colour = (gi: number) => hex(PALETTE[gi % PALETTE.length]!.rgb);
  // Bands under the lines; with a band, the runs are drawn thin and faint behind their mean.
  bands.forEach((band, gi) => {
    if (!band.xs.length) return;
    const upper = band.xs.map((x, i) => `${f(sx(x))},${f(sy(band.hi[i]!))}`);
    const lower = band.xs.map((x, i) => `${f(sx(x))},${f(sy(band.lo[i]!))}`).reverse();
    parts.push(`<polygon class="band" fill="${colour(gi)}" fill-opacity="0.18" stroke="none" points="${[...upper, ...lower].join(" ")}"/>`);
  });
  series.forEach((s, si) => {
    const d = decimate(s, b.xmin, b.xmax, pw);
    const pts = d.xs.map((x, i) => `${f(sx(x))},${f(sy(d.ys[i]!))}`).join(" ");
    const style = opts.band ? `stroke-width="1" stroke-opacity="0.35"` : `stroke-width="2"`;
    parts.push(`<polyline fill="none" stroke="${colour(groups.of[si]!)}" ${style} stroke-linejoin="round" points="${pts}"><title>${esc(s.name)}</title></polyline>`);
  });
  bands.forEach((band, gi) => {
    const pts = band.xs.map((x, i) => `${f(sx(x))},${f(sy(band.mean[i]!))}`).join(" ");
    parts.push(
      `<polyline class="mean" fill="none" stroke="${colour(gi)}" stroke-width="2.5" stroke-linejoin="round" points="${pts}"><title>${esc(`${groups.names[gi]} mean`)}</title></polyline>`,
    );
  });
  groups.names.forEach((g, gi) => {
    const lx = L.left + (gi % 4) * Math.floor(pw / 4);
    const ly = L.top + ph + 44 + Math.floor(gi / 4) * 18;
    parts.push(
      `<line x1="${lx}" x2="${lx + 20}" y1="${ly - 4}" y2="${ly - 4}" stroke="${colour(gi)}" stroke-width="3"/><text x="${lx + 26}" y="${ly}">${esc(legendName(g, groups.sizes[gi]!, opts.band === true))}</text>`,
    );
  });
  parts.push(`</svg>`);
  return parts.join("\n") + "\n";
}

interface ResvgModule {
  Resvg: new (
    svg: string,
    opts: { font?: { loadSystemFonts?: boolean; defaultFontFamily?: string; sansSerifFamily?: string }; background?: string },
  ) => { render(): { asPng(): Uint8Array } };
}

/** The chart as PNG bytes: the SVG of chartToSvg, rasterised by resvg with the system's fonts. */
export function chartToPng(input: Series[], opts: ChartOptions = {}): Buffer {
  return svgToPng(chartToSvg(input, opts));
}

/** The font-family list charts' SVG root uses (the machine's sans-serif first). */
export function fontStack(): string {
  const fonts = [fontFamily(), "DejaVu Sans", "Liberation Sans", "Helvetica", "Arial", "sans-serif"].filter((x, i, a) => x && a.indexOf(x) === i);
  return esc(fonts.map((x) => (x!.includes(" ") ? `'${x}'` : x)).join(", "));
}

/** Any chart SVG of this package as PNG bytes, rasterised by resvg with the system's fonts. */
export function svgToPng(svg: string): Buffer {
  let mod: ResvgModule;
  try {
    mod = createRequire(import.meta.url)("@resvg/resvg-js") as ResvgModule;
  } catch (err) {
    throw new QuiverError(
      "PACKAGE_NOT_INSTALLED",
      `PNG charts need @resvg/resvg-js (${(err as Error).message.split("\n")[0]}); install it with \`pnpm add @resvg/resvg-js\`, or write .svg`,
      { cause: err },
    );
  }
  const fam = fontFamily();
  const font = { loadSystemFonts: true, ...(fam ? { defaultFontFamily: fam, sansSerifFamily: fam } : {}) };
  return Buffer.from(new mod.Resvg(svg, { font }).render().asPng());
}
