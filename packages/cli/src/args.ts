/** Argument parsing on node:util parseArgs, with per-command help and usage errors. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { QuiverError } from "@quiver/core";

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
    parsed = parseArgs({ args: joinNegativeValues(argv, options), options, allowPositionals: true, strict: true }) as Parsed;
  } catch (err) {
    if (argv.includes("--help") || argv.includes("-h")) throw new HelpRequested(helpText(spec));
    const msg = (err as Error).message.split(/\.\s+(?:To specify|Did you forget)/)[0]!.replace(/\.$/, "");
    throw new QuiverError("INVALID_VALUE", `${msg}; see \`quiver ${commandName(spec)} --help\``);
  }
  if (parsed.values.help) throw new HelpRequested(helpText(spec));
  return parsed;
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

/** A time option: seconds since the epoch or an ISO date. */
export function time(p: Parsed, name: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(v.trim())) return Number(v);
  const d = Date.parse(v);
  if (Number.isNaN(d)) throw new QuiverError("INVALID_TIMESTAMP", `--${name} must be seconds since the epoch or an ISO date such as 2024-05-01T12:00:00Z, got ${JSON.stringify(v)}`);
  return d / 1000;
}

const URI_RE = /^[A-Za-z][A-Za-z0-9+.-]+:/;

/** Whether a positional looks like a store URI ("duckdb:runs.db", "memory:"). */
export function looksLikeUri(s: string | undefined): boolean {
  return s !== undefined && URI_RE.test(s);
}

/**
 * Splits positionals into an optional leading store URI and the command's own arguments:
 * a URI is taken when there is one positional more than the command needs, or when the first
 * looks like a URI and the command takes no required argument.
 */
export function takeUri(p: Parsed, required: number, spec: CommandSpec, maxArgs = required): { uri: string | undefined; args: string[] } {
  const pos = p.positionals;
  let uri = str(p, "store");
  let args = pos;
  if (pos.length > maxArgs) {
    if (uri !== undefined || pos.length > maxArgs + 1) throw usageError(spec, `too many arguments: ${pos.map((x) => JSON.stringify(x)).join(" ")}`);
    uri = pos[0];
    args = pos.slice(1);
  }
  if (args.length < required) throw usageError(spec, `missing argument${required - args.length > 1 ? "s" : ""}`);
  return { uri, args };
}

/** The store URI: --store / positional, else QUIVER_STORE, else duckdb:quiver.db. */
export function storeUri(uri: string | undefined): string {
  const u = uri ?? process.env.QUIVER_STORE ?? "duckdb:quiver.db";
  if (looksLikeUri(u)) return u;
  // A bare path: pick the store by its extension, as people type file names.
  if (/\.(db|duckdb)$/i.test(u)) return `duckdb:${u}`;
  if (/\.(h5|hdf5)$/i.test(u)) return `h5:${u}`;
  return `msgpack:${u}`;
}
