/** `quiver plot`: line charts of run columns, one line per run; `plot hist COLUMN` and `plot scatter X Y`. */
import { writeFileSync } from "node:fs";
import { extname } from "node:path";
import { QuiverError } from "@quiver/core";
import { bool, type CommandSpec, int, type OptionSpec, type Parsed, parseCommand, str, takeUri } from "../args.js";
import type { Command, Context } from "../context.js";
import { histogram, histogramSummary, histogramSvg, histogramText } from "../histogram.js";
import { svgToPng } from "../image.js";
import { NO_ROWS, printRows, printSummary } from "../output.js";
import { emitChart, SeriesBuilder, scanColumns, toNumber } from "../plot.js";
import { scatterSvg, scatterText } from "../scatter.js";
import { runFilter, STORE_HELP, STORE_OPT, withRuns } from "./common.js";

export const PLOT_OPTIONS: OptionSpec = {
  x: { type: "string", short: "x" },
  out: { type: "string", short: "o" },
  width: { type: "string" },
  height: { type: "string" },
  title: { type: "string" },
};
export const PLOT_HELP = {
  x: "x-axis column (default: the row's position in its line)",
  out: "write the chart to a .svg or .png file instead of the terminal",
  width: "chart width (characters in the terminal, pixels for --out; default 60 / 800)",
  height: "chart height (default 15 lines / 450 pixels)",
  title: "chart title",
};

export function chartSize(p: Parsed): { width?: number; height?: number } {
  const w = str(p, "width") !== undefined ? int(p, "width", 0) : undefined;
  const h = str(p, "height") !== undefined ? int(p, "height", 0) : undefined;
  return { width: w, height: h };
}

const spec: CommandSpec = {
  usage: "plot [URI] Y[,Y2...] [--x COL] [--by COL] [--band] [--track-id ID] [--out FILE.svg|FILE.png]",
  summary:
    "Draws a line chart of column Y (against --x or the row position) in the terminal, one line per run, one colour per --by value; --band adds each colour's mean with a ±1 sd band; --out writes SVG or PNG. Every point counts: long series are decimated per pixel column (first, min, max, last), never cut.",
  options: { ...STORE_OPT, ...PLOT_OPTIONS, by: { type: "string", short: "b" }, band: { type: "boolean" }, "track-id": { type: "string" }, where: { type: "string", short: "w" } },
  optionHelp: {
    ...STORE_HELP,
    ...PLOT_HELP,
    by: "one colour per value of this column, e.g. model or lr (each run still its own line)",
    band: "per --by value, the mean over its runs with a ±1 standard deviation band",
  },
  details:
    "Examples:\n  quiver plot loss --x epoch --by track_id\n  quiver plot loss --x epoch --by lr --band\n  quiver plot accuracy --x epoch --out accuracy.png\n\nAlso: `quiver plot hist COLUMN` (a histogram) and `quiver plot scatter X Y` (a scatter plot); see their --help. (A column named hist or scatter: give the store first, `quiver plot runs.db hist`.)",
};

export const plotCmd: Command = {
  spec,
  async run(argv, ctx) {
    if (argv[0] === "hist") return histCmd.run(argv.slice(1), ctx);
    if (argv[0] === "scatter") return scatterCmd.run(argv.slice(1), ctx);
    const p = parseCommand(argv, spec);
    const { uri, args } = takeUri(p, 1, spec, 1, ["Y (the column to plot)"]);
    const table = str(p, "table") ?? "events";
    const ys = args[0]!
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    const x = str(p, "x");
    const by = str(p, "by");
    const filter = runFilter(str(p, "track-id"), str(p, "where"));
    await withRuns(uri, table, async (store, reader) => {
      const schema = (await store.schema(table))!;
      const run = schema.fields.some((f) => f.name === "track_id") ? "track_id" : undefined;
      // Column batches straight into the series: no row object per row (a 1M-row plot stays small).
      const builder = new SeriesBuilder({ ys, x, by, run });
      const rows = await scanColumns(store.scan(table, { where: await filter(reader), columns: builder.columns }), (cols, n) => builder.add(cols, n));
      const { series, xIsTime } = builder.finish();
      const xLabel = x === undefined ? "row" : xIsTime ? `${x} (UTC)` : x;
      const title = str(p, "title") ?? `${ys.join(", ")}${by ? ` by ${by}` : ""}`;
      emitChart(ctx, series, { out: str(p, "out"), rows, band: bool(p, "band"), xIsTime, xLabel, title, ...chartSize(p) });
    });
  },
};

