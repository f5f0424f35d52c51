/** `quiver export`: a table of any store as a Hive-partitioned Parquet lake (through DuckDB's COPY). */
import { QuiverError } from "@quiver/core";
import type { LakeReport } from "@quiver/store-duckdb";
import { bool, type CommandSpec, parseCommand, storeUri, str, takeUri, usageError } from "../args.js";
import type { Command } from "../context.js";
import { Progress } from "../progress.js";
import { openExisting, requirePackage, requireTable } from "../stores.js";
import { STORE_HELP, STORE_OPT } from "./common.js";

type LakeModule = typeof import("@quiver/store-duckdb");

const spec: CommandSpec = {
  usage: "export [URI] --to DIR [--table T] [--format parquet] [--partition-by COL,…] [--order-by COL] [--json]",
  summary: "Writes a table of any store to a new folder as Hive-partitioned Parquet (zstd; rows ordered by time within each file) that DuckDB, Spark and Trino read.",
  short: "Exports a table as a Hive-partitioned Parquet lake",
  options: {
    ...STORE_OPT,
    to: { type: "string", short: "o" },
    format: { type: "string" },
    "partition-by": { type: "string", short: "p" },
    "order-by": { type: "string" },
    json: { type: "boolean" },
  },
  optionHelp: {
    ...STORE_HELP,
    to: "the folder to create (it must not exist or be empty; export never overwrites)",
    format: "parquet (the only format so far)",
    "partition-by": "Hive partition columns, e.g. track_id → DIR/track_id=<id>/data_0.parquet",
    "order-by": "the time column rows are sorted by within a file (default _ts, else timestamp)",
    json: "print {rows, files, dir} as JSON",
  },
  details: [
    "Examples:",
    "  quiver export duckdb:runs.db --to lake/events --partition-by track_id",
    "  quiver export postgres://me@db/team --table p/e/tracks/loss --to lake/loss",
    "",
    "Read it back with DuckDB:",
    "  SELECT * FROM read_parquet('lake/events/**/*.parquet', hive_partitioning = true, hive_types_autocast = false)",
    "(hive_types_autocast = false keeps track ids such as 123 strings.)",
  ].join("\n"),
};

export const exportCmd: Command = {
  spec,
  async run(argv, ctx) {
    const p = parseCommand(argv, spec);
    const { uri } = takeUri(p, 0, spec);
    const to = str(p, "to");
    if (!to) throw usageError(spec, "export needs --to DIR, the folder to write");
    const format = (str(p, "format") ?? "parquet").toLowerCase();
    if (format !== "parquet") throw new QuiverError("UNSUPPORTED", `--format ${format}: only parquet is supported; use --format parquet`);
    const table = str(p, "table") ?? "events";
    const partitionBy = (str(p, "partition-by") ?? "")
      .split(",")
      .map((c) => c.trim())
      .filter(Boolean);
    const orderBy = str(p, "order-by");
    const { exportLake } = await requirePackage<LakeModule>("@quiver/store-duckdb", "quiver export writes Parquet through DuckDB");
    const full = storeUri(uri);
    const store = await openExisting(full, true);
    let report: LakeReport;
    try {
      await requireTable(store, table);
      const bar = new Progress("exporting", await store.count(table));
      try {
        report = await exportLake(store, table, to, { partitionBy, orderBy, onProgress: (n) => bar.update(n) });
      } finally {
        bar.done();
      }
    } finally {
      await store.close();
    }
    if (bool(p, "json")) ctx.out.write(JSON.stringify({ rows: report.rows, files: report.files, dir: report.dir, source: full, table }) + "\n");
    else
      ctx.out.write(
        `exported ${report.rows} row${report.rows === 1 ? "" : "s"} of ${table} to ${report.dir} (${report.files.length} Parquet file${report.files.length === 1 ? "" : "s"})\n`,
      );
  },
};
