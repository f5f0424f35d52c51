/**
 * Decimation inside DuckDB: the x range is cut into pixel columns and one GROUP BY returns, per
 * run and column, the first/min/max/last points (M4) with the column's mean and count, so a
 * 1M-point series leaves the store as a few thousand points. Identifiers are quoted, run ids
 * are bound parameters, and numbers are inlined only after a finiteness check.
 */
import type { Schema, Store } from "@quiver/core";
import { QuiverError } from "@quiver/core";
import { floats, values } from "./columns.js";
import { type Bin, binsToPoints, type Decimated } from "../shared/decimate.js";

/** A quoted SQL identifier. */
export function ident(name: string): string {
  if (name.includes("\u0000")) throw new QuiverError("INVALID_NAME", `name ${JSON.stringify(name)} contains NUL`);
  return `"${name.replaceAll('"', '""')}"`;
}

function num(x: number): string {
  if (!Number.isFinite(x)) throw new QuiverError("INVALID_VALUE", `x range bound ${x} is not a finite number`);
  return String(x);
}

export interface SqlSeriesOptions {
  table: string;
  schema: Schema;
  runs: string[];
  y: string;
  x: string;
  x0?: number;
  x1?: number;
  width: number;
  group?: string;
  order: string;
}

/** The x expression of an axis choice, computed over the run's rows before any filter. */
function xExpr(o: SqlSeriesOptions): string {
  const has = (n: string) => o.schema.fields.some((f) => f.name === n);
  const part = has("track_id") ? `PARTITION BY ${ident("track_id")} ` : "";
  if (o.x === "step") return has("step") ? `${ident("step")}::DOUBLE` : `(row_number() OVER (${part}ORDER BY ${o.order}) - 1)::DOUBLE`;
  if (o.x === "wall") return `epoch_us(${ident("timestamp")})::DOUBLE / 1e6`;
  if (o.x === "relative") return `(epoch_us(${ident("timestamp")}) - min(epoch_us(${ident("timestamp")})) OVER (${part.trim()}))::DOUBLE / 1e6`;
  return `${ident(o.x)}::DOUBLE`;
}

function base(o: SqlSeriesOptions): { sql: string; params: string[] } {
  const has = (n: string) => o.schema.fields.some((f) => f.name === n);
  const params = has("track_id") ? o.runs : [];
  const where = has("track_id") ? `WHERE ${ident("track_id")} IN (${o.runs.map((_, i) => `$${i + 1}`).join(", ")})` : "";
  const id = has("track_id") ? `${ident("track_id")}::VARCHAR` : "''";
  const g = o.group ? `${ident(o.group)}::VARCHAR` : "NULL::VARCHAR";
  const range = [o.x0 !== undefined ? `x >= ${num(o.x0)}` : "", o.x1 !== undefined ? `x <= ${num(o.x1)}` : ""].filter(Boolean);
  const s0 = `SELECT ${id} AS id, ${g} AS g, ${xExpr(o)} AS x, ${ident(o.y)}::DOUBLE AS y, ${o.order} AS r FROM ${ident(o.table)} ${where}`;
  const s = `SELECT * FROM s0 WHERE isfinite(y) AND isfinite(x)${range.map((c) => ` AND ${c}`).join("")}`;
  // Aggregates even for given bounds, so rg is always one row.
  const lo = o.x0 !== undefined ? `min(${num(o.x0)}::DOUBLE)` : "min(x)";
  const hi = o.x1 !== undefined ? `min(${num(o.x1)}::DOUBLE)` : "max(x)";
  const w = Math.max(1, Math.floor(o.width));
  const sql = `WITH s0 AS (${s0}), s AS (${s}), rg AS (SELECT ${lo}::DOUBLE AS lo, ${hi}::DOUBLE AS hi FROM s),
b AS (SELECT s.*, rg.lo, rg.hi, least(${w - 1}, greatest(0, coalesce(floor((x - rg.lo) / nullif(rg.hi - rg.lo, 0) * ${w}), 0)))::INTEGER AS bin FROM s, rg)`;
  return { sql, params };
}

export interface SqlSeries {
  x0: number;
  x1: number;
  series: Map<string, Decimated & { lo?: number[]; hi?: number[]; runs?: number }>;
}

