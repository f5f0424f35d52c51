/**
 * Core's Query tree evaluated over plain values (the runs table's cells), with the same rules
 * as core's Arrow evaluator: SQL three-valued logic (a comparison with null is unknown, and
 * unknown never matches), and a comparison of values of different kinds matches nothing.
 */
import type { QueryNode } from "@quiver/core";
import type { Cell } from "./protocol.js";

type Tri = boolean | null;
type Prim = number | bigint | string | boolean | Date;

function kindOf(v: unknown): string {
  if (typeof v === "bigint") return "number";
  if (v instanceof Date) return "time";
  return typeof v;
}

function norm(v: unknown): number | string | boolean {
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Date) return v.getTime();
  return v as number | string | boolean;
}

function compare(op: string, a: Cell, b: Prim, timeCol: boolean): Tri {
  if (a === null || a === undefined) return null;
  const bk = kindOf(b);
  const ak = timeCol && typeof a === "number" ? "time" : kindOf(a);
  if (op === "contains") return typeof a === "string" && typeof b === "string" ? a.includes(b) : false;
  if (op === "startsWith") return typeof a === "string" && typeof b === "string" ? a.startsWith(b) : false;
  if (op === "endsWith") return typeof a === "string" && typeof b === "string" ? a.endsWith(b) : false;
  if (ak !== bk) return false;
  const x = norm(a);
  const y = norm(b);
  switch (op) {
    case "eq":
      return x === y;
    case "ne":
      return x !== y;
    case "gt":
      return x > y;
    case "ge":
      return x >= y;
    case "lt":
      return x < y;
    default:
      return x <= y;
  }
}

/**
 * Whether the row matches. `get(field)` returns the cell or `undefined` for an unknown field;
 * `isTime(field)` says a numeric cell holds epoch milliseconds (compared with dates).
 */
export function matches(node: QueryNode, get: (field: string) => Cell | undefined, isTime: (field: string) => boolean = () => false): boolean {
  return evalNode(node, get, isTime) === true;
}

function evalNode(node: QueryNode, get: (field: string) => Cell | undefined, isTime: (field: string) => boolean): Tri {
  switch (node.op) {
    case "and": {
      let r: Tri = true;
      for (const a of node.args) {
        const v = evalNode(a, get, isTime);
        if (v === false) return false;
        if (v === null) r = null;
      }
      return r;
    }
    case "or": {
      let r: Tri = false;
      for (const a of node.args) {
        const v = evalNode(a, get, isTime);
        if (v === true) return true;
        if (v === null) r = null;
      }
      return r;
    }
    case "not": {
      const v = evalNode(node.arg, get, isTime);
      return v === null ? null : !v;
    }
    case "isNull":
      return (get(node.field) ?? null) === null;
    case "isNotNull":
      return (get(node.field) ?? null) !== null;
    case "in": {
      const a = get(node.field) ?? null;
      if (a === null) return null;
      return node.values.some((v) => compare("eq", a, v, isTime(node.field)) === true);
    }
    default:
      return compare(node.op, get(node.field) ?? null, node.value, isTime(node.field));
  }
}

/** Field names a query mentions. */
export function fieldsOf(node: QueryNode, out: Set<string> = new Set()): Set<string> {
  switch (node.op) {
    case "and":
    case "or":
      for (const a of node.args) fieldsOf(a, out);
      break;
    case "not":
      fieldsOf(node.arg, out);
      break;
    default:
      out.add(node.field);
  }
  return out;
}
