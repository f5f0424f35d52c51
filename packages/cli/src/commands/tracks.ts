/** `quiver tracks ls|read|plot`: time series written by Session/Track. */
import { field, type QueryNode, QuiverError, type Row, Session, type Store, type TrackReadResult } from "@quiver/core";
import { bool, int, parseCommand, str, time, usageError } from "../args.js";
import type { Command, CommandGroup } from "../context.js";
import { printRows, printSummary, tableRows } from "../output.js";
import { emitChart, toNumber } from "../plot.js";
import { openExisting, rootUri } from "../stores.js";
import { LIMIT_ALIASES } from "./common.js";
import { chartSize, PLOT_HELP, PLOT_OPTIONS } from "./plot.js";

const ROOT_NOTE = "ROOT is the folder given to Session.open({ root }) (read with msgpack:), a .db or .h5 file, or any store URI, e.g. duckdb:runs.db.";
const MARK = "/tracks/";

async function withRoot<T>(root: string, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openExisting(rootUri(root), true);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Session prefixes with their track names, from the store's table names. */
function prefixes(tables: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const t of tables) {
    const i = t.indexOf(MARK);
    if (i <= 0) continue;
    const prefix = t.slice(0, i);
    let l = out.get(prefix);
    if (!l) out.set(prefix, (l = []));
    l.push(t.slice(i + MARK.length));
  }
  return out;
}

async function trackNames(store: Store, prefix: string): Promise<string[]> {
  const names = prefixes(await store.tables()).get(prefix);
  if (!names) {
    const known = [...prefixes(await store.tables()).keys()];
    throw new QuiverError("NOT_FOUND", `${store.uri} has no session ${JSON.stringify(prefix)}${known.length ? `; sessions: ${known.join(", ")}` : " (no tracks at all)"}`);
  }
  return names.sort();
}

async function requireTrack(store: Store, prefix: string, track: string): Promise<void> {
  const names = await trackNames(store, prefix);
  if (!names.includes(track)) throw new QuiverError("NOT_FOUND", `session ${prefix} has no track ${JSON.stringify(track)}; tracks: ${names.join(", ")}`);
}

async function openSession(store: Store, prefix: string): Promise<Session> {
  return Session.open({ prefix, store, flushInterval: 0 });
}

const lsCmd: Command = {
  spec: {
    usage: "tracks ls ROOT [PREFIX] [--json]",
    summary: "Without PREFIX: the sessions under ROOT and how many tracks each has. With PREFIX: that session's tracks with point counts, time range and fields.",
    options: { json: { type: "boolean" } },
    optionHelp: { json: "one JSON object per line" },
    details: `${ROOT_NOTE}\n\nExamples:\n  quiver tracks ls .quiver\n  quiver tracks ls .quiver project/my-experiment`,
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    const [root, prefix, extra] = p.positionals;
    if (!root || extra !== undefined) throw usageError(this.spec, root ? "too many arguments" : "missing ROOT");
    await withRoot(root, async (store) => {
      if (prefix === undefined) {
        const rows = [...prefixes(await store.tables())].map(([session, tracks]) => ({ session, tracks: tracks.length }));
        printRows(ctx.out, rows, { json: bool(p, "json"), columns: ["session", "tracks"] });
        return;
      }
      const names = await trackNames(store, prefix);
      const session = await openSession(store, prefix);
      const rows: Row[] = [];
      for (const name of names) {
        const s = await session.track(name).stats();
        rows.push({
          track: name,
          points: s.count,
          first: s.firstTs === null ? null : new Date(s.firstTs * 1000),
          last: s.lastTs === null ? null : new Date(s.lastTs * 1000),
          fields: s.fields,
        });
      }
      printRows(ctx.out, rows, { json: bool(p, "json"), columns: ["track", "points", "first", "last", "fields"] });
    });
  },
};

const READ_OPTS = {
  start: { type: "string" as const },
  end: { type: "string" as const },
  limit: { type: "string" as const, short: "n" },
  reverse: { type: "boolean" as const, short: "r" },
};
const READ_HELP = {
  start: "first time (inclusive): seconds since the epoch or an ISO date (UTC unless it names a zone)",
  end: "end time (exclusive)",
  limit: "at most this many points (default 100, at most 10000 per read; page with --start or --index)",
  reverse: "newest first",
};

async function readPoints(
  root: string,
  prefix: string,
  track: string,
  opts: { startTime?: number; endTime?: number; limit: number; reverse: boolean; index?: number },
  fn: (r: TrackReadResult) => void,
): Promise<void> {
  await withRoot(root, async (store) => {
    await requireTrack(store, prefix, track);
    const session = await openSession(store, prefix);
    const t = session.track(track);
    const r =
      opts.index !== undefined
        ? await t.read({ startIndex: opts.index, limit: opts.limit })
        : await t.readByTime({ startTime: opts.startTime, endTime: opts.endTime, limit: opts.limit, reverse: opts.reverse });
    fn(r);
  });
}

