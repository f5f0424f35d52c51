/**
 * The tracks timeline (dreamlake sessions): the sessions and their tracks as a tree, a time
 * cursor shared by every panel (scrub, play/pause at 1×/10×, step point by point), a panel per
 * selected track over a time window read through readByTime, the points around the cursor and
 * the session's logs on the same axis. URL: ?view=tracks&session=&tracks=a,b&t=&w=t0,t1&focus=.
 */
import { el, errorBox, param, select, setParams } from "./dom.js";
import { track } from "./ready.js";
import { type AxisHost, fmtTime, LogsPanel, PointsTable, TrackPanel } from "./timeline-panels.js";
import type { View } from "./views.js";
import type { ViewsApi } from "./views-api.js";
import type { SessionInfo, TrackInfo, TrackPoints } from "../shared/protocol-views.js";

/** Rows the points table shows on each side of the cursor, and rows fetched on each side (so nearby cursors need no request). */
const SHOW = 5;
const FETCH = 100;

/** Points a default window holds at most: a 10M-point track opens on its last ~1M. */
const WINDOW_POINTS = 1_000_000;

function drawable(t: TrackInfo): boolean {
  return t.fields.some((f) => f.kind === "number" || f.kind === "list");
}

export class TimelineView implements View, AxisHost {
  readonly name = "tracks";
  readonly title = "Tracks";
  readonly el = el("div", { class: "q-timeline" });
  private sessions: SessionInfo[] = [];
  private session: SessionInfo | undefined;
  private selected: string[] = [];
  private panels = new Map<string, TrackPanel>();
  private logs: LogsPanel | undefined;
  private points!: PointsTable;
  private focus: string | undefined;
  private t = 0;
  private win: [number, number] = [0, 1];
  private extent: [number, number] = [0, 1];
  time = true;
  private err = errorBox();
  private slider = el("input", { type: "range", name: "cursor", min: "0", max: "1000", value: "0", class: "q-scrub", "aria-label": "time cursor" });
  private clock = el("span", { class: "q-clock" });
  private playBtn = el("button", { type: "button", name: "play" }, "▶ play");
  private speed = el("select", { name: "speed", "aria-label": "speed" }, el("option", { value: "1" }, "1×"), el("option", { value: "10" }, "10×"));
  private playing = 0;
  private pointsSeq = 0;
  private pointsBusy: Promise<void> | undefined;
  private pointsAgain = false;
  /** The last FETCH points on each side of an earlier cursor; head/tail: the track's ends are in it. */
  private near: { table: string; points: TrackPoints["points"]; head: boolean; tail: boolean } | undefined;
  private resize = new ResizeObserver(() => {
    for (const p of this.panels.values()) p.resize();
    this.logs?.resize();
  });

  constructor(private readonly api: ViewsApi) {}

  cursor(): number {
    return this.t;
  }
  window(): [number, number] {
    return this.win;
  }

  async mount(): Promise<void> {
    this.sessions = await track(this.api.sessions());
    if (!this.sessions.length) {
      this.el.replaceChildren(el("p", { class: "q-empty" }, "No sessions in this store. Log some with Session.open({ prefix, store }) and session.track(name).append({...})."));
      return;
    }
    const want = param("session");
    this.session = this.sessions.find((s) => s.prefix === want) ?? this.sessions[0]!;
    const all = this.session.tracks;
    const named = param("tracks")?.split(",").map(decodeURIComponent);
    this.selected = named
      ? named.filter((n) => all.some((t) => t.name === n))
      : all
          .filter(drawable)
          .slice(0, 4)
          .map((t) => t.name);
    const ext = this.extentOf(all);
    this.extent = ext;
    this.time = ext[0] > 1e8;
    this.points = new PointsTable(this.time);
    const w = param("w")?.split(",").map(Number);
    this.win = w && w.length === 2 && w.every(Number.isFinite) && w[0]! < w[1]! ? [w[0]!, w[1]!] : this.defaultWindow();
    const t = Number(param("t"));
    this.t = Number.isFinite(t) && param("t") !== undefined ? t : this.win[0];
    this.focus = param("focus") ?? this.selected[0];
    this.render();
    await this.loadAll();
  }

