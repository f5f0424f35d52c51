/**
 * The page in Debian's Chromium (playwright-core, no browser download): a real DuckDB store,
 * the runs table, charts, a spike in a 1M-point series, zoom, live points from another
 * process, URL state, the exported report from file://, and no console errors anywhere.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportReport, startServer, type UiServer } from "../dist/index.js";
import { CHROMIUM, launch, makeRuns, open, ready, tempDir } from "./helpers.js";

const haveChromium = existsSync(CHROMIUM);
// CI installs Chromium and sets this: there, a missing browser fails instead of skipping.
if (!haveChromium && process.env.QUIVER_REQUIRE_BROWSER) throw new Error(`${CHROMIUM} is missing but QUIVER_REQUIRE_BROWSER is set`);
if (!haveChromium) console.warn(`browser tests skipped: ${CHROMIUM} is missing (apt-get install -y --no-install-recommends chromium)`);
const tmp = tempDir();
const file = join(tmp.dir, "runs.db");
const SPIKES = [123_457, 500_001, 876_543];
let ids: string[];
let srv: UiServer;
let browser: { context: BrowserContext; close: () => Promise<void> };
const pages: { page: Page; errors: string[] }[] = [];
const errors: string[] = [];

type Inspect = Record<string, { series: { key: string; n: number; x: number[]; y: number[] }[]; plotted: (number | null)[][] }>;
const inspect = (page: Page) => page.evaluate(() => window.quiver!.inspect()) as Promise<Inspect>;

/** Opens a page; the previous test's page is closed first (its errors are kept). */
async function openPage(url: string, keep = false): Promise<Page> {
  if (!keep)
    for (const old of pages.splice(0)) {
      errors.push(...old.errors);
      await old.page.close();
    }
  const p = await open(browser.context, url);
  pages.push(p);
  await ready(p.page, 30_000);
  return p.page;
}

/** x values at which the plotted series of a run (uPlot's own data) holds the spike value 50. */
function plottedSpikes(info: Inspect[string], run: number): number[] {
  const xs = info.plotted[0]!;
  const ys = info.plotted[1 + run]!;
  return xs.filter((_, i) => ys[i] === 50) as number[];
}

beforeAll(async () => {
  if (!haveChromium) return;
  ids = await makeRuns(file, [
    { lr: 0.1, points: 1_000_000, spikes: SPIKES, model: "big" },
    { lr: 0.01, points: 2_000, model: "small" },
    { lr: 0.03, points: 2_000, model: "small" },
  ]);
  srv = await startServer({ store: `duckdb:${file}`, port: 0 });
  browser = await launch();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await srv?.close();
  tmp.cleanup();
});

