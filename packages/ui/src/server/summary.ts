/**
 * The runs table: per run its row count, start, duration, params and per metric last/min/max.
 * With DuckDB SQL this is one GROUP BY inside the store (only the summary leaves it); stores
 * with their own run summaries (store.runs with columns: postgres:, msgpack:) answer it too;
 * other stores are read once with a scan of the scalar columns. A column whose values never change
 * within a run is a param (one cell), any other a metric (three cells).
 */
import type { Schema, Store, SummaryValue } from "@quiver/core";
import { floats, scalarColumns, values } from "./columns.js";
import { ident } from "./sql.js";
import { type Cell, type ColumnInfo, SYSTEM_COLUMNS, type SummaryColumn } from "../shared/protocol.js";

/** A column of values, one per run: numbers (NaN for null) or, for strings, cells. */
export type Column = Float64Array | Cell[];

/** Per-run statistics, column by column (no object per run and column: 10,000 runs × 200 columns stay cheap). */
interface Stats {
  ids: string[];
  rows: Float64Array;
  t0: Float64Array;
  t1: Float64Array;
  min: Column[];
  max: Column[];
  last: Column[];
}

export interface Summary {
  columns: ColumnInfo[];
  sumCols: SummaryColumn[];
  ids: string[];
  /** One column per entry of sumCols. */
  values: Column[];
  /** key → index in sumCols. */
  byKey: Map<string, number>;
  /** First timestamp (ms) per run id, for the relative-time axis. */
  start: Map<string, number>;
}

/** The cell of run r in a summary column (bools come back as booleans). */
export function cellAt(s: Summary, r: number, c: number): Cell {
  const col = s.values[c]!;
  if (col instanceof Float64Array) {
    const v = col[r]!;
    return Number.isNaN(v) ? null : s.sumCols[c]!.kind === "bool" ? v === 1 : v;
  }
  return col[r] ?? null;
}