  private extentOf(tracks: TrackInfo[]): [number, number] {
    let a = Infinity;
    let b = -Infinity;
    for (const t of tracks) {
      if (t.t0 !== null) a = Math.min(a, t.t0);
      if (t.t1 !== null) b = Math.max(b, t.t1);
    }
    const l = this.session?.logs;
    if (l?.t0 !== null && l?.t0 !== undefined) a = Math.min(a, l.t0);
    if (l?.t1 !== null && l?.t1 !== undefined) b = Math.max(b, l.t1);
    if (!(a <= b)) return [0, 1];
    return a === b ? [a - 0.5, b + 0.5] : [a, b];
  }

  /** The whole session, or its last part when the selected tracks hold more than WINDOW_POINTS there. */
  private defaultWindow(): [number, number] {
    const [a, b] = this.extent;
    const tracks = this.session!.tracks.filter((t) => this.selected.includes(t.name));
    const rows = tracks.reduce((s, t) => s + t.rows, 0);
    if (rows <= WINDOW_POINTS) return [a, b];
    return [b - ((b - a) * WINDOW_POINTS) / rows, b];
  }

  private save(): void {
    setParams({
      session: this.session?.prefix,
      tracks: this.selected.map(encodeURIComponent).join(","),
      t: String(this.t),
      w: this.sameWindow(this.win, this.defaultWindow()) ? undefined : this.win.join(","),
      focus: this.focus,
    });
  }

  private sameWindow(a: [number, number], b: [number, number]): boolean {
    return a[0] === b[0] && a[1] === b[1];
  }

  private render(): void {
    const s = this.session!;
    const tree = el("nav", { class: "q-tree", "aria-label": "sessions" });
    for (const sess of this.sessions) {
      const link = el(
        "a",
        {
          href: `?view=tracks&session=${encodeURIComponent(sess.prefix)}${param("token") ? `&token=${encodeURIComponent(param("token")!)}` : ""}`,
          class: sess === s ? "q-active" : "",
        },
        sess.prefix,
      );
      tree.append(el("div", { class: "q-tree-session" }, link));
      if (sess !== s) continue;
      // Track names are paths: camera/left/image shows under camera → left.
      const seen = new Set<string>();
      for (const t of sess.tracks) {
        const parts = t.name.split("/");
        for (let k = 1; k < parts.length; k++) {
          const g = parts.slice(0, k).join("/");
          if (seen.has(g)) continue;
          seen.add(g);
          tree.append(el("div", { class: "q-tree-group", style: `padding-left:${k * 12}px` }, `${parts[k - 1]}/`));
        }
        const box = el("input", { type: "checkbox", name: "track", value: t.name });
        box.checked = this.selected.includes(t.name);
        box.disabled = !drawable(t);
        box.addEventListener("change", () => this.toggle(t.name, box.checked));
        const label = el(
          "label",
          { class: "q-tree-track", style: `padding-left:${parts.length * 12}px`, title: t.fields.map((f) => `${f.name}: ${f.kind}`).join("\n") },
          box,
          ` ${parts[parts.length - 1]} `,
          el("span", { class: "q-note" }, `${t.rows.toLocaleString()} pts`),
        );
        tree.append(label);
      }
    }
    this.slider.addEventListener("input", () => this.setCursor(this.extent[0] + (Number(this.slider.value) / 1000) * (this.extent[1] - this.extent[0])));
    this.playBtn.addEventListener("click", () => (this.playing ? this.pause() : this.play()));
    const prev = el("button", { type: "button", name: "prev", title: "previous point" }, "◀ step");
    const next = el("button", { type: "button", name: "next", title: "next point" }, "step ▶");
    prev.addEventListener("click", () => void this.step(-1));
    next.addEventListener("click", () => void this.step(1));
    const whole = el("button", { type: "button", name: "reset-window" }, "whole session");
    whole.addEventListener("click", () => this.zoom([this.extent[0], this.extent[1]]));
    // The points table (and step) may follow any track, also one without a field to chart.
    const focus = select(
      s.tracks.map((t) => [t.name, t.name]),
      this.focus ?? "",
      (v) => this.setFocus(v),
      "focus",
    );
    const toolbar = el("div", { class: "q-toolbar q-transport" }, this.playBtn, this.speed, prev, next, this.slider, this.clock, whole, el("label", {}, "points of ", focus));
    const charts = el("div", { class: "q-track-panels" });
    for (const name of this.selected) {
      const info = s.tracks.find((t) => t.name === name)!;
      const p = new TrackPanel(info.table, name, this);
      p.el.addEventListener("click", () => this.setFocus(name));
      this.panels.set(name, p);
      charts.append(p.el);
    }
    if (s.logs) this.logs = new LogsPanel(s.logs.table, this);
    const main = el("div", { class: "q-timeline-main" }, toolbar, this.err.el, charts, ...(this.logs ? [this.logs.el] : []), this.points.el);
    this.el.replaceChildren(el("div", { class: "q-timeline-grid" }, tree, main));
    this.resize.observe(charts);
    this.showCursor();
  }

