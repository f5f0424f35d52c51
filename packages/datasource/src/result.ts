/** Query results: Arrow table, rows, datapoints, blobs, file download, training batches, export. */
import { copyFile, mkdir, readFile } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { Binary, Field, RecordBatch, Schema, Struct, Table, Utf8, makeData } from "apache-arrow";
import { QuiverError, type Row, batchToRows, buildData, vectorToValues } from "@quiver/core";
import { type BlobStore, mapLimit } from "./blobs.js";
import { type Columns, writeColumns } from "./duck.js";
import { writeCsv } from "./csv.js";
import { normalizePath } from "./paths.js";
import { ioError } from "./storage.js";
import { type FieldSchema, TAGS } from "./fields.js";
import { type Zones, zonedValues } from "./zoned-results.js";
import { ZonedDate } from "./zones.js";
import { plainList, plainRow, withFieldMetadata } from "./multivalue.js";
import { type TensorizeOptions, type Tensor, tensorizeBatch } from "./tensorize.js";
import { type FieldType, typeOfArrowField } from "./types.js";

/** Field metadata saying how a blob field's values were loaded (path, bytes, text, json). */
export const LOADED = "quiver:loaded";

export interface BlobFieldOptions {
  /** The blob's bytes instead of its file's path. */
  loadIntoMemory?: boolean;
  concurrency?: number;
}

export interface ResultContext {
  /** Absolute folder of the datasource's files. */
  sourcePath: string;
  root: string;
  name: string;
  blobs: BlobStore;
  types: ReadonlyMap<string, FieldType>;
  /** The datasource's fields with their tags (declared with `metadataField`). */
  fields?: readonly FieldSchema[];
}

const HASH = /^[0-9a-f]{64}$/;

async function blobValue(v: unknown, field: string, path: string, blobs: BlobStore): Promise<Uint8Array> {
  if (v instanceof Uint8Array) return v;
  if (typeof v === "string") return HASH.test(v) ? blobs.get(v) : new Uint8Array(await readFile(v));
  throw new QuiverError("NOT_FOUND", `datapoint ${JSON.stringify(path)} has no value for blob field ${JSON.stringify(field)}`);
}

function fileOf(ctx: ResultContext, path: string): string {
  return join(ctx.sourcePath, ...path.split("/"));
}

async function readDatapointFile(ctx: ResultContext, path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(fileOf(ctx, path)));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new QuiverError("NOT_FOUND", `file ${JSON.stringify(path)} of datasource ${ctx.name} is not in ${ctx.sourcePath}; run ds.scan() to refresh the index`, { cause: err });
    }
    throw ioError(err, `cannot read the file of datapoint ${JSON.stringify(path)}`);
  }
}

/** One file and its metadata. */
export class Datapoint {
  constructor(
    readonly path: string,
    readonly metadata: Row,
    private readonly ctx: ResultContext,
  ) {}
  /** Absolute path of the file on disk. */
  get localPath(): string {
    return fileOf(this.ctx, this.path);
  }
  /** The bytes of a blob field (read from the content-addressed blob store). */
  async getBlob(field: string): Promise<Uint8Array> {
    if (!(field in this.metadata)) throw new QuiverError("UNKNOWN_FIELD", `no field ${JSON.stringify(field)} in this result; fields: ${Object.keys(this.metadata).join(", ")}`);
    if (this.ctx.types.get(field) !== "blob") throw new QuiverError("INVALID_VALUE", `field ${JSON.stringify(field)} is ${this.ctx.types.get(field)}, not a blob`);
    return blobValue(this.metadata[field], field, this.path, this.ctx.blobs);
  }
  /** The datapoint's file contents. */
  readFile(): Promise<Uint8Array> {
    return readDatapointFile(this.ctx, this.path);
  }
}

export interface DownloadReport {
  targetDir: string;
  copied: number;
  /** Paths whose file was not found (the rest were copied). */
  missing: string[];
}

