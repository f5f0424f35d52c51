/**
 * The runs view: toolbar, runs table, a chart panel per metric and a system-metrics section.
 * Panels load only while visible; the readiness hook covers every visible panel.
 */
import type { Api } from "./api.js";
import { Chart, type ChartView } from "./chart.js";
import { track } from "./ready.js";
import { DEFAULT_SMOOTH, type ViewState } from "./state.js";
import { RunsTable } from "./table.js";
import type { View, ViewContext } from "./views.js";
import type { ColumnInfo, Meta, SummaryPage } from "../shared/protocol.js";
import type { SmoothKind } from "../shared/smooth.js";

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...kids);
  return e;
}

function select(options: [string, string][], value: string, onChange: (v: string) => void, name: string): HTMLSelectElement {
  const s = el("select", { name, "aria-label": name });
  for (const [v, label] of options) s.append(el("option", { value: v }, label));
  s.value = value;
  s.addEventListener("change", () => onChange(s.value));
  return s;
}

export class RunsView implements View {
  readonly name = "runs";
  readonly title = "Runs";
  readonly el = el("div", { class: "q-runs" });
  private meta!: Meta;
  private table!: RunsTable;
  private charts = new Map<string, Chart>();
  private visible = new Set<string>();
  private stale = new Set<string>();
  private observer!: IntersectionObserver;
  private unlive: (() => void) | undefined;
  private groupValues = new Map<string, string>();
  private liveTimer = 0;
  private errorEl = el("div", { class: "q-error-box", role: "alert" });

  constructor(
    private readonly api: Api,
    private readonly ctx: ViewContext,
  ) {}

  private get s(): ViewState {
    return this.ctx.state;
  }

  colorOf = (key: string): string => {
    if (this.s.group) {
      const keys = [...this.groupValues.keys()];
      return PALETTE[Math.max(0, keys.indexOf(key)) % PALETTE.length]!;
    }
    const i = this.s.runs.indexOf(key);
    return PALETTE[Math.max(i, 0) % PALETTE.length]!;
  };

  async mount(): Promise<void> {
    this.meta = await track(this.api.meta(this.s.table));
    if (!this.s.table) this.s.table = this.meta.table;
    // Tracks (Session, SystemSampler.recordTo) have a time column and no step: chart against it.
    if (!this.ctx.explicitX && this.meta.xColumns.includes("_ts") && !this.meta.xColumns.includes("step")) this.s.x = "_ts";
    this.observer = new IntersectionObserver((entries) => {
      for (const e of entries) {
        const m = (e.target as HTMLElement).dataset.metric!;
        if (e.isIntersecting) {
          this.visible.add(m);
          if (this.stale.has(m)) void this.load(m);
        } else this.visible.delete(m);
      }
    });
    this.table = new RunsTable({
      api: this.api,
      table: this.s.table,
      filter: this.s.filter,
      sort: this.s.sort,
      desc: this.s.desc,
      selected: () => this.s.runs,
      colorOf: (r) => (this.s.runs.includes(r) ? this.colorOf(r) : undefined),
      onToggle: (r) => this.toggle(r),
      onSort: (k) => {
        this.s.desc = this.s.sort === k ? !this.s.desc : false;
        this.s.sort = k;
        this.ctx.save();
        void this.table.reload({ sort: this.s.sort, desc: this.s.desc });
      },
      onError: (m) => this.showError(m),
      onFirstPage: (p) => this.firstPage(p),
    });
    this.render();
    await this.table.reload();
    this.unlive = this.api.live(this.s.table, () => this.onLive());
  }

  private firstPage(p: SummaryPage): void {
    if (this.s.runs.length === 0 && !this.ctx.explicitRuns) {
      this.s.runs = p.ids.slice(0, 5);
      this.ctx.save();
      this.table.refreshSelection();
      this.reloadCharts();
    }
  }

  private showError(m: string | undefined): void {
    this.errorEl.textContent = m ?? "";
    this.errorEl.hidden = !m;
  }

  private toggle(run: string): void {
    const i = this.s.runs.indexOf(run);
    if (i >= 0) this.s.runs.splice(i, 1);
    else this.s.runs.push(run);
    this.ctx.save();
    this.table.refreshSelection();
    this.reloadCharts();
  }

  private metricColumns(): ColumnInfo[] {
    return this.meta.columns.filter((c) => c.kind === "number" && (c.role === "metric" || c.role === "system"));
  }

