/** Argument parsing on node:util parseArgs, with per-command help and usage errors. */
import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { QuiverError, registeredSchemes } from "@quiver/core";
import { closest, didYouMean } from "./suggest.js";

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export interface CommandSpec {
  /** e.g. "head [URI]" (shown after "quiver "). */
  usage: string;
  summary: string;
  /** One line for the command list (default: the summary's first clause). */
  short?: string;
  /** Extra lines after the option list (examples, notes). */
  details?: string;
  options?: OptionSpec;
  /** Help text per option name. */
  optionHelp?: Record<string, string>;
  /** Other spellings accepted for an option and not shown in the help, e.g. { n: "limit" }. */
  aliases?: Record<string, string>;
}

/** Thrown for `--help`: the caller prints the text and exits 0. */
export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super("help");
  }
}

export const COMMON_OPTIONS: OptionSpec = {
  help: { type: "boolean", short: "h" },
};

export function helpText(spec: CommandSpec): string {
  const lines = [`Usage: quiver ${spec.usage}`, "", spec.summary];
  const opts = spec.options ?? {};
  const names = Object.keys(opts);
  if (names.length) {
    lines.push("", "Options:");
    const cells = names.map((n) => {
      const o = opts[n]!;
      const flag = `${o.short ? `-${o.short}, ` : "    "}--${n}${o.type === "string" ? " " + n.toUpperCase().replace(/-/g, "_") : ""}`;
      return [flag, spec.optionHelp?.[n] ?? ""] as const;
    });
    cells.push(["-h, --help", "show this help"]);
    const w = Math.max(...cells.map((c) => c[0].length));
    for (const [f, h] of cells) lines.push(`  ${f.padEnd(w)}  ${h}`.trimEnd());
  } else {
    lines.push("", "Options:", "  -h, --help  show this help");
  }
  if (spec.details) lines.push("", spec.details.trimEnd());
  return lines.join("\n") + "\n";
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

/** Parses argv for one command; `--help` throws HelpRequested, bad flags throw INVALID_VALUE. */
export function parseCommand(argv: string[], spec: CommandSpec): Parsed {
  const options = { ...COMMON_OPTIONS, ...(spec.options ?? {}) };
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: joinNegativeValues(applyAliases(argv, spec.aliases), options), options, allowPositionals: true, strict: true }) as Parsed;
  } catch (err) {
    if (argv.includes("--help") || argv.includes("-h")) throw new HelpRequested(helpText(spec));
    const msg = (err as Error).message.split(/\.\s+(?:To specify|Did you forget)/)[0]!.replace(/\.$/, "");
    const unknown = /^Unknown option '(--?)([^'=]+)'/.exec(msg);
    if (unknown) {
      const names = Object.keys(options).filter((n) => n !== "help");
      const hint =
        unknown[1] === "--"
          ? didYouMean(
              unknown[2]!,
              [...names, ...Object.keys(spec.aliases ?? {})].map((n) => spec.aliases?.[n] ?? n),
              (c) => `--${c}`,
            )
          : "";
      throw new QuiverError("INVALID_VALUE", `unknown option ${unknown[1]}${unknown[2]}${hint}; see \`quiver ${commandName(spec)} --help\``);
    }
    throw new QuiverError("INVALID_VALUE", `${msg}; see \`quiver ${commandName(spec)} --help\``);
  }
  if (parsed.values.help) throw new HelpRequested(helpText(spec));
  refuseRepeats(argv, spec, options);
  return parsed;
}

/**
 * An option given twice with different values, where the command takes one, is a usage error:
 * parseArgs would keep the last and drop the first without a word (`--table A --table B`).
 */