export interface BatchOptions {
  batchSize?: number;
  /** lazy: read a batch's files when it is requested; background: prefetch the next batches while
   * the caller works; preload: read everything before the first batch. */
  strategy?: "lazy" | "background" | "preload";
  /** Include the files' bytes (default true). */
  loadFiles?: boolean;
  /** Batches read ahead by "background" (default 2). */
  prefetch?: number;
  /**
   * Turn each datapoint's file, then each of `metadataColumns`, into tensors (DagsHub's
   * `as_ml_dataloader(tensorizers=…)`): `"auto"` (by file extension / value kind), one name for
   * every entry, a list with one name or function per entry, or one function for every entry.
   * The batch's `tensors` then hold one stacked tensor per entry (`[batch, ...shape]`).
   */
  tensorizers?: TensorizeOptions["tensorizers"];
  /** Metadata fields tensorized after the file (in this order). A blob field gives its blob's bytes. */
  metadataColumns?: string[];
  /** Of `metadataColumns`, those holding the path of another file in the folder (a mask, a label image): its bytes are tensorized (DagsHub's file columns). */
  fileColumns?: string[];
}

export interface Batch {
  metadata: Row[];
  files?: Uint8Array[];
  /** With `tensorizers`: the file's tensor, then one per metadata column, each stacked over the batch. */
  tensors?: Tensor[];
}

export class QueryResult implements Iterable<Datapoint> {
  private rowsCache?: Row[];
  constructor(
    readonly table: Table,
    private readonly ctx: ResultContext,
    /** Offsets of zoned datetimes, per field and row (the table holds the instants). */
    private readonly zones?: Zones,
  ) {}

  /**
   * @internal A query's result: each column's Arrow field says its datasource type and tags
   * (`quiver:type`, `quiver:tags`, so uploading the table elsewhere keeps them), and document
   * fields are loaded as text (as DagsHub's fetch does).
   */
  static async create(table: Table, ctx: ResultContext, zones?: Zones): Promise<QueryResult> {
    const r = new QueryResult(withFieldMetadata(table, ctx.fields ?? []), ctx, zones);
    const docs = r.fieldsTagged(TAGS.document).filter((n) => ctx.types.get(n) === "blob");
    return docs.length ? r.loadBlobs(docs, "text") : r;
  }

  /** @internal A datetime field's values as ZonedDates where they have an offset (undefined: none has). */
  zonedColumn(name: string): unknown[] | undefined {
    const offsets = this.zones?.get(name);
    return offsets && zonedValues(vectorToValues(this.table.getChild(name)!), offsets);
  }

  /** @internal The blob store the result's hashes refer to. */
  get blobStore(): BlobStore {
    return this.ctx.blobs;
  }

  get length(): number {
    return this.table.numRows;
  }
  /** Rows: { path, ...metadata }. Blob fields hold the hash (or what getBlobFields put there). */
  get rows(): Row[] {
    if (this.rowsCache) return this.rowsCache;
    const json = new Set(this.table.schema.fields.filter((f) => f.metadata.get(LOADED) === "json").map((f) => f.name));
    const rows = batchToRows(this.table).map((r) => plainRow(r, this.ctx.types, json));
    for (const [name, offsets] of this.zones ?? []) rows.forEach((r, i) => r[name] instanceof Date && offsets[i] && (r[name] = new ZonedDate(r[name] as Date, offsets[i]!)));
    return (this.rowsCache = rows);
  }
  get datapoints(): Datapoint[] {
    return this.rows.map((r) => {
      const { path, ...metadata } = r;
      return new Datapoint(path as string, metadata, this.ctx);
    });
  }
  [Symbol.iterator](): Iterator<Datapoint> {
    return this.datapoints[Symbol.iterator]();
  }
  get paths(): string[] {
    return this.table.numCols ? (vectorToValues(this.table.getChild("path")!) as string[]) : [];
  }

