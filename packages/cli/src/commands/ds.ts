/** `quiver ds ls|scan|query|export|upload`: datasources (files + metadata) of @quiver/datasource. */
import { existsSync, statSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import { isQuiverError, type Query, QuiverError, type Row, type Table } from "@quiver/core";
import { bool, int, type OptionSpec, parseCommand, str, usageError } from "../args.js";
import { LIMIT_ALIASES } from "./common.js";
import type { Command, CommandGroup } from "../context.js";
import { parseFilter } from "../filter.js";
import { printRows, tableRows } from "../output.js";
import { withSpinner } from "../progress.js";
import { requirePackage } from "../stores.js";

/** What the CLI uses of @quiver/datasource (declared here so the CLI builds and loads without it). */
interface QueryResultLike {
  table: Table;
  length: number;
  toParquet(file: string): Promise<unknown>;
  toCSV(file: string): Promise<unknown>;
}
interface ViewLike {
  where(q: Query): ViewLike;
  select(...fields: string[]): ViewLike;
  orderBy(field: string, direction?: "asc" | "desc"): ViewLike;
  limit(n: number): ViewLike;
  head(n?: number): Promise<QueryResultLike>;
  all(): Promise<QueryResultLike>;
  /** Keeps the view's limit (all() ignores it). */
  fetch(): Promise<QueryResultLike>;
}
interface ScanProgress {
  phase: string;
  done: number;
  total: number;
}
interface DatasourceLike extends ViewLike {
  name: string;
  path?: string;
  scan(options?: { onProgress?: (p: ScanProgress) => void }): Promise<unknown>;
  uploadMetadata(source: unknown, options?: { pathColumn?: string }): Promise<unknown>;
  fields?(): Promise<{ name: string; type: string }[]>;
  close(): Promise<void>;
}
interface DatasourceModule {
  Datasource: {
    getOrCreate(o: { name: string; path: string; root?: string; store?: string }): Promise<DatasourceLike>;
    get(o: { name: string; root?: string; store?: string; readOnly?: boolean }): Promise<DatasourceLike>;
    list(o: { root?: string; store?: string; readOnly?: boolean }): Promise<unknown[]>;
  };
}

const ROOT_OPTS: OptionSpec = { root: { type: "string" }, store: { type: "string", short: "s" } };
const ROOT_HELP = { root: "datasource root folder (default .quiver)", store: "store URI holding the datasources (default: the root's)", json: "one JSON object per line" };

async function dsModule(): Promise<DatasourceModule> {
  return requirePackage<DatasourceModule>("@quiver/datasource", "datasource commands");
}

function where(p: ReturnType<typeof parseCommand>): { root?: string; store?: string } {
  const o: { root?: string; store?: string } = {};
  const root = str(p, "root");
  const store = str(p, "store");
  if (root !== undefined) o.root = root;
  if (store !== undefined) o.store = store;
  return o;
}

async function closeIfPossible(x: unknown): Promise<void> {
  const c = (x as { close?: () => unknown } | undefined)?.close;
  if (typeof c === "function") await c.call(x);
}

/** An existing datasource; `readOnly` for commands that only read (nothing under the root is created or written). */
async function getSource(p: ReturnType<typeof parseCommand>, name: string, readOnly: boolean): Promise<DatasourceLike> {
  const { Datasource } = await dsModule();
  return Datasource.get({ name, ...where(p), readOnly });
}

/** The whole datasource, or the datapoints matching a filter. */
function allOf(ds: DatasourceLike, filter?: string): ViewLike {
  return filter ? ds.where(parseFilter(filter)) : ds;
}

const lsCmd: Command = {
  spec: {
    usage: "ds ls [--root DIR] [--json]",
    summary: "Lists the datasources under a root.",
    options: { ...ROOT_OPTS, json: { type: "boolean" } },
    optionHelp: ROOT_HELP,
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    if (p.positionals.length) throw usageError(this.spec, "ds ls takes no arguments");
    const { Datasource } = await dsModule();
    const o = where(p);
    const root = o.root ?? ".quiver";
    if (o.store === undefined && !existsSync(root)) {
      throw new QuiverError("NOT_FOUND", `no datasource root ${resolvePath(root)}; give the right --root, or create a datasource with \`quiver ds scan NAME --path DIR\``);
    }
    const list = (await Datasource.list({ ...o, readOnly: true })) as (DatasourceLike | string)[];
    const rows: Row[] = [];
    for (const x of list) {
      if (typeof x === "string") {
        rows.push({ name: x });
        continue;
      }
      try {
        const fields = x.fields ? (await x.fields()).map((f) => f.name) : [];
        rows.push({ name: x.name, path: x.path ?? null, fields });
      } finally {
        await closeIfPossible(x);
      }
    }
    printRows(ctx.out, rows, { json: bool(p, "json"), columns: ["name", "path", "fields"] });
  },
};

const scanCmd: Command = {
  spec: {
    usage: "ds scan NAME [--path DIR] [--root DIR]",
    summary: "Indexes the files of a datasource (path, size, mtime). With --path the datasource is created when it does not exist.",
    options: { ...ROOT_OPTS, path: { type: "string", short: "p" }, json: { type: "boolean" } },
    optionHelp: { ...ROOT_HELP, path: "folder of the files (creates the datasource if needed)" },
    details: "Example:\n  quiver ds scan images --path ./data",
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    if (p.positionals.length !== 1) throw usageError(this.spec, "expected NAME");
    const name = p.positionals[0]!;
    const { Datasource } = await dsModule();
    const path = str(p, "path");
    // A folder that is not there fails before anything is created (no root, no datasource).
    if (path !== undefined) {
      const st = statSync(path, { throwIfNoEntry: false });
      if (!st) throw new QuiverError("NOT_FOUND", `--path ${path}: no such folder; create it or fix the path (nothing was created)`);
      if (!st.isDirectory()) throw new QuiverError("INVALID_PATH", `--path ${path} is not a folder; give the folder holding the files`);
    }
    const ds = path
      ? await Datasource.getOrCreate({ name, path, ...where(p) })
      : await Datasource.get({ name, ...where(p) }).catch((err: unknown) => {
          // A first scan has no datasource to rescan yet: say how to create one.
          if (isQuiverError(err) && err.code === "NOT_FOUND")
            throw new QuiverError("NOT_FOUND", `${err.message.split(";")[0]}; to create it, pass the folder of its files: \`quiver ds scan ${name} --path DIR\``, { cause: err });
          throw err;
        });
    try {
      const res = await withSpinner("scanning", (bar) =>
        ds.scan({
          onProgress: (pr) => {
            bar.setLabel(pr.phase === "list" ? "listing" : pr.phase === "write" ? "writing" : "scanning");
            bar.setTotal(pr.total || undefined);
            bar.update(pr.done);
          },
        }),
      );
      const r = (typeof res === "object" && res ? res : {}) as { files?: number; added?: number; changed?: number; removed?: number };
      if (bool(p, "json")) ctx.out.write(JSON.stringify({ name, ...r }) + "\n");
      else ctx.out.write(`scanned ${name}: ${r.files ?? "?"} files (${r.added ?? 0} added, ${r.changed ?? 0} changed, ${r.removed ?? 0} removed)\n`);
    } finally {
      await closeIfPossible(ds);
    }
  },
};

const queryCmd: Command = {
  spec: {
    usage: 'ds query NAME "FILTER" [--select A,B] [--order-by F] [--desc] [--limit N] [--json]',
    summary: "Datapoints whose metadata matches a filter.",
    options: {
      ...ROOT_OPTS,
      select: { type: "string" },
      "order-by": { type: "string" },
      desc: { type: "boolean" },
      limit: { type: "string", short: "n" },
      json: { type: "boolean" },
    },
    aliases: LIMIT_ALIASES,
    optionHelp: { ...ROOT_HELP, select: "only these fields (path is always shown)", "order-by": "sort by this field", desc: "sort descending", limit: "at most N datapoints" },
    details: `FILTER language:
  comparisons   episode > 5   label = 'cat'   score != 0.5   (= == != <> > >= < <=)
  text          path endswith '.png'   label contains 'ca'   path startswith "img/"
  lists         label in ('cat', 'dog')   episode not in (1, 2)
  missing       score is null   score is not null
  logic         and, or, not, parentheses: not (a = 1 or b = 2) and c > 3
  values        numbers, 'single' or "double" quoted strings, true, false,
                date('2024-05-01') / date('2024-05-01T12:00:00Z')
  field names   words (letters, digits, _ . /) or \`back quoted\`

Example:
  quiver ds query images "episode > 5 and has_baby_yoda = true" --select episode --limit 20`,
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    if (p.positionals.length !== 2) throw usageError(this.spec, "expected NAME and a FILTER in quotes");
    const [name, filter] = p.positionals as [string, string];
    const q = parseFilter(filter); // syntax errors before any I/O
    const ds = await getSource(p, name, true);
    try {
      let view = ds.where(q);
      const sel = str(p, "select")
        ?.split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      if (sel?.length) view = view.select(...sel);
      const ob = str(p, "order-by");
      if (ob) view = view.orderBy(ob, bool(p, "desc") ? "desc" : "asc");
      const limit = str(p, "limit") !== undefined ? int(p, "limit", 0) : undefined;
      if (limit !== undefined) view = view.limit(limit);
      const result = await view.fetch(); // keeps --limit (all() ignores a view's limit, as DagsHub's does)
      printRows(ctx.out, tableRows(result.table), { json: bool(p, "json") });
      if (!bool(p, "json")) ctx.out.write(`${result.length} datapoint${result.length === 1 ? "" : "s"}\n`);
    } finally {
      await closeIfPossible(ds);
    }
  },
};

const exportCmd: Command = {
  spec: {
    usage: "ds export NAME --parquet FILE | --csv FILE [--where FILTER]",
    summary: "Writes the datapoints (path + metadata) of a datasource, or those matching --where, to Parquet or CSV.",
    options: { ...ROOT_OPTS, parquet: { type: "string" }, csv: { type: "string" }, where: { type: "string", short: "w" }, json: { type: "boolean" } },
    optionHelp: { ...ROOT_HELP, parquet: "Parquet file to write", csv: "CSV file to write", where: "only datapoints matching this filter (see `quiver ds query --help`)" },
    details: 'Example:\n  quiver ds export images --parquet images.parquet --where "episode > 5"',
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    if (p.positionals.length !== 1) throw usageError(this.spec, "expected NAME");
    const parquet = str(p, "parquet");
    const csv = str(p, "csv");
    if (!parquet === !csv) throw usageError(this.spec, "give exactly one of --parquet FILE or --csv FILE");
    const filter = str(p, "where");
    if (filter) parseFilter(filter);
    const ds = await getSource(p, p.positionals[0]!, true);
    try {
      const result = await withSpinner(
        "exporting",
        async (bar) => {
          const r = await allOf(ds, filter).all();
          bar.setTotal(r.length);
          bar.update(0);
          if (parquet) await r.toParquet(parquet);
          else await r.toCSV(csv!);
          bar.update(r.length);
          return r;
        },
        "datapoints",
      );
      const file = parquet ?? csv!;
      if (bool(p, "json")) ctx.out.write(JSON.stringify({ file, datapoints: result.length }) + "\n");
      else ctx.out.write(`wrote ${result.length} datapoint${result.length === 1 ? "" : "s"} to ${file}\n`);
    } finally {
      await closeIfPossible(ds);
    }
  },
};

const uploadCmd: Command = {
  spec: {
    usage: "ds upload NAME FILE [--path-column COL] [--json]",
    summary: "Adds metadata from a .parquet or .csv file (one row per datapoint, keyed by its path column).",
    options: { ...ROOT_OPTS, "path-column": { type: "string" }, json: { type: "boolean" } },
    optionHelp: { ...ROOT_HELP, "path-column": "column holding the datapoint path (default path)", json: "print {name, file, rows} as JSON" },
    details: "Example:\n  quiver ds upload images labels.csv --path-column file",
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    if (p.positionals.length !== 2) throw usageError(this.spec, "expected NAME FILE");
    const [name, file] = p.positionals as [string, string];
    if (!existsSync(file)) throw new QuiverError("NOT_FOUND", `${file}: no such file; give a .csv or .parquet file of metadata`);
    const pc = str(p, "path-column") ?? "path";
    const ds = await getSource(p, name, false);
    try {
      let res: unknown;
      try {
        res = await withSpinner("uploading", () => ds.uploadMetadata(file, { pathColumn: pc }), "rows");
      } catch (err) {
        // The library names its option; the command line calls it --path-column.
        if (isQuiverError(err) && err.code === "UNKNOWN_FIELD" && /pathColumn/.test(err.message)) {
          const cols = /columns: (.*)$/.exec(err.message)?.[1];
          throw new QuiverError(
            "UNKNOWN_FIELD",
            `${file} has no column ${JSON.stringify(pc)}${cols ? ` (columns: ${cols})` : ""}; name the column of datapoint paths with --path-column COL`,
            { cause: err },
          );
        }
        throw err;
      }
      const n = typeof res === "number" ? res : undefined;
      if (bool(p, "json")) ctx.out.write(JSON.stringify({ name, file, rows: n ?? null }) + "\n");
      else ctx.out.write(`uploaded metadata from ${file} to ${name}${n !== undefined ? ` (${n} rows)` : ""}\n`);
    } finally {
      await closeIfPossible(ds);
    }
  },
};

export const dsGroup: CommandGroup = {
  summary: "datasources: files and their metadata",
  commands: { ls: lsCmd, scan: scanCmd, query: queryCmd, export: exportCmd, upload: uploadCmd },
};
