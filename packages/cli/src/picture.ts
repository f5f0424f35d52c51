/** A 2-D array drawn in the terminal: grey half-blocks with colour, an ASCII ramp without. */

const RAMP = " .:-=+*#%@";

/**
 * Renders `data` (row-major, `height`×`width`) scaled to its own min..max. Each character
 * covers one column and two rows; images wider than `maxWidth` are subsampled.
 */
export function renderImage(data: ArrayLike<number | bigint>, height: number, width: number, opts: { color?: boolean; maxWidth?: number } = {}): string {
  const step = Math.max(1, Math.ceil(width / Math.max(8, opts.maxWidth ?? 64)));
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < height * width; i++) {
    const v = Number(data[i]);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const span = max > min ? max - min : 1;
  const at = (y: number, x: number): number => {
    if (y >= height) return 0;
    const v = (Number(data[y * width + x]) - min) / span;
    return Number.isFinite(v) ? v : 0;
  };
  const lines: string[] = [];
  for (let y = 0; y < height; y += 2 * step) {
    let line = "";
    for (let x = 0; x < width; x += step) {
      const top = at(y, x);
      const bottom = at(y + step, x);
      if (opts.color) {
        // 24 grey levels of the 256-colour palette: 232 (black) … 255 (white)
        line += `\x1b[38;5;${232 + Math.round(top * 23)}m\x1b[48;5;${232 + Math.round(bottom * 23)}m▀`;
      } else {
        line += RAMP[Math.min(RAMP.length - 1, Math.floor(((top + bottom) / 2) * RAMP.length))];
      }
    }
    lines.push(opts.color ? line + "\x1b[0m" : line.trimEnd());
  }
  return lines.join("\n") + "\n";
}
