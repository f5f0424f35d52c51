/** "Did you mean …?" for mistyped commands, options and store schemes. */

/** Edit distance with transpositions (optimal string alignment): "haed" → "head" is 1. */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  const d: number[][] = Array.from({ length: m + 1 }, (_, i) => Array.from({ length: n + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[m]![n]!;
}

/**
 * The candidates closest to `word`, best first: within a distance that grows with the word's
 * length (1 for short words, up to 3), or having it as a prefix ("tra" → "tracks").
 */
export function closest(word: string, candidates: Iterable<string>): string[] {
  const w = word.toLowerCase();
  const limit = w.length <= 3 ? 1 : w.length <= 6 ? 2 : 3;
  const scored: [string, number][] = [];
  for (const c of new Set(candidates)) {
    const lc = c.toLowerCase();
    if (lc === w) continue;
    const d = editDistance(w, lc);
    if (d <= limit) scored.push([c, d]);
    else if (w.length >= 3 && lc.startsWith(w)) scored.push([c, limit + 0.5]);
  }
  scored.sort((x, y) => x[1] - y[1] || x[0].localeCompare(y[0]));
  const best = scored[0]?.[1];
  return scored.filter((s) => s[1] === best).map((s) => s[0]);
}

/** " (did you mean `head`?)" (or "`a` or `b`"), or "" when nothing is close. */
export function didYouMean(word: string, candidates: Iterable<string>, show: (c: string) => string = (c) => `\`${c}\``): string {
  const best = closest(word, candidates).slice(0, 3);
  if (best.length === 0) return "";
  return ` (did you mean ${best.map(show).join(" or ")}?)`;
}
