/**
 * `_ts` ranges in a QueryNode: which time intervals can hold matching rows, and whether the
 * query is nothing but those intervals (then blocks wholly inside are counted from the index).
 */
import type { QueryNode } from "@quiver/core";

export interface Interval {
  lo: number;
  loInc: boolean;
  hi: number;
  hiInc: boolean;
}

export interface TsRange {
  /** Rows can match only with `_ts` in one of these (sorted, disjoint not required). */
  intervals: Interval[];
  /** The query is exactly "`_ts` in intervals" (nulls and NaN never match). */
  pure: boolean;
}

const ALL: Interval = { lo: -Infinity, loInc: true, hi: Infinity, hiInc: true };

function intersect(a: Interval, b: Interval): Interval | undefined {
  let lo = a.lo;
  let loInc = a.loInc;
  if (b.lo > lo || (b.lo === lo && !b.loInc)) {
    lo = b.lo;
    loInc = b.loInc;
  }
  let hi = a.hi;
  let hiInc = a.hiInc;
  if (b.hi < hi || (b.hi === hi && !b.hiInc)) {
    hi = b.hi;
    hiInc = b.hiInc;
  }
  if (lo > hi || (lo === hi && !(loInc && hiInc))) return undefined;
  return { lo, loInc, hi, hiInc };
}

/** Intervals of `node` on `_ts`, or undefined when it does not restrict `_ts`. */
export function tsRange(node: QueryNode | undefined, column = "_ts"): TsRange | undefined {
  if (!node) return undefined;
  switch (node.op) {
    case "ge":
    case "gt":
    case "le":
    case "lt":
    case "eq": {
      if (node.field !== column || typeof node.value !== "number" || node.value !== node.value) return undefined;
      const v = node.value;
      const iv: Interval =
        node.op === "ge"
          ? { lo: v, loInc: true, hi: Infinity, hiInc: true }
          : node.op === "gt"
            ? { lo: v, loInc: false, hi: Infinity, hiInc: true }
            : node.op === "le"
              ? { lo: -Infinity, loInc: true, hi: v, hiInc: true }
              : node.op === "lt"
                ? { lo: -Infinity, loInc: true, hi: v, hiInc: false }
                : { lo: v, loInc: true, hi: v, hiInc: true };
      return { intervals: [iv], pure: true };
    }
    case "in": {
      if (node.field !== column || !node.values.every((v) => typeof v === "number" && v === v)) return undefined;
      return { intervals: (node.values as number[]).map((v) => ({ lo: v, loInc: true, hi: v, hiInc: true })), pure: true };
    }
    case "and": {
      let acc: Interval[] = [ALL];
      let pure = true;
      let restricted = false;
      for (const a of node.args) {
        const r = tsRange(a, column);
        if (!r) {
          pure = false;
          continue;
        }
        restricted = true;
        pure &&= r.pure;
        const next: Interval[] = [];
        for (const x of acc)
          for (const y of r.intervals) {
            const z = intersect(x, y);
            if (z) next.push(z);
          }
        acc = next;
      }
      return restricted ? { intervals: acc, pure } : undefined;
    }
    case "or": {
      const out: Interval[] = [];
      let pure = true;
      for (const a of node.args) {
        const r = tsRange(a, column);
        if (!r) return undefined; // one branch does not restrict _ts: neither does the union
        pure &&= r.pure;
        out.push(...r.intervals);
      }
      return { intervals: out, pure };
    }
    default:
      return undefined;
  }
}

export function inIntervals(v: number, ivs: readonly Interval[]): boolean {
  for (const iv of ivs) {
    if ((v > iv.lo || (iv.loInc && v === iv.lo)) && (v < iv.hi || (iv.hiInc && v === iv.hi))) return true;
  }
  return false;
}

/** A block with `_ts` in [min, max] may hold rows of the intervals. */
export function overlaps(min: number, max: number, ivs: readonly Interval[]): boolean {
  if (min > max) return false;
  for (const iv of ivs) {
    if ((max > iv.lo || (iv.loInc && max === iv.lo)) && (min < iv.hi || (iv.hiInc && min === iv.hi))) return true;
  }
  return false;
}

/** Every `_ts` in [min, max] lies in one interval. */
export function within(min: number, max: number, ivs: readonly Interval[]): boolean {
  for (const iv of ivs) {
    if ((min > iv.lo || (iv.loInc && min === iv.lo)) && (max < iv.hi || (iv.hiInc && max === iv.hi))) return true;
  }
  return false;
}
