/** The page's entry: picks the data source (server or embedded report), restores the URL state, mounts a view. */
import css from "uplot/dist/uPlot.min.css";
import { type Api, EmbeddedApi, HttpApi, type ReportData } from "./api.js";
import { track } from "./ready.js";
import { RunsView } from "./runs-view.js";
import { parseState, stateQuery, type ViewState } from "./state.js";
import { STYLE } from "./style.js";
import { ArraysView } from "./arrays-view.js";
import { GalleryView } from "./gallery-view.js";
import { TimelineView } from "./timeline-view.js";
import { registerView, type View, type ViewContext, views } from "./views.js";
import { ViewsApi } from "./views-api.js";
import type { Sources } from "../shared/protocol-views.js";

declare global {
  interface Window {
    __QUIVER_REPORT__?: ReportData;
    quiver?: { state: () => ViewState; inspect: () => unknown; view: () => View | undefined; zoom: (range?: [number, number]) => void };
  }
}

registerView("runs", "Runs", (api, ctx) => new RunsView(api, ctx));

/** Which views have something to show, and the one a bare URL opens. */
function available(src: Sources | undefined): { shown: Set<string>; first: string } {
  if (!src) return { shown: new Set(["runs"]), first: "runs" };
  const shown = new Set<string>();
  if (src.runs) shown.add("runs");
  if (src.tracks) shown.add("tracks");
  if (src.h5.length) shown.add("arrays");
  if (src.datasources) shown.add("gallery");
  if (!shown.size) shown.add("runs");
  return { shown, first: ["runs", "tracks", "arrays", "gallery"].find((v) => shown.has(v))! };
}

async function boot(): Promise<void> {
  const style = document.createElement("style");
  style.textContent = css + STYLE;
  document.head.append(style);
  const report = window.__QUIVER_REPORT__;
  const params = new URLSearchParams(location.search);
  const api: Api = report ? new EmbeddedApi(report) : new HttpApi(params.get("token"));
  // The other views need the server (a report embeds the runs only).
  const vapi = new ViewsApi(params.get("token"));
  const sources = report ? Promise.resolve(undefined) : vapi.sources().catch(() => undefined);
  if (!report) {
    registerView("tracks", "Tracks", () => new TimelineView(vapi));
    registerView("arrays", "Arrays", () => new ArraysView(vapi, () => sources.then((s) => s ?? vapi.sources())));
    registerView("gallery", "Gallery", () => new GalleryView(vapi));
  }
  const { shown, first } = available(await sources);
  // A report opened without a query string shows the view it was exported with.
  const search = report && !location.search ? report.state : location.search;
  let current: View | undefined;
  const app = document.getElementById("app")!;
  const header = document.createElement("header");
  header.className = "q-header";
  const main = document.createElement("main");
  app.append(header, main);

  // stateQuery leaves out view=runs; it must stay when another view is what a bare URL opens.
  const query = (st: ViewState) => {
    const qs = stateQuery(st, params);
    return st.view === first || qs.includes("view=") ? qs : `${qs}&view=${encodeURIComponent(st.view)}`;
  };
  const mount = (state: ViewState, explicitRuns: boolean, explicitX = explicitRuns) => {
    current?.unmount();
    const ctx: ViewContext = {
      state,
      explicitRuns,
      explicitX,
      save: () => history.replaceState(null, "", query(state) + location.hash),
      navigate: (s) => {
        history.pushState(null, "", query(s));
        mount(s, s.runs.length > 0, false);
      },
    };
    const entry = views().find(([n]) => n === state.view) ?? views()[0]!;
    header.replaceChildren();
    const brand = document.createElement("strong");
    brand.textContent = "Quiver";
    header.append(brand);
    for (const [name, v] of views()) {
      if (!shown.has(name) && name !== entry[0]) continue;
      const a = document.createElement("a");
      a.textContent = v.title;
      a.href = query({ ...state, view: name });
      a.dataset.view = name;
      if (name === entry[0]) a.className = "q-active";
      header.append(a);
    }
    const src = document.createElement("span");
    src.className = "q-source";
    header.append(src);
    current = entry[1].create(api, ctx);
    main.replaceChildren(current.el);
    void track(
      current.mount().then(
        () =>
          entry[0] === "runs"
            ? api
                .meta(state.table)
                .then(
                  (m) =>
                    (src.textContent = `${m.embedded ? "report of " : ""}${m.uri} · ${m.table} · ${m.rows.toLocaleString()} rows${report ? ` · exported ${report.created}` : ""}`),
                )
            : sources.then((x) => (src.textContent = x ? (entry[0] === "arrays" ? x.h5.join(", ") : entry[0] === "gallery" ? (x.datasources ?? "") : x.uri) : "")),
        (err: Error) => {
          const box = document.createElement("div");
          box.className = "q-error-box";
          box.setAttribute("role", "alert");
          box.textContent = err.message;
          main.replaceChildren(box);
        },
      ),
    );
  };
  const start = () => {
    const s = parseState(search);
    const q = new URLSearchParams(search);
    if (!q.has("view")) s.view = first;
    mount(s, q.has("runs"), q.has("x"));
  };
  window.addEventListener("popstate", () => {
    const q = new URLSearchParams(location.search);
    const st = parseState(location.search);
    if (!q.has("view")) st.view = first;
    mount(st, q.has("runs"), q.has("x"));
  });
  window.quiver = { state: () => parseState(location.search), inspect: () => current?.inspect?.(), view: () => current, zoom: (r) => current?.zoom?.(r) };
  start();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => void boot());
else void boot();