/** Decimated series of the runs (or of the groups), computed in DuckDB. */
export async function sqlSeries(store: Store, o: SqlSeriesOptions): Promise<SqlSeries> {
  const { sql: head, params } = base(o);
  const w = Math.max(1, Math.floor(o.width));
  if (o.group) {
    const t = await store.sql!(
      `${head} SELECT g, bin, avg(x) AS mx, avg(y) AS my, min(y) AS miny, max(y) AS maxy, count(*)::DOUBLE AS c, count(DISTINCT id)::DOUBLE AS nr, any_value(lo) AS lo, any_value(hi) AS hi FROM b GROUP BY g, bin ORDER BY g, bin`,
      params,
    );
    const g = values(t, "g");
    const [mx, my, mn, mxv, c, nr, lo, hi] = ["mx", "my", "miny", "maxy", "c", "nr", "lo", "hi"].map((k) => floats(t.getChild(k)));
    const series = new Map<string, Decimated & { lo: number[]; hi: number[]; runs: number }>();
    for (let i = 0; i < t.numRows; i++) {
      const key = g[i] === null || g[i] === undefined ? "(null)" : String(g[i]);
      let s = series.get(key);
      if (!s) series.set(key, (s = { x: [], y: [], bx: [], by: [], bc: [], n: 0, lo: [], hi: [], runs: 0 }));
      s.x.push(mx![i]!);
      s.y.push(my![i]!);
      s.bx.push(mx![i]!);
      s.by.push(my![i]!);
      s.bc.push(c![i]!);
      s.lo.push(mn![i]!);
      s.hi.push(mxv![i]!);
      s.n += c![i]!;
      s.runs = Math.max(s.runs, nr![i]!);
    }
    return { x0: t.numRows ? lo![0]! : (o.x0 ?? 0), x1: t.numRows ? hi![0]! : (o.x1 ?? 1), series };
  }
  const t = await store.sql!(
    `${head} SELECT id, bin, arg_min(x, r) AS fx, arg_min(y, r) AS fy, min(y) AS miny, arg_min(x, y) AS minx, max(y) AS maxy, arg_max(x, y) AS maxx, arg_max(x, r) AS lx, arg_max(y, r) AS ly, count(*)::DOUBLE AS c, avg(x) AS mx, avg(y) AS my, any_value(lo) AS lo, any_value(hi) AS hi FROM b GROUP BY id, bin ORDER BY id, bin`,
    params,
  );
  const ids = values(t, "id");
  const cols = ["bin", "fx", "fy", "minx", "miny", "maxx", "maxy", "lx", "ly", "c", "mx", "my", "lo", "hi"];
  const v = Object.fromEntries(cols.map((k) => [k, floats(t.getChild(k))])) as Record<string, Float64Array>;
  const bins = new Map<string, Bin[]>();
  for (let i = 0; i < t.numRows; i++) {
    const id = String(ids[i] ?? "");
    let list = bins.get(id);
    if (!list) bins.set(id, (list = []));
    list.push({
      bin: v.bin![i]!,
      fx: v.fx![i]!,
      fy: v.fy![i]!,
      minx: v.minx![i]!,
      miny: v.miny![i]!,
      maxx: v.maxx![i]!,
      maxy: v.maxy![i]!,
      lx: v.lx![i]!,
      ly: v.ly![i]!,
      count: v.c![i]!,
      meanx: v.mx![i]!,
      meany: v.my![i]!,
    });
  }
  const series = new Map<string, Decimated>();
  const small: string[] = [];
  for (const [id, list] of bins) {
    const n = list.reduce((a, b) => a + b.count, 0);
    if (n <= 4 * w) small.push(id);
    else series.set(id, binsToPoints(list, n));
  }
  if (small.length) {
    // Few points: ship them all, so lines and smoothing are exact.
    const has = o.schema.fields.some((f) => f.name === "track_id");
    const pick = has ? ` WHERE id IN (${small.map((_, i) => `$${params.length + i + 1}`).join(", ")})` : "";
    const r = await store.sql!(`${head} SELECT id, x, y FROM s${pick} ORDER BY id, x, r`, has ? [...params, ...small] : params);
    const rid = values(r, "id");
    const rx = floats(r.getChild("x"));
    const ry = floats(r.getChild("y"));
    for (let i = 0; i < r.numRows; i++) {
      const id = String(rid[i] ?? "");
      let s = series.get(id);
      if (!s) series.set(id, (s = { x: [], y: [], bx: [], by: [], bc: [], n: 0 }));
      s.x.push(rx[i]!);
      s.y.push(ry[i]!);
      s.bx.push(rx[i]!);
      s.by.push(ry[i]!);
      s.bc.push(1);
      s.n++;
    }
  }
  return { x0: t.numRows ? v.lo![0]! : (o.x0 ?? 0), x1: t.numRows ? v.hi![0]! : (o.x1 ?? 1), series };
}

/** Every finite (x, y) of the runs in insertion order: what the zoom cache holds. */
export async function sqlRaw(store: Store, o: SqlSeriesOptions): Promise<Map<string, { x: Float64Array; y: Float64Array }>> {
  const { sql: head, params } = base({ ...o, x0: undefined, x1: undefined });
  const t = await store.sql!(`${head} SELECT id, x, y FROM s ORDER BY id, r`, params);
  const ids = values(t, "id");
  const xs = floats(t.getChild("x"));
  const ys = floats(t.getChild("y"));
  const out = new Map<string, { x: Float64Array; y: Float64Array }>();
  let i = 0;
  while (i < t.numRows) {
    const id = String(ids[i] ?? "");
    let j = i;
    while (j < t.numRows && String(ids[j] ?? "") === id) j++;
    out.set(id, { x: xs.slice(i, j), y: ys.slice(i, j) });
    i = j;
  }
  return out;
}
