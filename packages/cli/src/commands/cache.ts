/** `quiver cache ls|delete DIR`: the function-result cache of Tracker.open(uri, { cache: DIR }). */
import { type CacheEntry, FunctionCache, type Row } from "@quiver/core";
import { bool, type CommandSpec, parseCommand, str, usageError } from "../args.js";
import type { Command, CommandGroup } from "../context.js";
import { printRows } from "../output.js";

const DIR_NOTE = "DIR is the folder given to Tracker.open(uri, { cache: DIR }).";

function rowOf(e: CacheEntry): Row {
  return { key: e.key, name: e.name, track_id: e.trackId, created: e.created, encoding: e.encoding, size: e.size, args: e.args };
}

const lsSpec: CommandSpec = {
  usage: "cache ls DIR [--track-id ID] [--name F] [--json]",
  summary: "Lists the cached results (key, function, the track_id that computed it, when, encoding, size, args), oldest first.",
  options: { "track-id": { type: "string" }, name: { type: "string" }, json: { type: "boolean" } },
  optionHelp: { "track-id": "only entries this run computed", name: "only entries of this function", json: "one JSON object per line" },
  details: `${DIR_NOTE}\n\nExample:\n  quiver cache ls cache_dir`,
};

const lsCmd: Command = {
  spec: lsSpec,
  async run(argv, ctx) {
    const p = parseCommand(argv, lsSpec);
    if (p.positionals.length !== 1) throw usageError(lsSpec, "cache ls needs the cache folder");
    const id = str(p, "track-id");
    const name = str(p, "name");
    const entries = FunctionCache.open(p.positionals[0]!, { create: false })
      .list()
      .filter((e) => (id === undefined || e.trackId === id) && (name === undefined || e.name === name));
    printRows(ctx.out, entries.map(rowOf), { json: bool(p, "json"), columns: ["key", "name", "track_id", "created", "encoding", "size", "args"] });
  },
};

const deleteSpec: CommandSpec = {
  usage: "cache delete DIR [TRACK_ID] [--key KEY] [--name F] [--all] [--json]",
  summary: "Deletes cache entries: those a run computed (TRACK_ID, as xetrack's `xt cache delete`), one entry (--key), a function's (--name), or all (--all).",
  options: { key: { type: "string" }, name: { type: "string" }, all: { type: "boolean" }, json: { type: "boolean" } },
  optionHelp: { key: "one entry, by the key `cache ls` prints", name: "every entry of this function", all: "every entry", json: "print {deleted} as JSON" },
  details: `${DIR_NOTE}\n\nExamples:\n  quiver cache delete cache_dir 3f2a9c1e-…\n  quiver cache delete cache_dir --name train`,
};

const deleteCmd: Command = {
  spec: deleteSpec,
  async run(argv, ctx) {
    const p = parseCommand(argv, deleteSpec);
    const [dir, trackId, ...extra] = p.positionals;
    if (dir === undefined || extra.length) throw usageError(deleteSpec, dir === undefined ? "cache delete needs the cache folder" : `too many arguments: ${extra.join(" ")}`);
    const which = { trackId, key: str(p, "key"), name: str(p, "name"), all: bool(p, "all") };
    const given = [which.trackId, which.key, which.name].filter((x) => x !== undefined).length + (which.all ? 1 : 0);
    if (given !== 1) throw usageError(deleteSpec, given ? "give one of TRACK_ID, --key, --name or --all" : "say what to delete: TRACK_ID, --key KEY, --name F or --all");
    const cache = FunctionCache.open(dir, { create: false });
    const n = which.key !== undefined ? cache.delete({ key: which.key }) : cache.delete({ trackId: which.trackId, name: which.name, all: which.all || undefined });
    if (bool(p, "json")) ctx.out.write(JSON.stringify({ deleted: n }) + "\n");
    else ctx.out.write(`deleted ${n} cache entr${n === 1 ? "y" : "ies"} from ${cache.dir}\n`);
  },
};

export const cacheGroup: CommandGroup = { summary: "the function-result cache of track()/wrap()", commands: { ls: lsCmd, delete: deleteCmd } };