function refuseRepeats(argv: string[], spec: CommandSpec, options: OptionSpec): void {
  const { tokens } = parseArgs({ args: joinNegativeValues(applyAliases(argv, spec.aliases), options), options, allowPositionals: true, strict: true, tokens: true });
  const seen = new Map<string, string | undefined>();
  for (const t of tokens) {
    if (t.kind !== "option" || options[t.name]?.multiple) continue;
    if (seen.has(t.name) && seen.get(t.name) !== t.value) {
      const was = seen.get(t.name);
      throw usageError(
        spec,
        `--${t.name} was given twice (${was === undefined ? "" : `${JSON.stringify(was)}, `}${t.value === undefined ? "" : JSON.stringify(t.value)}) and this command takes one; give it once`,
      );
    }
    seen.set(t.name, t.value);
  }
}

/** Rewrites alias spellings (`--n 5`, `--n=5`) to the option's name. */
function applyAliases(argv: string[], aliases: Record<string, string> | undefined): string[] {
  if (!aliases) return argv;
  return argv.map((a) => {
    const m = /^--([^=]+)(=.*)?$/.exec(a);
    const to = m ? aliases[m[1]!] : undefined;
    return to ? `--${to}${m![2] ?? ""}` : a;
  });
}

/** "h5 show" from "h5 show FILE NAME [--slice a:b]". */
export function commandName(spec: CommandSpec): string {
  const words: string[] = [];
  for (const w of spec.usage.split(" ")) {
    if (!/^[a-z][a-z0-9-]*$/.test(w)) break;
    words.push(w);
  }
  return words.join(" ");
}

/**
 * parseArgs refuses option values that start with "-"; negative numbers and Python-style
 * slices (--slice -3:, --start -5) are values here, so they are joined as --opt=value.
 */
