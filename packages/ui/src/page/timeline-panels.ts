/**
 * Panels of the tracks timeline: a track's numeric and list fields as decimated lines on the
 * shared time axis with the cursor drawn over them, the session's logs on the same axis, and the
 * table of points around the cursor. Moving the cursor redraws cached paths only (no refetch).
 */
import uPlot from "uplot";
import { el } from "./dom.js";
import type { Cell } from "../shared/protocol.js";
import type { LogEntry, TrackPoints, TrackWindow } from "../shared/protocol-views.js";

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
export const LEVELS = ["debug", "info", "warn", "error"];
const LEVEL_COLOR: Record<string, string> = { debug: "#999", info: "#1f77b4", warn: "#ff7f0e", error: "#d62728" };

export interface AxisHost {
  cursor(): number;
  /** The shared window [t0, t1]. */
  window(): [number, number];
  setCursor(t: number): void;
  zoom(w: [number, number] | undefined): void;
  /** Seconds since the epoch (a time axis) or plain numbers. */
  time: boolean;
}

/**
 * The shared cursor: a DOM line over the plot, so moving it repaints nothing of the chart
 * (no canvas redraw); placed again after each draw (new data or scale).
 */
export function placeCursor(u: uPlot, t: number): void {
  let line = u.over.querySelector<HTMLElement>(".q-cursor");
  if (!line) {
    line = el("div", { class: "q-cursor" });
    u.over.append(line);
  }
  const x = u.valToPos(t, "x");
  const inside = x >= 0 && x <= u.over.clientWidth;
  line.style.display = inside ? "" : "none";
  if (inside) line.style.transform = `translateX(${x}px)`;
}

function cursorHook(host: AxisHost): (u: uPlot) => void {
  return (u) => placeCursor(u, host.cursor());
}

/** uPlot options shared by the panels: window scale, click sets the cursor, drag zooms. */
function baseOptions(host: AxisHost, width: number, height: number, series: uPlot.Series[], y: uPlot.Scale = {}): uPlot.Options {
  return {
    width,
    height,
    legend: { show: false },
    series,
    scales: { x: { time: host.time, range: () => host.window() }, y },
    cursor: { drag: { x: true, y: false, setScale: false }, sync: { key: "quiver-tracks" } },
    axes: [
      { stroke: "#666", grid: { stroke: "#eee" } },
      { stroke: "#666", grid: { stroke: "#eee" }, size: 60 },
    ],
    hooks: {
      draw: [cursorHook(host)],
      setSelect: [
        (u) => {
          if (u.select.width < 3) return;
          const a = u.posToVal(u.select.left, "x");
          const b = u.posToVal(u.select.left + u.select.width, "x");
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          if (b > a) host.zoom([a, b]);
        },
      ],
      ready: [
        (u) => {
          let down = 0;
          u.over.addEventListener("mousedown", (e) => (down = e.clientX));
          u.over.addEventListener("click", (e) => {
            if (Math.abs(e.clientX - down) > 2) return; // a drag (zoom), not a click
            host.setCursor(u.posToVal(e.offsetX, "x"));
          });
          u.over.addEventListener("dblclick", () => host.zoom(undefined));
        },
      ],
    },
  };
}

export class TrackPanel {
  readonly el: HTMLElement;
  private readonly plotEl: HTMLElement;
  private readonly note: HTMLElement;
  private readonly legend: HTMLElement;
  private plot: uPlot | undefined;
  private shape = "";
  last: TrackWindow | undefined;

  constructor(
    readonly table: string,
    readonly title: string,
    private readonly host: AxisHost,
  ) {
    this.note = el("span", { class: "q-note" });
    this.plotEl = el("div", { class: "q-plot" });
    this.legend = el("div", { class: "q-legend" });
    this.el = el("div", { class: "q-panel q-track-panel", "data-track": table }, el("div", { class: "q-panel-title" }, title, this.note), this.plotEl, this.legend);
  }

  width(): number {
    return Math.max(200, Math.round(this.plotEl.clientWidth || this.el.clientWidth || 800));
  }

  showError(m: string): void {
    this.note.textContent = ` — ${m}`;
    this.note.classList.add("q-error");
  }