describe.skipIf(!haveChromium)("the dashboard in Chromium", () => {
  it("lists the runs, draws a panel per metric, and keeps every spike of a 1M-point series", async () => {
    const page = await openPage(srv.url);
    const rows = await page.locator(".q-tr").evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.run));
    expect(rows).toEqual(ids);
    expect(await page.locator(".q-table-status").textContent()).toContain("3 of 3 runs · 3 selected");
    const info = await inspect(page);
    expect(Object.keys(info).sort()).toEqual(["acc", "loss"]);
    const loss = info.loss!;
    expect(loss.series.map((s) => s.key)).toEqual(ids);
    expect(loss.series[0]!.n).toBe(1_000_000);
    expect(loss.series[0]!.x.length).toBeLessThan(6_000);
    expect(plottedSpikes(loss, 0)).toEqual(SPIKES);
    expect(await page.locator(".q-panel[data-metric=loss] canvas").count()).toBe(1);
  });

  it("zooms by dragging: re-fetched at the new resolution, the spike still there", async () => {
    const page = await openPage(srv.url);
    const over = page.locator(".q-panel[data-metric=loss] .u-over");
    const box = (await over.boundingBox())!;
    // Drag over roughly 40%..60% of the x range (which holds the spike at 500,001).
    await page.mouse.move(box.x + box.width * 0.4, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await page.waitForFunction(() => new URLSearchParams(location.search).has("zoom"));
    await ready(page);
    const [z0, z1] = new URL(page.url()).searchParams.get("zoom")!.split(",").map(Number);
    expect(z0).toBeGreaterThan(300_000);
    expect(z1).toBeLessThan(700_000);
    const loss = (await inspect(page)).loss!;
    expect(loss.series[0]!.n).toBeLessThan(400_000);
    expect(loss.series[0]!.x[0]).toBeGreaterThanOrEqual(z0!);
    expect(plottedSpikes(loss, 0)).toEqual([500_001]);
    // Double-click resets.
    await over.dblclick();
    await page.waitForFunction(() => !new URLSearchParams(location.search).has("zoom"));
    await ready(page);
    expect((await inspect(page)).loss!.series[0]!.n).toBe(1_000_000);
  });

  it("keeps the view in the URL: a copied link reopens the same runs, axis, smoothing and log scale", async () => {
    const page = await openPage(srv.url);
    await page.locator(".q-tr").nth(1).click(); // deselect the second run
    await page.selectOption("select[name=smooth]", "gaussian");
    await page.fill("input[name=smooth-value]", "7");
    await page.locator("input[name=smooth-value]").dispatchEvent("change");
    await page.check("input[name=logy]");
    await page.selectOption("select[name=x]", "relative");
    await ready(page);
    const url = page.url();
    const again = await openPage(url, true);
    const state = await again.evaluate(() => window.quiver!.state());
    expect(state).toMatchObject({ runs: [ids[0], ids[2]], smooth: "gaussian", sv: 7, logy: true, x: "relative" });
    expect(await again.locator("select[name=smooth]").inputValue()).toBe("gaussian");
    expect(await again.locator("input[name=logy]").isChecked()).toBe(true);
    const loss = (await inspect(again)).loss!;
    expect(loss.series.map((s) => s.key)).toEqual([ids[0], ids[2]]);
    // Raw and smoothed line per run.
    expect(loss.plotted.length).toBe(1 + 2 * 2);
  });

  it("filters the table with the CLI's language and shows errors from the parser", async () => {
    const page = await openPage(srv.url);
    await page.fill("input[name=filter]", "model = 'small' and lr > 0.02");
    await page.press("input[name=filter]", "Enter");
    await page.waitForFunction(() => document.querySelectorAll(".q-tr").length === 1);
    expect(await page.locator(".q-tr").getAttribute("data-run")).toBe(ids[2]);
    await page.fill("input[name=filter]", "lr >");
    await page.press("input[name=filter]", "Enter");
    await page.waitForSelector(".q-error-box:not([hidden])");
    expect(await page.locator(".q-error-box").first().textContent()).toContain("column");
    expect(new URL(page.url()).searchParams.get("filter")).toBe("lr >");
  });

  it("groups runs by a param: mean line and min–max band", async () => {
    const page = await openPage(`${srv.url}?group=model`);
    const loss = (await inspect(page)).loss!;
    expect(loss.series.map((s) => s.key)).toEqual(["big", "small"]);
    expect(loss.plotted.length).toBe(1 + 2 * 3);
  });

  it("shows live points within a second of their flush", async () => {
    const writer: ChildProcessWithoutNullStreams = spawn(process.execPath, [join(import.meta.dirname, "fixtures/live-writer.mjs"), file], { cwd: join(import.meta.dirname, "..") });
    const lines = createInterface({ input: writer.stdout })[Symbol.asyncIterator]();
    const next = async () => JSON.parse(String((await lines.next()).value)) as { id: string; step: number; at: number };
    try {
      const first = await next();
      const page = await openPage(`${srv.url}?runs=${first.id}`);
      expect((await inspect(page)).loss!.series[0]!.n).toBe(100);
      const delays: number[] = [];
      for (let k = 0; k < 5; k++) {
        writer.stdin.write("more\n");
        const flushed = await next();
        await page.waitForFunction((n) => window.quiver!.inspect() && (window.quiver!.inspect() as Inspect).loss?.series[0]?.n === n, flushed.step, { timeout: 5000, polling: 10 });
        delays.push(Date.now() - flushed.at);
      }
      console.log(`live: points on the page ${delays.map((d) => `${d} ms`).join(", ")} after their flush`);
      // The median, since the machine is shared: one slow round may wait for the writer's lock.
      expect([...delays].sort((a, b) => a - b)[2]).toBeLessThanOrEqual(1000);
    } finally {
      if (writer.exitCode === null) {
        writer.stdin.end("quit\n");
        await new Promise((r) => writer.once("exit", r));
      }
    }
  });

  it("exports one self-contained report that opens from file:// without a server", async () => {
    const out = join(tmp.dir, "report.html");
    const r = await exportReport(srv.data.store, out, { runs: ids.slice(0, 3), axes: ["step"] });
    expect(r).toMatchObject({ runs: 3, metrics: 2 });
    const page = await openPage(pathToFileURL(out).href);
    expect(await page.locator(".q-tr").count()).toBe(4); // three runs + the live one
    const loss = (await inspect(page)).loss!;
    expect(loss.series.map((s) => s.key)).toEqual(ids);
    expect(plottedSpikes(loss, 0)).toEqual(SPIKES);
    expect(await page.locator(".q-source").textContent()).toContain("report of duckdb:");
    // Sorting and filtering work offline too.
    await page.fill("input[name=filter]", "lr < 0.05");
    await page.press("input[name=filter]", "Enter");
    await page.waitForFunction(() => document.querySelectorAll(".q-tr").length === 2);
  });

  it("logged no console errors on any page", () => {
    const all = [...errors, ...pages.flatMap((p) => p.errors)].filter((e) => !e.includes("400 (Bad Request)"));
    expect(all).toEqual([]);
  });
});
