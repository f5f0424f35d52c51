/**
 * The code blocks of the READMEs, with the markers that say how to run them.
 *
 * Every ```ts / ```js block (also typescript, javascript, mjs) of README.md and packages/*\/README.md
 * is an example that must run as written on Node 20. HTML comments right before a block (blank
 * lines and other comments may sit between) are invisible to readers and tell the test:
 *
 *   <!-- example-before: CODE -->   hidden code run first, in the same module (make folders, files)
 *   <!-- example-after: CODE -->    hidden code run last, in the same module (close what the
 *                                   example leaves running, check what it printed or stored)
 *   <!-- example: sketch — WHY -->  not run: an interface sketch or a fragment; counted and named
 *
 * CODE may span lines. Any other `<!-- example… -->` comment is an error, so a typo cannot turn
 * a block off.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";

export const REPO = join(import.meta.dirname, "../../..");

export interface Block {
  /** The README, relative to the repository root. */
  readme: string;
  /** 1-based number of the block among the README's ts/js blocks. */
  n: number;
  /** Line of the opening fence. */
  line: number;
  lang: "ts" | "js";
  code: string;
  before: string[];
  after: string[];
  /** Why the block is not run, when it is a sketch. */
  sketch?: string;
}

const LANGS: Record<string, "ts" | "js"> = { ts: "ts", typescript: "ts", js: "js", javascript: "js", mjs: "js" };

export function readmes(): string[] {
  const out = [join(REPO, "README.md")];
  for (const p of readdirSync(join(REPO, "packages")).sort()) {
    const f = join(REPO, "packages", p, "README.md");
    if (existsSync(f)) out.push(f);
  }
  return out;
}

/** The ts/js blocks of one README, with their markers. */
export function blocksOf(file: string, text = readFileSync(file, "utf8")): Block[] {
  const readme = relative(REPO, file);
  const lines = text.split("\n");
  const blocks: Block[] = [];
  let pending: string[] = []; // marker comments seen since the last block or paragraph
  let n = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith("<!--")) {
      let comment = line;
      while (!comment.includes("-->") && i + 1 < lines.length) comment += `\n${lines[++i]}`;
      if (/^<!--\s*example/.test(comment)) pending.push(comment);
      continue;
    }
    const fence = /^(`{3,}|~{3,})\s*([\w-]*)/.exec(line);
    if (!fence) {
      if (line.trim() !== "") pending = []; // markers belong to the block right after them
      continue;
    }
    const start = i;
    const close = fence[1]!;
    const body: string[] = [];
    while (++i < lines.length && !lines[i]!.startsWith(close)) body.push(lines[i]!);
    const lang = LANGS[fence[2]!.toLowerCase()];
    if (lang) {
      const b: Block = { readme, n: ++n, line: start + 1, lang, code: `${body.join("\n")}\n`, before: [], after: [] };
      for (const m of pending) applyMarker(b, m);
      blocks.push(b);
    } else if (pending.length) {
      throw new Error(`${readme}:${start + 1}: example markers before a ${fence[2] || "plain"} block, which is never run`);
    }
    pending = [];
  }
  return blocks;
}

function applyMarker(b: Block, comment: string): void {
  const m = /^<!--\s*(example-before|example-after|example)\s*:([\s\S]*?)-->\s*$/.exec(comment.trim());
  if (!m) throw new Error(`${b.readme}:${b.line}: unknown marker ${JSON.stringify(comment.slice(0, 60))}; use example-before:, example-after: or example: sketch — why`);
  const body = m[2]!.trim();
  if (m[1] === "example-before") b.before.push(body);
  else if (m[1] === "example-after") b.after.push(body);
  else {
    const s = /^sketch\b\s*[—–-]?\s*(.*)$/s.exec(body);
    if (!s?.[1]) throw new Error(`${b.readme}:${b.line}: write <!-- example: sketch — why it is not run -->, got ${JSON.stringify(body)}`);
    b.sketch = s[1].trim();
  }
}

export function allBlocks(): Block[] {
  return readmes().flatMap((f) => blocksOf(f));
}

/** The module a block runs as: hidden code before, the block, hidden code after. */
export function moduleSource(b: Block): string {
  return [...b.before.map((c) => `${c}\n`), b.code, ...b.after.map((c) => `${c}\n`)].join("\n");
}

/** The README line of line `n` (1-based) of moduleSource(b), or where the hidden code it is in sits. */
export function readmeLine(b: Block, n: number): string {
  const lines = (parts: string[]): number => parts.reduce((k, c) => k + c.split("\n").length + 1, 0);
  const start = lines(b.before) + 1; // the block's first line in the module
  const end = start + b.code.split("\n").length - 1;
  if (n < start) return `hidden example-before code, line ${n}`;
  if (n >= end) return `hidden example-after code`;
  return `line ${b.line + 1 + (n - start)}`;
}
