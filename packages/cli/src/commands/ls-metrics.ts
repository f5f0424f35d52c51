/** `quiver ls --metrics`: runs with their params and per-metric last/min/max, as table rows. */
import type { Row, RunInfo, SummaryValue } from "@quiver/core";

/** min equals max: the same value (NaN equals NaN, Dates by time). */
function same(a: SummaryValue | null, b: SummaryValue | null): boolean {
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return Object.is(a, b) || a === b;
}

/**
 * Runs with their column summaries (Reader.runs({ columns: "all" }), computed inside the store)
 * as rows: a column constant within every run is a param (one cell: its value), any other a
 * metric — its last value, and for numbers `name:min` and `name:max`.
 */
export function runsWithMetrics(runs: RunInfo[]): { rows: Row[]; columns: string[] } {
  const names = Object.keys(runs[0]?.columns ?? {});
  const constant = (n: string) =>
    runs.every((r) => {
      const c = r.columns?.[n];
      return !c || same(c.min, c.max);
    });
  const params = names.filter(constant);
  const metrics = names.filter((n) => !params.includes(n));
  const numeric = (n: string) => runs.some((r) => ["number", "bigint"].includes(typeof r.columns?.[n]?.last));
  const columns = ["track_id", "rows", ...params];
  for (const m of metrics) columns.push(m, ...(numeric(m) ? [`${m}:min`, `${m}:max`] : []));
  const rows = runs.map((r) => {
    const row: Row = { track_id: r.track_id, rows: r.rows };
    for (const n of params) row[n] = r.columns?.[n]?.last ?? null;
    for (const m of metrics) {
      const c = r.columns?.[m];
      row[m] = c?.last ?? null;
      if (numeric(m)) {
        row[`${m}:min`] = c?.min ?? null;
        row[`${m}:max`] = c?.max ?? null;
      }
    }
    return row;
  });
  return { rows, columns };
}
