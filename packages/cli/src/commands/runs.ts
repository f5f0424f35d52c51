/** Commands over Tracker tables (runs): head, tail, columns, ls, sql, copy, delete, set, stats, plot. */
import { copy, field, QuiverError, Reader, readRows, type QueryNode, type Row, type Store, typeName } from "@quiver/core";
import { bool, type CommandSpec, int, type OptionSpec, parseCommand, storeUri, str, takeUri, usageError } from "../args.js";
import type { Command, Context } from "../context.js";
import { parseFilter } from "../filter.js";
import { formatCell, printRows, tableRows } from "../output.js";
import { emitChart, rowsToSeries, toNumber } from "../plot.js";
import { Progress } from "../progress.js";
import { openAny, openExisting, requireTable } from "../stores.js";

const STORE_OPT: OptionSpec = { store: { type: "string", short: "s" }, table: { type: "string", short: "t" } };
const STORE_HELP = {
  store: "store URI (default: $QUIVER_STORE, else duckdb:quiver.db); may also be the first argument",
  table: "table of runs (default events)",
  json: "one JSON object per line instead of a table",
  "track-id": "only this run",
  where: "only rows matching a filter, e.g. \"epoch > 5 and model = 'resnet'\"",
};
const URI_NOTE = "URI is a store such as duckdb:runs.db, msgpack:./.quiver or h5:log.h5 (a bare path is read by its extension).";

/**
 * Opens the store and table named by the command line (closing the store on error); read-only
 * unless the command writes (`delete`, `set`), so that reading never creates or changes a file.
 */
async function withRuns<T>(uri: string | undefined, table: string, fn: (store: Store, reader: Reader) => Promise<T>, mode: "read" | "write" = "read"): Promise<T> {
  const store = await openExisting(storeUri(uri), mode === "read");
  try {
    await requireTable(store, table);
    const reader = await Reader.open(store, { table });
    return await fn(store, reader);
  } finally {
    await store.close();
  }
}

function runFilter(trackId: string | undefined, where: string | undefined): QueryNode | undefined {
  const parts: QueryNode[] = [];
  if (trackId !== undefined) parts.push(field("track_id").eq(trackId).node);
  if (where !== undefined) parts.push(parseFilter(where).node);
  return parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : { op: "and", args: parts };
}

function headTail(which: "head" | "tail"): Command {
  const spec: CommandSpec = {
    usage: `${which} [URI] [--n N] [--track-id ID] [--where FILTER] [--columns A,B] [--json]`,
    summary: `Prints the ${which === "head" ? "first" : "last"} rows of the runs table (all runs unless --track-id).`,
    options: { ...STORE_OPT, n: { type: "string", short: "n" }, "track-id": { type: "string" }, where: { type: "string", short: "w" }, columns: { type: "string", short: "c" }, json: { type: "boolean" } },
    optionHelp: { ...STORE_HELP, n: "number of rows (default 5)", columns: "only these columns, comma-separated" },
    details: `${URI_NOTE}\n\nExamples:\n  quiver ${which} duckdb:runs.db --n 10\n  QUIVER_STORE=msgpack:.quiver quiver ${which} --json | jq .loss`,
  };
  return {
    spec,
    async run(argv, ctx) {
      const p = parseCommand(argv, spec);
      const { uri } = takeUri(p, 0, spec);
      const n = int(p, "n", 5);
      const table = str(p, "table") ?? "events";
      const cols = str(p, "columns")?.split(",").map((c) => c.trim()).filter(Boolean);
      await withRuns(uri, table, async (store) => {
        const where = runFilter(str(p, "track-id"), str(p, "where"));
        let offset = 0;
        if (which === "tail") offset = Math.max(0, (await store.count(table, where)) - n);
        const rows = await readRows(store, table, { where, offset, limit: n, columns: cols });
        printRows(ctx.out, rows, { json: bool(p, "json"), columns: cols });
      });
    },
  };
}

const columnsCmd: Command = {
  spec: {
    usage: "columns [URI] [--table T] [--json]",
    summary: "Lists the columns of the runs table with their types.",
    options: { ...STORE_OPT, json: { type: "boolean" } },
    optionHelp: STORE_HELP,
    details: URI_NOTE,
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    const { uri } = takeUri(p, 0, this.spec);
    const table = str(p, "table") ?? "events";
    await withRuns(uri, table, async (store) => {
      const schema = (await store.schema(table))!;
      printRows(ctx.out, schema.fields.map((f) => ({ column: f.name, type: typeName(f.type) })), { json: bool(p, "json") });
    });
  },
};

