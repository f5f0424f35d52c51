/** Shared by the tests and the bench: stores with known runs, and Debian's Chromium through playwright-core. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Tracker } from "@quiver/core";
import "@quiver/store-duckdb";
import { type BrowserContext, chromium, type Page } from "playwright-core";

declare global {
  /** What the page exposes for tests and automation (src/page/main.ts). */
  interface Window {
    quiver?: { state: () => Record<string, unknown>; inspect: () => unknown; view: () => unknown; zoom: (range?: [number, number]) => void };
  }
}

export const CHROMIUM = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function tempDir(prefix = "quiver-ui-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh profile per launch (never the user's), no download: Debian's Chromium. */
export async function launch(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = tempDir("quiver-ui-profile-");
  const context = await chromium.launchPersistentContext(profile.dir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 900 } });
  return {
    context,
    close: async () => {
      await context.close();
      profile.cleanup();
    },
  };
}

/** Opens a page and collects console errors and page errors. */
export async function open(context: BrowserContext, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  return { page, errors };
}

/** Waits for the readiness hook (body[data-ready=1]). */
export async function ready(page: Page, timeout = 15_000): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.ready === "1", undefined, { timeout, polling: 20 });
}

export interface RunSpec {
  lr: number;
  points: number;
  /** Steps at which loss jumps to 50 (one point). */
  spikes?: number[];
  model?: string;
}

/** Logs runs of `loss`/`acc` per step into a DuckDB file; returns the run ids in order. */
export async function makeRuns(file: string, runs: RunSpec[], batch = 50_000): Promise<string[]> {
  const ids: string[] = [];
  for (const r of runs) {
    const t = await Tracker.open(`duckdb:${file}`, { params: { lr: r.lr, model: r.model ?? "mlp" }, flushInterval: 0 });
    const spikes = new Set(r.spikes ?? []);
    for (let s = 0; s < r.points; s += batch) {
      const rows = [];
      for (let i = s; i < Math.min(r.points, s + batch); i++) {
        const base = Math.exp(-i / (r.points / 4)) * (1 + r.lr) + 0.02 * Math.sin(i / 7);
        rows.push({ step: i, loss: spikes.has(i) ? 50 : base, acc: 1 - base / 2 });
      }
      await t.logBatch(rows);
    }
    await t.close();
    ids.push(t.trackId);
  }
  return ids;
}
