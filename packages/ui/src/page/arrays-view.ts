/**
 * The array viewer (HDF5 files): the groups and datasets as `h5ls -r` lists them; a 1-D (or
 * N×D) dataset as decimated lines with drag zoom; an N×H×W dataset as images with a frame
 * slider and a colormap (grayscale, viridis) whose min/max are shown; uint8 N×H×W×3 as RGB.
 * The server reads slices only and refreshes the file, so a SWMR writer's new rows appear.
 * URL: ?view=arrays&file=0&ds=/image&frame=3&cmap=viridis&range=i0,i1.
 */
import uPlot from "uplot";
import { el, errorBox, param, select, setParams } from "./dom.js";
import { track } from "./ready.js";
import type { View } from "./views.js";
import type { Frame, ViewsApi } from "./views-api.js";
import type { H5Entry, H5Line, Sources } from "../shared/protocol-views.js";

const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/** Viridis as a degree-6 polynomial per channel (fit of matplotlib's table; error < 1%). */
const VIRIDIS = [
  [0.2777273272234177, 0.005407344544966578, 0.3340998053353061],
  [0.1050930431085774, 1.404613529898575, 1.384590162594685],
  [-0.3308618287255563, 0.214847559468213, 0.09509516302823659],
  [-4.634230498983486, -5.799100973351585, -19.33244095627987],
  [6.228269936347081, 14.17993336680509, 56.69055260068105],
  [4.776384997670288, -13.74514537774601, -65.35303263337234],
  [-5.435455855934631, 4.645852612178535, 26.3124352495832],
];

/** 256-entry RGB lookup tables. */
export function colormap(name: string): Uint8Array {
  const lut = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = i / 255;
    for (let c = 0; c < 3; c++) {
      if (name !== "viridis") {
        lut[i * 3 + c] = i;
        continue;
      }
      let v = 0;
      for (let k = VIRIDIS.length - 1; k >= 0; k--) v = v * t + VIRIDIS[k]![c]!;
      lut[i * 3 + c] = Math.max(0, Math.min(255, Math.round(v * 255)));
    }
  }
  return lut;
}

function describe(e: H5Entry): string {
  if (e.kind === "group") return "Group";
  const [n, ...rest] = e.shape ?? [];
  return `Dataset {${[`${n}/Inf`, ...rest].join(", ")}}`;
}

export class ArraysView implements View {
  readonly name = "arrays";
  readonly title = "Arrays";
  readonly el = el("div", { class: "q-arrays" });
  private file = 0;
  private entries: H5Entry[] = [];
  private current: H5Entry | undefined;
  private err = errorBox();
  private body = el("div", { class: "q-array-body" });
  private list = el("div", { class: "q-h5ls", role: "list" });
  private plot: uPlot | undefined;
  private line: H5Line | undefined;
  private frame: Frame | undefined;
  private frameNo = 0;
  private canvas: HTMLCanvasElement | undefined;
  private slider: HTMLInputElement | undefined;
  private info = el("div", { class: "q-frame-info" });
  private cmap = param("cmap") === "viridis" ? "viridis" : "gray";
  private poll = 0;
  private seq = 0;
  private range: [number, number] | undefined;

  constructor(
    private readonly api: ViewsApi,
    private readonly sources: () => Promise<Sources>,
  ) {}

  async mount(): Promise<void> {
    const src = await track(this.sources());
    if (!src.h5.length) {
      this.el.replaceChildren(el("p", { class: "q-empty" }, "No HDF5 files: start with quiver ui --h5 FILE.h5 (or open an h5: store)."));
      return;
    }
    this.file = Math.min(src.h5.length - 1, Math.max(0, Number(param("file") ?? 0) || 0));
    const files = select(
      src.h5.map((f, i) => [String(i), f]),
      String(this.file),
      (v) => {
        this.file = Number(v);
        setParams({ file: v, ds: undefined, frame: undefined, range: undefined });
        void track(this.reload());
      },
      "file",
    );
    this.el.replaceChildren(el("div", { class: "q-toolbar" }, el("label", {}, "file ", files)), this.err.el, el("div", { class: "q-arrays-grid" }, this.list, this.body));
    const r = param("range")?.split(",").map(Number);
    this.range = r && r.length === 2 && r.every(Number.isFinite) ? [r[0]!, r[1]!] : undefined;
    this.frameNo = Number(param("frame") ?? 0) || 0;
    await this.reload(param("ds"));
    // A writer may be logging (SWMR): look for new rows every second.
    this.poll = window.setInterval(() => void this.refresh(), 1000);
  }

  private async reload(ds?: string): Promise<void> {
    const tree = await this.api.tree(this.file);
    this.entries = tree.entries;
    this.renderList();
    const pick = this.entries.find((e) => e.path === ds) ?? this.entries.find((e) => e.kind === "dataset" && e.view !== "none");
    if (pick) await this.open(pick, pick.path === ds);
  }

