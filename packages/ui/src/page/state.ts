/** The view's state, kept in the URL so that a link reopens the same view. */
import type { SmoothKind } from "../shared/smooth.js";

export interface ViewState {
  /** Which view ("runs"; more views register in views.ts). */
  view: string;
  table?: string;
  /** Selected runs, in selection order (their colours follow it). */
  runs: string[];
  /** Metric panels shown (undefined: every metric). */
  metrics?: string[];
  x: string;
  smooth: SmoothKind;
  /** EMA weight, running-mean window or Gaussian sigma. */
  sv: number;
  logy: boolean;
  group?: string;
  filter?: string;
  sort?: string;
  desc: boolean;
  /** Shared x zoom of every panel. */
  zoom?: [number, number];
}

export const DEFAULT_SMOOTH: Record<SmoothKind, number> = { none: 0, ema: 0.6, mean: 10, gaussian: 5 };

const KINDS: SmoothKind[] = ["none", "ema", "mean", "gaussian"];

function list(v: string | null): string[] | undefined {
  if (v === null) return undefined;
  return v === "" ? [] : v.split(",").map((s) => decodeURIComponent(s));
}

/** Reads the state from a query string ("?runs=a,b&x=step&smooth=ema:0.6…"). */
export function parseState(search: string): ViewState {
  const p = new URLSearchParams(search);
  const [kind, value] = (p.get("smooth") ?? "none").split(":");
  const smooth = KINDS.includes(kind as SmoothKind) ? (kind as SmoothKind) : "none";
  const sv = value !== undefined && Number.isFinite(Number(value)) ? Number(value) : DEFAULT_SMOOTH[smooth];
  const z = p.get("zoom")?.split(",").map(Number);
  return {
    view: p.get("view") ?? "runs",
    table: p.get("table") ?? undefined,
    runs: list(p.get("runs")) ?? [],
    metrics: list(p.get("metrics")),
    x: p.get("x") ?? "step",
    smooth,
    sv,
    logy: p.get("logy") === "1",
    group: p.get("group") ?? undefined,
    filter: p.get("filter") ?? undefined,
    sort: p.get("sort") ?? undefined,
    desc: p.get("desc") === "1",
    zoom: z && z.length === 2 && z.every(Number.isFinite) && z[0]! < z[1]! ? [z[0]!, z[1]!] : undefined,
  };
}

/** The query string of a state; `keep` carries other parameters (the token) along. */
export function stateQuery(s: ViewState, keep: URLSearchParams = new URLSearchParams()): string {
  const p = new URLSearchParams();
  const token = keep.get("token");
  if (token) p.set("token", token);
  if (s.view !== "runs") p.set("view", s.view);
  if (s.table) p.set("table", s.table);
  // Commas separate run ids, so ids are escaped first (a comma inside one stays %2C).
  p.set("runs", s.runs.map((r) => encodeURIComponent(r)).join(","));
  if (s.metrics) p.set("metrics", s.metrics.map((m) => encodeURIComponent(m)).join(","));
  if (s.x !== "step") p.set("x", s.x);
  if (s.smooth !== "none") p.set("smooth", `${s.smooth}:${s.sv}`);
  if (s.logy) p.set("logy", "1");
  if (s.group) p.set("group", s.group);
  if (s.filter) p.set("filter", s.filter);
  if (s.sort) p.set("sort", s.sort);
  if (s.desc) p.set("desc", "1");
  if (s.zoom) p.set("zoom", s.zoom.map((v) => String(v)).join(","));
  return `?${p.toString()}`;
}
