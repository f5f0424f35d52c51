/**
 * Queries over the hot state's columns (columns.ts), compiled once per query into loops over
 * typed arrays: SQL's three-valued logic (2 true, 1 unknown, 0 false: AND is min, OR is max,
 * NOT is 2 − x), with DuckDB's semantics —
 * strings compare as UTF-8 bytes, NaN is the largest float and equals itself, ints compare
 * exactly. What is not compiled here (multivalue fields, NaN literals, contains on huge
 * columns is fine) returns undefined and the query runs in SQL instead.
 */
import type { Primitive, QueryNode } from "@quiver/core";
import { BoolColumn, type Column, F64Column, I64Column, StrColumn, cmpBytes, encodeUtf8 } from "./columns.js";

/** Kleene's order false < unknown < true. */
export const T = 2;
const N = 1;
const F = 0;

/** Fills out[0..m) with the predicate's state for rows[0..m). */
export type Kernel = (rows: Int32Array, m: number, out: Uint8Array) => void;

const TWO32 = 4294967296;

/** int64 words of an exact integer (number or bigint within int64), else undefined. */
function words(v: Primitive): [number, number] | undefined {
  let b: bigint;
  if (typeof v === "bigint") b = v;
  else if (typeof v === "number" && Number.isSafeInteger(v)) b = BigInt(v);
  else return undefined;
  if (b < -(2n ** 63n) || b >= 2n ** 63n) return undefined;
  const u = BigInt.asUintN(64, b);
  return [Number(u & 0xffffffffn) | 0, Number(BigInt.asIntN(32, u >> 32n))];
}

type Cmp = "eq" | "ne" | "gt" | "ge" | "lt" | "le";

function test(op: Cmp, c: number): boolean {
  switch (op) {
    case "eq":
      return c === 0;
    case "ne":
      return c !== 0;
    case "gt":
      return c > 0;
    case "ge":
      return c >= 0;
    case "lt":
      return c < 0;
    case "le":
      return c <= 0;
  }
}

