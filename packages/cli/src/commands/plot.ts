/** `quiver plot`: line charts of run columns, one line per run. */
import { readRows } from "@quiver/core";
import { bool, type CommandSpec, int, type OptionSpec, type Parsed, parseCommand, str, takeUri } from "../args.js";
import type { Command } from "../context.js";
import { emitChart, rowsToSeries } from "../plot.js";
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
  details: "Examples:\n  quiver plot loss --x epoch --by track_id\n  quiver plot loss --x epoch --by lr --band\n  quiver plot accuracy --x epoch --out accuracy.png",
};

export const plotCmd: Command = {
  spec,
  async run(argv, ctx) {
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
      const cols = [...new Set([...(x ? [x] : []), ...ys, ...(by ? [by] : []), ...(run ? [run] : [])])];
      const rows = await readRows(store, table, { where: await filter(reader), columns: cols });
      const { series, xIsTime } = rowsToSeries(rows, { ys, x, by, run });
      const xLabel = x === undefined ? "row" : xIsTime ? `${x} (UTC)` : x;
      const title = str(p, "title") ?? `${ys.join(", ")}${by ? ` by ${by}` : ""}`;
      emitChart(ctx, series, { out: str(p, "out"), rows: rows.length, band: bool(p, "band"), xIsTime, xLabel, title, ...chartSize(p) });
    });
  },
};