  private toggle(name: string, on: boolean): void {
    this.selected = on ? [...this.selected, name] : this.selected.filter((n) => n !== name);
    if (!this.selected.includes(this.focus ?? "")) this.focus = this.selected[0];
    for (const p of this.panels.values()) p.destroy();
    this.panels.clear();
    this.logs?.destroy();
    this.logs = undefined;
    this.save();
    this.render();
    void this.loadAll();
  }

  private setFocus(name: string): void {
    if (this.focus === name) return;
    this.focus = name;
    const box = this.el.querySelector<HTMLSelectElement>("select[name=focus]");
    if (box) box.value = name;
    this.save();
    void this.loadPoints();
  }

  /** Loads every panel's window, the logs and the points; the readiness hook covers all. */
  private loadAll(): Promise<void> {
    const s = this.session!;
    const [t0, t1] = this.win;
    const jobs: Promise<unknown>[] = [];
    for (const [name, p] of this.panels) {
      const info = s.tracks.find((t) => t.name === name)!;
      const fields = info.fields.filter((f) => f.kind === "number" || f.kind === "list").map((f) => f.name);
      jobs.push(
        this.api
          .window(info.table, fields, t0, t1, p.width())
          .then((w) => withTimeout(p.draw(w)))
          .catch((e: Error) => p.showError(e.message)),
      );
    }
    if (this.logs) {
      const lp = this.logs;
      jobs.push(
        this.api.logs(lp.table, t0, t1).then(
          (r) => lp.set(r.entries, r.more),
          (e: Error) => this.err.show(e.message),
        ),
      );
    }
    jobs.push(this.loadPoints(false));
    return track(Promise.all(jobs).then(() => undefined));
  }