/** Writes an SVG document as .svg, or rasterised as .png; anything else is INVALID_VALUE before any read. */
function outKind(out: string | undefined): "svg" | "png" | undefined {
  if (out === undefined) return undefined;
  const ext = extname(out).toLowerCase();
  if (ext === ".svg" || ext === ".png") return ext.slice(1) as "svg" | "png";
  throw new QuiverError("INVALID_VALUE", `--out must end in .svg or .png, got ${JSON.stringify(out)}`);
}

function writeSvg(out: string, kind: "svg" | "png", svg: string): void {
  writeFileSync(out, kind === "svg" ? svg : svgToPng(svg));
}

const FILTER_OPTS: OptionSpec = { "track-id": { type: "string" }, where: { type: "string", short: "w" } };
const FILTER_HELP = { "track-id": "only this run (full id or unique prefix)", where: 'only rows matching this filter, e.g. "epoch > 5"' };

const histSpec: CommandSpec = {
  usage: "plot hist [URI] COLUMN [--bins N] [--where Q] [--track-id ID] [--out FILE.svg|FILE.png] [--json]",
  summary:
    "Draws a histogram of COLUMN: equal-width bins over its values (every value counted), as bars in the terminal, bins and counts as JSON lines, or an SVG/PNG chart with --out.",
  options: {
    ...STORE_OPT,
    ...FILTER_OPTS,
    bins: { type: "string" },
    out: { type: "string", short: "o" },
    json: { type: "boolean" },
    width: { type: "string" },
    height: { type: "string" },
    title: { type: "string" },
  },
  optionHelp: {
    ...STORE_HELP,
    ...FILTER_HELP,
    bins: "number of bins (default: one per integer for integers spanning ≤ 50, else ⌈log2 n⌉ + 1, at most 50)",
    out: PLOT_HELP.out,
    json: "one JSON object per bin ({bin, from, to, count}), then {summary: {values, skipped, min, mean, max, bins}}",
    width: "image width in pixels (default 800)",
    height: "image height in pixels (default 450)",
    title: "chart title",
  },
  details: 'Examples:\n  quiver plot hist accuracy\n  quiver plot hist runs.db loss --bins 20 --where "epoch > 5"\n  quiver plot hist loss --out loss-hist.png',
};

export const histCmd: Command = {
  spec: histSpec,
  async run(argv, ctx) {
    const p = parseCommand(argv, histSpec);
    const { uri, args } = takeUri(p, 1, histSpec, 1, ["COLUMN (the column to count)"]);
    const column = args[0]!;
    const table = str(p, "table") ?? "events";
    const bins = str(p, "bins") !== undefined ? int(p, "bins", 1) : undefined;
    const out = str(p, "out");
    const kind = outKind(out);
    const filter = runFilter(str(p, "track-id"), str(p, "where"));
    await withRuns(uri, table, async (store, reader) => {
      const schema = (await store.schema(table))!;
      if (!schema.fields.some((f) => f.name === column)) {
        throw new QuiverError("UNKNOWN_FIELD", `${table} has no column ${JSON.stringify(column)}; columns: ${schema.fields.map((f) => f.name).join(", ")}`);
      }
      const values: number[] = [];
      const rows = await scanColumns(store.scan(table, { where: await filter(reader), columns: [column] }), (cols, n) => {
        const c = cols[column];
        for (let i = 0; i < n; i++) values.push(toNumber(c?.[i]));
      });
      if (rows === 0) return void ctx.out.write(out ? `${NO_ROWS.trimEnd()}: ${out} not written\n` : NO_ROWS);
      const h = histogram(values, bins);
      if (h.values === 0) throw new QuiverError("NOT_FOUND", `nothing to count: ${column} holds no numeric values in ${rows} row${rows === 1 ? "" : "s"}`);
      const title = str(p, "title") ?? `${column} histogram`;
      if (out && kind) {
        writeSvg(out, kind, histogramSvg(h, { title, xLabel: column, ...chartSize(p) }));
        return void ctx.out.write(`wrote ${out} (${h.counts.length} bins, ${h.values} values)\n`);
      }
      if (bool(p, "json")) {
        printRows(
          ctx.out,
          h.counts.map((count, bin) => ({ bin, from: h.edges[bin]!, to: h.edges[bin + 1]!, count })),
          { json: true },
        );
        return printSummary(ctx.out, true, histogramSummary(h), { values: h.values, skipped: h.skipped, min: h.min, mean: h.mean, max: h.max, bins: h.counts.length });
      }
      ctx.out.write(histogramText(h, { title, columns: ctx.columns, color: ctx.color }));
    });
  },
};