  /** Draws a window; resolves once painted. */
  draw(w: TrackWindow): Promise<void> {
    this.last = w;
    this.note.classList.remove("q-error");
    const shipped = w.series.reduce((a, s) => a + s.x.length, 0);
    this.note.textContent = ` — ${w.n.toLocaleString()} points in the window${shipped < w.n * w.series.length ? `, ${shipped.toLocaleString()} drawn (first/min/max/last per pixel)` : ""}`;
    const tables = w.series.map((s) => [s.x, s.y] as unknown as uPlot.AlignedData);
    const data = tables.length === 0 ? ([[]] as unknown as uPlot.AlignedData) : tables.length === 1 ? tables[0]! : uPlot.join(tables);
    const series: uPlot.Series[] = [{}, ...w.series.map((s, i) => ({ label: s.key, stroke: PALETTE[i % PALETTE.length]!, width: 1.25, spanGaps: true }))];
    const shape = JSON.stringify(series.map((s) => s.label));
    const painted = new Promise<void>((r) => (this.pending = r));
    if (!this.plot || shape !== this.shape) {
      this.plot?.destroy();
      this.shape = shape;
      const o = baseOptions(this.host, this.width(), 200, series);
      o.hooks!.draw!.push(() => {
        const p = this.pending;
        this.pending = undefined;
        p?.();
      });
      this.plot = new uPlot(o, data, this.plotEl);
    } else this.plot.setData(data, true);
    this.legend.replaceChildren(
      ...w.series.map((s, i) => el("span", { class: "q-legend-item" }, el("span", { class: "q-swatch", style: `background:${PALETTE[i % PALETTE.length]}` }), s.key)),
    );
    return painted;
  }

  private pending: (() => void) | undefined;

  /** The cursor moved: only its line moves. */
  redraw(): void {
    if (this.plot) placeCursor(this.plot, this.host.cursor());
  }

  /** The drawn data as uPlot holds it (tests). */
  plotted(): (number | null | undefined)[][] {
    return (this.plot?.data ?? []) as unknown as (number | null | undefined)[][];
  }

  resize(): void {
    this.plot?.setSize({ width: this.width(), height: 200 });
  }

  destroy(): void {
    this.plot?.destroy();
    this.el.remove();
  }
}

/** The session's logs: markers on the time axis (one row per level) and a filterable list. */
export class LogsPanel {
  readonly el: HTMLElement;
  private readonly plotEl = el("div", { class: "q-plot q-logs-plot" });
  private readonly list = el("div", { class: "q-logs-list", role: "list" });
  private readonly text = el("input", { type: "search", name: "log-filter", placeholder: "filter logs", class: "q-filter" });
  private readonly level = el("select", { name: "log-level", "aria-label": "log level" });
  private readonly note = el("span", { class: "q-note" });
  private plot: uPlot | undefined;
  private entries: LogEntry[] = [];
  private shown: LogEntry[] = [];

  constructor(
    readonly table: string,
    private readonly host: AxisHost,
  ) {
    this.level.append(el("option", { value: "" }, "all levels"), ...LEVELS.map((l) => el("option", { value: l }, `${l} and above`)));
    this.text.addEventListener("input", () => this.render());
    this.level.addEventListener("change", () => this.render());
    this.el = el(
      "div",
      { class: "q-panel q-logs-panel" },
      el("div", { class: "q-panel-title" }, "logs", this.note),
      this.plotEl,
      el("div", { class: "q-toolbar" }, this.text, this.level),
      this.list,
    );
  }

  set(entries: LogEntry[], more: boolean): void {
    this.entries = entries;
    this.note.textContent = ` — ${entries.length}${more ? "+" : ""} entries in the window`;
    this.render();
  }

  private filtered(): LogEntry[] {
    const text = this.text.value.trim().toLowerCase();
    const min = this.level.value ? LEVELS.indexOf(this.level.value) : -1;
    return this.entries.filter((e) => (min < 0 || LEVELS.indexOf(e.level) >= min) && (!text || e.message.toLowerCase().includes(text) || e.level.includes(text)));
  }

