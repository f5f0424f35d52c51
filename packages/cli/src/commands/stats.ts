/** `quiver stats describe|top|bottom`: summary statistics of run columns. */
import { field, readRows, type Row } from "@quiver/core";
import { bool, type CommandSpec, int, parseCommand, str, usageError } from "../args.js";
import type { Command } from "../context.js";
import { formatCell, printRows, tableRows } from "../output.js";
import { toNumber } from "../plot.js";
import { LIMIT_ALIASES, LIMIT_OPT, ROWS_OPT, runFilter, STORE_HELP, STORE_OPT, withRuns } from "./common.js";

function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/**
 * pandas-style description of one column's values. `count` is the non-null values; of those,
 * numeric columns count NaN, +Infinity and -Infinity apart (`nan`, `inf`, `-inf`), and mean,
 * std, min, quartiles and max are over the finite rest.
 */
export function describe(column: string, values: unknown[]): Row {
  const present = values.filter((v) => v !== null && v !== undefined);
  const numeric = present.every((v) => typeof v === "number" || typeof v === "bigint");
  const row: Row = { column, count: present.length, nulls: values.length - present.length };
  if (numeric && present.length) {
    const nums: number[] = [];
    let nan = 0;
    let inf = 0;
    let ninf = 0;
    for (const v of present) {
      const x = toNumber(v);
      if (Number.isFinite(x)) nums.push(x);
      else if (Number.isNaN(x)) nan++;
      else if (x > 0) inf++;
      else ninf++;
    }
    Object.assign(row, { nan, inf, "-inf": ninf });
    if (nums.length) {
      const sorted = [...nums].sort((a, b) => a - b);
      const mean = nums.reduce((a, b) => a + b, 0) / nums.length;
      const variance = nums.length > 1 ? nums.reduce((a, b) => a + (b - mean) ** 2, 0) / (nums.length - 1) : 0;
      Object.assign(row, {
        mean,
        std: Math.sqrt(variance),
        min: sorted[0],
        "25%": quantile(sorted, 0.25),
        "50%": quantile(sorted, 0.5),
        "75%": quantile(sorted, 0.75),
        max: sorted[sorted.length - 1],
      });
    }
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

const ORDER = ["column", "count", "nulls", "nan", "inf", "-inf", "mean", "std", "min", "25%", "50%", "75%", "max", "unique", "top", "freq"];
/** Shown only when some described column has such values (the same in the table and in JSON). */
const WHEN_NONZERO = new Set(["nan", "inf", "-inf"]);

const spec: CommandSpec = {
  usage: "stats [URI] describe [COL...] | top COL | bottom COL [--limit N] [--track-id ID] [--json]",
  short: "Summary statistics of columns; the rows with the largest/smallest values",
  summary:
    "Summary statistics: `describe` (count, nulls, NaN and ±Infinity apart, mean, std, quartiles over the finite values; distinct values for text), `top`/`bottom` (the rows with the largest/smallest COL).",
  options: {
    ...STORE_OPT,
    ...LIMIT_OPT,
    ...ROWS_OPT,
  },
  aliases: LIMIT_ALIASES,
  optionHelp: { ...STORE_HELP, limit: "rows for top/bottom (default 5)", columns: "columns to show for top/bottom (default: COL, then all)" },
  details: "Examples:\n  quiver stats describe loss accuracy\n  quiver stats top accuracy --limit 3",
};

export const statsCmd: Command = {
  spec,
  async run(argv, ctx) {
    const p = parseCommand(argv, spec);
    const pos = [...p.positionals];
    let uri = str(p, "store");
    if (pos.length && !["describe", "top", "bottom"].includes(pos[0]!)) uri = pos.shift();
    const sub = pos.shift();
    if (!sub || !["describe", "top", "bottom"].includes(sub)) throw usageError(spec, `expected describe, top or bottom${sub ? `, got ${JSON.stringify(sub)}` : ""}`);
    const table = str(p, "table") ?? "events";
    const filter = runFilter(str(p, "track-id"), str(p, "where"));
    const limit = int(p, "limit", 5);
    await withRuns(uri, table, async (store, reader) => {
      const where = await filter(reader);
      const schema = (await store.schema(table))!;
      if (sub === "describe") {
        const cols = pos.length ? pos : schema.fields.map((f) => f.name);
        const values = new Map<string, unknown[]>(cols.map((c) => [c, []]));
        for await (const b of store.scan(table, { where, columns: cols })) {
          for (const r of tableRows(b)) for (const c of cols) values.get(c)!.push(r[c]);
        }
        const out = cols.map((c) => describe(c, values.get(c)!));
        const present = ORDER.filter((k) => out.some((r) => k in r && (!WHEN_NONZERO.has(k) || r[k] !== 0)));
        printRows(ctx.out, out, { json: bool(p, "json"), columns: present });
        return;
      }
      if (pos.length !== 1) throw usageError(spec, `${sub} needs one column`);
      const col = pos[0]!;
      const notNull = field(col).isNotNull().node;
      const rows = await readRows(store, table, {
        where: where ? { op: "and", args: [where, notNull] } : notNull,
        orderBy: [{ column: col, direction: sub === "top" ? "desc" : "asc" }],
        limit,
      });
      const picked = str(p, "columns")
        ?.split(",")
        .map((c) => c.trim())
        .filter(Boolean);
      const cols = picked?.length ? picked : [col, ...schema.fields.map((f) => f.name).filter((n) => n !== col)];
      printRows(ctx.out, rows, { json: bool(p, "json"), columns: cols });
    });
  },
};
