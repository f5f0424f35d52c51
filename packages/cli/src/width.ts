/**
 * Display width of text as a terminal draws it (wcwidth): East Asian wide and fullwidth
 * characters and emoji take two cells, combining marks, joiners and variation selectors none,
 * and an emoji sequence (👨‍👩‍👧, 👍🏽, 🇩🇪) is one two-cell glyph. Counted per grapheme, so that
 * tables of CJK labels or emoji run names stay aligned.
 */

// Wide and fullwidth ranges of Unicode's EastAsianWidth.txt (W and F), merged; emoji ranges are
// handled by the Extended_Pictographic test below.
const WIDE: readonly [number, number][] = [
  [0x1100, 0x115f],
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x23e9, 0x23ec],
  [0x23f0, 0x23f0],
  [0x23f3, 0x23f3],
  [0x25fd, 0x25fe],
  [0x2614, 0x2615],
  [0x2648, 0x2653],
  [0x267f, 0x267f],
  [0x2693, 0x2693],
  [0x26a1, 0x26a1],
  [0x26aa, 0x26ab],
  [0x26bd, 0x26be],
  [0x26c4, 0x26c5],
  [0x26ce, 0x26ce],
  [0x26d4, 0x26d4],
  [0x26ea, 0x26ea],
  [0x26f2, 0x26f3],
  [0x26f5, 0x26f5],
  [0x26fa, 0x26fa],
  [0x26fd, 0x26fd],
  [0x2705, 0x2705],
  [0x270a, 0x270b],
  [0x2728, 0x2728],
  [0x274c, 0x274c],
  [0x274e, 0x274e],
  [0x2753, 0x2755],
  [0x2757, 0x2757],
  [0x2795, 0x2797],
  [0x27b0, 0x27b0],
  [0x27bf, 0x27bf],
  [0x2b1b, 0x2b1c],
  [0x2b50, 0x2b50],
  [0x2b55, 0x2b55],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x16fe0, 0x16fe4],
  [0x17000, 0x18cff],
  [0x1b000, 0x1b2ff],
  [0x1f004, 0x1f004],
  [0x1f0cf, 0x1f0cf],
  [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a],
  [0x1f200, 0x1f251],
  [0x1f300, 0x1f64f],
  [0x1f680, 0x1f6ff],
  [0x1f7e0, 0x1f7eb],
  [0x1f90c, 0x1f9ff],
  [0x1fa70, 0x1faff],
  [0x20000, 0x2fffd],
  [0x30000, 0x3fffd],
];

function isWide(cp: number): boolean {
  let lo = 0;
  let hi = WIDE.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = WIDE[mid]!;
    if (cp < a) hi = mid - 1;
    else if (cp > b) lo = mid + 1;
    else return true;
  }
  return false;
}

const ZERO = /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}]$/u;
const PICTO = /\p{Extended_Pictographic}/u;
const REGIONAL = /^[\u{1f1e6}-\u{1f1ff}]/u;
// Printable ASCII: the common case, measured without segmenting.
const ASCII = /^[\x20-\x7e]*$/;

let segmenter: Intl.Segmenter | undefined;
function graphemes(s: string): Iterable<string> {
  segmenter ??= new Intl.Segmenter(undefined, { granularity: "grapheme" });
  return Array.from(segmenter.segment(s), (x) => x.segment);
}

/** Cells one grapheme (a user-perceived character) takes. */
export function graphemeWidth(g: string): number {
  const cp = g.codePointAt(0)!;
  if (g.length === 1 && cp >= 0x20 && cp < 0x7f) return 1;
  // An emoji shown as emoji (VS16, skin tone, ZWJ sequence or default emoji presentation), or a flag.
  if (REGIONAL.test(g) && g.length >= 4) return 2;
  if (PICTO.test(g) && (g.includes("\ufe0f") || g.includes("\u200d") || /[\u{1f3fb}-\u{1f3ff}]/u.test(g) || isWide(cp))) return 2;
  if (isWide(cp)) return 2;
  if (ZERO.test(String.fromCodePoint(cp))) return 0;
  return 1;
}

/** Display width of a string in terminal cells. */
export function width(s: string): number {
  if (ASCII.test(s)) return s.length;
  let n = 0;
  for (const g of graphemes(s)) n += graphemeWidth(g);
  return n;
}

/** The longest prefix of `s` (whole graphemes) that fits in `max` cells, with "…" when cut. */
export function truncate(s: string, max: number): string {
  if (ASCII.test(s)) return s.length > max ? s.slice(0, max - 1) + "…" : s;
  if (width(s) <= max) return s;
  let out = "";
  let w = 0;
  for (const g of graphemes(s)) {
    const gw = graphemeWidth(g);
    if (w + gw > max - 1) break;
    out += g;
    w += gw;
  }
  return out + "…";
}

/** `s` padded with spaces to `cells` display cells, on the right (start) or the left (end). */
export function pad(s: string, cells: number, align: "start" | "end" = "start"): string {
  const fill = " ".repeat(Math.max(0, cells - width(s)));
  return align === "start" ? s + fill : fill + s;
}