function joinNegativeValues(argv: string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const name = a.startsWith("--") ? a.slice(2) : a.length === 2 && a[0] === "-" ? Object.keys(options).find((k) => options[k]!.short === a[1]) : undefined;
    if (name && options[name]?.type === "string" && next !== undefined && /^-[\d.:]/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

export function usageError(spec: CommandSpec, message: string): QuiverError {
  return new QuiverError("INVALID_VALUE", `${message}\nusage: quiver ${spec.usage} (see \`quiver ${commandName(spec)} --help\`)`);
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === "string" ? v : undefined;
}

/** A repeatable string option (`--table A --table B`), in the order given. */
export function strs(p: Parsed, name: string): string[] {
  const v = p.values[name];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : typeof v === "string" ? [v] : [];
}

export function bool(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

/** A non-negative integer option. */
export function int(p: Parsed, name: string, def: number): number {
  const v = str(p, name);
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new QuiverError("INVALID_VALUE", `--${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * A time option as seconds since the epoch: a number of seconds, or an ISO date. A date or time
 * without a zone is UTC (as every time the CLI prints is), not the machine's local time.
 * Negative and unparseable times are INVALID_VALUE.
 */
export function time(p: Parsed, name: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  const secs = parseTime(v);
  if (secs === undefined)
    throw new QuiverError(
      "INVALID_VALUE",
      `--${name} must be seconds since the epoch or an ISO date such as 2024-05-01 or 2024-05-01T12:00:00 (UTC unless it names a zone), got ${JSON.stringify(v)}`,
    );
  if (secs < 0) throw new QuiverError("INVALID_VALUE", `--${name} must not be before 1970-01-01T00:00:00Z, got ${JSON.stringify(v)}`);
  return secs;
}

const ISO_DATE = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(\.\d+)?)?)?\s*(Z|[+-]\d\d:?\d\d)?$/i;

/** Seconds since the epoch for "1714564800", "2024-05-01", "2024-05-01 12:00", "…T12:00:00+02:00"; else undefined. */
export function parseTime(text: string): number | undefined {
  const t = text.trim();
  if (/^[+-]?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(t)) return Number(t);
  const m = ISO_DATE.exec(t);
  if (!m) return undefined;
  const [, y, mo, d, h = "00", mi = "00", s = "00", frac = "", zone] = m;
  const z = zone === undefined || zone.toUpperCase() === "Z" ? "Z" : zone.includes(":") ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${frac}${z}`);
  // Date.parse rolls 2024-02-31 over to March: refuse what does not read back as written.
  if (Number.isNaN(ms) || (z === "Z" && new Date(ms).toISOString().slice(0, 10) !== `${y}-${mo}-${d}`)) return undefined;
  return ms / 1000;
}

const URI_RE = /^[A-Za-z][A-Za-z0-9+.-]+:/;

/** Whether a positional looks like a store URI ("duckdb:runs.db", "memory:"). */
export function looksLikeUri(s: string | undefined): boolean {
  return s !== undefined && URI_RE.test(s);
}

/**
 * Whether a positional names a store rather than a column or value: a URI with a scheme, a
 * .db/.duckdb/.sqlite/.sqlite3/.h5/.hdf5 file name, or an existing path written as one (./x, x/y, .quiver).
 */
export function looksLikeStore(s: string | undefined): boolean {
  if (s === undefined) return false;
  if (looksLikeUri(s)) {
    const scheme = s.slice(0, s.indexOf(":")).toLowerCase();
    return knownSchemes().some((k) => k === scheme || closest(scheme, [k]).length > 0);
  }
  if (/\s/.test(s)) return existsSync(s); // SQL and filters have spaces; paths rarely
  return /\.(db|duckdb|sqlite|sqlite3|h5|hdf5)$/i.test(s) || (/^\.|\//.test(s) && existsSync(s));
}

/** Store schemes this CLI knows of: the registered ones and Quiver's store packages. */
export function knownSchemes(): string[] {
  return [...new Set([...registeredSchemes(), "duckdb", "msgpack", "h5", "memory", "postgres", "postgresql", "sqlite"])];
}

/**
 * Splits positionals into an optional leading store URI and the command's own arguments:
 * a URI is taken when there is one positional more than the command needs, or when the first
 * looks like a store (so `quiver plot runs.db` says the column is missing instead of reading
 * `runs.db` as one). `names` are the arguments as the usage line calls them.
 */
export function takeUri(p: Parsed, required: number, spec: CommandSpec, maxArgs = required, names: string[] = []): { uri: string | undefined; args: string[] } {
  const pos = p.positionals;
  let uri = str(p, "store");
  let args = pos;
  if (pos.length > maxArgs || (uri === undefined && required > 0 && pos.length <= required && looksLikeStore(pos[0]))) {
    if (uri !== undefined || pos.length > maxArgs + 1) throw usageError(spec, `too many arguments: ${pos.map((x) => JSON.stringify(x)).join(" ")}`);
    uri = pos[0];
    args = pos.slice(1);
  }
  if (args.length < required) {
    const missing = names.slice(args.length, required);
    const what = missing.length ? missing.join(" and ") : `argument${required - args.length > 1 ? "s" : ""}`;
    throw usageError(spec, `missing ${what}${uri !== undefined && pos[0] === uri ? ` after the store ${uri}` : ""}`);
  }
  return { uri, args };
}

/** Whether an existing file starts with SQLite's header ("SQLite format 3\0"). */
function isSqliteFile(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const head = Buffer.alloc(16);
    return readSync(fd, head, 0, 16, 0) === 16 && head.toString("latin1") === "SQLite format 3\0";
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The store URI: --store / positional, else QUIVER_STORE, else duckdb:quiver.db. */
export function storeUri(uri: string | undefined): string {
  const u = uri ?? process.env.QUIVER_STORE ?? "duckdb:quiver.db";
  if (looksLikeUri(u)) return u;
  // A bare path: pick the store by its extension, as people type file names; an existing .db
  // file by its header, since xetrack's SQLite files are .db too.
  if (/\.(sqlite|sqlite3)$/i.test(u) || (/\.db$/i.test(u) && isSqliteFile(u))) return `sqlite:${u}`;
  if (/\.(db|duckdb)$/i.test(u)) return `duckdb:${u}`;
  if (/\.(h5|hdf5)$/i.test(u)) return `h5:${u}`;
  return `msgpack:${u}`;
}
