/** The `quiver` command: dispatch, top-level help and error reporting. */
import { readFileSync } from "node:fs";
import { isQuiverError } from "@quiver/core";
import { HelpRequested } from "./args.js";
import { assetsGroup } from "./commands/assets.js";
import { cacheGroup } from "./commands/cache.js";
import { dsGroup } from "./commands/ds.js";
import { exportCmd } from "./commands/export.js";
import { h5Group } from "./commands/h5.js";
import { runCommands } from "./commands/runs.js";
import { tracksGroup } from "./commands/tracks.js";
import { uiCommand } from "./commands/ui.js";
import { type Command, type CommandGroup, type Context, defaultContext } from "./context.js";
import { didYouMean } from "./suggest.js";

const groups: Record<string, CommandGroup> = { tracks: tracksGroup, h5: h5Group, ds: dsGroup, cache: cacheGroup, assets: assetsGroup };
const commands: Record<string, Command> = { ...runCommands, export: exportCmd, ui: uiCommand };

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** The summary's first clause, short enough for one line of the command list. */
function firstLine(c: Command): string {
  if (c.spec.short) return c.spec.short;
  const s = c.spec.summary.split(/(?<=\.)\s/)[0]!.replace(/\.$/, "");
  const cut = s.search(/ \(|; |: | in the terminal|, or /);
  return cut > 20 ? s.slice(0, cut) : s;
}

const TITLES: Record<string, string> = { tracks: "Tracks", h5: "HDF5", ds: "Datasources", cache: "Cache", assets: "Assets" };

export function mainHelp(): string {
  const lines = [
    "quiver: inspect runs, tracks, HDF5 files and datasources from a terminal",
    "",
    "Usage: quiver <command> [URI] [args] [options]",
    "",
    "Runs (Tracker tables; URI defaults to $QUIVER_STORE, else duckdb:quiver.db):",
  ];
  const w = 14;
  for (const [name, c] of Object.entries(commands)) lines.push(`  ${name.padEnd(w)}${firstLine(c)}`);
  for (const [g, grp] of Object.entries(groups)) {
    lines.push("", `${TITLES[g] ?? g} (${grp.summary}):`);
    for (const [name, c] of Object.entries(grp.commands)) lines.push(`  ${`${g} ${name}`.padEnd(w)}${firstLine(c)}`);
  }
  lines.push(
    "",
    "Every command takes --help; `quiver version` (-V, --version) prints the version.",
    "Tables print aligned, times in UTC; --json prints one JSON object per line.",
    "Errors go to stderr as `quiver: CODE: message` with exit code 1 (2 for usage errors).",
    "",
    "Examples:",
    "  quiver head duckdb:runs.db --limit 10",
    "  quiver plot loss --x epoch --by track_id",
    "  quiver tracks read .quiver robot/run-1 robot/pose --limit 5",
    "  quiver h5 ls logging_data.h5",
    '  quiver ds query images "episode > 5 and has_baby_yoda = true"',
  );
  return lines.join("\n") + "\n";
}

function groupHelp(name: string, grp: CommandGroup): string {
  const lines = [`Usage: quiver ${name} <${Object.keys(grp.commands).join("|")}> ...`, "", `${grp.summary[0]!.toUpperCase()}${grp.summary.slice(1)}.`, ""];
  for (const c of Object.values(grp.commands)) lines.push(`  quiver ${c.spec.usage}`, `      ${firstLine(c)}`);
  lines.push("", `Run \`quiver ${name} <command> --help\` for details.`);
  return lines.join("\n") + "\n";
}

class UsageError extends Error {}

/** A hint for a mistyped command: a close command or group, or the group of a command given alone (`quiver query` → `ds query`). */
function commandHint(name: string): string {
  const subs = Object.entries(groups).flatMap(([g, grp]) => Object.keys(grp.commands).map((k) => [k, `${g} ${k}`] as const));
  const owners = (k: string) =>
    subs
      .filter(([c]) => c === k)
      .map(([, f]) => `\`${f}\``)
      .join(" or ");
  const direct = didYouMean(name, [...Object.keys(commands), ...Object.keys(groups), "version", "help"]);
  if (direct) return direct;
  if (subs.some(([k]) => k === name)) return ` (did you mean ${owners(name)}?)`;
  return didYouMean(
    name,
    subs.map(([k]) => k),
    owners,
  );
}

function resolve(argv: string[]): { command: Command; rest: string[] } | { help: string } {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") return { help: mainHelp() };
  const run = commands[name];
  if (run) return { command: run, rest };
  const grp = groups[name];
  if (grp) {
    const [sub, ...more] = rest;
    if (sub === undefined || sub === "--help" || sub === "-h") return { help: groupHelp(name, grp) };
    const c = grp.commands[sub];
    if (!c) {
      const hint = didYouMean(sub, Object.keys(grp.commands), (k) => `\`${name} ${k}\``);
      throw new UsageError(`unknown command \`${name} ${sub}\`${hint}; ${name} commands: ${Object.keys(grp.commands).join(", ")}`);
    }
    return { command: c, rest: more };
  }
  throw new UsageError(`unknown command ${JSON.stringify(name)}${commandHint(name)}; run \`quiver --help\` for the list`);
}

/** Runs the command line; returns the exit code (0 ok, 1 error, 2 usage error). */
export async function main(argv: string[], ctx: Context = defaultContext()): Promise<number> {
  if (argv[0] === "--version" || argv[0] === "-V" || argv[0] === "-v" || argv[0] === "version") {
    ctx.out.write(`quiver ${version()}\n`);
    return 0;
  }
  try {
    const r = resolve(argv);
    if ("help" in r) {
      ctx.out.write(r.help);
      return 0;
    }
    await r.command.run(r.rest, ctx);
    return 0;
  } catch (err) {
    if (err instanceof HelpRequested) {
      ctx.out.write(err.text);
      return 0;
    }
    if (err instanceof UsageError) {
      ctx.err.write(`quiver: INVALID_VALUE: ${err.message}\n`);
      return 2;
    }
    if (isQuiverError(err)) {
      ctx.err.write(`quiver: ${err.code}: ${err.message}\n`);
      if (process.env.QUIVER_DEBUG && err.stack) ctx.err.write(err.stack + "\n");
      return err.code === "INVALID_VALUE" && /\nusage: |see `quiver/.test(err.message) ? 2 : 1;
    }
    const e = err as { code?: unknown; message?: unknown; stack?: string };
    const code = e?.code === "ENOENT" ? "NOT_FOUND" : e?.code === "EACCES" ? "IO" : "ERROR";
    ctx.err.write(`quiver: ${code}: ${String(e?.message ?? err)}\n`);
    if (process.env.QUIVER_DEBUG && e?.stack) ctx.err.write(e.stack + "\n");
    return 1;
  }
}
