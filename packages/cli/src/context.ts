/** What every command gets: where to write, and whether people are watching. */
import type { CommandSpec } from "./args.js";
import type { Out } from "./output.js";

export interface Context {
  out: Out;
  err: Out;
  /** stdout is a terminal with colour allowed. */
  color: boolean;
  /** Terminal width for charts and tables (80 when piped). */
  columns: number;
}

export interface Command {
  spec: CommandSpec;
  run(argv: string[], ctx: Context): Promise<void>;
}

export interface CommandGroup {
  summary: string;
  commands: Record<string, Command>;
}

export function defaultContext(): Context {
  const tty = process.stdout.isTTY === true;
  const color = process.env.FORCE_COLOR ? process.env.FORCE_COLOR !== "0" : tty && !process.env.NO_COLOR && process.env.TERM !== "dumb";
  return {
    out: { write: (s) => void process.stdout.write(s) },
    err: { write: (s) => void process.stderr.write(s) },
    color,
    columns: tty ? process.stdout.columns || 80 : 80,
  };
}