  private renderList(): void {
    this.list.replaceChildren(
      ...this.entries.map((e) => {
        const depth = e.path.split("/").length - 2;
        const row = el(
          "div",
          {
            class: `q-h5-row${e === this.current || e.path === this.current?.path ? " q-active" : ""}`,
            role: "listitem",
            "data-path": e.path,
            style: `padding-left:${6 + depth * 14}px`,
          },
          el("span", { class: "q-h5-name" }, e.path.split("/").pop()!),
          el("span", { class: "q-h5-kind" }, describe(e)),
          el("span", { class: "q-h5-dtype" }, e.dtype ?? ""),
        );
        if (e.kind === "dataset") row.addEventListener("click", () => void track(this.open(e, false)));
        return row;
      }),
    );
  }

  private async open(e: H5Entry, keep: boolean): Promise<void> {
    this.current = e;
    if (!keep) {
      this.frameNo = 0;
      this.range = undefined;
    }
    setParams({
      ds: e.path,
      frame: e.view === "image" || e.view === "rgb" ? String(this.frameNo) : undefined,
      range: this.range?.join(","),
      cmap: this.cmap === "viridis" ? "viridis" : undefined,
    });
    this.renderList();
    this.plot?.destroy();
    this.plot = undefined;
    this.line = undefined;
    this.frame = undefined;
    this.err.show(undefined);
    const title = el("div", { class: "q-panel-title" }, `${e.path} `, el("span", { class: "q-note" }, `${describe(e)} ${e.dtype}`));
    if (e.view === "line" || e.view === "lines") {
      const plotEl = el("div", { class: "q-plot" });
      this.body.replaceChildren(
        el("div", { class: "q-panel" }, title, plotEl, el("div", { class: "q-note" }, "drag to zoom, double-click to reset; first/min/max/last per pixel column")),
      );
      await this.loadLine(plotEl);
    } else if (e.view === "image" || e.view === "rgb") {
      this.canvas = el("canvas", { class: "q-frame" });
      this.slider = el("input", {
        type: "range",
        name: "frame",
        min: "0",
        max: String(Math.max(0, (e.shape?.[0] ?? 1) - 1)),
        value: String(this.frameNo),
        class: "q-scrub",
        "aria-label": "frame",
      });
      this.slider.addEventListener("input", () => void track(this.showFrame(Number(this.slider!.value))));
      const cm = select(
        [
          ["gray", "grayscale"],
          ["viridis", "viridis"],
        ],
        this.cmap,
        (v) => {
          this.cmap = v;
          setParams({ cmap: v === "viridis" ? "viridis" : undefined });
          this.paint();
        },
        "cmap",
      );
      const tools = el("div", { class: "q-toolbar" }, el("label", {}, "frame ", this.slider), ...(e.view === "image" ? [el("label", {}, "colormap ", cm)] : []));
      this.body.replaceChildren(el("div", { class: "q-panel" }, title, tools, el("div", { class: "q-frame-wrap" }, this.canvas, this.info)));
      await this.showFrame(this.frameNo);
    } else {
      this.body.replaceChildren(
        el(
          "div",
          { class: "q-panel" },
          title,
          el("p", { class: "q-empty" }, `shape [${(e.shape ?? []).join(", ")}] of ${e.dtype}: shown as lines (1-D, N×D), images (N×H×W) or RGB (uint8 N×H×W×3) only`),
        ),
      );
    }
  }

  private async loadLine(plotEl: HTMLElement): Promise<void> {
    const e = this.current!;
    const seq = ++this.seq;
    const width = Math.max(200, Math.round(plotEl.clientWidth || 900));
    try {
      const l = await this.api.line(this.file, e.path, this.range?.[0], this.range ? this.range[1] + 1 : undefined, width);
      if (seq !== this.seq) return;
      this.line = l;
      const tables = l.series.map((s) => [s.x, s.y] as unknown as uPlot.AlignedData);
      const data = tables.length === 1 ? tables[0]! : uPlot.join(tables);
      const range = this.range;
      let done!: () => void;
      const painted = new Promise<void>((r) => (done = r));
      this.plot?.destroy();
      this.plot = new uPlot(
        {
          width,
          height: 300,
          legend: { show: false },
          series: [{}, ...l.series.map((s, i) => ({ label: s.key, stroke: PALETTE[i % PALETTE.length]!, width: 1.25, spanGaps: true }))],
          scales: { x: { time: false, ...(range ? { range: () => [range[0], range[1]] as [number, number] } : {}) } },
          cursor: { drag: { x: true, y: false, setScale: false } },
          axes: [
            { stroke: "#666", grid: { stroke: "#eee" } },
            { stroke: "#666", grid: { stroke: "#eee" }, size: 60 },
          ],
          hooks: {
            draw: [() => done()],
            setSelect: [
              (u) => {
                if (u.select.width < 3) return;
                const a = Math.floor(u.posToVal(u.select.left, "x"));
                const b = Math.ceil(u.posToVal(u.select.left + u.select.width, "x"));
                u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
                if (b > a) this.zoomLine([a, b]);
              },
            ],
          },
        },
        data,
        plotEl,
      );
      plotEl.addEventListener("dblclick", () => this.zoomLine(undefined), { once: true });
      this.info.textContent = "";
      await Promise.race([painted, new Promise((r) => setTimeout(r, 2000))]);
    } catch (err) {
      this.err.show((err as Error).message);
    }
  }

