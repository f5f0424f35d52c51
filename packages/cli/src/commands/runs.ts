/** Commands over Tracker tables (runs): head, tail, columns, ls, sql, copy, delete, set, stats, plot (copy and set in their own files). */
import { parseStoreUri, QuiverError, readRows, type Row, typeName } from "@quiver/core";
import { bool, type CommandSpec, int, parseCommand, storeUri, str, takeUri } from "../args.js";
import type { Command } from "../context.js";
import { runsWithMetrics } from "./ls-metrics.js";
import { formatCell, printRows, tableRows } from "../output.js";
import { openExisting, resolveRun } from "../stores.js";
import { LIMIT_ALIASES, LIMIT_OPT, ROWS_OPT, runFilter, STORE_HELP, STORE_OPT, URI_NOTE, withRuns } from "./common.js";
import { h5Datasets } from "./h5.js";
import { plotCmd } from "./plot.js";
import { statsCmd } from "./stats.js";
import { copyCmd } from "./copy.js";
import { setCmd } from "./set.js";

export { describe } from "./stats.js";
export { parseValue } from "./set.js";
export { chartSize, PLOT_HELP, PLOT_OPTIONS } from "./plot.js";

function headTail(which: "head" | "tail"): Command {
  const spec: CommandSpec = {
    usage: `${which} [URI] [--limit N] [--track-id ID] [--where FILTER] [--columns A,B] [--json]`,
    summary: `Prints the ${which === "head" ? "first" : "last"} rows of the runs table (all runs unless --track-id).`,
    options: {
      ...STORE_OPT,
      ...LIMIT_OPT,
      ...ROWS_OPT,
    },
    aliases: LIMIT_ALIASES,
    optionHelp: { ...STORE_HELP, columns: "only these columns, comma-separated" },
    details: `${URI_NOTE}\n\nExamples:\n  quiver ${which} duckdb:runs.db --limit 10\n  QUIVER_STORE=msgpack:.quiver quiver ${which} --json | jq .loss`,
  };
  return {
    spec,
    async run(argv, ctx) {
      const p = parseCommand(argv, spec);
      const { uri } = takeUri(p, 0, spec);
      const n = int(p, "limit", 5);
      const table = str(p, "table") ?? "events";
      const cols = str(p, "columns")
        ?.split(",")
        .map((c) => c.trim())
        .filter(Boolean);
      const filter = runFilter(str(p, "track-id"), str(p, "where"));
      await withRuns(uri, table, async (store, reader) => {
        const where = await filter(reader);
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
    summary: "Lists the columns of the runs table with their types (of an HDF5 file written by H5Logger: its datasets).",
    options: { ...STORE_OPT, json: { type: "boolean" } },
    optionHelp: STORE_HELP,
    details: URI_NOTE,
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    const { uri } = takeUri(p, 0, this.spec);
    const table = str(p, "table") ?? "events";
    const full = storeUri(uri);
    // An H5Logger file has datasets, not tables: list them (as `h5 ls` does) rather than "no table events".
    if (parseStoreUri(full).scheme === "h5" && str(p, "table") === undefined) {
      const store = await openExisting(full, true);
      const hasRuns = await store.schema(table).finally(() => store.close());
      if (!hasRuns) {
        const rows = await h5Datasets(parseStoreUri(full).location, bool(p, "json"));
        if (rows.length) return printRows(ctx.out, rows, { json: bool(p, "json"), columns: ["name", "dtype", "shape", "length"] });
      }
    }
    await withRuns(uri, table, async (store) => {
      const schema = (await store.schema(table))!;
      printRows(
        ctx.out,
        schema.fields.map((f) => ({ column: f.name, type: typeName(f.type) })),
        { json: bool(p, "json") },
      );
    });
  },
};

const lsCmd: Command = {
  spec: {
    usage: "ls [URI] [--metrics] [--unique COL] [--json]",
    short: "Lists the runs, or the distinct values of a column (--unique)",
    summary:
      "Lists the runs (track_id, rows, first and last timestamp; with --metrics their params and each metric's last, min and max), or with --unique the distinct values of a column.",
    options: { ...STORE_OPT, metrics: { type: "boolean", short: "m" }, unique: { type: "string", short: "u" }, json: { type: "boolean" } },
    optionHelp: {
      ...STORE_HELP,
      metrics: "add the params (columns constant within each run) and, per metric, its last value, min and max (computed inside the store)",
      unique: "list the distinct values of this column with their row and run counts",
    },
    details: `${URI_NOTE}\n\nExamples:\n  quiver ls duckdb:runs.db\n  quiver ls duckdb:runs.db --metrics\n  quiver ls duckdb:runs.db --unique model`,
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    const { uri } = takeUri(p, 0, this.spec);
    const table = str(p, "table") ?? "events";
    const unique = str(p, "unique");
    await withRuns(uri, table, async (store, reader) => {
      if (!unique && bool(p, "metrics")) {
        const { rows, columns } = runsWithMetrics(await reader.runs({ columns: "all" }));
        printRows(ctx.out, rows, { json: bool(p, "json"), columns });
        return;
      }
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
    const { uri, args } = takeUri(p, 1, this.spec, 1, ["the SQL query"]);
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

const deleteCmd: Command = {
  spec: {
    usage: "delete [URI] TRACK_ID [--json]",
    summary: "Deletes every row of one run (TRACK_ID may be a unique prefix, e.g. the short id a chart shows).",
    options: { ...STORE_OPT, json: { type: "boolean" } },
    optionHelp: { ...STORE_HELP, json: "print {deleted, track_id} as JSON" },
    details: "Example:\n  quiver delete duckdb:runs.db 3f2a9c1e",
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    const { uri, args } = takeUri(p, 1, this.spec, 1, ["TRACK_ID"]);
    const table = str(p, "table") ?? "events";
    await withRuns(
      uri,
      table,
      async (store, reader) => {
        const id = await resolveRun(reader, args[0]!);
        const n = await reader.deleteRun(id);
        if (n === 0) throw new QuiverError("NOT_FOUND", `no run ${JSON.stringify(id)} in ${store.uri}; list runs with \`quiver ls\``);
        await reader.store.flush();
        if (bool(p, "json")) ctx.out.write(JSON.stringify({ deleted: n, track_id: id }) + "\n");
        else ctx.out.write(`deleted ${n} row${n === 1 ? "" : "s"} of run ${id}\n`);
      },
      "write",
    );
  },
};

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