  private render(): void {
    const m = this.meta;
    const s = this.s;
    const xOpts: [string, string][] = [
      ["step", "step"],
      ["relative", "relative time (s)"],
      ["wall", "wall time"],
      ...(m.xColumns.includes("_ts") ? [["_ts", "_ts (track time)"] as [string, string]] : []),
      ...m.xColumns.filter((c) => c !== "step" && c !== "_ts").map((c) => [c, c] as [string, string]),
    ];
    const params = m.columns.filter((c) => c.role === "param");
    const smoothValue = el("input", {
      type: "number",
      name: "smooth-value",
      step: "any",
      value: String(s.sv),
      "aria-label": "smoothing amount",
      title: "EMA weight (0–1), window or sigma in points",
    });
    smoothValue.addEventListener("change", () => {
      const v = Number(smoothValue.value);
      if (Number.isFinite(v) && v >= 0) {
        s.sv = v;
        this.ctx.save();
        this.redrawAll();
      }
    });
    const logy = el("input", { type: "checkbox", name: "logy" });
    logy.checked = s.logy;
    logy.addEventListener("change", () => {
      s.logy = logy.checked;
      this.ctx.save();
      this.redrawAll();
    });
    const filter = el("input", { type: "search", name: "filter", placeholder: "filter runs: lr > 0.01 and loss:min < 0.5", value: s.filter ?? "", class: "q-filter" });
    let ft = 0;
    const applyFilter = () => {
      const f = filter.value.trim() || undefined;
      if (f === s.filter) return;
      s.filter = f;
      this.ctx.save();
      void this.table.reload({ filter: f });
    };
    filter.addEventListener("input", () => {
      clearTimeout(ft);
      ft = window.setTimeout(applyFilter, 300);
    });
    filter.addEventListener("keydown", (e) => e.key === "Enter" && applyFilter());
    const toolbar = el(
      "div",
      { class: "q-toolbar" },
      ...(m.tables.length > 1
        ? [
            el(
              "label",
              {},
              "table ",
              select(
                m.tables.map((t) => [t, t]),
                s.table!,
                (v) => this.ctx.navigate({ ...s, table: v, runs: [], x: "step", group: undefined, zoom: undefined, sort: undefined, filter: undefined }),
                "table",
              ),
            ),
          ]
        : []),
      el(
        "label",
        {},
        "x ",
        select(xOpts, s.x, (v) => ((s.x = v), (s.zoom = undefined), this.ctx.save(), this.reloadCharts()), "x"),
      ),
      el(
        "label",
        {},
        "smoothing ",
        select(
          [
            ["none", "none"],
            ["ema", "EMA (TensorBoard)"],
            ["mean", "running mean"],
            ["gaussian", "Gaussian"],
          ],
          s.smooth,
          (v) => {
            s.smooth = v as SmoothKind;
            s.sv = DEFAULT_SMOOTH[s.smooth];
            smoothValue.value = String(s.sv);
            this.ctx.save();
            this.redrawAll();
          },
          "smooth",
        ),
        smoothValue,
      ),
      el("label", {}, logy, " log y"),
      el(
        "label",
        {},
        "group by ",
        select(
          [["", "(none)"], ...params.map((p) => [p.name, p.name] as [string, string])],
          s.group ?? "",
          (v) => ((s.group = v || undefined), this.ctx.save(), this.reloadCharts()),
          "group",
        ),
      ),
      el("button", { type: "button", name: "reset-zoom" }, "reset zoom"),
    );
    toolbar.querySelector("button[name=reset-zoom]")!.addEventListener("click", () => this.zoom(undefined));
    const grid = el("div", { class: "q-grid" });
    const sys = el("div", { class: "q-grid" });
    const metrics = this.metricColumns();
    const shown = s.metrics ? metrics.filter((c) => s.metrics!.includes(c.name)) : metrics;
    for (const c of shown) {
      const chart = new Chart(c.name, { onZoom: (r) => this.zoom(r) });
      this.charts.set(c.name, chart);
      (c.role === "system" ? sys : grid).append(chart.el);
      this.stale.add(c.name);
      this.observer.observe(chart.el);
    }
    const parts: Node[] = [toolbar, this.errorEl, el("div", { class: "q-filter-row" }, filter), this.table.el];
    parts.push(el("h2", {}, "Metrics"), shown.some((c) => c.role !== "system") ? grid : el("p", { class: "q-empty" }, "No numeric metrics in this table yet."));
    if (shown.some((c) => c.role === "system")) parts.push(el("h2", {}, "System"), sys);
    this.showError(undefined);
    this.el.replaceChildren(...parts);
    new ResizeObserver(() => {
      for (const c of this.charts.values()) c.resize();
    }).observe(grid);
  }

