/**
 * The API of the timeline, array viewer and gallery views (the runs view's is in http.ts).
 * Every route reads; none writes to the store, the HDF5 files or the datasource root.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { QuiverError, type Store } from "@quiver/core";
import { ArraysData } from "./arrays.js";
import { GalleryData } from "./gallery.js";
import { body, json, send } from "./reply.js";
import { TracksData } from "./tracks.js";
import type { GalleryRequest, Sources } from "../shared/protocol-views.js";

function num(v: string | null | undefined, what: string): number | undefined {
  if (v === null || v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new QuiverError("INVALID_VALUE", `${what} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined || v === null || (v as unknown) === "") throw new QuiverError("INVALID_VALUE", `the request needs ${what}`);
  return v;
}

function galleryRequest(v: unknown): GalleryRequest {
  const o = (v ?? {}) as Record<string, unknown>;
  const str = (k: string) => (typeof o[k] === "string" && o[k] !== "" ? (o[k] as string) : undefined);
  const source = str("source");
  if (!source) throw new QuiverError("INVALID_VALUE", "a gallery request needs source (a datasource name)");
  return {
    source,
    dataset: str("dataset"),
    filter: str("filter"),
    asOf: str("asOf"),
    offset: typeof o.offset === "number" ? o.offset : 0,
    limit: typeof o.limit === "number" ? o.limit : 200,
  };
}

export interface ViewSources {
  /** HDF5 files for the array viewer. */
  h5?: readonly string[];
  /** A datasource root (the folder holding datasources.db) for the gallery. */
  datasources?: string;
}

export class ViewRoutes {
  readonly tracks: TracksData;
  readonly arrays: ArraysData;
  readonly gallery: GalleryData | undefined;

  constructor(
    private readonly store: Store,
    o: ViewSources,
    private readonly hasRuns: () => Promise<boolean>,
  ) {
    this.tracks = new TracksData(store);
    this.arrays = new ArraysData(o.h5 ?? []);
    this.gallery = o.datasources ? new GalleryData(o.datasources) : undefined;
  }

  private ds(): GalleryData {
    if (!this.gallery) throw new QuiverError("NOT_FOUND", "this dashboard has no datasources; start it with --datasources ROOT (the folder of datasources.db, default .quiver)");
    return this.gallery;
  }

  async sources(): Promise<Sources> {
    const tables = await this.store.tables();
    return { uri: this.store.uri, runs: await this.hasRuns(), tracks: tables.some((t) => t.includes("/tracks/")), h5: this.arrays.files, datasources: this.gallery?.root };
  }

  /** Answers the request if it is one of these routes; false otherwise. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
    const p = url.pathname;
    if (!p.startsWith("/api/")) return false;
    const q = (k: string) => url.searchParams.get(k) ?? undefined;
    const get = req.method === "GET";
    const post = req.method === "POST";
    switch (p) {
      case "/api/sources":
        if (!get) return false;
        json(res, await this.sources(), req);
        return true;
      case "/api/tracks/sessions":
        if (!get) return false;
        json(res, await this.tracks.sessions(), req);
        return true;
      case "/api/tracks/window": {
        if (!post) return false;
        const o = (await body(req)) as Record<string, unknown>;
        const fields = Array.isArray(o.fields) ? o.fields.filter((f): f is string => typeof f === "string").slice(0, 64) : [];
        if (typeof o.table !== "string" || typeof o.t0 !== "number" || typeof o.t1 !== "number")
          throw new QuiverError("INVALID_VALUE", "a window request needs table, t0 and t1 (seconds)");
        json(res, await this.tracks.window(o.table, fields, o.t0, o.t1, Math.min(8192, Math.max(1, Number(o.width) || 1000))), req);
        return true;
      }
      case "/api/tracks/around":
        if (!get) return false;
        json(res, await this.tracks.around(need(q("table"), "table"), need(num(q("t"), "t"), "t (seconds)"), num(q("k"), "k") ?? 10), req);
        return true;
      case "/api/tracks/logs":
        if (!get) return false;
        json(res, await this.tracks.logs(need(q("table"), "table"), num(q("t0"), "t0"), num(q("t1"), "t1"), num(q("limit"), "limit") ?? 5000), req);
        return true;
      case "/api/h5/tree":
        if (!get) return false;
        json(res, await this.arrays.tree(num(q("file"), "file") ?? 0), req);
        return true;
      case "/api/h5/line":
        if (!get) return false;
        json(res, await this.arrays.line(num(q("file"), "file") ?? 0, need(q("name"), "name"), num(q("i0"), "i0"), num(q("i1"), "i1"), num(q("width"), "width") ?? 1000), req);
        return true;
      case "/api/h5/frame": {
        if (!get) return false;
        const f = await this.arrays.frame(num(q("file"), "file") ?? 0, need(q("name"), "name"), num(q("i"), "i") ?? 0);
        const meta = JSON.stringify({ length: f.length, shape: f.shape, dtype: f.dtype, min: f.min, max: f.max });
        send(res, 200, f.body, "application/octet-stream", { "x-quiver-frame": meta });
        return true;
      }
      case "/api/ds/list":
        if (!get) return false;
        json(res, await this.ds().list(), req);
        return true;
      case "/api/ds/page":
        if (!post) return false;
        json(res, await this.ds().page(galleryRequest(await body(req))), req);
        return true;
      case "/api/ds/facets":
        if (!post) return false;
        json(res, await this.ds().facets(galleryRequest(await body(req))), req);
        return true;
      case "/api/ds/file": {
        if (!get) return false;
        const f = await this.ds().file(need(q("source"), "source"), need(q("path"), "path"));
        send(res, 200, f.body, f.type, { "content-security-policy": "default-src 'none'; sandbox" });
        return true;
      }
      case "/api/ds/thumb": {
        if (!get) return false;
        const t = await this.ds().thumb(need(q("source"), "source"), need(q("path"), "path"), num(q("size"), "size") ?? 160);
        if (!t) throw new QuiverError("UNSUPPORTED", `no thumbnail for ${q("path")}: not a PNG or JPEG this server decodes`);
        if (req.headers["if-none-match"] === t.etag) {
          res.writeHead(304, { etag: t.etag, "cache-control": "private, max-age=60" });
          res.end();
          return true;
        }
        send(res, 200, t.body, t.type, { etag: t.etag, "cache-control": "private, max-age=60" });
        return true;
      }
      case "/api/ds/blob": {
        if (!get) return false;
        const b = await this.ds().blob(need(q("hash"), "hash"));
        send(res, 200, b.body, b.type, { "content-security-policy": "default-src 'none'; sandbox" });
        return true;
      }
      default:
        return false;
    }
  }

  async close(): Promise<void> {
    await this.arrays.close();
    await this.gallery?.close();
  }
}