const lsCmd: Command = {
  spec: {
    usage: "ls [URI] [--unique COL] [--json]",
    short: "Lists the runs, or the distinct values of a column (--unique)",
    summary: "Lists the runs (track_id, rows, first and last timestamp), or with --unique the distinct values of a column.",
    options: { ...STORE_OPT, unique: { type: "string", short: "u" }, json: { type: "boolean" } },
    optionHelp: { ...STORE_HELP, unique: "list the distinct values of this column with their row and run counts" },
    details: `${URI_NOTE}\n\nExamples:\n  quiver ls duckdb:runs.db\n  quiver ls duckdb:runs.db --unique model`,
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    const { uri } = takeUri(p, 0, this.spec);
    const table = str(p, "table") ?? "events";
    const unique = str(p, "unique");
    await withRuns(uri, table, async (store, reader) => {
      if (!unique) {
        const runs = await reader.runs();
        printRows(ctx.out, runs as unknown as Row[], { json: bool(p, "json"), columns: ["track_id", "rows", "first", "last"] });
        return;
      }
      const schema = (await store.schema(table))!;
      const hasRun = schema.fields.some((f) => f.name === "track_id");
      const cols = hasRun && unique !== "track_id" ? [unique, "track_id"] : [unique];
      const counts = new Map<string, { value: unknown; rows: number; runs: Set<unknown> }>();
      for await (const b of store.scan(table, { columns: cols })) {
        for (const r of tableRows(b)) {
          const v = r[unique];
          const key = typeof v === "string" ? `s${v}` : `j${formatCell(v)}`;
          let c = counts.get(key);
          if (!c) counts.set(key, (c = { value: v, rows: 0, runs: new Set() }));
          c.rows++;
          if (hasRun) c.runs.add(r.track_id ?? (unique === "track_id" ? v : null));
        }
      }
      const rows = [...counts.values()].map((c) => ({ [unique]: c.value, rows: c.rows, ...(hasRun ? { runs: c.runs.size } : {}) }));
      printRows(ctx.out, rows, { json: bool(p, "json") });
    });
  },
};

const sqlCmd: Command = {
  spec: {
    usage: 'sql [URI] "SELECT ..." [--json]',
    summary: "Runs SQL on stores that have it (duckdb:); the runs table is `events`. Other stores answer UNSUPPORTED.",
    options: { store: STORE_OPT.store!, json: { type: "boolean" } },
    optionHelp: STORE_HELP,
    details: `Example:\n  quiver sql duckdb:runs.db "SELECT track_id, max(accuracy) FROM events GROUP BY 1"`,
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    const { uri, args } = takeUri(p, 1, this.spec);
    const store = await openExisting(storeUri(uri));
    try {
      if (!store.sql) throw new QuiverError("UNSUPPORTED", `${store.scheme}: stores have no SQL; use a duckdb: store, or \`quiver head --where FILTER\``);
      const t = await store.sql(args[0]!);
      printRows(ctx.out, tableRows(t), { json: bool(p, "json"), columns: t.schema.fields.map((f) => f.name) });
    } finally {
      await store.close();
    }
  },
};

const copyCmd: Command = {
  spec: {
    usage: "copy SRC DST [--table T]",
    summary: "Merges the runs of store SRC into store DST (any schemes). Rows DST already has are skipped, so copying again adds 0.",
    options: { table: STORE_OPT.table!, json: { type: "boolean" } },
    optionHelp: STORE_HELP,
    details: "Example:\n  quiver copy duckdb:laptop.db duckdb:all-runs.db\n\nA progress bar is drawn on stderr when it is a terminal.",
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    if (p.positionals.length !== 2) throw usageError(this.spec, "copy needs a source and a target store");
    const [src, dst] = p.positionals.map((u) => storeUri(u)) as [string, string];
    if (src === dst) throw new QuiverError("INVALID_VALUE", "source and target are the same store");
    const table = str(p, "table") ?? "events";
    const source = await openExisting(src, true);
    try {
      await requireTable(source, table);
      const total = await source.count(table);
      const target = await openAny(dst);
      const bar = new Progress("copying", total);
      try {
        const added = await copy({ source, target, table, onProgress: (n) => bar.update(n) });
        bar.done();
        if (bool(p, "json")) ctx.out.write(JSON.stringify({ added, source: src, target: dst, table }) + "\n");
        else ctx.out.write(`copied ${added} new row${added === 1 ? "" : "s"} from ${src} to ${dst} (${total - added} already there)\n`);
      } finally {
        bar.done();
        await target.close();
      }
    } finally {
      await source.close();
    }
  },
};

