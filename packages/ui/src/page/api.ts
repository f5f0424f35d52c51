/**
 * Where the page gets its data: the server's JSON API, or the data embedded in an exported
 * report (no server: sorting, filtering and zoom run on the embedded, decimated copy).
 */
import { parseFilter } from "@quiver/core";
import { decimate, groupBins } from "../shared/decimate.js";
import { fieldsOf, matches } from "../shared/evaluate.js";
import type { Cell, Meta, SeriesRequest, SeriesResponse, SummaryPage } from "../shared/protocol.js";

export interface RunsRequest {
  table: string;
  filter?: string;
  sort?: string;
  desc?: boolean;
  offset: number;
  limit: number;
}

export interface Api {
  readonly embedded: boolean;
  meta(table?: string): Promise<Meta>;
  runs(req: RunsRequest): Promise<SummaryPage>;
  series(req: SeriesRequest): Promise<SeriesResponse>;
  /** Calls back when the table gets new rows; returns the unsubscribe. */
  live(table: string, onRows: () => void): () => void;
}

/** An error the server (or the report) explains; shown to the user as is. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class HttpApi implements Api {
  readonly embedded = false;
  constructor(private readonly token: string | null) {}

  private url(path: string, params: Record<string, string | undefined> = {}): string {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) p.set(k, v);
    if (this.token) p.set("token", this.token);
    const q = p.toString();
    return `${path}${q ? `?${q}` : ""}`;
  }

  private async get<T>(res: Promise<Response>): Promise<T> {
    const r = await res;
    const body = (await r.json()) as T & { code?: string; message?: string };
    if (!r.ok) throw new ApiError(body.code ?? "ERROR", body.message ?? r.statusText);
    return body;
  }

  meta(table?: string): Promise<Meta> {
    return this.get(fetch(this.url("api/meta", { table })));
  }

  runs(req: RunsRequest): Promise<SummaryPage> {
    return this.get(
      fetch(
        this.url("api/runs", {
          table: req.table,
          filter: req.filter || undefined,
          sort: req.sort,
          desc: req.desc ? "1" : undefined,
          offset: String(req.offset),
          limit: String(req.limit),
        }),
      ),
    );
  }

  series(req: SeriesRequest): Promise<SeriesResponse> {
    return this.get(fetch(this.url("api/series"), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(req) }));
  }

  /**
   * Short polling of the row count rather than an EventSource: a browser holds at most six
   * connections per server, so one SSE stream per tab would stall a seventh tab.
   */
  live(table: string, onRows: () => void, every = 300): () => void {
    let last = -1;
    let stopped = false;
    let timer = 0;
    const tick = async () => {
      if (stopped) return;
      if (!document.hidden) {
        try {
          const { rows } = await this.get<{ rows: number }>(fetch(this.url("api/rows", { table })));
          if (last >= 0 && rows !== last) onRows();
          last = rows;
        } catch {
          // The server restarts or the store is busy; ask again on the next tick.
        }
      }
      if (!stopped) timer = window.setTimeout(tick, every);
    };
    void tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }
}

/** What `quiver ui --export` embeds: the table and, per metric, decimated points per run. */
export interface ReportData {
  meta: Meta;
  summary: SummaryPage;
  /** metric → x axis → run → points (M4 at a high resolution, so re-cutting keeps spikes). */
  series: Record<string, Record<string, Record<string, { x: number[]; y: number[] }>>>;
  state: string;
  created: string;
}

export class EmbeddedApi implements Api {
  readonly embedded = true;
  constructor(private readonly data: ReportData) {}

  async meta(): Promise<Meta> {
    return { ...this.data.meta, embedded: true };
  }

  async runs(req: RunsRequest): Promise<SummaryPage> {
    const s = this.data.summary;
    const keyIndex = new Map(s.columns.map((c, i) => [c.key, i] as const));
    let idx = s.ids.map((_, i) => i);
    if (req.filter?.trim()) {
      const node = parseFilter(req.filter).node;
      const unknown = [...fieldsOf(node)].filter((f) => f !== "track_id" && !keyIndex.has(f));
      if (unknown.length) throw new ApiError("UNKNOWN_FIELD", `no column ${unknown.map((u) => JSON.stringify(u)).join(", ")} in the runs table`);
      const timeKeys = new Set(s.columns.filter((c) => c.kind === "time").map((c) => c.key));
      idx = idx.filter((r) =>
        matches(
          node,
          (f) => (f === "track_id" ? s.ids[r]! : s.rows[r]![keyIndex.get(f)!]),
          (f) => timeKeys.has(f),
        ),
      );
    }
    if (req.sort) {
      const c = keyIndex.get(req.sort);
      const get = (r: number): Cell => (c === undefined ? s.ids[r]! : s.rows[r]![c]!);
      const dir = req.desc ? -1 : 1;
      idx.sort((a, b) => {
        const va = get(a);
        const vb = get(b);
        if (va === null || vb === null) return va === vb ? a - b : va === null ? 1 : -1;
        return (va < vb ? -1 : va > vb ? 1 : 0) * dir || a - b;
      });
    }
    const page = idx.slice(req.offset, req.offset + req.limit);
    return { columns: s.columns, total: s.ids.length, matched: idx.length, offset: req.offset, ids: page.map((i) => s.ids[i]!), rows: page.map((i) => s.rows[i]!) };
  }

  async series(req: SeriesRequest): Promise<SeriesResponse> {
    const byRun = this.data.series[req.y]?.[req.x];
    if (!byRun) throw new ApiError("NOT_FOUND", `this report holds no ${req.y} against ${req.x}; export again with that view, or open the store with quiver ui`);
    const s = this.data.summary;
    const gi = req.group ? s.columns.findIndex((c) => c.key === req.group) : -1;
    const row = new Map(s.ids.map((id, i) => [id, i] as const));
    const groupOf = (r: string): string | null => {
      const v = gi < 0 ? null : (s.rows[row.get(r) ?? -1]?.[gi] ?? null);
      return v === null ? null : String(v);
    };
    const parts = req.runs.filter((r) => byRun[r]).map((r) => ({ key: r, group: groupOf(r), ...byRun[r]! }));
    let lo = req.x0 ?? Infinity;
    let hi = req.x1 ?? -Infinity;
    if (req.x0 === undefined || req.x1 === undefined) {
      for (const p of parts) {
        if (!p.x.length) continue;
        if (req.x0 === undefined) lo = Math.min(lo, p.x[0]!);
        if (req.x1 === undefined) hi = Math.max(hi, p.x[p.x.length - 1]!);
      }
    }
    if (!(lo <= hi)) return { x0: 0, x1: 1, series: [], ms: 0 };
    if (req.group) {
      const groups = new Map<string, typeof parts>();
      for (const p of parts) groups.set(p.group ?? "(null)", [...(groups.get(p.group ?? "(null)") ?? []), p]);
      const series = [...groups]
        .sort((a, b) => (a[0] < b[0] ? -1 : 1))
        .map(([k, ps]) => {
          const g = groupBins(ps, lo, hi, req.width);
          return { key: k, n: g.count.reduce((a, b) => a + b, 0), x: g.x, y: g.mean, bx: g.x, by: g.mean, bc: g.count, lo: g.lo, hi: g.hi, runs: ps.length };
        });
      return { x0: lo, x1: hi, series, ms: 0 };
    }
    return { x0: lo, x1: hi, series: parts.map((p) => ({ key: p.key, ...decimate(p.x, p.y, lo, hi, req.width) })), ms: 0 };
  }

  live(): () => void {
    return () => {};
  }
}