/** DuckDB's float order: NaN above everything and equal to itself; -0 equals 0. */
function cmpFloat(a: number, b: number): number {
  if (a !== a) return b !== b ? 0 : 1;
  if (b !== b) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A comparison of one column with one literal, as a per-row compare function (or undefined). */
function comparer(col: Column, v: Primitive): ((row: number) => number) | undefined {
  if (col instanceof I64Column) {
    const w = col.words;
    if (v instanceof Date) v = v.getTime() * 1000;
    const x = words(v);
    if (x) {
      const [lo, hi] = x;
      const ulo = lo >>> 0;
      return (r) => {
        const h = w[2 * r + 1]!;
        if (h !== hi) return h < hi ? -1 : 1;
        const l = w[2 * r]! >>> 0;
        return l < ulo ? -1 : l > ulo ? 1 : 0;
      };
    }
    if (typeof v !== "number" || v !== v) return undefined;
    // A fractional or huge literal: compared as a double, as DuckDB casts BIGINT to DOUBLE.
    const d = v;
    return (r) => cmpFloat(w[2 * r + 1]! * TWO32 + (w[2 * r]! >>> 0), d);
  }
  if (col instanceof F64Column) {
    const d = typeof v === "bigint" ? Number(v) : v;
    if (typeof d !== "number" || d !== d) return undefined;
    const vals = col.vals;
    return (r) => cmpFloat(vals[r]!, d);
  }
  if (col instanceof BoolColumn) {
    if (typeof v !== "boolean") return undefined;
    const b = v ? 1 : 0;
    const vals = col.vals;
    return (r) => vals[r]! - b;
  }
  if (col instanceof StrColumn) {
    if (typeof v !== "string" || v.includes("\u0000")) return undefined;
    const key = encodeUtf8(v);
    return (r) => cmpBytes(col.at(r), key);
  }
  return undefined;
}

/** Byte-level string tests (contains, startsWith, endsWith) on a string column. */
function stringTest(col: StrColumn, op: "contains" | "startsWith" | "endsWith", s: string): (row: number) => boolean {
  const key = encodeUtf8(s);
  const k = key.length;
  const at = (b: Uint8Array, p: number): boolean => {
    for (let i = 0; i < k; i++) if (b[p + i] !== key[i]) return false;
    return true;
  };
  if (op === "startsWith")
    return (r) => {
      const b = col.at(r);
      return b.length >= k && at(b, 0);
    };
  if (op === "endsWith")
    return (r) => {
      const b = col.at(r);
      return b.length >= k && at(b, b.length - k);
    };
  return (r) => {
    const b = col.at(r);
    for (let p = 0; p + k <= b.length; p++) if (at(b, p)) return true;
    return false;
  };
}

/**
 * Compiles a query over the columns (by field name; `path` included). Undefined when some part
 * cannot run here.
 */
export function compileKernel(node: QueryNode, cols: ReadonlyMap<string, Column>): Kernel | undefined {
  switch (node.op) {
    case "and":
    case "or": {
      const parts = node.args.map((a) => compileKernel(a, cols));
      if (parts.some((p) => !p)) return undefined;
      const isAnd = node.op === "and";
      let scratch = new Uint8Array(0);
      return (rows, m, out) => {
        if (scratch.length < m) scratch = new Uint8Array(m);
        const tmp = scratch;
        (parts[0] as Kernel)(rows, m, out);
        for (let p = 1; p < parts.length; p++) {
          (parts[p] as Kernel)(rows, m, tmp);
          if (isAnd)
            for (let i = 0; i < m; i++) {
              const b = tmp[i]!;
              if (b < out[i]!) out[i] = b;
            }
          else
            for (let i = 0; i < m; i++) {
              const b = tmp[i]!;
              if (b > out[i]!) out[i] = b;
            }
        }
      };
    }
    case "not": {
      const k = compileKernel(node.arg, cols);
      if (!k) return undefined;
      return (rows, m, out) => {
        k(rows, m, out);
        for (let i = 0; i < m; i++) out[i] = T - out[i]!;
      };
    }
  }
  const col = cols.get(node.field);
  if (!col) return undefined;
  const valid = col.valid;
  switch (node.op) {
    case "isNull":
    case "isNotNull": {
      const want = node.op === "isNull" ? 0 : 1;
      return (rows, m, out) => {
        for (let i = 0; i < m; i++) out[i] = valid[rows[i]!] === want ? T : F;
      };
    }
    case "in": {
      const cmps = node.values.map((v) => comparer(col, v));
      if (cmps.some((c) => !c)) return undefined;
      return (rows, m, out) => {
        for (let i = 0; i < m; i++) {
          const r = rows[i]!;
          if (!valid[r]) out[i] = N;
          else {
            let hit = F;
            for (const c of cmps) if ((c as (row: number) => number)(r) === 0) hit = T;
            out[i] = hit;
          }
        }
      };
    }
    case "contains":
    case "startsWith":
    case "endsWith": {
      if (!(col instanceof StrColumn) || typeof node.value !== "string") return undefined;
      const t = stringTest(col, node.op, node.value);
      return (rows, m, out) => {
        for (let i = 0; i < m; i++) {
          const r = rows[i]!;
          out[i] = !valid[r] ? N : t(r) ? T : F;
        }
      };
    }
    default: {
      const c = comparer(col, node.value);
      if (!c) return undefined;
      const op = node.op as Cmp;
      // The common int and float comparisons get their own loops (no call per row).
      if (col instanceof F64Column && typeof node.value === "number" && node.value === node.value && op !== "eq" && op !== "ne") {
        const vals = col.vals;
        const d = node.value;
        return (rows, m, out) => {
          for (let i = 0; i < m; i++) {
            const r = rows[i]!;
            if (!valid[r]) out[i] = N;
            else {
              const x = vals[r]!;
              // NaN is above everything: greater than any number literal.
              const cmp = x !== x ? 1 : x < d ? -1 : x > d ? 1 : 0;
              out[i] = test(op, cmp) ? T : F;
            }
          }
        };
      }
      // Exact int64 (and datetime) comparisons: the words compared in the loop.
      const x = col instanceof I64Column ? words(node.value instanceof Date ? node.value.getTime() * 1000 : node.value) : undefined;
      if (col instanceof I64Column && x) {
        const w = col.words;
        const [lo, hi] = x;
        const ulo = lo >>> 0;
        if (op === "eq" || op === "ne") {
          const hit = op === "eq" ? T : F;
          const miss = op === "eq" ? F : T;
          return (rows, m, out) => {
            for (let i = 0; i < m; i++) {
              const r = rows[i]! << 1;
              out[i] = !valid[r >> 1] ? N : w[r] === lo && w[r + 1] === hi ? hit : miss;
            }
          };
        }
        return (rows, m, out) => {
          for (let i = 0; i < m; i++) {
            const r = rows[i]! << 1;
            if (!valid[r >> 1]) {
              out[i] = N;
              continue;
            }
            const h = w[r + 1]!;
            const l = w[r]! >>> 0;
            const cmp = h !== hi ? (h < hi ? -1 : 1) : l < ulo ? -1 : l > ulo ? 1 : 0;
            out[i] = test(op, cmp) ? T : F;
          }
        };
      }
      if (col instanceof BoolColumn && typeof node.value === "boolean" && (op === "eq" || op === "ne")) {
        const vals = col.vals;
        const want = (node.value ? 1 : 0) ^ (op === "ne" ? 1 : 0);
        return (rows, m, out) => {
          for (let i = 0; i < m; i++) {
            const r = rows[i]!;
            out[i] = !valid[r] ? N : vals[r] === want ? T : F;
          }
        };
      }
      return (rows, m, out) => {
        for (let i = 0; i < m; i++) {
          const r = rows[i]!;
          out[i] = !valid[r] ? N : test(op, c(r)) ? T : F;
        }
      };
    }
  }
}