  /**
   * Fetches blob fields for every datapoint in parallel; with no names, every blob field but the
   * documents (already loaded as text), as DagsHub's `get_blob_fields()`. Returns a new result
   * where those fields hold the blob file's absolute path, or its bytes with `loadIntoMemory`.
   */
  async getBlobFields(...args: (string | BlobFieldOptions)[]): Promise<QueryResult> {
    const last = args[args.length - 1];
    const opts = typeof last === "object" ? (args.pop() as BlobFieldOptions) : {};
    const names = this.table.schema.fields.map((f) => f.name);
    let fields = args as string[];
    if (fields.length === 0) fields = names.filter((n) => this.ctx.types.get(n) === "blob" && !this.tagged(n, TAGS.document));
    for (const f of fields) {
      if (!names.includes(f)) throw new QuiverError("UNKNOWN_FIELD", `no field ${JSON.stringify(f)} in this result; fields: ${names.join(", ")}`);
      if (this.ctx.types.get(f) !== "blob") throw new QuiverError("INVALID_VALUE", `field ${JSON.stringify(f)} is ${this.ctx.types.get(f)}, not a blob`);
    }
    return this.loadBlobs(fields, opts.loadIntoMemory ? "bytes" : "path", opts.concurrency);
  }

  /** Annotation fields (tagged `annotation`) loaded and parsed: JSON values, or the text when it is not JSON. */
  getAnnotations(options: { concurrency?: number } = {}): Promise<QueryResult> {
    const names = this.table.schema.fields.map((f) => f.name).filter((n) => this.tagged(n, TAGS.annotation));
    return this.loadBlobs(names, "json", options.concurrency);
  }

  /** Fields of this result carrying a tag (`annotation`, `text_document`, `thumbnail_viz`, …). */
  fieldsTagged(tag: string): string[] {
    return this.table.schema.fields.map((f) => f.name).filter((n) => this.tagged(n, tag));
  }

  private tagged(name: string, tag: string): boolean {
    return this.ctx.fields?.find((f) => f.name === name)?.tags?.includes(tag) ?? false;
  }

  /** @internal Replaces blob fields' hashes by the blob's path, bytes, text or parsed JSON. */
  async loadBlobs(fields: readonly string[], mode: "path" | "bytes" | "text" | "json", concurrency = 16): Promise<QueryResult> {
    if (fields.length === 0) return this;
    const paths = this.paths;
    const dec = new TextDecoder();
    const outFields: Field[] = [];
    const datas = [];
    for (const f of this.table.schema.fields) {
      const col = vectorToValues(this.table.getChild(f.name)!);
      if (!fields.includes(f.name) || f.metadata.get(LOADED) !== undefined) {
        outFields.push(f);
        datas.push(buildData(f.type, col, f.name));
        continue;
      }
      const vals = await mapLimit(col, concurrency, async (v, i) => {
        if (v == null) return null;
        if (mode === "path") {
          if (v instanceof Uint8Array) return v;
          const p = HASH.test(v as string) ? this.ctx.blobs.pathOf(v as string) : (v as string);
          await blobValue(p, f.name, paths[i]!, this.ctx.blobs).catch((err) => {
            throw new QuiverError("NOT_FOUND", `blob of ${JSON.stringify(paths[i])}.${f.name} is missing: ${(err as Error).message}`);
          });
          return p;
        }
        const bytes = await blobValue(v, f.name, paths[i]!, this.ctx.blobs);
        if (mode === "bytes") return bytes;
        const text = dec.decode(bytes);
        if (mode === "text") return text;
        try {
          return JSON.parse(text) as unknown;
        } catch {
          return text;
        }
      });
      if (mode === "json" && vals.some((v) => v !== null && typeof v === "object")) {
        // Parsed annotations are objects: kept as JSON text in the table, parsed in rows.
        const meta = new Map(f.metadata);
        meta.set(LOADED, "json");
        outFields.push(new Field(f.name, new Utf8(), true, meta));
        datas.push(
          buildData(
            new Utf8(),
            vals.map((v) => (v === null ? null : typeof v === "string" ? v : JSON.stringify(v))),
            f.name,
          ),
        );
        continue;
      }
      const type = mode === "bytes" || vals.some((v) => v instanceof Uint8Array) ? new Binary() : new Utf8();
      const meta = new Map(f.metadata);
      meta.set(LOADED, mode);
      outFields.push(new Field(f.name, type, true, meta));
      datas.push(buildData(type, vals, f.name));
    }
    const schema = new Schema(outFields, this.table.schema.metadata);
    const batch = new RecordBatch(schema, makeData({ type: new Struct(outFields), length: paths.length, nullCount: 0, children: datas }));
    return new QueryResult(new Table([batch]), this.ctx, this.zones);
  }

