/**
 * The array viewer's data: HDF5 files (H5Logger files, `h5:` stores, any HDF5) read through
 * @quiver/store-h5's H5Reader, which reads hyperslabs only and, for a file a writer is logging
 * to with SWMR, sees new rows after refresh() (a reopen). Never the whole dataset at once:
 * lines are decimated chunk by chunk, images are one frame.
 */
import { resolve } from "node:path";
import { QuiverError } from "@quiver/core";
import type { H5Reader } from "@quiver/store-h5";
import type { H5Entry, H5Line, H5Tree } from "../shared/protocol-views.js";

/** Rows read per hyperslab while decimating a line (64k rows of 8 columns: 4 MB). */
const CHUNK = 65_536;

/** First/min/max/last per pixel column of points arriving in x order (streaming M4). */
export class StreamM4 {
  private readonly first: Float64Array;
  private readonly last: Float64Array;
  private readonly min: Float64Array;
  private readonly max: Float64Array;
  private readonly fx: Float64Array;
  private readonly lx: Float64Array;
  private readonly minx: Float64Array;
  private readonly maxx: Float64Array;
  n = 0;

  constructor(
    private readonly lo: number,
    private readonly hi: number,
    private readonly width: number,
  ) {
    const w = width;
    this.first = new Float64Array(w).fill(NaN);
    this.last = new Float64Array(w);
    this.min = new Float64Array(w);
    this.max = new Float64Array(w);
    this.fx = new Float64Array(w);
    this.lx = new Float64Array(w);
    this.minx = new Float64Array(w);
    this.maxx = new Float64Array(w);
  }

  add(x: number, y: number): void {
    if (!Number.isFinite(y)) return;
    this.n++;
    const span = this.hi - this.lo;
    let b = span > 0 ? Math.floor(((x - this.lo) / span) * this.width) : 0;
    if (b >= this.width) b = this.width - 1;
    if (b < 0) b = 0;
    if (Number.isNaN(this.first[b]!)) {
      this.first[b] = this.min[b] = this.max[b] = this.last[b] = y;
      this.fx[b] = this.minx[b] = this.maxx[b] = this.lx[b] = x;
      return;
    }
    if (y < this.min[b]!) (this.min[b] = y), (this.minx[b] = x);
    if (y > this.max[b]!) (this.max[b] = y), (this.maxx[b] = x);
    this.last[b] = y;
    this.lx[b] = x;
  }

  points(): { x: number[]; y: number[] } {
    const x: number[] = [];
    const y: number[] = [];
    const put = (px: number, py: number) => {
      const k = x.length - 1;
      if (k >= 0 && x[k] === px && y[k] === py) return;
      x.push(px);
      y.push(py);
    };
    for (let b = 0; b < this.width; b++) {
      if (Number.isNaN(this.first[b]!)) continue;
      put(this.fx[b]!, this.first[b]!);
      if (this.minx[b]! <= this.maxx[b]!) {
        put(this.minx[b]!, this.min[b]!);
        put(this.maxx[b]!, this.max[b]!);
      } else {
        put(this.maxx[b]!, this.max[b]!);
        put(this.minx[b]!, this.min[b]!);
      }
      put(this.lx[b]!, this.last[b]!);
    }
    return { x, y };
  }
}

/** How the viewer shows a dataset of this shape and dtype. */
export function viewOf(shape: number[], dtype: string | undefined): H5Entry["view"] {
  if (!dtype) return "none";
  if (shape.length === 1) return "line";
  if (shape.length === 2) return "lines";
  if (shape.length === 3) return "image";
  if (shape.length === 4 && (shape[3] === 3 || shape[3] === 4) && dtype === "uint8") return "rgb";
  return "none";
}

type StoreH5 = typeof import("@quiver/store-h5");

export class ArraysData {
  private readers = new Map<number, Promise<H5Reader>>();
  private mod: Promise<StoreH5> | undefined;
  readonly files: string[];

  constructor(files: readonly string[]) {
    this.files = files.map((f) => resolve(f));
  }

  private reader(file: number): Promise<H5Reader> {
    if (!Number.isInteger(file) || file < 0 || file >= this.files.length)
      throw new QuiverError("NOT_FOUND", `no HDF5 file #${file}; this dashboard shows ${this.files.length} (start it with --h5 FILE)`);
    let r = this.readers.get(file);
    if (!r) {
      this.mod ??= import("@quiver/store-h5");
      r = this.mod.then((m) => m.H5Logger.read(this.files[file]!));
      this.readers.set(file, r);
      r.catch(() => this.readers.delete(file));
    }
    return r;
  }

  /** Sees what a SWMR writer flushed since the last read (a reopen: about a millisecond). */
  private async fresh(file: number): Promise<H5Reader> {
    const r = await this.reader(file);
    r.refresh();
    return r;
  }