  /** The points around t from the neighbourhood fetched before, when it covers SHOW rows each side. */
  private localPoints(table: string, t: number): TrackPoints | undefined {
    const n = this.near;
    if (!n || n.table !== table) return undefined;
    const p = n.points;
    let lo = 0;
    let hi = p.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if ((p[m]!._ts as number) <= t) lo = m + 1;
      else hi = m;
    }
    if ((lo < SHOW && !n.head) || (p.length - lo < SHOW && !n.tail)) return undefined;
    const a = Math.max(0, lo - SHOW);
    return { table, t, before: lo - a, points: p.slice(a, lo + SHOW) };
  }

  /** The focused track's points around the cursor (one request in flight; the latest cursor wins). */
  private loadPoints(tracked = true): Promise<void> {
    const here = this.session?.tracks.find((t) => t.name === this.focus);
    const local = here && this.localPoints(here.table, this.t);
    if (local && !this.pointsBusy) {
      this.points.set(here.name, local);
      return tracked ? track(Promise.resolve()) : Promise.resolve();
    }
    if (this.pointsBusy) {
      this.pointsAgain = true;
      return this.pointsBusy;
    }
    const info = this.session?.tracks.find((t) => t.name === this.focus);
    if (!info) return Promise.resolve();
    const seq = ++this.pointsSeq;
    const job = (async () => {
      try {
        do {
          this.pointsAgain = false;
          const p = await this.api.around(info.table, this.t, FETCH);
          this.near = { table: info.table, points: p.points, head: p.before < FETCH, tail: p.points.length - p.before < FETCH };
          // The cursor may have moved meanwhile: show its rows, or ask again around it.
          const here = this.localPoints(info.table, this.t);
          if (here && seq === this.pointsSeq) this.points.set(info.name, here);
          else if (!here) this.pointsAgain = true;
        } while (this.pointsAgain);
      } catch (e) {
        this.err.show((e as Error).message);
      } finally {
        this.pointsBusy = undefined;
      }
    })();
    this.pointsBusy = job;
    return tracked ? track(job) : job;
  }

  /** Moves the shared cursor: every panel redraws its cached paths, the points table follows. */
  setCursor(t: number): void {
    this.t = Math.min(this.extent[1], Math.max(this.extent[0], t));
    this.showCursor();
    if (!this.playing) this.save();
    void this.loadPoints(!this.playing);
  }

  private showCursor(): void {
    const [a, b] = this.extent;
    this.slider.value = String(Math.round(((this.t - a) / (b - a || 1)) * 1000));
    this.clock.textContent = `${fmtTime(this.t, this.time)}${this.time ? "" : " s"}`;
    for (const p of this.panels.values()) p.redraw();
    this.logs?.mark();
  }

  /** Zooms the shared window (undefined: the default window); re-reads every panel. */
  zoom(w: [number, number] | undefined): void {
    this.win = w ?? this.defaultWindow();
    if (this.t < this.win[0] || this.t > this.win[1]) this.t = this.win[0];
    this.save();
    this.showCursor();
    void this.loadAll();
  }

  private async step(dir: 1 | -1): Promise<void> {
    if (this.pointsBusy) await this.pointsBusy;
    const n = this.points.neighbours();
    const to = dir > 0 ? n.next : n.prev;
    if (to !== undefined) this.setCursor(to);
  }

  private play(): void {
    this.playBtn.textContent = "❚❚ pause";
    let last = performance.now();
    const tick = (now: number) => {
      if (!this.playing) return;
      const dt = ((now - last) / 1000) * Number(this.speed.value);
      last = now;
      const end = Math.min(this.extent[1], this.win[1]);
      if (this.t >= end) return this.pause();
      this.setCursor(Math.min(end, this.t + dt));
      this.playing = requestAnimationFrame(tick);
    };
    this.playing = requestAnimationFrame(tick);
  }

  private pause(): void {
    cancelAnimationFrame(this.playing);
    this.playing = 0;
    this.playBtn.textContent = "▶ play";
    this.save();
    void this.loadPoints();
  }

  /** For tests and automation: what each panel drew, the cursor, the points table, the logs shown. */
  inspect(): unknown {
    return {
      cursor: this.t,
      window: this.win,
      playing: this.playing !== 0,
      panels: Object.fromEntries(
        [...this.panels].map(([n, p]) => [n, { n: p.last?.n, series: p.last?.series.map((s) => ({ key: s.key, n: s.n, points: s.x.length })), plotted: p.plotted() }]),
      ),
      points: this.points.last,
      logs: this.logs?.visible().map((e) => e.message),
    };
  }

  unmount(): void {
    cancelAnimationFrame(this.playing);
    this.playing = 0;
    this.resize.disconnect();
    for (const p of this.panels.values()) p.destroy();
    this.logs?.destroy();
  }
}

function withTimeout(p: Promise<void>, ms = 2000): Promise<void> {
  return Promise.race([p, new Promise<void>((r) => setTimeout(r, ms))]);
}