const deleteCmd: Command = {
  spec: {
    usage: "delete [URI] TRACK_ID",
    summary: "Deletes every row of one run.",
    options: { ...STORE_OPT },
    optionHelp: STORE_HELP,
    details: "Example:\n  quiver delete duckdb:runs.db 3f2a9c1e-…",
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    const { uri, args } = takeUri(p, 1, this.spec);
    const table = str(p, "table") ?? "events";
    await withRuns(uri, table, async (store, reader) => {
      const n = await reader.deleteRun(args[0]!);
      if (n === 0) throw new QuiverError("NOT_FOUND", `no run ${JSON.stringify(args[0])} in ${store.uri}; list runs with \`quiver ls\``);
      await store.flush();
      ctx.out.write(`deleted ${n} row${n === 1 ? "" : "s"} of run ${args[0]}\n`);
    }, "write");
  },
};

/** A command-line value: numbers, true/false, null, else the string itself. */
export function parseValue(s: string): unknown {
  const t = s.trim();
  if (/^-?\d+$/.test(t)) {
    const n = Number(t);
    return Number.isSafeInteger(n) ? n : BigInt(t);
  }
  if (/^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(t)) return Number(t);
  if (t === "true" || t === "false") return t === "true";
  return s;
}

const setCmd: Command = {
  spec: {
    usage: "set [URI] KEY VALUE --track-id ID [--string]",
    summary: "Sets a column on every row of a run, back in time (VALUE is read as a number or true/false when it looks like one).",
    options: { ...STORE_OPT, "track-id": { type: "string" }, string: { type: "boolean" } },
    optionHelp: { ...STORE_HELP, "track-id": "the run to change (required)", string: "store VALUE as a string even when it looks like a number" },
    details: "Example:\n  quiver set duckdb:runs.db test_accuracy 0.91 --track-id 3f2a9c1e-…",
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    const { uri, args } = takeUri(p, 2, this.spec);
    const trackId = str(p, "track-id");
    if (!trackId) throw usageError(this.spec, "--track-id is required");
    const table = str(p, "table") ?? "events";
    const value = bool(p, "string") ? args[1]! : parseValue(args[1]!);
    await withRuns(uri, table, async (store, reader) => {
      const n = await reader.setValue(args[0]!, value, { trackId });
      if (n === 0) throw new QuiverError("NOT_FOUND", `no run ${JSON.stringify(trackId)} in ${store.uri}; list runs with \`quiver ls\``);
      await store.flush();
      ctx.out.write(`set ${args[0]} = ${formatCell(value)} on ${n} row${n === 1 ? "" : "s"} of run ${trackId}\n`);
    }, "write");
  },
};

function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** pandas-style description of one column's values. */
export function describe(column: string, values: unknown[]): Row {
  const present = values.filter((v) => v !== null && v !== undefined);
  const nums = present.every((v) => typeof v === "number" || typeof v === "bigint") ? present.map(toNumber).filter(Number.isFinite) : undefined;
  const row: Row = { column, count: present.length, nulls: values.length - present.length };
  if (nums && nums.length) {
    const sorted = [...nums].sort((a, b) => a - b);
    const mean = nums.reduce((a, b) => a + b, 0) / nums.length;
    const variance = nums.length > 1 ? nums.reduce((a, b) => a + (b - mean) ** 2, 0) / (nums.length - 1) : 0;
    Object.assign(row, { mean, std: Math.sqrt(variance), min: sorted[0], "25%": quantile(sorted, 0.25), "50%": quantile(sorted, 0.5), "75%": quantile(sorted, 0.75), max: sorted[sorted.length - 1] });
  } else if (present.length) {
    const freq = new Map<string, number>();
    for (const v of present) {
      const k = formatCell(v);
      freq.set(k, (freq.get(k) ?? 0) + 1);
    }
    let top = "";
    let best = 0;
    for (const [k, n] of freq) if (n > best) [top, best] = [k, n];
    Object.assign(row, { unique: freq.size, top, freq: best });
  }
  return row;
}

