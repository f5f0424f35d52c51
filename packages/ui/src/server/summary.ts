/**
 * The runs table: per run its row count, start, duration, params and per metric last/min/max.
 * With DuckDB SQL this is one GROUP BY inside the store (only the summary leaves it); other
 * stores are read once with a scan of the scalar columns. A column whose values never change
 * within a run is a param (one cell), any other a metric (three cells).
 */
import type { Schema, Store } from "@quiver/core";
import { floats, scalarColumns, values } from "./columns.js";
import { ident } from "./sql.js";
import { type Cell, type ColumnInfo, SYSTEM_COLUMNS, type SummaryColumn } from "../shared/protocol.js";

interface Stat {
  min: Cell;
  max: Cell;
  last: Cell;
}

interface RunStats {
  id: string;
  rows: number;
  t0: number | null;
  t1: number | null;
  stats: Stat[];
}

export interface Summary {
  columns: ColumnInfo[];
  sumCols: SummaryColumn[];
  ids: string[];
  cells: Cell[][];
  /** key → index in sumCols. */
  byKey: Map<string, number>;
  /** First timestamp (ms) per run id, for the relative-time axis. */
  start: Map<string, number>;
}

const SKIP = new Set(["track_id", "timestamp"]);

function lt(a: Cell, b: Cell): boolean {
  return (a as number | string) < (b as number | string);
}

/** Whether the store speaks DuckDB SQL (the in-store paths). */
export function hasDuckSql(store: Store): boolean {
  return store.capabilities.sql && store.capabilities.dialect === "duckdb" && typeof store.sql === "function";
}

/** Insertion order in DuckDB: rowid, unless a user column of that name hides it. */
export function orderColumn(schema: Schema): string {
  return schema.fields.some((f) => f.name.toLowerCase() === "rowid") ? ident("timestamp") : "rowid";
}

async function sqlStats(store: Store, table: string, schema: Schema, cols: { name: string; kind: ColumnInfo["kind"] }[]): Promise<RunStats[]> {
  const has = (n: string) => schema.fields.some((f) => f.name === n);
  const order = orderColumn(schema);
  const parts: string[] = [];
  if (has("track_id")) parts.push(`${ident("track_id")}::VARCHAR AS id`);
  else parts.push(`'' AS id`);
  parts.push("count(*)::DOUBLE AS n");
  parts.push(has("timestamp") ? `epoch_ms(min(${ident("timestamp")}))::DOUBLE AS t0, epoch_ms(max(${ident("timestamp")}))::DOUBLE AS t1` : "NULL::DOUBLE AS t0, NULL::DOUBLE AS t1");
  cols.forEach((c, i) => {
    const q = ident(c.name);
    const v = c.kind === "number" ? `${q}::DOUBLE` : c.kind === "bool" ? `${q}::INTEGER` : c.kind === "time" ? `epoch_ms(${q})::DOUBLE` : q;
    parts.push(`min(${v}) AS "m${i}", max(${v}) AS "x${i}", arg_max(${v}, ${order}) FILTER (WHERE ${q} IS NOT NULL) AS "l${i}"`);
  });
  const group = has("track_id") ? ` GROUP BY 1 ORDER BY min(${order})` : "";
  const t = await store.sql!(`SELECT ${parts.join(", ")} FROM ${ident(table)}${group}`);
  const ids = values(t, "id");
  const n = floats(t.getChild("n"));
  const t0 = floats(t.getChild("t0"));
  const t1 = floats(t.getChild("t1"));
  const cv = cols.map((c, i) => {
    const get = (p: string) => (c.kind === "string" ? values(t, `${p}${i}`) : Array.from(floats(t.getChild(`${p}${i}`)), (x) => (Number.isNaN(x) ? null : c.kind === "bool" ? x === 1 : x)));
    return { min: get("m"), max: get("x"), last: get("l") };
  });
  const out: RunStats[] = [];
  for (let r = 0; r < t.numRows; r++) {
    out.push({
      id: String(ids[r] ?? ""),
      rows: n[r]!,
      t0: Number.isNaN(t0[r]!) ? null : t0[r]!,
      t1: Number.isNaN(t1[r]!) ? null : t1[r]!,
      stats: cv.map((c) => ({ min: (c.min[r] ?? null) as Cell, max: (c.max[r] ?? null) as Cell, last: (c.last[r] ?? null) as Cell })),
    });
  }
  return out;
}

