/**
 * Series for stores without SQL: one scan of the selected runs' x and y columns (pushed down
 * where the store can), then decimation in JS. Raw columns of recent requests are kept while
 * the table's row count is unchanged, so zooming re-cuts memory instead of re-reading the store.
 */
import { field, type Schema, type Store } from "@quiver/core";
import { floats } from "./columns.js";
import { decimate, type Decimated, extent, groupBins } from "../shared/decimate.js";

export interface RawSeries {
  x: Float64Array;
  y: Float64Array;
  group: string | null;
  /** x never decreases (step, time): a range is found by binary search. */
  sorted?: boolean;
}

export function isSorted(x: ArrayLike<number>): boolean {
  for (let i = 1; i < x.length; i++) if (!(x[i]! >= x[i - 1]!)) return false;
  return true;
}

/** First index with x[i] >= v in a sorted array. */
function lowerBound(x: Float64Array, v: number): number {
  let lo = 0;
  let hi = x.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (x[m]! < v) lo = m + 1;
    else hi = m;
  }
  return lo;
}

export interface ScanSeriesOptions {
  table: string;
  schema: Schema;
  runs: string[];
  y: string;
  x: string;
  group?: string;
  /** The run's first timestamp (ms), for the relative axis. */
  start: Map<string, number>;
}

/** Reads the raw (x, y) of each run in insertion order. */
export async function readRaw(store: Store, o: ScanSeriesOptions): Promise<Map<string, RawSeries>> {
  const has = (n: string) => o.schema.fields.some((f) => f.name === n);
  const xcol = o.x === "step" ? (has("step") ? "step" : undefined) : o.x === "wall" || o.x === "relative" ? "timestamp" : o.x;
  const cols = [...new Set([...(has("track_id") ? ["track_id"] : []), ...(xcol ? [xcol] : []), o.y, ...(o.group ? [o.group] : [])])];
  const where = has("track_id") ? field("track_id").in(o.runs).node : undefined;
  const acc = new Map<string, { x: number[]; y: number[]; group: string | null }>();
  for await (const b of store.scan(o.table, { columns: cols, where })) {
    const ids = has("track_id") ? b.getChild("track_id")!.toArray() : null;
    const xs = xcol ? floats(b.getChild(xcol)) : null;
    const ys = floats(b.getChild(o.y));
    const gs = o.group ? b.getChild(o.group) : null;
    for (let i = 0; i < b.numRows; i++) {
      const id = ids ? String(ids[i]) : "";
      let a = acc.get(id);
      if (!a) acc.set(id, (a = { x: [], y: [], group: null }));
      // Step without a step column: the row's position within its run, nulls included.
      let x = xs ? xs[i]! : a.x.length;
      if (o.x === "wall") x /= 1000;
      else if (o.x === "relative") x = (x - (o.start.get(id) ?? 0)) / 1000;
      a.x.push(x);
      a.y.push(ys[i]!);
      if (gs && a.group === null) {
        const g = gs.get(i);
        if (g !== null && g !== undefined) a.group = String(g);
      }
    }
  }
  const out = new Map<string, RawSeries>();
  for (const [id, a] of acc) {
    const x = Float64Array.from(a.x);
    out.set(id, { x, y: Float64Array.from(a.y), group: a.group, sorted: isSorted(x) });
  }
  return out;
}

export interface CutSeries {
  x0: number;
  x1: number;
  series: Map<string, Decimated & { lo?: number[]; hi?: number[]; runs?: number }>;
}

/** Decimates raw series over a shared x range (the data's extent unless given). */
export function cut(raw: Map<string, RawSeries>, x0: number | undefined, x1: number | undefined, width: number, grouped: boolean): CutSeries {
  let lo = x0 ?? Infinity;
  let hi = x1 ?? -Infinity;
  if (x0 === undefined || x1 === undefined) {
    for (const r of raw.values()) {
      const e = extent(r.x, r.y);
      if (!e) continue;
      if (x0 === undefined) lo = Math.min(lo, e.lo);
      if (x1 === undefined) hi = Math.max(hi, e.hi);
    }
  }
  if (!(lo <= hi)) return { x0: x0 ?? 0, x1: x1 ?? 1, series: new Map() };
  const series = new Map<string, Decimated & { lo?: number[]; hi?: number[]; runs?: number }>();
  if (grouped) {
    const groups = new Map<string, RawSeries[]>();
    for (const r of raw.values()) {
      const k = r.group ?? "(null)";
      const list = groups.get(k) ?? [];
      list.push(r);
      groups.set(k, list);
    }
    for (const [k, parts] of [...groups].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
      const g = groupBins(parts, lo, hi, width);
      if (!g.x.length) continue;
      const n = g.count.reduce((a, b) => a + b, 0);
      series.set(k, { x: g.x, y: g.mean, bx: g.x, by: g.mean, bc: g.count, n, lo: g.lo, hi: g.hi, runs: parts.length });
    }
  } else {
    for (const [id, r] of raw) {
      // A sorted x is cut to the range first, so a zoom costs the points in view.
      const a = r.sorted ? lowerBound(r.x, lo) : 0;
      const b = r.sorted ? lowerBound(r.x, hi + Math.abs(hi) * 1e-15 + Number.MIN_VALUE) : r.x.length;
      const d = r.sorted ? decimate(r.x.subarray(a, b), r.y.subarray(a, b), lo, hi, width) : decimate(r.x, r.y, lo, hi, width);
      if (d.n) series.set(id, d);
    }
  }
  return { x0: lo, x1: hi, series };
}
