/** `--help` on every command, usage errors, and the binary's basics. */
import { describe, expect, it } from "vitest";
import { type Context, main } from "../dist/index.js";
import { ok, quiver } from "./helpers.js";

const COMMANDS = [
  "head",
  "tail",
  "columns",
  "ls",
  "sql",
  "copy",
  "delete",
  "set",
  "stats",
  "plot",
  "tracks ls",
  "tracks read",
  "tracks plot",
  "h5 ls",
  "h5 show",
  "ds ls",
  "ds scan",
  "ds query",
  "ds export",
  "ds upload",
];

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const ctx: Context = { out: { write: (s) => void (out += s) }, err: { write: (s) => void (err += s) }, color: false, columns: 80 };
  const code = await main(argv, ctx);
  return { code, out, err };
}

describe("help", () => {
  it("every command answers --help and -h with its usage and options", async () => {
    for (const c of COMMANDS) {
      for (const flag of ["--help", "-h"]) {
        const r = await run([...c.split(" "), flag]);
        expect(r.code, c).toBe(0);
        expect(r.err, c).toBe("");
        expect(r.out, c).toMatch(new RegExp(`^Usage: quiver ${c}\\b`));
        expect(r.out, c).toContain("-h, --help");
      }
    }
    // --help wins over bad arguments
    expect((await run(["head", "--bogus", "--help"])).code).toBe(0);
  });

  it("the command list names every command", async () => {
    const r = await run(["--help"]);
    for (const c of COMMANDS) expect(r.out).toContain(`  ${c} `);
    expect((await run([])).out).toBe(r.out);
    for (const g of ["tracks", "h5", "ds"]) expect((await run([g])).out).toMatch(new RegExp(`^Usage: quiver ${g} <`));
  });

  it("the built binary prints help and version, and rejects unknown commands", () => {
    expect(ok(["--help"])).toContain("Usage: quiver <command>");
    expect(ok(["plot", "--help"])).toContain("--out");
    expect(ok(["--version"])).toMatch(/^quiver \d+\.\d+\.\d+\n$/);
    const r = quiver(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe('quiver: INVALID_VALUE: unknown command "frobnicate"; run `quiver --help` for the list\n');
  });
});
