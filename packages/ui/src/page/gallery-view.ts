/**
 * The datasource gallery (DagsHub Data Engine): a virtualised grid of the datasource's files —
 * server-made thumbnails for images, icons with name and size for the rest — that scrolls
 * through 100k datapoints fetching pages as they come into view; a query bar (the filter
 * language), facets with value counts, an asOf picker, saved datasets as saved views, and a
 * datapoint panel with every metadata field and blob previews.
 * URL: ?view=gallery&source=&dataset=&q=&asOf=&dp=.
 */
import { bytes, el, errorBox, param, select, setParams } from "./dom.js";
import { track } from "./ready.js";
import type { View } from "./views.js";
import type { ViewsApi } from "./views-api.js";
import type { Cell } from "../shared/protocol.js";
import type { Facet, GalleryItem, GalleryList, GalleryRequest } from "../shared/protocol-views.js";

const CELL_W = 156;
const CELL_H = 178;
const THUMB = 140;
const PAGE = 240;

function quote(v: Cell): string {
  if (typeof v === "string") return `'${v.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  return String(v);
}

export class GalleryView implements View {
  readonly name = "gallery";
  readonly title = "Gallery";
  readonly el = el("div", { class: "q-gallery" });
  private list!: GalleryList;
  private source = "";
  private dataset: string | undefined = param("dataset");
  private filter: string | undefined = param("q");
  private asOf: string | undefined = param("asOf");
  private total = 0;
  private pages = new Map<number, GalleryItem[]>();
  private loading = new Map<number, Promise<void>>();
  private err = errorBox();
  private count = el("span", { class: "q-note q-count" });
  private scroller = el("div", { class: "q-grid-scroll" });
  private spacer = el("div", { class: "q-grid-spacer" });
  private cells = el("div", { class: "q-grid-cells" });
  private facetsEl = el("aside", { class: "q-facets", "aria-label": "facets" });
  private panel = el("aside", { class: "q-dp", "aria-label": "datapoint" });
  private selected: GalleryItem | undefined;
  private gen = 0;
  private frame = 0;

  constructor(private readonly api: ViewsApi) {}

  private req(offset: number, limit: number): GalleryRequest {
    return { source: this.source, dataset: this.dataset, filter: this.filter, asOf: this.asOf, offset, limit };
  }

  async mount(): Promise<void> {
    this.list = await track(this.api.galleryList());
    if (!this.list.sources.length) {
      this.el.replaceChildren(
        el("p", { class: "q-empty" }, `No datasources under ${this.list.root}. Make one with Datasource.getOrCreate({ name, path }) or quiver ds scan NAME --path DIR.`),
      );
      return;
    }
    const want = param("source");
    this.source = (this.list.sources.find((s) => s.name === want) ?? this.list.sources[0]!).name;
    this.renderShell();
    await this.reload();
    const dp = param("dp");
    if (dp) {
      const item = [...this.pages.values()].flat().find((i) => i.path === dp);
      if (item) this.showDatapoint(item);
    }
  }

  private renderShell(): void {
    const src = this.list.sources.find((s) => s.name === this.source)!;
    const sources = select(
      this.list.sources.map((s) => [s.name, s.name]),
      this.source,
      (v) => {
        this.source = v;
        this.dataset = undefined;
        this.asOf = undefined;
        setParams({ source: v, dataset: undefined, asOf: undefined, dp: undefined });
        this.renderShell();
        void this.reload();
      },
      "source",
    );
    const sets = this.list.datasets.filter((d) => d.source === this.source);
    const datasets = select(
      [["", "(whole datasource)"], ...sets.map((d) => [d.name, d.name] as [string, string])],
      this.dataset ?? "",
      (v) => {
        this.dataset = v || undefined;
        setParams({ dataset: this.dataset });
        void this.reload();
      },
      "dataset",
    );
    const versions = [...src.versions].reverse();
    const asOf = select(
      [["", "now"], ...versions.map((v) => [String(v), new Date(v).toISOString().replace("T", " ").slice(0, 23)] as [string, string])],
      this.asOf ?? "",
      (v) => {
        this.asOf = v || undefined;
        setParams({ asOf: this.asOf });
        void this.reload();
      },
      "asOf",
    );
    const query = el("input", { type: "search", name: "query", class: "q-filter", placeholder: "filter: label = 'cat' and score > 0.5", value: this.filter ?? "" });
    query.addEventListener("keydown", (e) => {
      if (e.key !== "Enter") return;
      this.filter = query.value.trim() || undefined;
      setParams({ q: this.filter });
      void this.reload();
    });
    this.scroller.replaceChildren(this.spacer, this.cells);
    this.scroller.onscroll = () => this.schedule();
    const toolbar = el(
      "div",
      { class: "q-toolbar" },
      ...(this.list.sources.length > 1 ? [el("label", {}, "datasource ", sources)] : []),
      el("label", {}, "saved view ", datasets),
      el("label", {}, "as of ", asOf),
      this.count,
    );
    this.el.replaceChildren(toolbar, el("div", { class: "q-filter-row" }, query), this.err.el, el("div", { class: "q-gallery-grid" }, this.facetsEl, this.scroller, this.panel));
    new ResizeObserver(() => this.schedule()).observe(this.scroller);
  }

  /** A new query: first page, facets, then the grid draws what is in view. */
  private reload(): Promise<void> {
    const gen = ++this.gen;
    this.pages.clear();
    this.loading.clear();
    this.scroller.scrollTop = 0;
    this.err.show(undefined);
    const job = (async () => {
      try {
        // The grid draws from the first page; the facets (a pass over the whole result) follow.
        const facets = this.api.facets(this.req(0, 0)).then(
          (f) => gen === this.gen && this.renderFacets(f),
          () => undefined, // the same error comes with the page, and shows there
        );
        const first = await this.api.galleryPage(this.req(0, PAGE));
        if (gen !== this.gen) return;
        this.total = first.total;
        this.pages.set(0, first.items);
        this.count.textContent = `${first.total.toLocaleString()} datapoints`;
        await Promise.all([this.draw(), facets]);
      } catch (e) {
        if (gen !== this.gen) return;
        this.total = 0;
        this.count.textContent = "";
        this.cells.replaceChildren();
        this.err.show((e as Error).message);
      }
    })();
    return track(job);
  }

  private renderFacets(facets: Facet[]): void {
    this.facetsEl.replaceChildren(
      ...facets.map((f) =>
        el(
          "details",
          { class: "q-facet", "data-field": f.field, ...(f.values.length <= 12 ? { open: "" } : {}) },
          el("summary", {}, `${f.field} `, el("span", { class: "q-note" }, f.type)),
          ...f.values.map((v) => {
            const b = el(
              "button",
              { type: "button", class: "q-facet-value", "data-value": String(v.value) },
              el("span", {}, String(v.value)),
              el("span", { class: "q-note" }, v.count.toLocaleString()),
            );
            b.addEventListener("click", () => this.addCondition(`${/^[A-Za-z_][\w./]*$/.test(f.field) ? f.field : `\`${f.field}\``} = ${quote(v.value)}`));
            return b;
          }),
          ...(f.other ? [el("div", { class: "q-note" }, `${f.other.toLocaleString()} with other values`)] : []),
          ...(f.missing ? [el("div", { class: "q-note" }, `${f.missing.toLocaleString()} without a value`)] : []),
        ),
      ),
    );
  }

  private addCondition(c: string): void {
    this.filter = this.filter ? `(${this.filter}) and ${c}` : c;
    (this.el.querySelector("input[name=query]") as HTMLInputElement).value = this.filter;
    setParams({ q: this.filter });
    void this.reload();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      void track(this.draw());
    });
  }

  private columns(): number {
    return Math.max(1, Math.floor((this.scroller.clientWidth || 900) / CELL_W));
  }

  /** Renders the rows in view (fetching their pages) and waits for their thumbnails. */
  private async draw(): Promise<void> {
    const cols = this.columns();
    const rows = Math.ceil(this.total / cols);
    this.spacer.style.height = `${rows * CELL_H}px`;
    const h = this.scroller.clientHeight || 600;
    const r0 = Math.max(0, Math.floor(this.scroller.scrollTop / CELL_H) - 1);
    const r1 = Math.min(rows, Math.ceil((this.scroller.scrollTop + h) / CELL_H) + 1);
    const i0 = r0 * cols;
    const i1 = Math.min(this.total, r1 * cols);
    const need = new Set<number>();
    for (let i = i0; i < i1; i++) if (!this.pages.has(Math.floor(i / PAGE))) need.add(Math.floor(i / PAGE));
    if (need.size) {
      const gen = this.gen;
      await Promise.all([...need].map((p) => this.fetchPage(p)));
      if (gen !== this.gen) return;
    }
    const frag: HTMLElement[] = [];
    const imgs: HTMLImageElement[] = [];
    for (let i = i0; i < i1; i++) {
      const item = this.pages.get(Math.floor(i / PAGE))?.[i % PAGE];
      if (!item) continue;
      const cell = this.cell(item, imgs);
      cell.style.transform = `translate(${(i % cols) * CELL_W}px, ${Math.floor(i / cols) * CELL_H}px)`;
      frag.push(cell);
    }
    this.cells.replaceChildren(...frag);
    // Ready once the thumbnails in view have arrived and decoded (2 s at most each).
    await Promise.all(imgs.map((im) => Promise.race([im.decode().catch(() => undefined), new Promise((r) => setTimeout(r, 2000))])));
  }

  private fetchPage(p: number): Promise<void> {
    let job = this.loading.get(p);
    if (!job) {
      const gen = this.gen;
      job = this.api.galleryPage(this.req(p * PAGE, PAGE)).then((r) => {
        if (gen === this.gen) this.pages.set(p, r.items);
      });
      this.loading.set(p, job);
    }
    return job;
  }

  private cell(item: GalleryItem, imgs: HTMLImageElement[]): HTMLElement {
    const name = item.path.split("/").pop()!;
    let visual: HTMLElement;
    if (item.kind === "image") {
      const img = el("img", {
        src: item.thumb ? this.api.blobUrl(item.thumb) : this.api.thumbUrl(this.source, item.path, THUMB),
        alt: name,
        width: String(THUMB),
        height: String(THUMB),
        class: "q-thumb",
      });
      img.onerror = () => img.replaceWith(this.icon(item.path));
      imgs.push(img);
      visual = img;
    } else visual = this.icon(item.path);
    const c = el(
      "div",
      { class: `q-cell${this.selected?.path === item.path ? " q-on" : ""}`, "data-path": item.path, title: item.path },
      visual,
      el("div", { class: "q-cell-name" }, name),
      el("div", { class: "q-note" }, bytes(item.size)),
    );
    c.addEventListener("click", () => this.showDatapoint(item));
    return c;
  }

  private icon(path: string): HTMLElement {
    const ext = (/\.([^./]+)$/.exec(path)?.[1] ?? "file").slice(0, 5).toUpperCase();
    return el("div", { class: "q-icon", role: "img", "aria-label": `${ext} file` }, el("span", {}, ext));
  }

  /** The datapoint panel: a larger preview, every field, blob previews. */
  private showDatapoint(item: GalleryItem): void {
    this.selected = item;
    setParams({ dp: item.path });
    for (const c of this.cells.querySelectorAll(".q-cell")) c.classList.toggle("q-on", (c as HTMLElement).dataset.path === item.path);
    const src = this.list.sources.find((s) => s.name === this.source)!;
    const types = new Map(src.fields.map((f) => [f.name, f.type]));
    const preview =
      item.kind === "image"
        ? el("img", { src: item.thumb ? this.api.blobUrl(item.thumb) : this.api.thumbUrl(this.source, item.path, 480), alt: item.path, class: "q-dp-preview" })
        : this.icon(item.path);
    const rows = Object.entries(item.meta).map(([k, v]) => {
      const value = el("td", {}, v === null ? "" : String(v));
      if (types.get(k) === "blob" && typeof v === "string" && /^[0-9a-f]{64}$/.test(v)) value.append(el("div", {}, this.blobPreview(v)));
      return el("tr", {}, el("th", {}, k), value);
    });
    const close = el("button", { type: "button", name: "close-dp" }, "×");
    close.addEventListener("click", () => {
      this.selected = undefined;
      this.panel.replaceChildren();
      setParams({ dp: undefined });
    });
    this.panel.replaceChildren(
      el("div", { class: "q-panel-title" }, item.path, " ", close),
      preview,
      el("a", { href: this.api.fileUrl(this.source, item.path), target: "_blank", rel: "noopener" }, "open the file"),
      el("table", { class: "q-dp-meta" }, el("tbody", {}, ...rows)),
    );
  }

  private blobPreview(hash: string): HTMLElement {
    const box = el("span", { class: "q-blob" }, "…");
    void fetch(this.api.blobUrl(hash)).then(async (r) => {
      const type = r.headers.get("content-type") ?? "";
      if (type.startsWith("image/")) box.replaceChildren(el("img", { src: this.api.blobUrl(hash), alt: "blob", class: "q-blob-img" }));
      else {
        const b = new Uint8Array(await r.arrayBuffer());
        box.textContent = `${b.length} bytes: ${[...b.subarray(0, 32)].map((x) => x.toString(16).padStart(2, "0")).join(" ")}${b.length > 32 ? " …" : ""}`;
      }
    });
    return box;
  }

  inspect(): unknown {
    return {
      total: this.total,
      source: this.source,
      dataset: this.dataset,
      filter: this.filter,
      asOf: this.asOf,
      cells: [...this.cells.querySelectorAll(".q-cell")].map((c) => (c as HTMLElement).dataset.path),
      thumbs: [...this.cells.querySelectorAll("img.q-thumb")].filter((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0).length,
      selected: this.selected?.path,
    };
  }

  unmount(): void {
    cancelAnimationFrame(this.frame);
    this.gen++;
  }
}
