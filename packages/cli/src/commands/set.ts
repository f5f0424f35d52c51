/** `quiver set KEY VALUE`: a column on a run's rows, on the rows where another column has a value, or on all rows. */
import { field, type QueryNode, QuiverError, type Reader } from "@quiver/core";
import { bool, type CommandSpec, parseCommand, str, takeUri, usageError } from "../args.js";
import type { Command } from "../context.js";
import { formatCell } from "../output.js";
import { resolveRun } from "../stores.js";
import { STORE_HELP, STORE_OPT, withRuns } from "./common.js";

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

const spec: CommandSpec = {
  usage: "set [URI] KEY VALUE (--track-id ID | --where-key K --where-value V | --all) [--string] [--json]",
  summary:
    "Sets a column, back in time: on every row of a run (--track-id), on the rows where column K holds V (--where-key/--where-value), both, or on every row of the table (--all). VALUE (and V) are read as a number or true/false when they look like one.",
  options: {
    ...STORE_OPT,
    "track-id": { type: "string" },
    "where-key": { type: "string" },
    "where-value": { type: "string" },
    all: { type: "boolean" },
    string: { type: "boolean" },
    json: { type: "boolean" },
  },
  optionHelp: {
    ...STORE_HELP,
    "track-id": "only this run (a unique prefix will do)",
    "where-key": "only rows where this column…",
    "where-value": "…holds this value (read as VALUE is)",
    all: "every row of the table (xetrack's `xt set` without --track-id)",
    string: "store VALUE (and V) as strings even when they look like numbers",
    json: "print {key, value, rows, track_id, where} as JSON",
  },
  details:
    "Examples:\n  quiver set duckdb:runs.db test_accuracy 0.91 --track-id 3f2a9c1e\n  quiver set duckdb:runs.db accuracy 0.8 --where-key params --where-value 1b5b2294fc521d12\n  quiver set duckdb:runs.db dataset cifar10 --all      # every row",
};

export const setCmd: Command = {
  spec,
  async run(argv, ctx) {
    const p = parseCommand(argv, spec);
    const { uri, args } = takeUri(p, 2, spec, 2, ["KEY", "VALUE"]);
    const trackId = str(p, "track-id");
    const whereKey = str(p, "where-key");
    const whereText = str(p, "where-value");
    if ((whereKey === undefined) !== (whereText === undefined)) throw usageError(spec, "--where-key and --where-value go together");
    if (trackId === "") throw usageError(spec, "--track-id needs a run id");
    // Every row is a deliberate choice, never what a forgotten option does.
    if (trackId === undefined && whereKey === undefined && !bool(p, "all"))
      throw usageError(spec, "--track-id is required (or --where-key K --where-value V, or --all for every row of the table)");
    if (bool(p, "all") && (trackId !== undefined || whereKey !== undefined)) throw usageError(spec, "--all sets every row: leave out --track-id and --where-key");
    const table = str(p, "table") ?? "events";
    const read = (s: string) => (bool(p, "string") ? s : parseValue(s));
    const value = read(args[1]!);
    await withRuns(
      uri,
      table,
      async (store, reader) => {
        const parts: QueryNode[] = [];
        const id = trackId !== undefined ? await resolveRun(reader, trackId) : undefined;
        if (id !== undefined) parts.push(field("track_id").eq(id).node);
        if (whereKey !== undefined) parts.push(field(whereKey).eq(read(whereText!) as string | number | bigint | boolean).node);
        const n = parts.length === 0 ? await setAll(reader, args[0]!, value) : await reader.setWhere(args[0]!, value, parts.length === 1 ? parts[0]! : { op: "and", args: parts });
        if (n === 0 && id !== undefined && whereKey === undefined) throw new QuiverError("NOT_FOUND", `no run ${JSON.stringify(id)} in ${store.uri}; list runs with \`quiver ls\``);
        await reader.store.flush();
        const scope = [id !== undefined ? `of run ${id}` : "", whereKey !== undefined ? `where ${whereKey} = ${whereText}` : "", parts.length === 0 ? "(all rows)" : ""]
          .filter(Boolean)
          .join(" ");
        if (bool(p, "json"))
          ctx.out.write(
            JSON.stringify({ key: args[0], value, rows: n, track_id: id ?? null, where: whereKey !== undefined ? { [whereKey]: read(whereText!) } : null }, (_, v) =>
              typeof v === "bigint" ? v.toString() : v,
            ) + "\n",
          );
        else ctx.out.write(`set ${args[0]} = ${formatCell(value)} on ${n} row${n === 1 ? "" : "s"} ${scope}\n`);
      },
      "write",
    );
  },
};

/** Every row of the table: a query that holds for all of them (track_id is null or not). */
async function setAll(reader: Reader, key: string, value: unknown): Promise<number> {
  const schema = await reader.store.schema(reader.table);
  const col = schema?.fields[0]?.name;
  if (!col) return 0;
  return reader.setWhere(key, value, field(col).isNull().or(field(col).isNotNull()));
}