const readCmd: Command = {
  spec: {
    usage: "tracks read ROOT PREFIX TRACK [--start T] [--end T] [--limit N] [--reverse] [--json]",
    summary: "Prints the points of one track in time order (index, time, fields).",
    options: { ...READ_OPTS, index: { type: "string" as const }, json: { type: "boolean" } },
    aliases: LIMIT_ALIASES,
    optionHelp: {
      ...READ_HELP,
      index: "read by position from this index instead of by time",
      json: "one JSON object per point: {index, _ts, ...fields}, then {summary: {shown, total, more}}",
    },
    details: `${ROOT_NOTE}\n\nExamples:\n  quiver tracks read .quiver robot/run-1 robot/pose --limit 5\n  quiver tracks read .quiver robot/run-1 robot/pose --start 2024-05-01T12:00:00Z --reverse --json`,
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    if (p.positionals.length !== 3) throw usageError(this.spec, "expected ROOT PREFIX TRACK");
    const [root, prefix, track] = p.positionals as [string, string, string];
    const json = bool(p, "json");
    const index = str(p, "index") !== undefined ? int(p, "index", 0) : undefined;
    await readPoints(root, prefix, track, { startTime: time(p, "start"), endTime: time(p, "end"), limit: int(p, "limit", 100), reverse: bool(p, "reverse"), index }, (r) => {
      const footer = `${r.data.length} of ${r.total} point${r.total === 1 ? "" : "s"}${r.hasMore ? " (more: raise --limit or narrow --start/--end)" : ""}`;
      const summary = { shown: r.data.length, total: r.total, more: r.hasMore };
      if (json) {
        printRows(
          ctx.out,
          r.data.map((d) => ({ index: d.index, ...d.data })),
          { json: true },
        );
        printSummary(ctx.out, true, footer, summary);
        return;
      }
      const rows = r.data.map((d) => {
        const { _ts, ...fields } = d.data;
        return { index: d.index, time: new Date(_ts * 1000), ...fields };
      });
      printRows(ctx.out, rows);
      printSummary(ctx.out, false, footer, summary);
    });
  },
};

/** Every point of a track in a time window, as columns (no cap: the chart decimates). */
async function readAllPoints(
  root: string,
  prefix: string,
  track: string,
  opts: { startTime?: number; endTime?: number; limit?: number },
  fn: (store: Store, rows: Row[], numeric: string[]) => void,
): Promise<void> {
  await withRoot(root, async (store) => {
    await requireTrack(store, prefix, track);
    const session = await openSession(store, prefix);
    const table = session.track(track).table;
    const schema = (await store.schema(table))!;
    const numeric = schema.fields.filter((f) => f.name !== "_ts" && /^(Float|Int|Uint|Bool)/.test(String(f.type))).map((f) => f.name);
    const conds: QueryNode[] = [];
    if (opts.startTime !== undefined) conds.push(field("_ts").ge(opts.startTime).node);
    if (opts.endTime !== undefined) conds.push(field("_ts").lt(opts.endTime).node);
    const where = conds.length === 0 ? undefined : conds.length === 1 ? conds[0] : { op: "and" as const, args: conds };
    const rows: Row[] = [];
    for await (const b of store.scan(table, { where, orderBy: [{ column: "_ts" }, { column: INDEX }], rowIndex: INDEX, limit: opts.limit }))
      for (const r of tableRows(b)) rows.push(r);
    fn(store, rows, numeric);
  });
}
const INDEX = "__cli_index";

const plotCmd: Command = {
  spec: {
    usage: "tracks plot ROOT PREFIX TRACK [FIELD...] [--x FIELD] [--start T] [--end T] [--limit N] [--out FILE]",
    summary:
      "Draws the numeric fields of a track (or the FIELDs named) against time, in the terminal or as SVG/PNG. Every point is read; long tracks are decimated per pixel column, never cut.",
    options: { ...READ_OPTS, ...PLOT_OPTIONS },
    aliases: LIMIT_ALIASES,
    optionHelp: {
      ...READ_HELP,
      ...PLOT_HELP,
      x: "x-axis field (default _ts, drawn as time; `index` for the point index)",
      limit: "only the first N points of the window (default: all)",
    },
    details: `${ROOT_NOTE}\n\nExample:\n  quiver tracks plot .quiver robot/run-1 robot/pose x y --out pose.svg`,
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    if (p.positionals.length < 3) throw usageError(this.spec, "expected ROOT PREFIX TRACK [FIELD...]");
    const [root, prefix, track, ...fields] = p.positionals as [string, string, string, ...string[]];
    const x = str(p, "x") ?? "_ts";
    const limit = str(p, "limit") !== undefined ? int(p, "limit", 0) : undefined;
    await readAllPoints(root, prefix, track, { startTime: time(p, "start"), endTime: time(p, "end"), limit }, (_store, pts, numeric) => {
      const ys = fields.length ? fields : numeric.filter((k) => k !== x);
      if (ys.length === 0) throw new QuiverError("NOT_FOUND", `track ${track} has no numeric fields to plot`);
      const xOf = (r: Row): number => (x === "_ts" ? (r._ts as number) * 1000 : x === "index" ? toNumber(r[INDEX]) : toNumber(r[x]));
      const xs = pts.map(xOf);
      const series = ys.map((y) => ({ name: y, xs, ys: pts.map((r) => toNumber(r[y] ?? NaN)) }));
      emitChart(ctx, series, {
        out: str(p, "out"),
        rows: pts.length,
        xIsTime: x === "_ts",
        xLabel: x === "_ts" ? "time (UTC)" : x,
        title: str(p, "title") ?? `${prefix} · ${track}`,
        ...chartSize(p),
      });
    });
  },
};

export const tracksGroup: CommandGroup = {
  summary: "time series written with Session/Track",
  commands: { ls: lsCmd, read: readCmd, plot: plotCmd },
};
