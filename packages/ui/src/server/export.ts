/**
 * `quiver ui STORE --export report.html`: one HTML file with the page's script and the data
 * inline (the runs table and, per metric, first/min/max/last-decimated points of the chosen
 * runs), which opens from disk without a server. Reads the store only; the file is written
 * next to its final name and renamed into place.
 */
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { openStore, QuiverError, type Store } from "@quiver/core";
import { RunsData } from "./data.js";
import { rowAt } from "./summary.js";
import { reportHtml } from "./page.js";
import type { ReportData } from "../page/api.js";
import type { SummaryPage } from "../shared/protocol.js";

export interface ExportOptions {
  /** The runs table (default: events, else the first table with a track_id). */
  table?: string;
  /** Runs whose charts are embedded (default: the first `maxRuns` runs). */
  runs?: string[];
  /** Runs embedded by default (10). */
  maxRuns?: number;
  /** X axes embedded (default ["step"], plus "relative" when the table has timestamps). */
  axes?: string[];
  /** Pixel columns of the embedded decimation (default 2000: enough to zoom in a little and keep every spike). */
  width?: number;
  /** Query string the report opens with (default: the embedded runs, x = the first axis). */
  state?: string;
}

export interface ExportResult {
  file: string;
  bytes: number;
  runs: number;
  metrics: number;
}

export async function exportReport(source: string | Store, file: string, options: ExportOptions = {}): Promise<ExportResult> {
  const owned = typeof source === "string";
  const store = typeof source === "string" ? await openStore(source, { readOnly: true }) : source;
  try {
    const data = new RunsData(store);
    const meta = await data.meta(options.table);
    const table = meta.table;
    const full = await data.summary(table);
    const summary: SummaryPage = {
      columns: full.sumCols,
      total: full.ids.length,
      matched: full.ids.length,
      offset: 0,
      ids: full.ids,
      rows: full.ids.map((_, r) => rowAt(full, r)),
    };
    const runs = options.runs ?? full.ids.slice(0, options.maxRuns ?? 10);
    const unknown = runs.filter((r) => !full.ids.includes(r));
    if (unknown.length) throw new QuiverError("NOT_FOUND", `no run ${unknown.map((u) => JSON.stringify(u)).join(", ")} in ${store.uri} table ${JSON.stringify(table)}`);
    const schema = await data.schema(table);
    const axes = options.axes ?? ["step", ...(schema.fields.some((f) => f.name === "timestamp") ? ["relative"] : [])];
    const metrics = meta.columns.filter((c) => c.kind === "number" && (c.role === "metric" || c.role === "system")).map((c) => c.name);
    const series: ReportData["series"] = {};
    for (const m of metrics) {
      series[m] = {};
      for (const x of axes) {
        const res = await data.series({ table, runs, y: m, x, width: options.width ?? 2000 });
        series[m]![x] = Object.fromEntries(res.series.map((s) => [s.key, { x: s.x, y: s.y }]));
      }
    }
    const state =
      options.state ?? `?runs=${runs.map((r) => encodeURIComponent(encodeURIComponent(r))).join(",")}${axes[0] && axes[0] !== "step" ? `&x=${encodeURIComponent(axes[0])}` : ""}`;
    const report: ReportData = { meta: { ...meta, embedded: true }, summary, series, state, created: new Date().toISOString().slice(0, 16).replace("T", " ") };
    const html = reportHtml(report, `Quiver report — ${basename(store.uri)}`);
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, html);
      renameSync(tmp, file);
    } catch (err) {
      rmSync(tmp, { force: true });
      const e = err as NodeJS.ErrnoException;
      throw new QuiverError(e.code === "ENOENT" ? "NOT_FOUND" : "IO", `writing the report ${file} failed: ${e.message}; check that its folder exists and is writable`, {
        cause: err,
      });
    }
    return { file, bytes: Buffer.byteLength(html), runs: runs.length, metrics: metrics.length };
  } finally {
    if (owned) await store.close();
  }
}
