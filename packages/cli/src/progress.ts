/** A progress bar on stderr, drawn only when stderr is a terminal (never into pipes or logs). */

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(s: string): unknown;
}

export class Progress {
  private value = 0;
  private lastDraw = 0;
  private drawn = false;
  private readonly t0 = Date.now();
  private frame = 0;
  readonly enabled: boolean;

  constructor(
    private label: string,
    private total: number | undefined,
    private readonly unit = "rows",
    private readonly stream: ProgressStream = process.stderr,
  ) {
    const env = process.env.QUIVER_PROGRESS;
    this.enabled = env === "never" ? false : env === "always" ? true : stream.isTTY === true && !process.env.CI;
  }

  get current(): number {
    return this.value;
  }

  setLabel(label: string): void {
    this.label = label;
  }

  setTotal(total: number | undefined): void {
    this.total = total;
  }

  /** Sets the amount done; redraws at most 12 times a second. */
  update(value: number): void {
    this.value = value;
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.lastDraw < 80 && this.drawn) return;
    this.lastDraw = now;
    this.draw();
  }

  tick(by = 1): void {
    this.update(this.value + by);
  }

  private draw(): void {
    const secs = ((Date.now() - this.t0) / 1000).toFixed(1);
    const cols = Math.max(40, this.stream.columns ?? 80);
    let line: string;
    if (this.total !== undefined && this.total > 0) {
      const frac = Math.min(1, this.value / this.total);
      const tail = ` ${Math.floor(frac * 100)
        .toString()
        .padStart(3)}% ${this.value}/${this.total} ${this.unit} ${secs}s`;
      const barW = Math.max(10, Math.min(40, cols - this.label.length - tail.length - 4));
      const full = Math.floor(frac * barW);
      const part = frac * barW - full;
      const partial = full < barW ? (part >= 0.5 ? "▌" : " ") : "";
      line = `${this.label} ${"█".repeat(full)}${partial}${" ".repeat(Math.max(0, barW - full - partial.length))}▏${tail}`;
    } else {
      const spin = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"[this.frame++ % 10];
      line = `${this.label} ${spin} ${this.value} ${this.unit} ${secs}s`;
    }
    this.stream.write(`\r${line.slice(0, cols - 1)}\x1b[K`);
    this.drawn = true;
  }

  /** Clears the bar (the caller prints the result). */
  done(): void {
    if (!this.enabled) return;
    if (this.drawn || this.value > 0) this.stream.write("\r\x1b[K");
    this.drawn = false;
  }
}

/** Shows a spinner while `work` runs (for steps that report no progress of their own). */
export async function withSpinner<T>(label: string, work: (p: Progress) => Promise<T>, unit = "files"): Promise<T> {
  const p = new Progress(label, undefined, unit);
  const timer = p.enabled ? setInterval(() => p.update(p.current), 100) : undefined;
  if (p.enabled) p.update(0);
  try {
    return await work(p);
  } finally {
    if (timer) clearInterval(timer);
    p.done();
  }
}