  /** Groups and datasets with shape and dtype, as `h5ls -r` lists them. */
  async tree(file: number): Promise<H5Tree> {
    const r = await this.fresh(file);
    const entries = new Map<string, H5Entry>();
    for (const name of r.keys()) {
      const parts = name.split("/");
      for (let k = 1; k < parts.length; k++) {
        const g = `/${parts.slice(0, k).join("/")}`;
        if (!entries.has(g)) entries.set(g, { path: g, kind: "group" });
      }
      const s = r.get(name);
      let dtype: string | undefined;
      try {
        dtype = s.dtype;
      } catch {
        dtype = undefined; // strings, compounds: listed, not shown
      }
      entries.set(`/${name}`, { path: `/${name}`, kind: "dataset", shape: s.shape, dtype: dtype ?? "unsupported", view: viewOf(s.shape, dtype) });
    }
    return { file: this.files[file]!, entries: [...entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) };
  }

  private series(r: H5Reader, name: string) {
    const key = name.replace(/^\/+/, "");
    if (!r.has(key)) throw new QuiverError("NOT_FOUND", `${r.path} has no dataset ${JSON.stringify(name)}`);
    return r.get(key);
  }

  /**
   * A 1-D dataset (or the columns of an N×D one, at most 16) over rows [i0, i1) as decimated
   * lines against the row index; read in hyperslabs of 64k rows.
   */
  async line(file: number, name: string, i0: number | undefined, i1: number | undefined, width: number): Promise<H5Line> {
    const r = await this.fresh(file);
    const s = this.series(r, name);
    const shape = s.shape;
    if (shape.length < 1 || shape.length > 2) throw new QuiverError("INVALID_VALUE", `${name} has shape [${shape.join(", ")}]; lines need a 1-D or N×D dataset`);
    const len = s.length;
    const a = Math.max(0, Math.min(len, Math.floor(i0 ?? 0)));
    const b = Math.max(a, Math.min(len, Math.ceil(i1 ?? len)));
    const cols = Math.min(16, shape[1] ?? 1);
    const stride = shape[1] ?? 1;
    const w = Math.min(8192, Math.max(1, Math.floor(width)));
    const m4 = Array.from({ length: cols }, () => new StreamM4(a, Math.max(a, b - 1), w));
    const raw: { x: number[]; y: number[] }[] = Array.from({ length: cols }, () => ({ x: [], y: [] }));
    const every = b - a <= w * 4;
    for (let s0 = a; s0 < b; s0 += CHUNK) {
      const { data } = s.sliceData(s0, Math.min(b, s0 + CHUNK));
      const rows = Math.min(CHUNK, b - s0);
      for (let i = 0; i < rows; i++) {
        for (let c = 0; c < cols; c++) {
          const v = Number(data[i * stride + c]!);
          if (every) {
            if (Number.isFinite(v)) raw[c]!.x.push(s0 + i), raw[c]!.y.push(v);
          } else m4[c]!.add(s0 + i, v);
        }
      }
    }
    const series = Array.from({ length: cols }, (_, c) => {
      const p = every ? raw[c]! : m4[c]!.points();
      return { key: cols === 1 && shape.length === 1 ? name : `${name}[:, ${c}]`, n: every ? p.x.length : m4[c]!.n, ...p };
    });
    return { name, length: len, i0: a, i1: b, series };
  }

  /** Frame i of an N×H×W (or uint8 N×H×W×3) dataset: its values as float32 (or the RGB bytes). */
  async frame(file: number, name: string, i: number): Promise<{ length: number; shape: number[]; dtype: string; body: Buffer; min: number; max: number }> {
    const r = await this.fresh(file);
    const s = this.series(r, name);
    const shape = s.shape;
    const dtype = s.dtype;
    const view = viewOf(shape, dtype);
    if (view !== "image" && view !== "rgb") throw new QuiverError("INVALID_VALUE", `${name} has shape [${shape.join(", ")}] (${dtype}); frames need N×H×W, or uint8 N×H×W×3`);
    const len = s.length;
    if (!len) throw new QuiverError("NOT_FOUND", `${name} has no frames yet`);
    const k = Math.max(0, Math.min(len - 1, Math.floor(i)));
    const { data } = s.sliceData(k, k + 1);
    let min = Infinity;
    let max = -Infinity;
    let body: Buffer;
    if (view === "rgb") {
      body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      min = 0;
      max = 255;
    } else {
      const f = new Float32Array(data.length);
      for (let j = 0; j < data.length; j++) {
        const v = Number(data[j]!);
        f[j] = v;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      body = Buffer.from(f.buffer);
    }
    return { length: len, shape: [k, ...shape.slice(1)], dtype, body, min: Number.isFinite(min) ? min : 0, max: Number.isFinite(max) ? max : 0 };
  }

  async close(): Promise<void> {
    for (const r of this.readers.values()) (await r.catch(() => undefined))?.close();
    this.readers.clear();
  }
}