  private render(): void {
    this.shown = this.filtered();
    const xs = this.shown.map((e) => e._ts);
    const data = [xs, ...LEVELS.map((l) => this.shown.map((e) => (e.level === l ? LEVELS.indexOf(l) : null)))] as unknown as uPlot.AlignedData;
    if (!this.plot) {
      const series: uPlot.Series[] = [
        {},
        ...LEVELS.map((l) => ({ label: l, stroke: LEVEL_COLOR[l]!, fill: LEVEL_COLOR[l]!, paths: () => null, points: { show: true, size: 7, space: 0 } })),
      ];
      this.plot = new uPlot(baseOptions(this.host, Math.max(200, this.plotEl.clientWidth || 800), 90, series, { range: [-0.5, 3.5] }), data, this.plotEl);
    } else this.plot.setData(data, false);
    this.list.replaceChildren(
      ...this.shown.slice(0, 2000).map((e, i) => {
        const row = el(
          "div",
          { class: `q-log q-log-${e.level}`, role: "listitem", "data-i": String(i) },
          el("span", { class: "q-log-ts" }, fmtTime(e._ts, this.host.time)),
          el("span", { class: "q-log-level" }, e.level),
          e.message,
        );
        row.addEventListener("click", () => this.host.setCursor(e._ts));
        return row;
      }),
    );
    this.mark();
  }

  /** Highlights the last entry at or before the cursor; redraws the cursor line. */
  mark(): void {
    if (this.plot) placeCursor(this.plot, this.host.cursor());
    const t = this.host.cursor();
    let k = -1;
    for (let i = 0; i < this.shown.length && this.shown[i]!._ts <= t; i++) k = i;
    for (const r of this.list.querySelectorAll(".q-log.q-at")) r.classList.remove("q-at");
    const row = k >= 0 ? this.list.children[k] : undefined;
    if (row) {
      row.classList.add("q-at");
      const top = (row as HTMLElement).offsetTop - this.list.offsetTop;
      if (top < this.list.scrollTop || top > this.list.scrollTop + this.list.clientHeight - 20) this.list.scrollTop = top - 40;
    }
  }

  visible(): LogEntry[] {
    return this.shown;
  }

  resize(): void {
    this.plot?.setSize({ width: Math.max(200, this.plotEl.clientWidth || 800), height: 90 });
  }

  destroy(): void {
    this.plot?.destroy();
    this.el.remove();
  }
}

export function fmtTime(t: number, time: boolean): string {
  if (!time) return String(Number(t.toFixed(6)));
  const d = new Date(t * 1000);
  return `${d.toISOString().slice(11, 23)}`;
}

function fmtCell(v: Cell | Cell[] | undefined): string {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return `[${v.map((x) => fmtCell(x)).join(", ")}]`;
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  return String(v);
}

/** The points of one track around the cursor; the cursor's point highlighted. */
export class PointsTable {
  readonly el = el("div", { class: "q-panel q-points" });
  private readonly head = el("div", { class: "q-panel-title" });
  private readonly table = el("table", { class: "q-points-table" });
  last: TrackPoints | undefined;

  constructor(private readonly time: boolean) {
    this.el.append(this.head, el("div", { class: "q-points-scroll" }, this.table));
  }

  set(title: string, p: TrackPoints): void {
    this.last = p;
    this.head.textContent = `points around the cursor — ${title}`;
    const cols = [...new Set(p.points.flatMap((r) => Object.keys(r)))].filter((c) => c !== "_ts");
    const thead = el("tr", {}, el("th", {}, "_ts"), ...cols.map((c) => el("th", {}, c)));
    const rows = p.points.map((r, i) =>
      el("tr", { class: i === p.before - 1 ? "q-at" : "" }, el("td", {}, fmtTime(Number(r._ts), this.time)), ...cols.map((c) => el("td", {}, fmtCell(r[c])))),
    );
    this.table.replaceChildren(el("thead", {}, thead), el("tbody", {}, ...rows));
  }

  /** _ts of the points after and before the cursor's point (for stepping). */
  neighbours(): { next?: number; prev?: number } {
    const p = this.last;
    if (!p) return {};
    const next = p.points[p.before]?._ts;
    const prev = p.points[p.before - 2]?._ts;
    return { next: typeof next === "number" ? next : undefined, prev: typeof prev === "number" ? prev : undefined };
  }
}
