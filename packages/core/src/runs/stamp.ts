/** The row stamping and value helpers behind Tracker.log() and track(): kept apart from the class. */
import { isNdArray, type Row, type ValueClass } from "../arrow/batches.js";
import { describeValue } from "../errors.js";

export function isFlatPrimitiveRow(row: unknown): row is Row {
  if (row === null || typeof row !== "object" || Array.isArray(row)) return false;
  for (const k in row as Row) {
    const v = (row as Row)[k];
    const t = typeof v;
    if ((t === "object" && v !== null) || t === "function" || t === "symbol") return false;
  }
  return true;
}

export function isPlainObject(v: unknown): v is Row {
  if (v === null || typeof v !== "object" || Array.isArray(v) || ArrayBuffer.isView(v) || v instanceof Date || isNdArray(v)) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
}

export function isLoggable(v: unknown): boolean {
  const t = typeof v;
  return t === "number" || t === "string" || t === "boolean" || t === "bigint" || v instanceof Date || ArrayBuffer.isView(v) || Array.isArray(v) || isNdArray(v);
}

export function argsString(args: readonly unknown[]): string {
  try {
    return JSON.stringify(args, (_k, v: unknown) =>
      typeof v === "bigint"
        ? `${v}n`
        : typeof v === "function"
          ? `[function ${v.name || "anonymous"}]`
          : ArrayBuffer.isView(v)
            ? `[${v.constructor.name}(${(v as Uint8Array).length})]`
            : v,
    );
  } catch {
    return `[${args.map((a) => describeValue(a)).join(", ")}]`;
  }
}

export function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === "object" || typeof v === "function") && typeof (v as { then?: unknown }).then === "function";
}

/**
 * A stamp compiled for one key sequence of logged rows whose checked values are primitives:
 * one object literal (a stable hidden class, no keyed stores) and inline typeof checks in
 * place of the generic copy loops and per-key map lookups. It returns undefined when a value
 * does not fit its column's class, and the generic path then handles (or rejects) the row.
 */
export interface CompiledStamp {
  keys: string[];
  version: number;
  fn: ((row: Row, params: Row, ts: Date, id: string) => Row | undefined) | undefined;
}

const CLASS_TEST: Partial<Record<ValueClass, string>> = {
  num: `typeof v === "number"`,
  // Lone surrogates cannot round-trip through UTF-8: the generic path refuses them.
  str: `(typeof v === "string" && v.isWellFormed())`,
  bool: `typeof v === "boolean"`,
};

export function compileStamp(keys: string[], paramKeys: readonly string[], classOf: (k: string) => ValueClass | undefined): CompiledStamp["fn"] {
  const all = [...keys, ...paramKeys];
  if (all.length > 200 || all.includes("__proto__")) return undefined;
  const params = new Set(paramKeys);
  const checks: string[] = [];
  const props: string[] = [];
  keys.forEach((k, i) => {
    const q = JSON.stringify(k);
    if (k === "timestamp") return void props.push(`${q}: ts`);
    if (k === "track_id") return void props.push(`${q}: id`);
    if (params.has(k)) return void props.push(`${q}: params[${q}]`);
    const cls = classOf(k);
    const test = cls === undefined ? "false" : CLASS_TEST[cls];
    if (test === undefined) throw new Error("not compilable");
    checks.push(`const v${i} = row[${q}]; { const v = v${i}; if (v != null && !(${test})) return undefined; }`);
    props.push(`${q}: v${i}`);
  });
  for (const k of paramKeys) if (!keys.includes(k)) props.push(`${JSON.stringify(k)}: params[${JSON.stringify(k)}]`);
  if (!keys.includes("timestamp")) props.push(`"timestamp": ts`);
  if (!keys.includes("track_id")) props.push(`"track_id": id`);
  return new Function("row", "params", "ts", "id", `${checks.join("\n")}\nreturn { ${props.join(", ")} };`) as CompiledStamp["fn"];
}
