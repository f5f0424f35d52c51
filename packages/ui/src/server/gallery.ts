/**
 * The gallery's data: the datasources of one root (@quiver/datasource, opened read-only, so
 * nothing under the root is created or written), queried with the filter language, asOf and
 * saved datasets; a query's result is kept while the datasource has no new commit and the
 * grid's pages are cut from it. Thumbnails are made here and kept in memory by content hash
 * (the server writes nothing to disk); files are served only from inside the folder.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { extname, join, resolve } from "node:path";
import { parseFilter, QuiverError } from "@quiver/core";
import type { Datasource, View } from "@quiver/datasource";
import { contentType, IMAGE_EXT, insideRoot, sniff } from "./files.js";
import { thumbnail } from "./image.js";
import type { Cell } from "../shared/protocol.js";
import type { Facet, GalleryField, GalleryItem, GalleryList, GalleryPage, GalleryRequest } from "../shared/protocol-views.js";

type DsModule = typeof import("@quiver/datasource");

interface Result {
  at: number;
  versions: number;
  items: GalleryItem[];
  fields: GalleryField[];
}

function toCell(v: unknown): Cell {
  if (v === null || v === undefined) return null;
  if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  return JSON.stringify(v);
}

function galleryField(f: { name: string; type: string; tags?: string[] }): GalleryField {
  return f.tags?.length ? { name: f.name, type: f.type, tags: f.tags } : { name: f.name, type: f.type };
}

export class GalleryData {
  readonly root: string;
  private mod: Promise<DsModule> | undefined;
  private sources = new Map<string, Promise<Datasource>>();
  private results = new Map<string, Promise<Result>>();
  private thumbs = new Map<string, Buffer>();
  private thumbBytes = 0;
  /** Bytes of thumbnails kept in memory (LRU). */
  private readonly thumbLimit = 64 << 20;

  constructor(root: string) {
    this.root = resolve(root);
  }

  private lib(): Promise<DsModule> {
    return (this.mod ??= import("@quiver/datasource"));
  }

  private source(name: string): Promise<Datasource> {
    if (typeof name !== "string" || !name) throw new QuiverError("INVALID_VALUE", "which datasource? pass ?source=NAME");
    let s = this.sources.get(name);
    if (!s) {
      s = this.lib().then((m) => m.Datasource.get({ name, root: this.root, readOnly: true }));
      this.sources.set(name, s);
      s.catch(() => this.sources.delete(name));
    }
    return s;
  }

  async list(): Promise<GalleryList> {
    const m = await this.lib();
    const all = await m.Datasource.list({ root: this.root, readOnly: true });
    const sources = [];
    for (const ds of all) {
      if (!this.sources.has(ds.name)) this.sources.set(ds.name, Promise.resolve(ds));
      else await ds.close();
      const d = await this.source(ds.name);
      sources.push({ name: d.name, path: d.path, fields: (await d.fields()).map(galleryField), versions: (await d.versions()).map((v) => v.getTime()) });
    }
    const datasets = await m.Dataset.list({ root: this.root, readOnly: true });
    return { root: this.root, sources, datasets };
  }

  /** The query's view: the datasource (or a saved dataset of it), the filter, asOf. */
  private async view(req: GalleryRequest): Promise<{ ds: Datasource; view: View }> {
    const ds = await this.source(req.source);
    let view: View = ds;
    if (req.dataset) {
      const m = await this.lib();
      const set = await m.Dataset.get({ name: req.dataset, root: this.root, readOnly: true });
      try {
        if (set.datasource.name !== ds.name)
          throw new QuiverError(
            "INVALID_VALUE",
            `dataset ${JSON.stringify(req.dataset)} belongs to datasource ${JSON.stringify(set.datasource.name)}, not ${JSON.stringify(ds.name)}`,
          );
        if (set.spec.where) view = view.where(set.spec.where);
        for (const o of set.spec.orderBy ?? []) view = view.orderBy(o.column, o.direction ?? "asc");
        if (set.spec.asOf) view = view.asOf(set.spec.asOf);
        if (set.spec.limit !== undefined) view = view.limit(set.spec.limit);
      } finally {
        await set.close();
      }
    }
    if (req.filter?.trim()) view = view.where(parseFilter(req.filter));
    if (req.asOf) {
      const t = /^\d+$/.test(req.asOf) ? new Date(Number(req.asOf)) : new Date(req.asOf);
      if (!Number.isFinite(t.getTime())) throw new QuiverError("INVALID_TIMESTAMP", `asOf ${JSON.stringify(req.asOf)} is not a time; pass an ISO time or milliseconds`);
      view = view.asOf(t);
    }
    return { ds, view };
  }

  private versionCounts = new Map<string, { at: number; value: Promise<number> }>();

  /** How many commits the datasource has (asked at most every 300 ms: every page checks it). */
  private versionCount(source: string): Promise<number> {
    const c = this.versionCounts.get(source);
    if (c && Date.now() - c.at < 300) return c.value;
    const value = this.source(source).then((ds) => ds.versions().then((v) => v.length));
    this.versionCounts.set(source, { at: Date.now(), value });
    value.catch(() => this.versionCounts.delete(source));
    return value;
  }

  /** The whole result of a query, kept until the datasource gets a new commit. */
  private async result(req: GalleryRequest): Promise<Result> {
    const key = JSON.stringify([req.source, req.dataset ?? "", req.filter?.trim() ?? "", req.asOf ?? ""]);
    const versions = await this.versionCount(req.source);
    const c = this.results.get(key);
    if (c) {
      const r = await c.catch(() => undefined);
      if (r && r.versions === versions) return r;
    }
    const value = (async (): Promise<Result> => {
      const { ds, view } = await this.view(req);
      const res = await view.fetch(); // a saved dataset's limit applies (all() ignores it)
      const fields = (await ds.fields()).map(galleryField);
      // A blob field tagged as the image thumbnail (ds.metadataField(f).setThumbnail("image")) is the tile's picture.
      const thumbField = fields.find((f) => f.type === "blob" && f.tags?.includes("thumbnail_viz") && f.tags.includes("image"))?.name;
      const items: GalleryItem[] = res.rows.map((r) => {
        const path = String(r.path);
        const meta: Record<string, Cell> = {};
        for (const [k, v] of Object.entries(r)) if (k !== "path") meta[k] = toCell(v);
        const size = typeof r.size === "number" || typeof r.size === "bigint" ? Number(r.size) : null;
        const thumb = thumbField && typeof r[thumbField] === "string" && /^[0-9a-f]{64}$/.test(r[thumbField] as string) ? (r[thumbField] as string) : undefined;
        const kind = thumb || (size !== null && IMAGE_EXT.has(extname(path).toLowerCase())) ? "image" : "file";
        return thumb ? { path, size, kind, meta, thumb } : { path, size, kind, meta };
      });
      return { at: Date.now(), versions, items, fields };
    })();
    this.results.set(key, value);
    if (this.results.size > 16) this.results.delete(this.results.keys().next().value!);
    value.catch(() => this.results.delete(key));
    return value;
  }

  async page(req: GalleryRequest): Promise<GalleryPage> {
    const t0 = performance.now();
    const r = await this.result(req);
    const offset = Math.max(0, Math.floor(req.offset || 0));
    const limit = Math.min(1000, Math.max(0, Math.floor(req.limit ?? 200)));
    return { total: r.items.length, offset, items: r.items.slice(offset, offset + limit), fields: r.fields, ms: performance.now() - t0 };
  }

  /** Value counts per metadata field over the query's result (the top 20 values each). */
  async facets(req: GalleryRequest): Promise<Facet[]> {
    const r = await this.result(req);
    const out: Facet[] = [];
    for (const f of r.fields) {
      if (f.type === "blob" || f.name === "mtime") continue;
      const counts = new Map<Cell, number>();
      let missing = 0;
      for (const it of r.items) {
        const v = it.meta[f.name] ?? null;
        if (v === null) missing++;
        else counts.set(v, (counts.get(v) ?? 0) + 1);
      }
      const sorted = [...counts].sort((a, b) => b[1] - a[1] || (String(a[0]) < String(b[0]) ? -1 : 1));
      const top = sorted.slice(0, 20);
      out.push({ field: f.name, type: f.type, values: top.map(([value, count]) => ({ value, count })), other: sorted.slice(20).reduce((a, [, c]) => a + c, 0), missing });
    }
    return out;
  }

  /** A file of a datasource, only from inside its folder. */
  async file(source: string, path: string): Promise<{ body: Buffer; type: string }> {
    const ds = await this.source(source);
    const { file } = insideRoot(ds.path, path);
    return { body: await readFile(file), type: contentType(path) };
  }

  /** A JPEG thumbnail (longest side `size`), cached by the file's content hash. */
  async thumb(source: string, path: string, size: number): Promise<{ body: Buffer; type: string; etag: string } | undefined> {
    const ds = await this.source(source);
    const { file } = insideRoot(ds.path, path);
    const bytes = await readFile(file);
    const px = Math.min(512, Math.max(16, Math.floor(size || 160)));
    const hash = createHash("sha256").update(bytes).digest("hex");
    const key = `${hash}:${px}`;
    const cached = this.thumbs.get(key);
    if (cached) {
      this.thumbs.delete(key);
      this.thumbs.set(key, cached);
      return { body: cached, type: "image/jpeg", etag: `"${key}"` };
    }
    const body = thumbnail(bytes, px);
    if (!body) {
      // GIF, WebP, BMP, interlaced PNG: a small original is its own thumbnail.
      return bytes.length <= 1 << 20 && IMAGE_EXT.has(extname(path).toLowerCase()) ? { body: bytes, type: contentType(path), etag: `"${hash}"` } : undefined;
    }
    this.thumbs.set(key, body);
    this.thumbBytes += body.length;
    while (this.thumbBytes > this.thumbLimit) {
      const [k, v] = this.thumbs.entries().next().value!;
      this.thumbs.delete(k);
      this.thumbBytes -= v.length;
    }
    return { body, type: "image/jpeg", etag: `"${key}"` };
  }

  /** A blob field's bytes (content-addressed under the root's blobs/ folder), for previews. */
  async blob(hash: string): Promise<{ body: Buffer; type: string }> {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new QuiverError("INVALID_VALUE", `${JSON.stringify(hash)} is not a blob hash (64 hex digits)`);
    try {
      const body = await readFile(join(this.root, "blobs", hash.slice(0, 2), hash));
      return { body, type: sniff(body) };
    } catch (err) {
      throw new QuiverError("NOT_FOUND", `no blob ${hash} under ${this.root}/blobs`, { cause: err });
    }
  }

  async close(): Promise<void> {
    for (const s of this.sources.values()) await (await s.catch(() => undefined))?.close();
    this.sources.clear();
  }
}