  private zoomLine(r: [number, number] | undefined): void {
    this.range = r;
    setParams({ range: r?.join(",") });
    const plotEl = this.body.querySelector(".q-plot") as HTMLElement | null;
    if (plotEl) void track(this.loadLine(plotEl));
  }

  /** Frame i: fetched (one frame, one slice) and painted. */
  async showFrame(i: number): Promise<void> {
    const e = this.current;
    if (!e) return;
    const seq = ++this.seq;
    try {
      const f = await this.api.frame(this.file, e.path, i);
      if (seq !== this.seq) return;
      this.frame = f;
      this.frameNo = f.shape[0]!;
      if (this.slider) {
        this.slider.max = String(f.length - 1);
        this.slider.value = String(this.frameNo);
      }
      setParams({ frame: String(this.frameNo) });
      this.paint();
    } catch (err) {
      this.err.show((err as Error).message);
    }
  }

  private paint(): void {
    const f = this.frame;
    const c = this.canvas;
    if (!f || !c) return;
    const [, h, w] = f.shape as [number, number, number];
    c.width = w;
    c.height = h;
    const scale = Math.max(1, Math.floor(384 / Math.max(w, h)));
    c.style.width = `${w * scale}px`;
    c.style.height = `${h * scale}px`;
    const ctx = c.getContext("2d")!;
    const img = ctx.createImageData(w, h);
    const px = img.data;
    if (f.shape.length === 4) {
      const ch = f.shape[3]!;
      const d = f.data as Uint8Array;
      for (let p = 0; p < w * h; p++) {
        px[p * 4] = d[p * ch]!;
        px[p * 4 + 1] = d[p * ch + 1]!;
        px[p * 4 + 2] = d[p * ch + 2]!;
        px[p * 4 + 3] = ch === 4 ? d[p * ch + 3]! : 255;
      }
      this.info.textContent = `frame ${this.frameNo + 1} of ${f.length} · RGB ${w}×${h} (${f.dtype})`;
    } else {
      const lut = colormap(this.cmap);
      const d = f.data as Float32Array;
      const span = f.max - f.min || 1;
      for (let p = 0; p < w * h; p++) {
        const k = Math.max(0, Math.min(255, Math.round(((d[p]! - f.min) / span) * 255))) * 3;
        px[p * 4] = lut[k]!;
        px[p * 4 + 1] = lut[k + 1]!;
        px[p * 4 + 2] = lut[k + 2]!;
        px[p * 4 + 3] = 255;
      }
      const bar = el("span", {
        class: "q-colorbar",
        style: `background:linear-gradient(to right,${[0, 64, 128, 192, 255].map((i) => `rgb(${lut[i * 3]},${lut[i * 3 + 1]},${lut[i * 3 + 2]})`).join(",")})`,
      });
      this.info.replaceChildren(
        `frame ${this.frameNo + 1} of ${f.length} · ${w}×${h} ${f.dtype} · `,
        el("span", { class: "q-min" }, `min ${fmt(f.min)}`),
        " ",
        bar,
        " ",
        el("span", { class: "q-max" }, `max ${fmt(f.max)}`),
      );
    }
    ctx.putImageData(img, 0, 0);
  }

  /** New rows from a writer: the list's shapes, the slider's end, an unzoomed line. */
  private async refresh(): Promise<void> {
    if (document.hidden || !this.current) return;
    try {
      const tree = await this.api.tree(this.file);
      const now = tree.entries.find((e) => e.path === this.current!.path);
      const grew = now && now.shape?.[0] !== this.current.shape?.[0];
      this.entries = tree.entries;
      if (!grew) return;
      this.current = now;
      this.renderList();
      if (this.slider) this.slider.max = String((now.shape?.[0] ?? 1) - 1);
      const plotEl = this.body.querySelector(".q-plot") as HTMLElement | null;
      if (plotEl && !this.range) await track(this.loadLine(plotEl));
    } catch {
      // The file is being replaced or the server restarts: the next tick asks again.
    }
  }

  inspect(): unknown {
    const f = this.frame;
    return {
      entries: this.entries,
      current: this.current?.path,
      line: this.line ? { length: this.line.length, i0: this.line.i0, i1: this.line.i1, series: this.line.series.map((s) => ({ key: s.key, n: s.n, x: s.x, y: s.y })) } : undefined,
      frame: f ? { index: this.frameNo, length: f.length, shape: f.shape, min: f.min, max: f.max, pixel: this.pixel(0, 0), cmap: this.cmap } : undefined,
    };
  }

  /** The RGBA the canvas shows at (x, y) (tests check the colormap). */
  private pixel(x: number, y: number): number[] | undefined {
    const c = this.canvas;
    if (!c) return undefined;
    return [...c.getContext("2d")!.getImageData(x, y, 1, 1).data];
  }

  unmount(): void {
    clearInterval(this.poll);
    this.plot?.destroy();
  }
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(5)));
}
