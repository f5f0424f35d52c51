/**
 * The filter language of `quiver ds query`, `--where` and the `quiver ui` runs table, parsed into a Query:
 *
 *   episode > 5 and has_baby_yoda = true
 *   not (label in ("cat", "dog") or path endswith ".png") and score is not null
 *
 * Comparisons = == != <> > >= < <=, contains, startswith, endswith, [not] in (...),
 * is [not] null; combinators and/or/not with parentheses (not > and > or); values are numbers,
 * 'single' or "double" quoted strings, true/false, date('2024-05-01T12:00:00Z'). Field names are words (letters, digits, _ . /)
 * or `backquoted`. Keywords are case-insensitive. Errors say which column is wrong.
 */
import { QuiverError } from "../errors.js";
import { and, field, not, or, type Primitive, type Query } from "./query.js";

/** INVALID_QUERY with the 1-based column of the problem; its message shows the text and a caret. */
export class FilterSyntaxError extends QuiverError {
  constructor(
    readonly reason: string,
    readonly text: string,
    /** 1-based column of the problem. */
    readonly column: number,
  ) {
    super("INVALID_QUERY", `${reason} at column ${column}\n  ${text}\n  ${" ".repeat(Math.max(0, column - 1))}^`);
    this.name = "FilterSyntaxError";
  }
}

type TokKind = "word" | "string" | "number" | "op" | "lparen" | "rparen" | "comma" | "end";
interface Token {
  kind: TokKind;
  text: string;
  /** Value of a string / number token; lowercase text of a word. */
  value?: string | number | bigint;
  quoted?: boolean;
  /** 0-based offset. */
  pos: number;
}

