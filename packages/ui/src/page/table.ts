/**
 * The runs table, virtualised both ways: only the rows and columns in view exist in the DOM,
 * and rows arrive in pages from the server (sorted and filtered there), so 10,000 runs × 200
 * columns scroll as smoothly as 10.
 */
import type { Api } from "./api.js";
import { track } from "./ready.js";
import type { Cell, SummaryColumn, SummaryPage } from "../shared/protocol.js";

const ROW_H = 24;
const COL_W = 112;
const ID_W = 220;
const PAGE = 200;

export interface TableOptions {
  api: Api;
  table: string;
  filter?: string;
  sort?: string;
  desc: boolean;
  selected: () => string[];
  colorOf: (run: string) => string | undefined;
  onToggle: (run: string) => void;
  onSort: (key: string) => void;
  onError: (message: string | undefined) => void;
  /** Called with the first page once it is there (default selections). */
  onFirstPage?: (page: SummaryPage) => void;
}

export function formatCell(v: Cell, col: SummaryColumn): string {
  if (v === null || v === undefined) return "";
  if (col.kind === "time" && typeof v === "number") return new Date(v).toISOString().replace("T", " ").slice(0, 19);
  if (typeof v === "number") {
    if (col.key === "duration") return v < 120 ? `${v.toFixed(1)} s` : v < 7200 ? `${(v / 60).toFixed(1)} min` : `${(v / 3600).toFixed(1)} h`;
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(3) : String(Number(v.toPrecision(5)));
  }
  return String(v);
}

export class RunsTable {
  readonly el: HTMLElement;
  private readonly scroller: HTMLElement;
  private readonly header: HTMLElement;
  private readonly body: HTMLElement;
  private readonly status: HTMLElement;
  private columns: SummaryColumn[] = [];
  private matched = 0;
  private total = 0;
  private pages = new Map<number, { ids: string[]; rows: Cell[][] }>();
  private loading = new Set<number>();
  private generation = 0;
  private frame = 0;

  constructor(private o: TableOptions) {
    this.el = document.createElement("section");
    this.el.className = "q-table";
    this.status = document.createElement("div");
    this.status.className = "q-table-status";
    this.scroller = document.createElement("div");
    this.scroller.className = "q-table-scroll";
    this.header = document.createElement("div");
    this.header.className = "q-thead";
    this.body = document.createElement("div");
    this.body.className = "q-tbody";
    this.scroller.append(this.header, this.body);
    this.el.append(this.status, this.scroller);
    this.scroller.addEventListener("scroll", () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(this.scroller);
    this.body.addEventListener("click", (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>("[data-run]");
      if (row) this.o.onToggle(row.dataset.run!);
    });
    this.header.addEventListener("click", (e) => {
      const h = (e.target as HTMLElement).closest<HTMLElement>("[data-key]");
      if (h) this.o.onSort(h.dataset.key!);
    });
  }

  /** Reloads from the first page (new filter, sort or data). */
  reload(o: Partial<TableOptions> = {}): Promise<void> {
    this.o = { ...this.o, ...o };
    this.generation++;
    this.pages.clear();
    this.loading.clear();
    return this.ensure(0, true);
  }

  /** Ids of the loaded runs in table order (for tests and "select visible"). */
  loadedIds(): string[] {
    return [...this.pages.entries()].sort((a, b) => a[0] - b[0]).flatMap(([, p]) => p.ids);
  }

  private async ensure(page: number, first = false): Promise<void> {
    if (this.pages.has(page) || this.loading.has(page)) return;
    const gen = this.generation;
    this.loading.add(page);
    const o = this.o;
    try {
      const res = await track(o.api.runs({ table: o.table, filter: o.filter, sort: o.sort, desc: o.desc, offset: page * PAGE, limit: PAGE }));
      if (gen !== this.generation) return;
      this.columns = res.columns;
      this.matched = res.matched;
      this.total = res.total;
      this.pages.set(page, { ids: res.ids, rows: res.rows });
      this.o.onError(undefined);
      if (first) o.onFirstPage?.(res);
      this.render();
    } catch (err) {
      if (gen !== this.generation) return;
      this.o.onError((err as Error).message);
      if (first) {
        this.matched = 0;
        this.render();
      }
    } finally {
      this.loading.delete(page);
    }
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  /** Repaints the selection marks without refetching. */
  refreshSelection(): void {
    this.render();
  }

  private render(): void {
    const cols = this.columns;
    const width = ID_W + cols.length * COL_W;
    this.header.style.width = `${width}px`;
    this.body.style.width = `${width}px`;
    this.body.style.height = `${this.matched * ROW_H}px`;
    // Short tables take only the room they need.
    this.scroller.style.height = `${Math.min(300, 28 + Math.max(1, this.matched) * ROW_H + 16)}px`;
    this.status.textContent = `${this.matched.toLocaleString()} of ${this.total.toLocaleString()} runs · ${this.o.selected().length} selected`;
    const top = this.scroller.scrollTop;
    const h = this.scroller.clientHeight || 400;
    const first = Math.max(0, Math.floor(top / ROW_H) - 5);
    const last = Math.min(this.matched, Math.ceil((top + h) / ROW_H) + 5);
    const left = this.scroller.scrollLeft;
    const w = this.scroller.clientWidth || 1000;
    const c0 = Math.max(0, Math.floor((left - ID_W) / COL_W) - 1);
    const c1 = Math.min(cols.length, Math.ceil((left + w - ID_W) / COL_W) + 1);
    // Header: the visible column titles.
    const hp: string[] = [`<div class="q-th q-id" style="width:${ID_W}px">run</div>`];
    for (let c = c0; c < c1; c++) {
      const col = cols[c]!;
      const arrow = this.o.sort === col.key ? (this.o.desc ? " ▼" : " ▲") : "";
      hp.push(`<div class="q-th" data-key="${esc(col.key)}" title="${esc(col.key)} — click to sort" style="left:${ID_W + c * COL_W}px">${esc(col.key)}${arrow}</div>`);
    }
    this.header.innerHTML = hp.join("");
    for (let p = Math.floor(first / PAGE); p <= Math.floor(Math.max(first, last - 1) / PAGE); p++) if (p * PAGE < this.matched) void this.ensure(p);
    const sel = new Set(this.o.selected());
    const bp: string[] = [];
    for (let r = first; r < last; r++) {
      const page = this.pages.get(Math.floor(r / PAGE));
      if (!page) continue;
      const k = r % PAGE;
      const id = page.ids[k]!;
      const row = page.rows[k]!;
      const color = this.o.colorOf(id);
      const on = sel.has(id);
      const cells = [
        `<div class="q-td q-id" style="width:${ID_W}px"><span class="q-check">${on ? "☑" : "☐"}</span><span class="q-swatch" style="background:${color ?? "transparent"}"></span>${esc(id)}</div>`,
      ];
      for (let c = c0; c < c1; c++) cells.push(`<div class="q-td" style="left:${ID_W + c * COL_W}px">${esc(formatCell(row[c] ?? null, cols[c]!))}</div>`);
      bp.push(`<div class="q-tr${on ? " q-on" : ""}" data-run="${esc(id)}" style="top:${r * ROW_H}px">${cells.join("")}</div>`);
    }
    this.body.innerHTML = bp.join("");
  }
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
