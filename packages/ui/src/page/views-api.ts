/** The server API of the timeline, array viewer and gallery (they need a server: no report mode). */
import { ApiError } from "./api.js";
import type { Facet, GalleryList, GalleryPage, GalleryRequest, H5Line, H5Tree, LogEntry, SessionInfo, Sources, TrackPoints, TrackWindow } from "../shared/protocol-views.js";

export interface Frame {
  length: number;
  shape: number[];
  dtype: string;
  min: number;
  max: number;
  /** float32 values (H×W) or RGB bytes (H×W×3). */
  data: Float32Array | Uint8Array;
}

export class ViewsApi {
  constructor(private readonly token: string | null) {}

  url(path: string, params: Record<string, string | number | undefined> = {}): string {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) p.set(k, String(v));
    if (this.token) p.set("token", this.token);
    const q = p.toString();
    return `${path}${q ? `?${q}` : ""}`;
  }

  private async json<T>(path: string, params: Record<string, string | number | undefined> = {}, body?: unknown): Promise<T> {
    const r = await fetch(this.url(path, params), body === undefined ? undefined : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const v = (await r.json()) as T & { code?: string; message?: string };
    if (!r.ok) throw new ApiError(v.code ?? "ERROR", v.message ?? r.statusText);
    return v;
  }

  sources(): Promise<Sources> {
    return this.json("api/sources");
  }
  sessions(): Promise<SessionInfo[]> {
    return this.json("api/tracks/sessions");
  }
  window(table: string, fields: string[], t0: number, t1: number, width: number): Promise<TrackWindow> {
    return this.json("api/tracks/window", {}, { table, fields, t0, t1, width });
  }
  around(table: string, t: number, k: number): Promise<TrackPoints> {
    return this.json("api/tracks/around", { table, t, k });
  }
  logs(table: string, t0: number, t1: number): Promise<{ entries: LogEntry[]; more: boolean }> {
    return this.json("api/tracks/logs", { table, t0, t1 });
  }
  tree(file: number): Promise<H5Tree> {
    return this.json("api/h5/tree", { file });
  }
  line(file: number, name: string, i0: number | undefined, i1: number | undefined, width: number): Promise<H5Line> {
    return this.json("api/h5/line", { file, name, i0, i1, width });
  }
  async frame(file: number, name: string, i: number): Promise<Frame> {
    const r = await fetch(this.url("api/h5/frame", { file, name, i }));
    if (!r.ok) {
      const v = (await r.json()) as { code?: string; message?: string };
      throw new ApiError(v.code ?? "ERROR", v.message ?? r.statusText);
    }
    const meta = JSON.parse(r.headers.get("x-quiver-frame") ?? "{}") as Omit<Frame, "data">;
    const buf = await r.arrayBuffer();
    return { ...meta, data: meta.shape.length === 4 ? new Uint8Array(buf) : new Float32Array(buf) };
  }
  galleryList(): Promise<GalleryList> {
    return this.json("api/ds/list");
  }
  galleryPage(req: GalleryRequest): Promise<GalleryPage> {
    return this.json("api/ds/page", {}, req);
  }
  facets(req: GalleryRequest): Promise<Facet[]> {
    return this.json("api/ds/facets", {}, req);
  }
  thumbUrl(source: string, path: string, size: number): string {
    return this.url("api/ds/thumb", { source, path, size });
  }
  fileUrl(source: string, path: string): string {
    return this.url("api/ds/file", { source, path });
  }
  blobUrl(hash: string): string {
    return this.url("api/ds/blob", { hash });
  }
}
