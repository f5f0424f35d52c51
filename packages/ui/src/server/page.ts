/** The page's HTML shell and its bundled script (dist/page.js, built by scripts/bundle.mjs). */
import { readFileSync } from "node:fs";
import { QuiverError } from "@quiver/core";

let cached: Buffer | undefined;

/** The page's one JS file (uPlot included), read once. */
export function pageScript(): Buffer {
  if (cached) return cached;
  try {
    cached = readFileSync(new URL("../page.js", import.meta.url));
  } catch (err) {
    throw new QuiverError("NOT_FOUND", "the dashboard's page script (dist/page.js) is missing; build @quiver/ui with `pnpm -F @quiver/ui build`", { cause: err });
  }
  return cached;
}

const HEAD = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Quiver</title><link rel="icon" href="data:,"></head>`;

/** The served page: the script comes from /app.js. */
export function pageHtml(): string {
  return `${HEAD}<body data-ready="0"><div id="app"></div><script src="app.js"></script></body></html>\n`;
}

/** JSON safe inside a <script> element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** A self-contained page: the data and the script inline, no server needed. */
export function reportHtml(data: unknown, title: string): string {
  const js = pageScript()
    .toString("utf8")
    .replace(/<\/script/gi, "<\\/script");
  const t = title.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
  return `${HEAD.replace("<title>Quiver</title>", `<title>${t}</title>`)}<body data-ready="0"><div id="app"></div><script>window.__QUIVER_REPORT__=${scriptJson(data)};</script><script>${js}</script></body></html>\n`;
}