const OPS = ["==", "!=", "<>", ">=", "<=", "=", ">", "<"];

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const err = (msg: string, at: number) => new FilterSyntaxError(msg, text, at + 1);
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === "(" || c === ")" || c === ",") {
      out.push({ kind: c === "(" ? "lparen" : c === ")" ? "rparen" : "comma", text: c, pos: i });
      i++;
      continue;
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (op) {
      out.push({ kind: "op", text: op, pos: i });
      i += op.length;
      continue;
    }
    if (c === "'" || c === '"' || c === "`") {
      let s = "";
      i++;
      for (;;) {
        if (i >= text.length) throw err(`unterminated ${c === "`" ? "field name" : "string"} (missing closing ${c})`, start);
        const d = text[i]!;
        if (d === "\\" && i + 1 < text.length) {
          const e = text[i + 1]!;
          s += e === "n" ? "\n" : e === "t" ? "\t" : e;
          i += 2;
          continue;
        }
        if (d === c) {
          // A doubled quote inside the string stands for itself (SQL style).
          if (text[i + 1] === c) {
            s += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += d;
        i++;
      }
      out.push(c === "`" ? { kind: "word", text: text.slice(start, i), value: s, quoted: true, pos: start } : { kind: "string", text: text.slice(start, i), value: s, pos: start });
      continue;
    }
    const num = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(text.slice(i));
    if (num && (c !== "-" || prevAllowsValue(out))) {
      const t = num[0];
      const next = text[i + t.length];
      if (next !== undefined && /[A-Za-z_]/.test(next)) throw err(`unexpected character ${JSON.stringify(next)} after number ${t}`, i + t.length);
      let value: number | bigint = Number(t);
      if (/^-?\d+$/.test(t) && !Number.isSafeInteger(value)) value = BigInt(t);
      out.push({ kind: "number", text: t, value, pos: i });
      i += t.length;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_./:-]*/.exec(text.slice(i));
    if (word) {
      // A trailing "-" or ":" belongs to no name.
      const w = word[0].replace(/[-:]+$/, "");
      out.push({ kind: "word", text: w, value: w, pos: i });
      i += w.length;
      continue;
    }
    throw err(`unexpected character ${JSON.stringify(c)}`, i);
  }
  out.push({ kind: "end", text: "", pos: text.length });
  return out;
}

/** A "-" starts a negative number only where a value may stand (after an operator, "(", "," or "in"). */
function prevAllowsValue(toks: Token[]): boolean {
  const p = toks[toks.length - 1];
  return !p || p.kind === "op" || p.kind === "lparen" || p.kind === "comma" || (p.kind === "word" && !p.quoted && /^(contains|startswith|endswith|in)$/i.test(p.text));
}

const KEYWORDS = new Set(["and", "or", "not", "in", "is", "null", "contains", "startswith", "endswith", "true", "false"]);

class Parser {
  private i = 0;
  constructor(
    private readonly text: string,
    private readonly toks: Token[],
  ) {}

  private peek(): Token {
    return this.toks[this.i]!;
  }
  private fail(msg: string, t: Token = this.peek()): FilterSyntaxError {
    return new FilterSyntaxError(msg, this.text, t.pos + 1);
  }
  private describe(t: Token): string {
    return t.kind === "end" ? "the end of the filter" : JSON.stringify(t.text);
  }
  private isKw(kw: string, t: Token = this.peek()): boolean {
    return t.kind === "word" && !t.quoted && t.text.toLowerCase() === kw;
  }
  private take(): Token {
    return this.toks[this.i++]!;
  }

  parse(): Query {
    if (this.peek().kind === "end") throw this.fail("empty filter: write a condition such as episode > 5");
    const q = this.orExpr();
    if (this.peek().kind !== "end") {
      const t = this.peek();
      if (t.kind === "rparen") throw this.fail('unbalanced ")"');
      throw this.fail(`expected "and", "or" or the end of the filter, got ${this.describe(t)}`);
    }
    return q;
  }

  private orExpr(): Query {
    const parts = [this.andExpr()];
    while (this.isKw("or")) {
      this.take();
      parts.push(this.andExpr());
    }
    return parts.length === 1 ? parts[0]! : or(...parts);
  }

  private andExpr(): Query {
    const parts = [this.notExpr()];
    while (this.isKw("and")) {
      this.take();
      parts.push(this.notExpr());
    }
    return parts.length === 1 ? parts[0]! : and(...parts);
  }

  private notExpr(): Query {
    if (this.isKw("not")) {
      this.take();
      return not(this.notExpr());
    }
    return this.primary();
  }

  private primary(): Query {
    const t = this.peek();
    if (t.kind === "lparen") {
      this.take();
      if (this.peek().kind === "rparen") throw this.fail("empty parentheses: expected a condition");
      const q = this.orExpr();
      if (this.peek().kind !== "rparen") throw this.fail(`expected ")" to close the "(" at column ${t.pos + 1}, got ${this.describe(this.peek())}`);
      this.take();
      return q;
    }
    return this.comparison();
  }

  private fieldName(): string {
    const t = this.peek();
    if (t.kind !== "word") throw this.fail(`expected a field name, got ${this.describe(t)}`);
    if (!t.quoted && KEYWORDS.has(t.text.toLowerCase()))
      throw this.fail(`expected a field name, got the keyword ${JSON.stringify(t.text)} (quote a field of that name with backticks: \`${t.text}\`)`);
    this.take();
    return String(t.value);
  }

  private value(after: string): Primitive {
    const t = this.peek();
    if (t.kind === "string" || t.kind === "number") {
      this.take();
      return t.value as Primitive;
    }
    if (this.isKw("date") && this.toks[this.i + 1]?.kind === "lparen") {
      this.take();
      this.take();
      const arg = this.peek();
      if (arg.kind !== "string") throw this.fail(`date(...) takes a quoted ISO date such as date('2024-05-01T12:00:00Z'), got ${this.describe(arg)}`);
      const d = parseIsoDate(String(arg.value));
      if (d === undefined) throw this.fail(`${arg.text} is not a date; write ISO dates such as '2024-05-01' or '2024-05-01T12:00:00Z' (no zone means UTC)`);
      this.take();
      if (this.peek().kind !== "rparen") throw this.fail(`expected ")" after the date, got ${this.describe(this.peek())}`);
      this.take();
      return d;
    }
    if (this.isKw("true") || this.isKw("false")) {
      this.take();
      return t.text.toLowerCase() === "true";
    }
    if (this.isKw("null")) throw this.fail(`null cannot be compared with ${after}; write "is null" or "is not null"`);
    if (t.kind === "word") throw this.fail(`expected a value after ${after}, got ${JSON.stringify(t.text)} (quote strings: '${t.text}')`);
    throw this.fail(`expected a value (number, 'string', true or false) after ${after}, got ${this.describe(t)}`);
  }

  private comparison(): Query {
    const name = this.fieldName();
    const f = field(name);
    const t = this.peek();
    if (t.kind === "op") {
      this.take();
      const v = this.value(`"${t.text}"`);
      switch (t.text) {
        case "=":
        case "==":
          return f.eq(v);
        case "!=":
        case "<>":
          return f.ne(v);
        case ">":
          return f.gt(v);
        case ">=":
          return f.ge(v);
        case "<":
          return f.lt(v);
        default:
          return f.le(v);
      }
    }
    let negate = false;
    if (this.isKw("not")) {
      const nt = this.toks[this.i + 1]!;
      if (this.isKw("in", nt) || this.isKw("contains", nt) || this.isKw("startswith", nt) || this.isKw("endswith", nt)) {
        this.take();
        negate = true;
      }
    }
    const kw = this.peek();
    const word = kw.kind === "word" && !kw.quoted ? kw.text.toLowerCase() : "";
    let q: Query;
    switch (word) {
      case "contains":
      case "startswith":
      case "endswith": {
        this.take();
        const v = this.value(`"${kw.text}"`);
        if (word !== "contains" && typeof v !== "string") throw new FilterSyntaxError(`${kw.text} needs a 'string'`, this.text, this.toks[this.i - 1]!.pos + 1);
        q = word === "contains" ? f.contains(v) : word === "startswith" ? f.startsWith(v as string) : f.endsWith(v as string);
        break;
      }
      case "in": {
        this.take();
        if (this.peek().kind !== "lparen") throw this.fail(`expected "(" after in, e.g. ${name} in (1, 2, 3)`);
        this.take();
        const values: Primitive[] = [];
        if (this.peek().kind === "rparen") throw this.fail("expected at least one value in the list");
        for (;;) {
          values.push(this.value(values.length ? '","' : '"("'));
          if (this.peek().kind === "comma") {
            this.take();
            continue;
          }
          if (this.peek().kind === "rparen") {
            this.take();
            break;
          }
          throw this.fail(`expected "," or ")" in the list, got ${this.describe(this.peek())}`);
        }
        q = f.in(values);
        break;
      }
      case "is": {
        this.take();
        let neg = false;
        if (this.isKw("not")) {
          this.take();
          neg = true;
        }
        if (!this.isKw("null")) throw this.fail(`expected null after "is${neg ? " not" : ""}", got ${this.describe(this.peek())}`);
        this.take();
        q = neg ? f.isNotNull() : f.isNull();
        break;
      }
      default:
        throw this.fail(`expected an operator (= != > >= < <= contains startswith endswith in is) after ${JSON.stringify(name)}, got ${this.describe(kw)}`);
    }
    return negate ? not(q) : q;
  }
}

/** Parses a filter into a Query; bad syntax throws FilterSyntaxError (code INVALID_QUERY). */
export function parseFilter(text: string): Query {
  if (typeof text !== "string") throw new QuiverError("INVALID_QUERY", "a filter must be a string");
  return new Parser(text, tokenize(text)).parse();
}

const ISO_DATE = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(\.\d+)?)?)?\s*(Z|[+-]\d\d:?\d\d)?$/i;

/**
 * An ISO date or date-time; without a zone it is UTC (never the machine's local time, so a filter
 * means the same everywhere). Undefined for anything else, for dates that roll over
 * (2024-02-31) and for times before 1970.
 */
export function parseIsoDate(text: string): Date | undefined {
  const m = ISO_DATE.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = "00", mi = "00", sec = "00", frac = "", zone] = m;
  const z = zone === undefined || zone.toUpperCase() === "Z" ? "Z" : zone.includes(":") ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${sec}${frac}${z}`);
  if (Number.isNaN(ms) || ms < 0) return undefined;
  // Date.parse rolls 2024-02-31 over to March: refuse what does not read back as written.
  const back = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (back.getUTCMonth() !== Number(mo) - 1 || back.getUTCDate() !== Number(d)) return undefined;
  return new Date(ms);
}