const statsCmd: Command = {
  spec: {
    usage: "stats [URI] describe [COL...] | top COL | bottom COL [--n N] [--track-id ID] [--json]",
    short: "Summary statistics of columns; the rows with the largest/smallest values",
    summary: "Summary statistics: `describe` (count, mean, std, quartiles; distinct values for text), `top`/`bottom` (the rows with the largest/smallest COL).",
    options: { ...STORE_OPT, n: { type: "string", short: "n" }, "track-id": { type: "string" }, where: { type: "string", short: "w" }, columns: { type: "string", short: "c" }, json: { type: "boolean" } },
    optionHelp: { ...STORE_HELP, n: "rows for top/bottom (default 5)", columns: "columns to show for top/bottom (default: COL, then all)" },
    details: "Examples:\n  quiver stats describe loss accuracy\n  quiver stats top accuracy --n 3",
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    const pos = [...p.positionals];
    let uri = str(p, "store");
    if (pos.length && !["describe", "top", "bottom"].includes(pos[0]!)) uri = pos.shift();
    const sub = pos.shift();
    if (!sub || !["describe", "top", "bottom"].includes(sub)) throw usageError(this.spec, `expected describe, top or bottom${sub ? `, got ${JSON.stringify(sub)}` : ""}`);
    const table = str(p, "table") ?? "events";
    const where = runFilter(str(p, "track-id"), str(p, "where"));
    await withRuns(uri, table, async (store) => {
      const schema = (await store.schema(table))!;
      if (sub === "describe") {
        const cols = pos.length ? pos : schema.fields.map((f) => f.name);
        const out: Row[] = [];
        const values = new Map<string, unknown[]>(cols.map((c) => [c, []]));
        for await (const b of store.scan(table, { where, columns: cols })) {
          for (const r of tableRows(b)) for (const c of cols) values.get(c)!.push(r[c]);
        }
        for (const c of cols) out.push(describe(c, values.get(c)!));
        const order = ["column", "count", "nulls", "mean", "std", "min", "25%", "50%", "75%", "max", "unique", "top", "freq"];
        const present = order.filter((k) => out.some((r) => k in r));
        printRows(ctx.out, out, { json: bool(p, "json"), columns: present });
        return;
      }
      if (pos.length !== 1) throw usageError(this.spec, `${sub} needs one column`);
      const col = pos[0]!;
      const notNull = field(col).isNotNull().node;
      const rows = await readRows(store, table, {
        where: where ? { op: "and", args: [where, notNull] } : notNull,
        orderBy: [{ column: col, direction: sub === "top" ? "desc" : "asc" }],
        limit: int(p, "n", 5),
      });
      const picked = str(p, "columns")?.split(",").map((c) => c.trim()).filter(Boolean);
      const cols = picked?.length ? picked : [col, ...schema.fields.map((f) => f.name).filter((n) => n !== col)];
      printRows(ctx.out, rows, { json: bool(p, "json"), columns: cols });
    });
  },
};

export const PLOT_OPTIONS: OptionSpec = {
  x: { type: "string", short: "x" },
  out: { type: "string", short: "o" },
  width: { type: "string" },
  height: { type: "string" },
  title: { type: "string" },
};
export const PLOT_HELP = {
  x: "x-axis column (default: the row's position in its series)",
  out: "write the chart to a .svg or .png file instead of the terminal",
  width: "chart width (characters in the terminal, pixels for --out; default 60 / 800)",
  height: "chart height (default 15 lines / 450 pixels)",
  title: "chart title",
};

const plotCmd: Command = {
  spec: {
    usage: "plot [URI] Y[,Y2...] [--x COL] [--by COL] [--track-id ID] [--out FILE.svg|FILE.png]",
    summary: "Draws a line chart of column Y (against --x or the row position) in the terminal, one line per --by value; --out writes it as SVG or PNG.",
    options: { ...STORE_OPT, ...PLOT_OPTIONS, by: { type: "string", short: "b" }, "track-id": { type: "string" }, where: { type: "string", short: "w" } },
    optionHelp: { ...STORE_HELP, ...PLOT_HELP, by: "one line per value of this column, e.g. track_id" },
    details: "Examples:\n  quiver plot loss --x epoch --by track_id\n  quiver plot accuracy --x epoch --out accuracy.png",
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    const { uri, args } = takeUri(p, 1, this.spec);
    const table = str(p, "table") ?? "events";
    const ys = args[0]!.split(",").map((s) => s.trim()).filter(Boolean);
    const x = str(p, "x");
    const by = str(p, "by");
    await withRuns(uri, table, async (store) => {
      const cols = [...new Set([...(x ? [x] : []), ...ys, ...(by ? [by] : [])])];
      const rows = await readRows(store, table, { where: runFilter(str(p, "track-id"), str(p, "where")), columns: cols });
      const { series, xIsTime } = rowsToSeries(rows, { ys, x, by });
      emitChart(ctx, series, { out: str(p, "out"), xIsTime, xLabel: x ?? "row", title: str(p, "title") ?? `${ys.join(", ")}${by ? ` by ${by}` : ""}`, ...chartSize(p) });
    });
  },
};

export function chartSize(p: ReturnType<typeof parseCommand>): { width?: number; height?: number } {
  const w = str(p, "width") !== undefined ? int(p, "width", 0) : undefined;
  const h = str(p, "height") !== undefined ? int(p, "height", 0) : undefined;
  return { width: w, height: h };
}

export const runCommands: Record<string, Command> = {
  head: headTail("head"),
  tail: headTail("tail"),
  columns: columnsCmd,
  ls: lsCmd,
  sql: sqlCmd,
  copy: copyCmd,
  delete: deleteCmd,
  set: setCmd,
  stats: statsCmd,
  plot: plotCmd,
};
