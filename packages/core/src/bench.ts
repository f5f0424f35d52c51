/**
 * The benchmark harness every package's `bench` script uses: measure our throughput and the
 * raw dependency's in the same run, print them side by side with the ratio and the target.
 */
export interface Comparison {
  /** What is measured, e.g. "log() 1M rows × 4 cols". */
  case: string;
  /** Unit of the rates, e.g. "rows/s". */
  unit: string;
  ours: number;
  /** The baseline's name, e.g. "DuckDB Appender". */
  against: string;
  theirs: number;
  /** Minimum ours/theirs ratio the package promises (omit for information only). */
  target?: number;
  /** For costs (ms, %), lower is better: the ratio is theirs/ours. */
  lowerIsBetter?: boolean;
}

/** Items per second of `fn`, best of `repeat` runs after one warm-up (unless warmup: false). */
export async function measure(
  items: number,
  fn: () => unknown,
  opts: { repeat?: number; warmup?: boolean; setup?: () => unknown; teardown?: () => unknown } = {},
): Promise<number> {
  const repeat = opts.repeat ?? 3;
  let best = 0;
  const runs = repeat + (opts.warmup === false ? 0 : 1);
  for (let i = 0; i < runs; i++) {
    await opts.setup?.();
    const t0 = performance.now();
    await fn();
    const s = (performance.now() - t0) / 1000;
    await opts.teardown?.();
    if (i === 0 && opts.warmup !== false) continue;
    best = Math.max(best, items / s);
  }
  return best;
}

export function formatRate(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e9) return `${(v / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (a >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return a >= 10 ? v.toFixed(1) : v.toFixed(3);
}

/** Prints one package's comparisons as an aligned table; returns whether every target was met. */
export function printComparisons(pkg: string, rows: readonly Comparison[]): boolean {
  const header = ["case", "ours", "baseline", "theirs", "ratio", "target"];
  const body = rows.map((r) => {
    const ratio = r.lowerIsBetter ? r.theirs / r.ours : r.ours / r.theirs;
    const met = r.target === undefined ? "" : ratio >= r.target ? `≥${r.target}× ok` : `≥${r.target}× MISSED`;
    return [r.case, `${formatRate(r.ours)} ${r.unit}`, r.against, `${formatRate(r.theirs)} ${r.unit}`, `${ratio.toFixed(2)}×`, met];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ");
  console.log(`\n${pkg} benchmarks`);
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const b of body) console.log(line(b));
  return rows.every((r) => r.target === undefined || (r.lowerIsBetter ? r.theirs / r.ours : r.ours / r.theirs) >= r.target);
}