async function scanStats(store: Store, table: string, schema: Schema, cols: { name: string; kind: ColumnInfo["kind"] }[]): Promise<RunStats[]> {
  const has = (n: string) => schema.fields.some((f) => f.name === n);
  const names = [...(has("track_id") ? ["track_id"] : []), ...(has("timestamp") ? ["timestamp"] : []), ...cols.map((c) => c.name)];
  const runs = new Map<string, RunStats>();
  for await (const b of store.scan(table, { columns: names })) {
    const ids = has("track_id") ? b.getChild("track_id")!.toArray() : null;
    const ts = has("timestamp") ? floats(b.getChild("timestamp")) : null;
    const cv = cols.map((c) => {
      const vec = b.getChild(c.name);
      if (c.kind === "string") return vec ? (Array.from({ length: b.numRows }, (_, i) => vec.get(i)) as Cell[]) : [];
      const f = floats(vec);
      return Array.from(f, (x) => (Number.isNaN(x) ? null : c.kind === "bool" ? x === 1 : x));
    });
    for (let i = 0; i < b.numRows; i++) {
      const id = ids ? String(ids[i] ?? "") : "";
      let r = runs.get(id);
      if (!r) runs.set(id, (r = { id, rows: 0, t0: null, t1: null, stats: cols.map(() => ({ min: null, max: null, last: null })) }));
      r.rows++;
      const t = ts ? ts[i]! : NaN;
      if (!Number.isNaN(t)) {
        if (r.t0 === null || t < r.t0) r.t0 = t;
        if (r.t1 === null || t > r.t1) r.t1 = t;
      }
      for (let c = 0; c < cols.length; c++) {
        const v = cv[c]![i] ?? null;
        if (v === null) continue;
        const s = r.stats[c]!;
        if (s.min === null || lt(v, s.min)) s.min = v;
        if (s.max === null || lt(s.max, v)) s.max = v;
        s.last = v;
      }
    }
  }
  return [...runs.values()];
}

/** Reads and classifies the runs of a table. */
export async function computeSummary(store: Store, table: string, schema: Schema): Promise<Summary> {
  const cols = scalarColumns(schema).filter((c) => !SKIP.has(c.name));
  const stats = hasDuckSql(store) ? await sqlStats(store, table, schema, cols) : await scanStats(store, table, schema, cols);
  const columns: ColumnInfo[] = cols.map((c, i) => {
    const constant = stats.every((r) => r.stats[i]!.min === r.stats[i]!.max);
    const role = SYSTEM_COLUMNS.includes(c.name) && c.kind === "number" ? "system" : constant || c.kind !== "number" ? "param" : c.name === "step" ? "axis" : "metric";
    return { name: c.name, kind: c.kind, role };
  });
  const sumCols: SummaryColumn[] = [
    { col: "", stat: "value", kind: "number", key: "rows" },
    { col: "", stat: "value", kind: "time", key: "started" },
    { col: "", stat: "value", kind: "number", key: "duration" },
  ];
  const pick: { i: number; stat: "value" | "last" | "min" | "max" }[] = [];
  // Params first (what the runs differ in), then metrics, then system metrics.
  for (const role of ["param", "metric", "system", "axis"] as const) {
    columns.forEach((c, i) => {
      if (c.role !== role) return;
      if (role === "param") {
        sumCols.push({ col: c.name, stat: "value", kind: c.kind, key: c.name });
        pick.push({ i, stat: "value" });
      } else {
        for (const stat of ["last", "min", "max"] as const) {
          sumCols.push({ col: c.name, stat, kind: c.kind, key: stat === "last" ? c.name : `${c.name}:${stat}` });
          pick.push({ i, stat });
        }
      }
    });
  }
  const cells = stats.map((r) => {
    const row: Cell[] = [r.rows, r.t0, r.t0 !== null && r.t1 !== null ? (r.t1 - r.t0) / 1000 : null];
    for (const p of pick) {
      const s = r.stats[p.i]!;
      row.push(p.stat === "value" ? (s.last ?? s.min) : s[p.stat]);
    }
    return row;
  });
  const byKey = new Map(sumCols.map((c, i) => [c.key, i] as const));
  const start = new Map<string, number>();
  for (const r of stats) if (r.t0 !== null) start.set(r.id, r.t0);
  return { columns, sumCols, ids: stats.map((r) => r.id), cells, byKey, start };
}