  private view(): ChartView {
    return {
      x: this.s.x,
      smooth: { kind: this.s.smooth, value: this.s.sv },
      logy: this.s.logy,
      grouped: !!this.s.group,
      colorOf: this.colorOf,
      labelOf: (k) => (this.s.group ? `${this.s.group} = ${k}` : k.length > 12 ? `${k.slice(0, 8)}…` : k),
    };
  }

  /** Zooms every panel to an x range (undefined: the whole range); also window.quiver.zoom(). */
  zoom(range: [number, number] | undefined): void {
    this.s.zoom = range;
    this.ctx.save();
    this.reloadCharts();
  }

  /** Marks every panel stale and reloads the visible ones. */
  private reloadCharts(): void {
    for (const m of this.charts.keys()) this.stale.add(m);
    for (const m of this.visible) void this.load(m);
  }

  /** Redraws from the data the panels have (smoothing, log y): no refetch. */
  private redrawAll(): void {
    for (const [m, c] of this.charts) {
      if (c.last && this.visible.has(m)) void track(withTimeout(c.draw(c.last, this.view(), this.s.zoom)));
      else this.stale.add(m);
    }
  }

  private loads = new Map<string, number>();

  private async load(metric: string): Promise<void> {
    const chart = this.charts.get(metric);
    if (!chart) return;
    this.stale.delete(metric);
    const seq = (this.loads.get(metric) ?? 0) + 1;
    this.loads.set(metric, seq);
    const s = this.s;
    const job = (async () => {
      try {
        const res = await this.api.series({ table: s.table!, runs: s.runs, y: metric, x: s.x, x0: s.zoom?.[0], x1: s.zoom?.[1], width: chart.width(), group: s.group });
        if (this.loads.get(metric) !== seq) return;
        if (s.group) for (const g of res.series) if (!this.groupValues.has(g.key)) this.groupValues.set(g.key, g.key);
        await withTimeout(chart.draw(res, this.view(), s.zoom));
      } catch (err) {
        if (this.loads.get(metric) === seq) chart.showError((err as Error).message);
      }
    })();
    await track(job);
  }

  private onLive(): void {
    // Coalesce bursts of flushes into one refresh; charts first (what users watch), in parallel
    // with the table and the column check.
    if (this.liveTimer) return;
    this.liveTimer = window.setTimeout(() => {
      this.liveTimer = 0;
      this.reloadCharts();
      void track(
        (async () => {
          const meta = await this.api.meta(this.s.table);
          const known = new Map(this.meta.columns.map((c) => [c.name, c.role] as const));
          const changed = meta.columns.some((c) => known.get(c.name) !== c.role);
          this.meta = meta;
          if (changed) {
            for (const c of this.charts.values()) c.destroy();
            this.charts.clear();
            this.visible.clear();
            this.stale.clear();
            this.render();
          }
          await this.table.reload();
        })().catch((err) => this.showError((err as Error).message)),
      );
    }, 50);
  }

  /** For tests and automation: what each panel drew. */
  inspect(): Record<string, { series: { key: string; n: number; x: number[]; y: number[] }[]; plotted: (number | null | undefined)[][] }> {
    const out: Record<string, { series: { key: string; n: number; x: number[]; y: number[] }[]; plotted: (number | null | undefined)[][] }> = {};
    for (const [m, c] of this.charts) if (c.last) out[m] = { series: c.last.series.map((s) => ({ key: s.key, n: s.n, x: s.x, y: s.y })), plotted: c.plotted() };
    return out;
  }

  unmount(): void {
    this.unlive?.();
    this.observer?.disconnect();
    for (const c of this.charts.values()) c.destroy();
    this.charts.clear();
  }
}

/** A draw that never reports back (a hidden panel) must not hold the readiness hook forever. */
function withTimeout(p: Promise<void>, ms = 2000): Promise<void> {
  return Promise.race([p, new Promise<void>((r) => setTimeout(r, ms))]);
}
