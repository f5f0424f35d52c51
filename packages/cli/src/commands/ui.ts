/** `quiver ui`: the local dashboard (@quiver/ui, imported only when this command runs). */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { QuiverError, type Store } from "@quiver/core";
import { type CommandSpec, parseCommand, storeUri, str, takeUri } from "../args.js";
import type { Command } from "../context.js";
import { openExisting, requirePackage } from "../stores.js";

const spec: CommandSpec = {
  usage: "ui [URI] [--port N] [--host H --token T] [--h5 FILE,…] [--datasources ROOT] [--export FILE] [--table T] [--runs A,B]",
  short: "Opens the dashboard in the browser (or writes an HTML report with --export)",
  summary:
    "Serves a local dashboard of the store's runs: a runs table (sort, filter with the filter language, select) and a chart per metric that keeps every spike (first/min/max/last per pixel column), with smoothing, zoom, log y, grouping, live updates and the view in the URL; a timeline of the store's session tracks and logs; an array viewer of HDF5 files (--h5, and an h5: store's own file); a gallery of the datasources under --datasources. It only reads.",
  options: {
    store: { type: "string", short: "s" },
    table: { type: "string", short: "t" },
    port: { type: "string", short: "p" },
    host: { type: "string" },
    token: { type: "string" },
    export: { type: "string", short: "o" },
    runs: { type: "string" },
    h5: { type: "string" },
    datasources: { type: "string" },
  },
  optionHelp: {
    store: "store URI (default: $QUIVER_STORE, else duckdb:quiver.db); may also be the first argument",
    table: "table of runs (default events)",
    port: "port (default 5170; 0 picks a free one)",
    host: "interface to bind (default 127.0.0.1); any other needs --token",
    token: "secret every request must carry (?token= in the printed URL)",
    export: "write one self-contained HTML report (data embedded) to FILE instead of serving",
    runs: "with --export: the run ids to chart, comma-separated (default: the first 10)",
    h5: "HDF5 files for the array viewer, comma-separated (H5Logger files, h5: stores, any HDF5; live while a SWMR writer logs)",
    datasources: "datasource root for the gallery (the folder of datasources.db; default .quiver when it holds one)",
  },
  details:
    'Examples:\n  quiver ui duckdb:runs.db\n  quiver ui runs.db --port 8080\n  quiver ui runs.db --host 0.0.0.0 --token "$(openssl rand -hex 16)"\n  quiver ui runs.db --export report.html\n  quiver ui msgpack:.quiver                      # session tracks and logs on a timeline\n  quiver ui runs.db --h5 logging_data.h5 --datasources .quiver',
};

/** The part of @quiver/ui this command uses (the package is optional at run time). */
interface UiModule {
  startServer(o: { store: Store; port?: number; host?: string; token?: string; h5?: string[]; datasources?: string }): Promise<{ url: string; close(): Promise<void> }>;
  exportReport(store: Store, file: string, o: { table?: string; runs?: string[] }): Promise<{ file: string; bytes: number; runs: number; metrics: number }>;
}

function port(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new QuiverError("INVALID_VALUE", `--port must be an integer from 0 to 65535, got ${JSON.stringify(v)}`);
  return n;
}

export const uiCommand: Command = {
  spec,
  async run(argv, ctx) {
    const p = parseCommand(argv, spec);
    const { uri } = takeUri(p, 0, spec);
    const ui = await requirePackage<UiModule>("@quiver/ui", "quiver ui");
    const out = str(p, "export");
    const listen = { port: port(str(p, "port")), host: str(p, "host"), token: str(p, "token") };
    // Checked before the store is opened, so a refused --host costs nothing.
    if (!out && listen.host && !/^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/.test(listen.host) && !listen.token) {
      throw new QuiverError("INVALID_VALUE", `--host ${listen.host} makes the dashboard reachable from other machines; pass --token SECRET too (every request must then carry it)`);
    }
    const h5 = str(p, "h5")
      ?.split(",")
      .map((f) => f.trim())
      .filter(Boolean);
    for (const f of h5 ?? []) if (!existsSync(f)) throw new QuiverError("NOT_FOUND", `--h5 ${f}: no such file`);
    let datasources = str(p, "datasources");
    if (datasources !== undefined && !existsSync(datasources))
      throw new QuiverError("NOT_FOUND", `--datasources ${datasources}: no such folder; pass the folder holding datasources.db (default .quiver)`);
    if (datasources === undefined && existsSync(join(".quiver", "datasources.db"))) datasources = ".quiver";
    const store = await openExisting(storeUri(uri), true);
    if (out) {
      try {
        const runs = str(p, "runs")
          ?.split(",")
          .map((r) => r.trim())
          .filter(Boolean);
        const r = await ui.exportReport(store, out, { table: str(p, "table"), runs });
        ctx.out.write(
          `wrote ${r.file} (${r.runs} run${r.runs === 1 ? "" : "s"}, ${r.metrics} metric${r.metrics === 1 ? "" : "s"}, ${(r.bytes / 1024).toFixed(0)} KB); open it in a browser, no server needed\n`,
        );
      } finally {
        await store.close();
      }
      return;
    }
    let server: Awaited<ReturnType<UiModule["startServer"]>>;
    try {
      server = await ui.startServer({ store, ...listen, h5, datasources });
    } catch (err) {
      await store.close();
      throw err;
    }
    const table = str(p, "table");
    const url = table ? `${server.url}${server.url.includes("?") ? "&" : "?"}table=${encodeURIComponent(table)}` : server.url;
    ctx.out.write(`quiver ui: ${store.uri} at ${url} (read-only; Ctrl+C to stop)\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
        resolve();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    });
    await server.close();
    await store.close();
  },
};
