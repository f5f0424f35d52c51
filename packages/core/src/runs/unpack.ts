/**
 * Config objects in tracked functions (xetrack's dataclass unpacking): a plain-object or
 * class-instance argument of track()/wrap() becomes columns `<param>_<field>`, where `<param>`
 * is the parameter's name as the function's source spells it, or `arg<i>` (0-based) when it
 * cannot be read (destructured or rest parameters, native and bound functions).
 */
import type { Row } from "../arrow/batches.js";

const names = new WeakMap<object, (string | undefined)[]>();

/** The parameter list text of a function's source: what is between its first top-level parentheses. */
function paramList(src: string): string | undefined {
  let s = src.trimStart();
  if (s.startsWith("class")) return undefined;
  s = s.replace(/^async\s*/, "");
  // `x => …`: one parameter, no parentheses.
  const single = /^([A-Za-z_$][\w$]*)\s*=>/.exec(s);
  if (single) return single[1];
  const open = s.indexOf("(");
  if (open < 0) return undefined;
  let depth = 0;
  let quote: string | undefined;
  for (let i = open; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") quote = c;
    else if (c === "/" && s[i + 1] === "*") i = Math.max(i, s.indexOf("*/", i + 2) + 1);
    else if (c === "/" && s[i + 1] === "/") i = s.indexOf("\n", i) < 0 ? s.length : s.indexOf("\n", i);
    else if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      depth--;
      if (depth === 0) return s.slice(open + 1, i);
    }
  }
  return undefined;
}

/** Splits a parameter list at its top-level commas. */
function splitTop(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'" || c === "`") quote = c;
    else if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (c === "," && depth === 0) {
      out.push(list.slice(start, i));
      start = i + 1;
    }
  }
  out.push(list.slice(start));
  return out;
}

/** Parameter names of fn by position (undefined where none can be read). */
export function parameterNames(fn: (...args: never[]) => unknown): (string | undefined)[] {
  const known = names.get(fn);
  if (known) return known;
  let out: (string | undefined)[] = [];
  try {
    const src = Function.prototype.toString.call(fn);
    const list = src.includes("[native code]") ? undefined : paramList(src);
    if (list !== undefined && list.trim() !== "") {
      out = splitTop(list.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/[^\n]*/g, "")).map((p) => /^\s*([A-Za-z_$][\w$]*)\s*(?:=|$)/.exec(p)?.[1]);
    }
  } catch {
    out = [];
  }
  names.set(fn, out);
  return out;
}

const BUILTIN_PROTOS: ReadonlySet<unknown> = new Set([
  Array.prototype,
  Date.prototype,
  Map.prototype,
  Set.prototype,
  RegExp.prototype,
  Promise.prototype,
  Error.prototype,
  ArrayBuffer.prototype,
  WeakMap.prototype,
  WeakSet.prototype,
]);

/** A plain object or an instance of a user class (not a Date, array, typed array, tensor, Map, …). */
export function isConfigObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object" || ArrayBuffer.isView(v) || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  if (BUILTIN_PROTOS.has(proto) || v instanceof Error || v instanceof Promise) return false;
  // { data, shape } is an n-d array value, a column of its own.
  const o = v as Record<string, unknown>;
  if (proto === Object.prototype && "data" in o && "shape" in o && Object.keys(o).length === 2) return false;
  return true;
}

function isColumnValue(v: unknown): boolean {
  const t = typeof v;
  if (t === "number" || t === "string" || t === "boolean" || t === "bigint" || v === null) return true;
  return v instanceof Date || ArrayBuffer.isView(v) || Array.isArray(v) || (v !== null && t === "object" && !isConfigObject(v) && Object.getPrototypeOf(v) === Object.prototype);
}

function unpackInto(row: Row, prefix: string, obj: Record<string, unknown>, depth: number, seen: Set<object>): void {
  if (depth > 4 || seen.has(obj)) return;
  seen.add(obj);
  for (const k of Object.keys(obj)) {
    const v = obj[k];
    const key = `${prefix}_${k}`;
    if (isConfigObject(v)) unpackInto(row, key, v, depth + 1, seen);
    else if (isColumnValue(v)) row[key] = v;
    // functions, symbols, undefined, Maps and Sets stay in the `args` text only
  }
  seen.delete(obj);
}

/** The `<param>_<field>` columns of a call's config-object arguments (empty when it has none). */
export function unpackArgs(fn: (...args: never[]) => unknown, args: readonly unknown[]): Row | undefined {
  let row: Row | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!isConfigObject(a)) continue;
    row ??= {};
    unpackInto(row, parameterNames(fn)[i] ?? `arg${i}`, a, 0, new Set());
  }
  return row;
}
