/** `quiver copy SRC DST [--table T]… [--no-assets]`: merge runs (and their assets) between stores. */
import { copy, QuiverError } from "@quiver/core";
import { bool, type CommandSpec, parseCommand, storeUri, strs, usageError } from "../args.js";
import type { Command } from "../context.js";
import { Progress } from "../progress.js";
import { openAny, openExisting, requireTable } from "../stores.js";

const spec: CommandSpec = {
  usage: "copy SRC DST [--table T]... [--no-assets] [--json]",
  summary:
    "Merges the runs of store SRC into store DST (any schemes), each table given (default events) with its assets. Rows DST already has are skipped, so copying again adds 0.",
  options: { table: { type: "string", short: "t", multiple: true }, "no-assets": { type: "boolean" }, json: { type: "boolean" } },
  optionHelp: {
    table: "a table of runs to copy (default events); repeat it for several: --table A --table B",
    "no-assets": "leave the tables' assets (<table>_assets) behind",
    json: "print one {table, added, already_there, assets} object per table as JSON",
  },
  details:
    "Examples:\n  quiver copy duckdb:laptop.db duckdb:all-runs.db\n  quiver copy sqlite:xetrack.db duckdb:runs.db --table predictions --table metrics\n\nA progress bar is drawn on stderr when it is a terminal.",
};

export const copyCmd: Command = {
  spec,
  async run(argv, ctx) {
    const p = parseCommand(argv, spec);
    if (p.positionals.length !== 2) throw usageError(spec, "copy needs a source and a target store");
    const [src, dst] = p.positionals.map((u) => storeUri(u)) as [string, string];
    if (src === dst) throw new QuiverError("INVALID_VALUE", "source and target are the same store");
    const tables = strs(p, "table");
    if (!tables.length) tables.push("events");
    const json = bool(p, "json");
    const source = await openExisting(src, true);
    try {
      // Every table is checked before anything is written: a misspelt second table copies nothing.
      const totals = new Map<string, number>();
      for (const table of tables) {
        await requireTable(source, table);
        totals.set(table, await source.count(table));
      }
      const total = [...totals.values()].reduce((a, b) => a + b, 0);
      const target = await openAny(dst);
      const bar = new Progress("copying", total);
      try {
        await copy({
          source,
          target,
          tables,
          assets: !bool(p, "no-assets"),
          onProgress: (n) => bar.update(n),
          onTable: (table, added, assets) => {
            const there = (totals.get(table) ?? 0) - added;
            if (json) ctx.out.write(JSON.stringify({ table, added, already_there: there, assets, source: src, target: dst }) + "\n");
            else
              ctx.out.write(
                `copied ${added} new row${added === 1 ? "" : "s"}${tables.length > 1 ? ` of ${table}` : ""} from ${src} to ${dst} (${there} already there)${assets ? `, and ${assets} asset${assets === 1 ? "" : "s"}` : ""}\n`,
              );
          },
        });
      } finally {
        bar.done();
        await target.close();
      }
    } finally {
      await source.close();
    }
  },
};
