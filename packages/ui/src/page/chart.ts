/**
 * One metric panel: uPlot lines of the selected runs (or of groups, with a min–max band),
 * the decimated raw line faint under the smoothed one, log y, drag to zoom (re-fetched at the
 * new resolution), double-click to reset.
 */
import uPlot from "uplot";
import type { SeriesResponse } from "../shared/protocol.js";
import { smooth, type SmoothSpec } from "../shared/smooth.js";

export interface ChartView {
  x: string;
  smooth: SmoothSpec;
  logy: boolean;
  grouped: boolean;
  colorOf: (key: string) => string;
  labelOf: (key: string) => string;
}

export interface ChartCallbacks {
  onZoom: (range: [number, number] | undefined) => void;
}

function fade(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) return color;
  const n = parseInt(m[1]!, 16);
  return `rgba(${n >> 16},${(n >> 8) & 255},${n & 255},${alpha})`;
}

/** uPlot's aligned data and series for one response. */
export function buildData(res: SeriesResponse, view: ChartView): { data: uPlot.AlignedData; series: uPlot.Series[]; bands: uPlot.Band[] } {
  const tables: uPlot.AlignedData[] = [];
  const series: uPlot.Series[] = [{}];
  const bands: uPlot.Band[] = [];
  const pos = (v: number) => (view.logy && !(v > 0) ? null : v);
  const smoothing = view.smooth.kind !== "none" && !view.grouped;
  for (const s of res.series) {
    const color = view.colorOf(s.key);
    const label = view.labelOf(s.key);
    if (view.grouped) {
      const base = series.length;
      tables.push([s.x, s.hi!.map(pos), s.lo!.map(pos), s.y.map(pos)] as unknown as uPlot.AlignedData);
      series.push(
        { label: `${label} max`, stroke: fade(color, 0.35), width: 1, spanGaps: true },
        { label: `${label} min`, stroke: fade(color, 0.35), width: 1, spanGaps: true },
        { label, stroke: color, width: 2, spanGaps: true },
      );
      bands.push({ series: [base, base + 1], fill: fade(color, 0.15) });
      continue;
    }
    tables.push([s.x, s.y.map(pos)] as unknown as uPlot.AlignedData);
    series.push({ label, stroke: smoothing ? fade(color, 0.25) : color, width: smoothing ? 1 : 1.5, spanGaps: true });
    if (smoothing) {
      const sm = smooth(s.by, view.smooth, s.bc);
      tables.push([s.bx, Array.from(sm, pos)] as unknown as uPlot.AlignedData);
      series.push({ label: `${label} (smoothed)`, stroke: color, width: 2, spanGaps: true });
    }
  }
  if (!tables.length) return { data: [[]], series, bands };
  const data = tables.length === 1 ? tables[0]! : uPlot.join(tables);
  return { data, series, bands };
}

export class Chart {
  readonly el: HTMLElement;
  private readonly plotEl: HTMLElement;
  private readonly legend: HTMLElement;
  private readonly note: HTMLElement;
  private plot: uPlot | undefined;
  private shape = "";
  /** The last response drawn (tests read it). */
  last: SeriesResponse | undefined;
  private drawn: (() => void) | undefined;

  constructor(
    readonly metric: string,
    private readonly cb: ChartCallbacks,
  ) {
    this.el = document.createElement("div");
    this.el.className = "q-panel";
    this.el.dataset.metric = metric;
    const title = document.createElement("div");
    title.className = "q-panel-title";
    title.textContent = metric;
    this.note = document.createElement("span");
    this.note.className = "q-note";
    title.append(this.note);
    this.plotEl = document.createElement("div");
    this.plotEl.className = "q-plot";
    this.legend = document.createElement("div");
    this.legend.className = "q-legend";
    this.el.append(title, this.plotEl, this.legend);
    this.plotEl.addEventListener("dblclick", () => this.cb.onZoom(undefined));
  }

  /** Pixel columns to ask for: the plot's width. */
  width(): number {
    return Math.max(100, Math.round(this.plotEl.clientWidth || this.el.clientWidth || 600));
  }

  showError(message: string): void {
    this.note.textContent = ` — ${message}`;
    this.note.classList.add("q-error");
  }

  /** Draws a response; resolves once uPlot has painted it. */
  draw(res: SeriesResponse, view: ChartView, zoom: [number, number] | undefined): Promise<void> {
    this.last = res;
    this.note.classList.remove("q-error");
    const total = res.series.reduce((a, s) => a + s.n, 0);
    const shipped = res.series.reduce((a, s) => a + s.x.length, 0);
    this.note.textContent = total
      ? ` — ${total.toLocaleString()} points${shipped < total ? `, ${shipped.toLocaleString()} drawn (first/min/max/last per pixel)` : ""}`
      : " — no data";
    const { data, series, bands } = buildData(res, view);
    const time = view.x === "wall" || view.x === "_ts";
    const shape = JSON.stringify([series.map((s) => [s.label, s.stroke]), view.logy, time, bands.length]);
    const done = new Promise<void>((resolve) => (this.drawn = resolve));
    const range: uPlot.Scale["range"] = zoom ? () => [zoom[0], zoom[1]] : undefined;
    if (!this.plot || shape !== this.shape) {
      this.plot?.destroy();
      this.shape = shape;
      const opts: uPlot.Options = {
        width: this.width(),
        height: 220,
        legend: { show: false },
        series,
        bands,
        scales: { x: { time, ...(range ? { range } : {}) }, y: { distr: view.logy ? 3 : 1 } },
        cursor: { drag: { x: true, y: false, setScale: false }, sync: { key: "quiver" } },
        axes: [
          { stroke: "#666", grid: { stroke: "#eee" } },
          { stroke: "#666", grid: { stroke: "#eee" }, size: 60 },
        ],
        hooks: {
          draw: [() => this.afterDraw()],
          setSelect: [
            (u) => {
              if (u.select.width < 3) return;
              const a = u.posToVal(u.select.left, "x");
              const b = u.posToVal(u.select.left + u.select.width, "x");
              u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
              if (b > a) this.cb.onZoom([a, b]);
            },
          ],
        },
      };
      this.plot = new uPlot(opts, data, this.plotEl);
    } else {
      this.plot.scales.x!.range = range ?? ((_u, min, max) => [min, max]);
      this.plot.setData(data, true);
    }
    this.renderLegend(res, view);
    // uPlot paints synchronously or on the next frame; the draw hook resolves either way.
    return done;
  }

  private afterDraw(): void {
    const d = this.drawn;
    this.drawn = undefined;
    d?.();
  }

  /** The plotted data (x and every series), as uPlot holds it. */
  plotted(): (number | null | undefined)[][] {
    return (this.plot?.data ?? []) as unknown as (number | null | undefined)[][];
  }

  resize(): void {
    if (this.plot) this.plot.setSize({ width: this.width(), height: 220 });
  }

  private renderLegend(res: SeriesResponse, view: ChartView): void {
    this.legend.replaceChildren(
      ...res.series.map((s) => {
        const item = document.createElement("span");
        item.className = "q-legend-item";
        const sw = document.createElement("span");
        sw.className = "q-swatch";
        sw.style.background = view.colorOf(s.key);
        item.append(sw, `${view.labelOf(s.key)}${s.runs ? ` (${s.runs} runs)` : ""}`);
        return item;
      }),
    );
  }

  destroy(): void {
    this.plot?.destroy();
    this.plot = undefined;
    this.el.remove();
  }
}
