/**
 * The tracks timeline, array viewer and gallery in Debian's Chromium (playwright-core, no
 * browser download), on real files: a msgpack session, an H5Logger file (and a SWMR writer in
 * another process), a datasource of PNG files. No console errors on any page.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type UiServer } from "../dist/index.js";
import { CHROMIUM, launch, open, ready, tempDir } from "./helpers.js";
import { makeDatasource, makeH5, makeSession, T0 } from "./view-fixtures.js";

const haveChromium = existsSync(CHROMIUM);
// CI installs Chromium and sets this: there, a missing browser fails instead of skipping.
if (!haveChromium && process.env.QUIVER_REQUIRE_BROWSER) throw new Error(`${CHROMIUM} is missing but QUIVER_REQUIRE_BROWSER is set`);
if (!haveChromium) console.warn(`browser tests skipped: ${CHROMIUM} is missing (apt-get install -y --no-install-recommends chromium)`);
const tmp = tempDir();
const POINTS = 100_000;
let srv: UiServer;
let browser: { context: BrowserContext; close: () => Promise<void> };
let spike: number;
const opened: { page: Page; errors: string[] }[] = [];
const live = join(tmp.dir, "live.h5");
let writer: ChildProcess | undefined;

interface Timeline {
  cursor: number;
  window: [number, number];
  playing: boolean;
  panels: Record<string, { n: number; series: { key: string; n: number; points: number }[]; plotted: (number | null)[][] }>;
  points: { before: number; points: Record<string, unknown>[] };
  logs: string[];
}

const inspect = <T>(page: Page) => page.evaluate(() => window.quiver!.inspect()) as Promise<T>;

async function openPage(url: string): Promise<Page> {
  const p = await open(browser.context, url);
  opened.push(p);
  await ready(p.page, 30_000);
  return p.page;
}

beforeAll(async () => {
  if (!haveChromium) return;
  const session = await makeSession(join(tmp.dir, "tracks"), POINTS);
  ({ spike } = await makeH5(join(tmp.dir, "arrays.h5"), 12, 50_000));
  await makeDatasource(join(tmp.dir, ".quiver"), join(tmp.dir, "pets"), 3000, join(tmp.dir, "secret.txt"));
  srv = await startServer({ store: session.uri, port: 0, h5: [join(tmp.dir, "arrays.h5"), live], datasources: join(tmp.dir, ".quiver") });
  browser = await launch();
}, 120_000);

afterAll(async () => {
  if (writer && writer.exitCode === null) {
    writer.stdin!.end("quit\n");
    await new Promise((r) => writer!.once("exit", r));
  }
  await browser?.close();
  await srv?.close();
  tmp.cleanup();
});

describe.skipIf(!haveChromium)("timeline, arrays and gallery in Chromium", () => {
  it("tracks: a session's tree, lines of every field with the spike kept, points around the cursor, logs", async () => {
    const page = await openPage(srv.url); // no runs table: a bare URL opens the timeline
    expect(await page.locator(".q-header a.q-active").textContent()).toBe("Tracks");
    expect(await page.locator(".q-tree-track").allTextContents()).toEqual([expect.stringContaining("left"), expect.stringContaining("pose")]);
    const info = await inspect<Timeline>(page);
    expect(Object.keys(info.panels)).toEqual(["camera/left", "robot/pose"]);
    const pose = info.panels["robot/pose"]!;
    expect(pose.n).toBe(POINTS);
    expect(pose.series.map((s) => s.key)).toEqual(["position[0]", "position[1]", "position[2]", "speed"]);
    expect(pose.series[3]!.points).toBeLessThan(6000);
    const speed = pose.plotted[4]!;
    expect(speed.filter((v) => v === 99)).toHaveLength(1);
    expect(pose.plotted[0]![speed.indexOf(99)]).toBeCloseTo(T0 + Math.floor(POINTS / 3) / 100, 6);
    // The cursor starts at the window's start; the focused track (the first) is camera/left.
    expect(info.points.before).toBe(0);
    expect(info.points.points[0]!._ts).toBeCloseTo(T0 + 0.001, 6);
    expect(info.logs).toHaveLength(50);
    // The points table follows the track chosen in "points of".
    await page.selectOption("select[name=focus]", "robot/pose");
    await page.waitForFunction(() => Object.keys((window.quiver!.inspect() as Timeline).points.points[0] ?? {}).includes("speed"));
    expect(new URL(page.url()).searchParams.get("focus")).toBe("robot/pose");
  });

  it("tracks: scrub, step point by point, play at 10×, filter logs and jump to one", async () => {
    const page = await openPage(`${srv.url}?view=tracks&focus=${encodeURIComponent("robot/pose")}`);
    // Click the middle of the pose chart: the cursor moves there and the table follows.
    const over = page.locator('.q-track-panel[data-track="robot/demo/tracks/robot/pose"] .u-over');
    const box = (await over.boundingBox())!;
    await over.click({ position: { x: box.width / 2, y: box.height / 2 } });
    await ready(page);
    let info = await inspect<Timeline>(page);
    const mid = (info.window[0] + info.window[1]) / 2;
    expect(Math.abs(info.cursor - mid)).toBeLessThan((info.window[1] - info.window[0]) / 50);
    const at = info.points.points[info.points.before - 1]!._ts as number;
    expect(at).toBeLessThanOrEqual(info.cursor);
    expect(new URL(page.url()).searchParams.get("t")).toBe(String(info.cursor));
    await page.click("button[name=next]");
    await page.waitForFunction((a) => (window.quiver!.inspect() as { cursor: number }).cursor > a, at);
    await ready(page);
    info = await inspect<Timeline>(page);
    expect(info.cursor).toBeCloseTo(at + 0.01, 6);
    await page.click("button[name=prev]");
    await page.waitForFunction((a) => Math.abs((window.quiver!.inspect() as { cursor: number }).cursor - a) < 1e-6, at);
    // Play at 10×: about 10 s of track time per second.
    await page.selectOption("select[name=speed]", "10");
    const c0 = (await inspect<Timeline>(page)).cursor;
    await page.click("button[name=play]");
    await page.waitForTimeout(600);
    await page.click("button[name=play]");
    const c1 = (await inspect<Timeline>(page)).cursor;
    expect(c1 - c0).toBeGreaterThan(2);
    expect(c1 - c0).toBeLessThan(12);
    // Logs: filter, then click an entry to move the cursor to it.
    await page.fill("input[name=log-filter]", "stall");
    await page.waitForFunction(() => (window.quiver!.inspect() as { logs: string[] }).logs.length === 5);
    await page.locator(".q-log").nth(1).click();
    await ready(page);
    info = await inspect<Timeline>(page);
    expect(info.cursor).toBeCloseTo(T0 + (17 * POINTS) / 100 / 50 + 0.002, 6);
    expect(await page.locator(".q-log.q-at").textContent()).toContain("motor stall 17");
  });

  it("tracks: a zoomed window re-reads only that window (in the URL)", async () => {
    const page = await openPage(`${srv.url}?view=tracks`);
    await page.evaluate((w) => window.quiver!.zoom(w), [T0 + 100, T0 + 110] as [number, number]);
    await page.waitForFunction(() => (window.quiver!.inspect() as Timeline).panels["robot/pose"]?.n === 1001);
    expect(new URL(page.url()).searchParams.get("w")).toBe(`${T0 + 100},${T0 + 110}`);
  });

  it("arrays: the file as h5ls -r, a 1-D dataset decimated with its spike, zoom", async () => {
    const page = await openPage(`${srv.url}?view=arrays&ds=/loss`);
    // innerText, not textContent: the rows' cells are separated by layout, as a user reads them.
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what is checked
    const rows = await page.locator(".q-h5-row").evaluateAll((els) => els.map((e) => (e as HTMLElement).innerText.replace(/\s+/g, " ").trim()));
    expect(rows).toEqual([
      "image Dataset {12/Inf, 64, 64} float32",
      "loss Dataset {50000/Inf} float64",
      "rgb Dataset {12/Inf, 32, 32, 3} uint8",
      "train Group",
      "acc Dataset {12/Inf} float64",
    ]);
    const a = await inspect<{ line: { series: { n: number; x: number[]; y: number[] }[] } }>(page);
    expect(a.line.series[0]!.n).toBe(50_000);
    expect(a.line.series[0]!.x[a.line.series[0]!.y.indexOf(42)]).toBe(spike);
    await page.evaluate(() => history.replaceState(null, "", `${location.search}&range=${29000},${31000}`));
    await page.reload();
    await ready(page);
    const z = await inspect<{ line: { i0: number; i1: number; series: { n: number; y: number[] }[] } }>(page);
    expect(z.line).toMatchObject({ i0: 29000, i1: 31001 });
    expect(z.line.series[0]!.y).toContain(42);
  });

  it("arrays: N×H×W frames with a slider, grayscale and viridis with min/max; RGB frames", async () => {
    const page = await openPage(`${srv.url}?view=arrays&ds=/image`);
    type A = { frame: { index: number; min: number; max: number; pixel: number[]; cmap: string } };
    expect((await inspect<A>(page)).frame).toMatchObject({ index: 0, min: 0, pixel: [0, 0, 0, 255] });
    await page.locator("input[name=frame]").fill("5");
    await page.waitForFunction(() => (window.quiver!.inspect() as A).frame.index === 5);
    await ready(page);
    const f = (await inspect<A>(page)).frame;
    expect(f.min).toBe(50);
    expect(await page.locator(".q-min").textContent()).toBe("min 50");
    expect(await page.locator(".q-max").textContent()).toMatch(/^max 50\.98/);
    await page.selectOption("select[name=cmap]", "viridis");
    const v = (await inspect<A>(page)).frame;
    expect(v.cmap).toBe("viridis");
    expect(v.pixel.slice(0, 3)).toEqual([71, 1, 85]); // viridis(0) ≈ #440154
    await page.locator('.q-h5-row[data-path="/rgb"]').click();
    await page.waitForFunction(() => (window.quiver!.inspect() as { current: string }).current === "/rgb");
    await ready(page);
    await page.locator("input[name=frame]").fill("2");
    await page.waitForFunction(() => (window.quiver!.inspect() as A).frame?.index === 2);
    expect((await inspect<A>(page)).frame.pixel).toEqual([255, 24, 0, 255]);
  });

  it("arrays: frames a SWMR writer logs appear while the page is open", async () => {
    writer = spawn(process.execPath, [join(import.meta.dirname, "fixtures/h5-writer.mjs"), live], { stdio: ["pipe", "pipe", "inherit"] });
    const lines = createInterface({ input: writer.stdout! })[Symbol.asyncIterator]();
    expect(Number((await lines.next()).value)).toBe(5);
    const page = await openPage(`${srv.url}?view=arrays&file=1&ds=/frames`);
    expect(await page.locator("input[name=frame]").getAttribute("max")).toBe("4");
    writer.stdin!.write("more\n");
    expect(Number((await lines.next()).value)).toBe(10);
    await page.waitForFunction(() => document.querySelector("input[name=frame]")?.getAttribute("max") === "9", undefined, { timeout: 5000 });
    await page.locator("input[name=frame]").fill("9");
    await page.waitForFunction(() => (window.quiver!.inspect() as { frame: { index: number; min: number } }).frame.min === 9);
  });

  it("gallery: thumbnails, icons, infinite scroll, facets, query bar, asOf, saved views, datapoint panel", async () => {
    const page = await openPage(`${srv.url}?view=gallery`);
    type G = { total: number; cells: string[]; thumbs: number; filter?: string; selected?: string };
    let g = await inspect<G>(page);
    expect(g.total).toBe(3003);
    expect(g.cells.length).toBeGreaterThan(10);
    expect(g.thumbs).toBe(g.cells.filter((c) => c.endsWith(".png") && c.startsWith("images/")).length);
    // The symlink pointing outside the folder: its thumbnail is refused (403), an icon shows.
    expect(await page.locator('.q-cell[data-path="escape.png"] .q-icon').count()).toBe(1);
    // Icons for other files, with name and size.
    const doc = page.locator('.q-cell[data-path="docs/readme.txt"]');
    expect(await doc.locator(".q-icon").textContent()).toBe("TXT");
    expect(await doc.textContent()).toContain("5 B");
    // Scrolling to the end renders the last datapoints (their pages fetched on the way).
    await page.locator(".q-grid-scroll").evaluate((e) => (e.scrollTop = e.scrollHeight));
    await page.waitForFunction(() => (window.quiver!.inspect() as G).cells.includes("images/002999.png"));
    // A facet value adds a condition to the query.
    await page.locator(".q-facet[data-field=label] .q-facet-value[data-value=bird]").click();
    await page.waitForFunction(() => (window.quiver!.inspect() as G).total === 1000);
    expect(await page.locator("input[name=query]").inputValue()).toBe("label = 'bird'");
    await page.fill("input[name=query]", "label = 'bird' and split = 'test'");
    await page.press("input[name=query]", "Enter");
    await page.waitForFunction(() => (window.quiver!.inspect() as G).total === 100);
    await page.fill("input[name=query]", "label >");
    await page.press("input[name=query]", "Enter");
    await page.waitForSelector(".q-error-box:not([hidden])");
    expect(await page.locator(".q-error-box").textContent()).toContain("column");
    await page.fill("input[name=query]", "label = 'tiger'");
    await page.press("input[name=query]", "Enter");
    await page.waitForFunction(() => (window.quiver!.inspect() as G).total === 1);
    // asOf before the relabelling: no tiger yet.
    const versions = await page.locator("select[name=asOf] option").evaluateAll((o) => o.map((x) => (x as HTMLOptionElement).value));
    await page.selectOption("select[name=asOf]", versions[2]!);
    await page.waitForFunction(() => (window.quiver!.inspect() as G).total === 0);
    await page.selectOption("select[name=asOf]", "");
    await page.fill("input[name=query]", "");
    await page.press("input[name=query]", "Enter");
    await page.selectOption("select[name=dataset]", "cats");
    await page.waitForFunction(() => (window.quiver!.inspect() as G).total === 999);
    // The datapoint panel: every field, and a blob's preview.
    await page.selectOption("select[name=dataset]", "");
    await page.fill("input[name=query]", "path startswith 'docs/'");
    await page.press("input[name=query]", "Enter");
    await page.waitForFunction(() => (window.quiver!.inspect() as G).total === 2);
    await page.locator('.q-cell[data-path="docs/readme.txt"]').click();
    expect(await page.locator(".q-dp-meta").textContent()).toContain("note");
    await page.waitForFunction(() => /3 bytes: 01 02 03/.test(document.querySelector(".q-blob")?.textContent ?? ""));
    g = await inspect<G>(page);
    expect(g.selected).toBe("docs/readme.txt");
    expect(new URL(page.url()).searchParams.get("dp")).toBe("docs/readme.txt");
    await page.close();
  });

  it("logged no console errors", () => {
    // 400s are the query bar's refused filter (shown in the error box), 403s the refused symlink.
    expect(opened.flatMap((p) => p.errors).filter((e) => !/(400 \(Bad Request\)|403 \(Forbidden\))/.test(e))).toEqual([]);
  });
});