  /** Copies the result's files into targetDir keeping their tree; missing files are reported, the rest copied. */
  async downloadFiles(options: { targetDir?: string; concurrency?: number } = {}): Promise<DownloadReport> {
    const targetDir = resolve(options.targetDir ?? join(this.ctx.root, "downloads", this.ctx.name));
    const missing: string[] = [];
    let copied = 0;
    await mapLimit(this.paths, options.concurrency ?? 16, async (p) => {
      const dst = join(targetDir, ...p.split("/"));
      await mkdir(dirname(dst), { recursive: true }).catch((err: unknown) => {
        throw ioError(err, "cannot create the download folder");
      });
      try {
        await copyFile(fileOf(this.ctx, p), dst);
        copied++;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        // A vanished source is reported; a failing target (disk full, read-only) is an error.
        if (e.code === "ENOENT" && e.path === fileOf(this.ctx, p)) missing.push(p);
        else throw ioError(err, `cannot copy ${JSON.stringify(p)} to ${dst}:`);
      }
    });
    missing.sort();
    return { targetDir, copied, missing };
  }

  /** Streams `{ metadata, files? }` batches for training with the seed's download strategies. */
  async *batches(options: BatchOptions = {}): AsyncGenerator<Batch> {
    const size = options.batchSize ?? 32;
    if (!Number.isInteger(size) || size < 1) throw new QuiverError("INVALID_VALUE", `batchSize must be a positive integer, got ${size}`);
    const strategy = options.strategy ?? "lazy";
    if (!["lazy", "background", "preload"].includes(strategy))
      throw new QuiverError("INVALID_VALUE", `strategy must be "lazy", "background" or "preload", got ${JSON.stringify(strategy)}`);
    const tz = options.tensorizers;
    const columns = options.metadataColumns ?? [];
    const names = this.table.schema.fields.map((f) => f.name);
    for (const c of columns)
      if (!names.includes(c)) throw new QuiverError("UNKNOWN_FIELD", `metadataColumns: no field ${JSON.stringify(c)} in this result; fields: ${names.join(", ")}`);
    const loadFiles = (options.loadFiles ?? true) || tz !== undefined;
    const fileColumns = new Set(options.fileColumns ?? []);
    for (const c of fileColumns) if (!columns.includes(c)) throw new QuiverError("INVALID_VALUE", `fileColumns: ${JSON.stringify(c)} is not one of metadataColumns`);
    const rows = this.rows;
    const count = Math.ceil(rows.length / size);
    const load = async (i: number): Promise<Batch> => {
      const metadata = rows.slice(i * size, (i + 1) * size);
      if (!loadFiles) return { metadata };
      const files = await mapLimit(metadata, 8, (r) => readDatapointFile(this.ctx, r.path as string));
      if (tz === undefined) return { metadata, files };
      const tensors = await tensorizeBatch(await this.entryValues(metadata, columns, fileColumns), files, { tensorizers: tz, metadataColumns: columns });
      return options.loadFiles === false ? { metadata, tensors } : { metadata, files, tensors };
    };
    if (strategy === "lazy") {
      for (let i = 0; i < count; i++) yield await load(i);
      return;
    }
    if (strategy === "preload") {
      const all = await mapLimit(
        Array.from({ length: count }, (_, i) => i),
        4,
        load,
      );
      yield* all;
      return;
    }
    const depth = Math.max(1, options.prefetch ?? 2);
    const pending = new Map<number, Promise<Batch>>();
    const start = (i: number): void => {
      if (i < count && !pending.has(i)) {
        const p = load(i);
        p.catch(() => undefined); // surfaced when awaited
        pending.set(i, p);
      }
    };
    for (let i = 0; i < count; i++) {
      for (let k = i; k <= i + depth; k++) start(k);
      const b = await pending.get(i)!;
      pending.delete(i);
      yield b;
    }
  }