/** A run's row of cells (what the page gets). */
export function rowAt(s: Summary, r: number): Cell[] {
  return s.sumCols.map((_, c) => cellAt(s, r, c));
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

async function sqlStats(store: Store, table: string, schema: Schema, cols: { name: string; kind: ColumnInfo["kind"] }[]): Promise<Stats> {
  const has = (n: string) => schema.fields.some((f) => f.name === n);
  const order = orderColumn(schema);
  const parts: string[] = [];
  if (has("track_id")) parts.push(`${ident("track_id")}::VARCHAR AS id`);
  else parts.push(`'' AS id`);
  parts.push("count(*)::DOUBLE AS n");
  parts.push(
    has("timestamp") ? `epoch_ms(min(${ident("timestamp")}))::DOUBLE AS t0, epoch_ms(max(${ident("timestamp")}))::DOUBLE AS t1` : "NULL::DOUBLE AS t0, NULL::DOUBLE AS t1",
  );
  // arg_max skips null values, so "last" is the last value logged, not a trailing null.
  cols.forEach((c, i) => {
    const q = ident(c.name);
    const v = c.kind === "number" ? `${q}::DOUBLE` : c.kind === "bool" ? `${q}::INTEGER::DOUBLE` : c.kind === "time" ? `epoch_ms(${q})::DOUBLE` : q;
    parts.push(`min(${v}) AS "m${i}", max(${v}) AS "x${i}", arg_max(${v}, ${order}) AS "l${i}"`);
  });
  const group = has("track_id") ? ` GROUP BY 1 ORDER BY min(${order})` : "";
  const t = await store.sql!(`SELECT ${parts.join(", ")} FROM ${ident(table)}${group}`);
  const get = (c: { kind: ColumnInfo["kind"] }, name: string): Column => (c.kind === "string" ? (values(t, name) as Cell[]) : floats(t.getChild(name)));
  return {
    ids: values(t, "id").map((v) => String(v ?? "")),
    rows: floats(t.getChild("n")),
    t0: floats(t.getChild("t0")),
    t1: floats(t.getChild("t1")),
    min: cols.map((c, i) => get(c, `m${i}`)),
    max: cols.map((c, i) => get(c, `x${i}`)),
    last: cols.map((c, i) => get(c, `l${i}`)),
  };
}

interface RunAcc {
  rows: number;
  t0: number;
  t1: number;
  min: Cell[];
  max: Cell[];
  last: Cell[];
}

/**
 * From the store's own run summaries (store.runs with columns: an aggregate query on postgres:,
 * the summary appends keep on msgpack:), so the rows are not read here. Undefined when the
 * store has none (or the table has no runs): then a scan.
 */
async function keptStats(store: Store, table: string, schema: Schema, cols: { name: string; kind: ColumnInfo["kind"] }[]): Promise<Stats | undefined> {
  if (!store.runs || !schema.fields.some((f) => f.name === "track_id")) return undefined;
  const runs = await store.runs(table, { columns: cols.map((c) => c.name) });
  if (runs.some((r) => !r.columns)) return undefined;
  const num = (v: SummaryValue | null | undefined): number =>
    v === null || v === undefined ? Number.NaN : v instanceof Date ? v.getTime() : typeof v === "boolean" ? Number(v) : Number(v);
  const col = (c: { name: string; kind: ColumnInfo["kind"] }, k: "min" | "max" | "last"): Column =>
    c.kind === "string" ? runs.map((r) => (r.columns![c.name]?.[k] ?? null) as Cell) : Float64Array.from(runs, (r) => num(r.columns![c.name]?.[k]));
  return {
    ids: runs.map((r) => r.track_id),
    rows: Float64Array.from(runs, (r) => r.rows),
    t0: Float64Array.from(runs, (r) => num(r.first)),
    t1: Float64Array.from(runs, (r) => num(r.last)),
    min: cols.map((c) => col(c, "min")),
    max: cols.map((c) => col(c, "max")),
    last: cols.map((c) => col(c, "last")),
  };
}

async function scanStats(store: Store, table: string, schema: Schema, cols: { name: string; kind: ColumnInfo["kind"] }[]): Promise<Stats> {
  const has = (n: string) => schema.fields.some((f) => f.name === n);
  const names = [...(has("track_id") ? ["track_id"] : []), ...(has("timestamp") ? ["timestamp"] : []), ...cols.map((c) => c.name)];
  const runs = new Map<string, RunAcc>();
  for await (const b of store.scan(table, { columns: names })) {
    const ids = has("track_id") ? b.getChild("track_id")!.toArray() : null;
    const ts = has("timestamp") ? floats(b.getChild("timestamp")) : null;
    const cv = cols.map((c) => {
      const vec = b.getChild(c.name);
      if (c.kind === "string") return vec ? (Array.from({ length: b.numRows }, (_, i) => vec.get(i)) as Cell[]) : [];
      const f = floats(vec);
      return Array.from(f, (x) => (Number.isNaN(x) ? null : x));
    });
    for (let i = 0; i < b.numRows; i++) {
      const id = ids ? String(ids[i] ?? "") : "";
      let r = runs.get(id);
      if (!r) runs.set(id, (r = { rows: 0, t0: NaN, t1: NaN, min: cols.map(() => null), max: cols.map(() => null), last: cols.map(() => null) }));
      r.rows++;
      const t = ts ? ts[i]! : NaN;
      if (!Number.isNaN(t)) {
        if (!(t >= r.t0)) r.t0 = t;
        if (!(t <= r.t1)) r.t1 = t;
      }
      for (let c = 0; c < cols.length; c++) {
        const v = cv[c]![i] ?? null;
        if (v === null) continue;
        if (r.min[c] === null || lt(v, r.min[c]!)) r.min[c] = v;
        if (r.max[c] === null || lt(r.max[c]!, v)) r.max[c] = v;
        r.last[c] = v;
      }
    }
  }
  const acc = [...runs.values()];
  const col = (c: number, k: "min" | "max" | "last"): Column =>
    cols[c]!.kind === "string" ? acc.map((r) => r[k][c]!) : Float64Array.from(acc, (r) => (r[k][c] === null ? NaN : Number(r[k][c])));
  return {
    ids: [...runs.keys()],
    rows: Float64Array.from(acc, (r) => r.rows),
    t0: Float64Array.from(acc, (r) => r.t0),
    t1: Float64Array.from(acc, (r) => r.t1),
    min: cols.map((_, c) => col(c, "min")),
    max: cols.map((_, c) => col(c, "max")),
    last: cols.map((_, c) => col(c, "last")),
  };
}

function sameValue(a: Column, b: Column, r: number): boolean {
  const x = a[r] ?? null;
  const y = b[r] ?? null;
  return x === y || (typeof x === "number" && typeof y === "number" && Number.isNaN(x) && Number.isNaN(y));
}

/** Reads and classifies the runs of a table. */
export async function computeSummary(store: Store, table: string, schema: Schema): Promise<Summary> {
  const cols = scalarColumns(schema).filter((c) => !SKIP.has(c.name));
  const st = hasDuckSql(store) ? await sqlStats(store, table, schema, cols) : ((await keptStats(store, table, schema, cols)) ?? (await scanStats(store, table, schema, cols)));
  const n = st.ids.length;
  const columns: ColumnInfo[] = cols.map((c, i) => {
    let constant = true;
    for (let r = 0; r < n && constant; r++) constant = sameValue(st.min[i]!, st.max[i]!, r);
    const role = SYSTEM_COLUMNS.includes(c.name) && c.kind === "number" ? "system" : constant || c.kind !== "number" ? "param" : c.name === "step" ? "axis" : "metric";
    return { name: c.name, kind: c.kind, role };
  });
  const duration = new Float64Array(n);
  for (let r = 0; r < n; r++) duration[r] = (st.t1[r]! - st.t0[r]!) / 1000;
  const sumCols: SummaryColumn[] = [
    { col: "", stat: "value", kind: "number", key: "rows" },
    { col: "", stat: "value", kind: "time", key: "started" },
    { col: "", stat: "value", kind: "number", key: "duration" },
  ];
  const vals: Column[] = [st.rows, st.t0, duration];
  // Params first (what the runs differ in), then metrics, then system metrics.
  for (const role of ["param", "metric", "system", "axis"] as const) {
    columns.forEach((c, i) => {
      if (c.role !== role) return;
      if (role === "param") {
        sumCols.push({ col: c.name, stat: "value", kind: c.kind, key: c.name });
        vals.push(st.last[i]!);
      } else {
        for (const stat of ["last", "min", "max"] as const) {
          sumCols.push({ col: c.name, stat, kind: c.kind, key: stat === "last" ? c.name : `${c.name}:${stat}` });
          vals.push(st[stat][i]!);
        }
      }
    });
  }
  const byKey = new Map(sumCols.map((c, i) => [c.key, i] as const));
  const start = new Map<string, number>();
  st.ids.forEach((id, r) => {
    if (!Number.isNaN(st.t0[r]!)) start.set(id, st.t0[r]!);
  });
  return { columns, sumCols, ids: st.ids, values: vals, byKey, start };
}
