/** The page's entry: picks the data source (server or embedded report), restores the URL state, mounts a view. */
import css from "uplot/dist/uPlot.min.css";
import { type Api, EmbeddedApi, HttpApi, type ReportData } from "./api.js";
import { track } from "./ready.js";
import { RunsView } from "./runs-view.js";
import { parseState, stateQuery, type ViewState } from "./state.js";
import { STYLE } from "./style.js";
import { registerView, type View, type ViewContext, views } from "./views.js";

declare global {
  interface Window {
    __QUIVER_REPORT__?: ReportData;
    quiver?: { state: () => ViewState; inspect: () => unknown; view: () => View | undefined; zoom: (range?: [number, number]) => void };
  }
}

registerView("runs", "Runs", (api, ctx) => new RunsView(api, ctx));

function boot(): void {
  const style = document.createElement("style");
  style.textContent = css + STYLE;
  document.head.append(style);
  const report = window.__QUIVER_REPORT__;
  const params = new URLSearchParams(location.search);
  const api: Api = report ? new EmbeddedApi(report) : new HttpApi(params.get("token"));
  // A report opened without a query string shows the view it was exported with.
  const search = report && !location.search ? report.state : location.search;
  let current: View | undefined;
  const app = document.getElementById("app")!;
  const header = document.createElement("header");
  header.className = "q-header";
  const main = document.createElement("main");
  app.append(header, main);

  const mount = (state: ViewState, explicitRuns: boolean, explicitX = explicitRuns) => {
    current?.unmount();
    const ctx: ViewContext = {
      state,
      explicitRuns,
      explicitX,
      save: () => history.replaceState(null, "", stateQuery(state, params) + location.hash),
      navigate: (s) => {
        history.pushState(null, "", stateQuery(s, params));
        mount(s, s.runs.length > 0, false);
      },
    };
    const entry = views().find(([n]) => n === state.view) ?? views()[0]!;
    header.replaceChildren();
    const brand = document.createElement("strong");
    brand.textContent = "Quiver";
    header.append(brand);
    for (const [name, v] of views()) {
      const a = document.createElement("a");
      a.textContent = v.title;
      a.href = stateQuery({ ...state, view: name }, params);
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
        () => api.meta(state.table).then((m) => (src.textContent = `${m.embedded ? "report of " : ""}${m.uri} · ${m.table} · ${m.rows.toLocaleString()} rows${report ? ` · exported ${report.created}` : ""}`)),
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
    mount(s, q.has("runs"), q.has("x"));
  };
  window.addEventListener("popstate", () => {
    const q = new URLSearchParams(location.search);
    mount(parseState(location.search), q.has("runs"), q.has("x"));
  });
  window.quiver = { state: () => parseState(location.search), inspect: () => current?.inspect?.(), view: () => current, zoom: (r) => current?.zoom?.(r) };
  start();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
