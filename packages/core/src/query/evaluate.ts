/** The one Query evaluator on Arrow batches, with SQL's three-valued logic (null ≠ false). */
import type { Field, RecordBatch, Schema } from "apache-arrow";
import { vectorToValues } from "../arrow/batches.js";
import { QuiverError } from "../errors.js";
import { type Primitive, type QueryNode, queryFields } from "./query.js";

const F = 0;
const T = 1;
const N = 2; // unknown (a null took part)

function norm(v: unknown): unknown {
  return v instanceof Date ? v.getTime() : v;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if ((a as number) < (b as number)) return -1;
  if ((a as number) > (b as number)) return 1;
  // biome-ignore lint/suspicious/noDoubleEquals: a bigint and a number compare by value (1n == 1)
  if (a == b && typeof a !== "string" && typeof b !== "string") return 0; // 1n == 1
  return NaN;
}

function containsValue(hay: unknown, needle: unknown): boolean {
  if (typeof hay === "string") return typeof needle === "string" && hay.includes(needle);
  if (Array.isArray(hay) || ArrayBuffer.isView(hay)) {
    const n = norm(needle);
    for (const e of hay as Iterable<unknown>) if (compare(norm(e), n) === 0) return true;
  }
  return false;
}

/** Throws UNKNOWN_FIELD when the query names a column the table does not have. */
export function checkQueryFields(node: QueryNode, schema: Schema | undefined, table = "table"): void {
  const names = new Set(schema?.fields.map((f) => f.name) ?? []);
  for (const f of queryFields(node)) {
    if (!names.has(f)) {
      throw new QuiverError("UNKNOWN_FIELD", `${table} has no column ${JSON.stringify(f)}; columns: ${[...names].join(", ") || "(none)"}`);
    }
  }
}

/** Per-row result: 1 where the query holds, 0 where it is false or unknown. */
export function evaluate(node: QueryNode, batch: RecordBatch): Uint8Array {
  const cache = new Map<string, unknown[]>();
  const col = (name: string): unknown[] => {
    let v = cache.get(name);
    if (!v) {
      const i = batch.schema.fields.findIndex((f: Field) => f.name === name);
      if (i < 0) v = new Array(batch.numRows).fill(null);
      else v = vectorToValues(batch.getChildAt(i)!, batch.schema.fields[i]).map(norm);
      cache.set(name, v);
    }
    return v;
  };
  const states = evalNode(node, batch.numRows, col);
  for (let i = 0; i < states.length; i++) if (states[i] === N) states[i] = F;
  return states;
}

function evalNode(node: QueryNode, n: number, col: (name: string) => unknown[]): Uint8Array {
  const out = new Uint8Array(n);
  switch (node.op) {
    case "and":
    case "or": {
      const parts = node.args.map((a) => evalNode(a, n, col));
      const dominant = node.op === "and" ? F : T;
      const other = node.op === "and" ? T : F;
      for (let i = 0; i < n; i++) {
        let s = other;
        for (const p of parts) {
          const v = p[i]!;
          if (v === dominant) {
            s = dominant;
            break;
          }
          if (v === N) s = N;
        }
        out[i] = s;
      }
      return out;
    }
    case "not": {
      const p = evalNode(node.arg, n, col);
      for (let i = 0; i < n; i++) out[i] = p[i] === N ? N : p[i] === T ? F : T;
      return out;
    }
    case "isNull":
    case "isNotNull": {
      const vals = col(node.field);
      const want = node.op === "isNull";
      for (let i = 0; i < n; i++) out[i] = (vals[i] == null) === want ? T : F;
      return out;
    }
    case "in": {
      const vals = col(node.field);
      const set = node.values.map(norm);
      for (let i = 0; i < n; i++) {
        const v = vals[i];
        out[i] = v == null ? N : set.some((s) => compare(v, s) === 0) ? T : F;
      }
      return out;
    }
    default: {
      const vals = col(node.field);
      const target = norm(node.value as Primitive);
      const test = predicate(node.op, target);
      for (let i = 0; i < n; i++) {
        const v = vals[i];
        out[i] = v == null ? N : test(v) ? T : F;
      }
      return out;
    }
  }
}

function predicate(op: string, t: unknown): (v: unknown) => boolean {
  switch (op) {
    case "eq":
      return (v) => compare(v, t) === 0;
    case "ne":
      return (v) => {
        const c = compare(v, t);
        return c === c && c !== 0;
      };
    case "gt":
      return (v) => compare(v, t) > 0;
    case "ge":
      return (v) => compare(v, t) >= 0;
    case "lt":
      return (v) => compare(v, t) < 0;
    case "le":
      return (v) => compare(v, t) <= 0;
    case "contains":
      return (v) => containsValue(v, t);
    case "startsWith":
      return (v) => typeof v === "string" && typeof t === "string" && v.startsWith(t);
    case "endsWith":
      return (v) => typeof v === "string" && typeof t === "string" && v.endsWith(t);
    default:
      throw new QuiverError("INVALID_QUERY", `unknown query op ${JSON.stringify(op)}`);
  }
}