  /**
   * Rows whose tensorized metadata columns hold bytes where the value stands for content: a blob
   * field's blob, and a `fileColumns` field's file (a path inside the datasource's folder, as
   * DagsHub's file columns).
   */
  private async entryValues(metadata: Row[], columns: readonly string[], fileColumns: ReadonlySet<string>): Promise<Row[]> {
    const blobCols = columns.filter((c) => this.ctx.types.get(c) === "blob" && this.table.schema.fields.find((f) => f.name === c)?.metadata.get(LOADED) === undefined);
    if (blobCols.length === 0 && fileColumns.size === 0) return metadata;
    return mapLimit(metadata, 8, async (r) => {
      const o: Row = { ...r };
      for (const c of blobCols) if (o[c] != null) o[c] = await blobValue(o[c], c, r.path as string, this.ctx.blobs);
      for (const c of fileColumns) {
        if (o[c] == null) continue;
        let rel: string;
        try {
          rel = normalizePath(o[c]);
        } catch (err) {
          throw new QuiverError(
            "INVALID_PATH",
            `fileColumns: field ${JSON.stringify(c)} of ${JSON.stringify(r.path)} is not a path inside the datasource's folder: ${(err as Error).message}`,
            { cause: err },
          );
        }
        o[c] = await readDatapointFile(this.ctx, rel);
      }
      return o;
    });
  }

  /** Columns for export: annotation blobs as their text, lists as plain arrays. */
  private async columns(): Promise<Columns> {
    const ann = this.fieldsTagged(TAGS.annotation).filter((n) => this.ctx.types.get(n) === "blob");
    const src = ann.length ? await this.loadBlobs(ann, "text") : this;
    const fields = src.table.schema.fields;
    return {
      names: fields.map((f) => f.name),
      types: fields.map((f) => (f.name === "path" ? "string" : typeOfArrowField(f, false))),
      columns: fields.map(
        (f) =>
          this.zonedColumn(f.name) ??
          vectorToValues(src.table.getChild(f.name)!).map((v) => (ArrayBuffer.isView(v) && !(v instanceof Uint8Array) ? plainList(v as unknown as ArrayLike<unknown>) : v)),
      ),
    };
  }

  /** Writes the result (path and metadata; blobs as hashes) as Parquet via DuckDB. */
  async toParquet(file: string): Promise<string> {
    const abs = resolve(file);
    await mkdir(dirname(abs), { recursive: true }).catch((err: unknown) => {
      throw ioError(err, "cannot create the folder of");
    });
    try {
      await writeColumns(abs, "parquet", await this.columns());
    } catch (err) {
      throw new QuiverError("IO", `cannot write the Parquet file ${abs}: ${(err as Error).message}; check the disk space and permissions and retry`, { cause: err });
    }
    return abs;
  }

  async toCSV(file: string): Promise<string> {
    const abs = isAbsolute(file) ? file : resolve(file);
    await mkdir(dirname(abs), { recursive: true }).catch((err: unknown) => {
      throw ioError(err, "cannot create the folder of");
    });
    await writeCsv(abs, await this.columns());
    return abs;
  }
}