const scatterSpec: CommandSpec = {
  usage: "plot scatter [URI] X Y [--by COL] [--where Q] [--track-id ID] [--out FILE.svg|FILE.png]",
  summary:
    "Draws Y against X as points, one colour per --by value, in the terminal or as SVG/PNG with --out. Every point counts: many points are drawn as the set of occupied cells (a braille dot, 3×3 pixels), darker the more points a cell holds, so an outlier stays visible and the file stays small.",
  options: {
    ...STORE_OPT,
    ...FILTER_OPTS,
    by: { type: "string", short: "b" },
    out: { type: "string", short: "o" },
    width: { type: "string" },
    height: { type: "string" },
    title: { type: "string" },
  },
  optionHelp: {
    ...STORE_HELP,
    ...FILTER_HELP,
    by: "one colour per value of this column, e.g. model",
    out: PLOT_HELP.out,
    width: PLOT_HELP.width,
    height: PLOT_HELP.height,
    title: "chart title",
  },
  details: "Examples:\n  quiver plot scatter epoch loss\n  quiver plot scatter lr accuracy --by model --out sweep.svg",
};

export const scatterCmd: Command = {
  spec: scatterSpec,
  async run(argv, ctx: Context) {
    const p = parseCommand(argv, scatterSpec);
    const { uri, args } = takeUri(p, 2, scatterSpec, 2, ["X", "Y"]);
    const [x, y] = args as [string, string];
    const table = str(p, "table") ?? "events";
    const by = str(p, "by");
    const out = str(p, "out");
    const kind = outKind(out);
    const filter = runFilter(str(p, "track-id"), str(p, "where"));
    await withRuns(uri, table, async (store, reader) => {
      const builder = new SeriesBuilder({ ys: [y], x, by });
      const rows = await scanColumns(store.scan(table, { where: await filter(reader), columns: builder.columns }), (cols, n) => builder.add(cols, n));
      if (rows === 0) return void ctx.out.write(out ? `${NO_ROWS.trimEnd()}: ${out} not written\n` : NO_ROWS);
      const { series, xIsTime } = builder.finish();
      let points = 0;
      for (const s of series) for (let i = 0; i < s.xs.length; i++) if (Number.isFinite(s.xs[i]) && Number.isFinite(s.ys[i])) points++;
      if (points === 0) throw new QuiverError("NOT_FOUND", `nothing to plot: no row of ${rows} has numeric ${x} and ${y}`);
      const opts = { title: str(p, "title") ?? `${y} against ${x}${by ? ` by ${by}` : ""}`, xLabel: xIsTime ? `${x} (UTC)` : x, yLabel: y, xIsTime };
      if (out && kind) {
        writeSvg(out, kind, scatterSvg(series, { ...opts, ...chartSize(p) }));
        return void ctx.out.write(`wrote ${out} (${points} points${series.length > 1 ? ` in ${series.length} groups` : ""})\n`);
      }
      const size = chartSize(p);
      ctx.out.write(
        scatterText(series, { ...opts, yLabel: undefined, width: size.width ?? Math.max(20, Math.min(100, ctx.columns - 14)), height: size.height ?? 15, color: ctx.color }),
      );
    });
  },
};
