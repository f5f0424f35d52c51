/**
 * `session.files`: dreamlake's files API (upload, list, download, delete, update) over the
 * session's store, so it works on every store. Bytes are content-addressed: the table
 * `<prefix>/files/blobs/<sha256>` holds a file's bytes in 4 MiB chunks `{ chunk, bytes }`, written
 * once whatever the number of uploads of the same content. The table `<prefix>/files/records`
 * holds one row per change `{ _ts, id, op, record: JSON text }`, folded by id in `_ts` order
 * (a delete is soft: the record gets `deletedAt`). Blobs are written before their record, so a
 * record always names complete bytes; downloads verify the sha256 before the file is renamed in.
 */
import { createHash, randomInt } from "node:crypto";
import { closeSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, extname, join, resolve } from "node:path";
import { batchToRows, type Row, rowsToBatch } from "../arrow/batches.js";
import { asStoreError, describeValue, QuiverError } from "../errors.js";
import type { Store } from "../store/contract.js";
import { readRows } from "../store/scan.js";
import { checkDescription } from "./record.js";
import type { Description, SidecarFiles } from "./sidecars.js";

/** Bytes per blob row. */
export const FILE_CHUNK = 4 << 20;
/** dreamlake's limit: 5 GB. */
export const DEFAULT_MAX_FILE_SIZE = 5 * 1024 * 1024 * 1024;

export interface FileRecord {
  id: string;
  /** Logical folder, e.g. "/models" (dreamlake's `path`). */
  path: string;
  filename: string;
  description: string | null;
  tags: string[];
  contentType: string;
  sizeBytes: number;
  /** sha256 of the bytes, hex. */
  checksum: string;
  metadata: Row | null;
  uploadedAt: string;
  updatedAt: string;
  deletedAt: string | null;
}

export interface UploadOptions extends Description {
  /** Logical folder (default "/"). */
  path?: string;
  /** Name of the file (default: the source file's name; required for bytes). */
  filename?: string;
  /** MIME type (default: from the file name's extension, else application/octet-stream). */
  contentType?: string;
}

const MIME: Record<string, string> = {
  ".json": "application/json",
  ".txt": "text/plain",
  ".md": "text/markdown",
  ".csv": "text/csv",
  ".html": "text/html",
  ".yaml": "application/yaml",
  ".yml": "application/yaml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".svg": "image/svg+xml",
  ".webp": "image/webp",
  ".mp4": "video/mp4",
  ".wav": "audio/x-wav",
  ".mp3": "audio/mpeg",
  ".pdf": "application/pdf",
  ".zip": "application/zip",
  ".gz": "application/gzip",
  ".tar": "application/x-tar",
  ".py": "text/x-python",
  ".js": "text/javascript",
};

/** A file name's MIME type as Python's mimetypes.guess_type gives the common ones. */
export function mimeType(filename: string): string {
  return MIME[extname(filename).toLowerCase()] ?? "application/octet-stream";
}

const RECORD_KEYS = ["id", "path", "filename", "description", "tags", "contentType", "sizeBytes", "checksum", "metadata", "uploadedAt", "updatedAt", "deletedAt"] as const;

function checkFilename(name: unknown): string {
  if (typeof name !== "string" || name === "" || name === "." || name === ".." || /[/\\\u0000-\u001f]/.test(name))
    throw new QuiverError("INVALID_NAME", `file name ${describeValue(name)} must be a plain name (no "/", "\\", control characters, "." or "..")`);
  return name;
}

/** A logical folder: "/" + segments, no "." or ".." (it is a label, never a path on disk). */
function checkFolder(path: unknown): string {
  if (typeof path !== "string" || /[\\\u0000-\u001f]/.test(path)) throw new QuiverError("INVALID_PATH", `file path ${describeValue(path)} must be a folder such as "/models"`);
  const segs = path.split("/").filter((s) => s !== "");
  if (segs.some((s) => s === "." || s === "..")) throw new QuiverError("INVALID_PATH", `file path ${JSON.stringify(path)} may not have "." or ".." segments`);
  return `/${segs.join("/")}`;
}

export class SessionFiles {
  readonly recordsTable: string;
  private lastTs = 0;
  private lastId = 0n;

  constructor(
    private readonly store: () => Store,
    private readonly prefix: string,
    private readonly ensureOpen: () => void,
    /** Largest file accepted, in bytes. */
    readonly maxSize: number,
    /** Bytes per blob row. */
    private readonly chunk = FILE_CHUNK,
    /** Another tool's files (msgpack: dreamlake's files/ folder), listed with ours and kept in step. */
    private readonly mirror?: SidecarFiles,
  ) {
    this.recordsTable = `${prefix}/files/records`;
  }

  private blobTable(checksum: string): string {
    return `${this.prefix}/files/blobs/${checksum}`;
  }

  private ts(): number {
    const now = Date.now() / 1000;
    this.lastTs = now > this.lastTs ? now : this.lastTs + 1e-6;
    return this.lastTs;
  }

  /** A dreamlake-style snowflake: milliseconds << 12 | 12 random bits, increasing in this process. */
  private newId(): string {
    let id = (BigInt(Date.now()) << 12n) | BigInt(randomInt(4096));
    if (id <= this.lastId) id = this.lastId + 1n;
    this.lastId = id;
    return String(id);
  }

  /** Our records folded by id; with `mirrored`, the other tool's over them (its own files too). */
  private async records(mirrored = true): Promise<Map<string, FileRecord>> {
    const store = this.store();
    const out = new Map<string, FileRecord>();
    if (await store.schema(this.recordsTable)) {
      for (const r of await readRows(store, this.recordsTable, { orderBy: [{ column: "_ts" }] })) {
        const id = String(r.id);
        out.set(id, { ...out.get(id), ...(JSON.parse(String(r.record)) as FileRecord) });
      }
    }
    if (mirrored && this.mirror) {
      for (const f of this.mirror.list()) {
        const rec: Row = { ...out.get(f.id) };
        for (const k of RECORD_KEYS) if (f[k] !== undefined) rec[k] = f[k];
        rec.tags ??= [];
        rec.deletedAt ??= null;
        out.set(f.id, rec as unknown as FileRecord);
      }
    }
    return out;
  }

  private async live(id: unknown): Promise<FileRecord> {
    if (typeof id !== "string") throw new QuiverError("INVALID_VALUE", `file id must be a string, got ${describeValue(id)}`);
    const rec = (await this.records()).get(id);
    if (!rec || rec.deletedAt !== null)
      throw new QuiverError("NOT_FOUND", `file ${id} ${rec ? "was deleted" : "does not exist"} in session ${this.prefix}; list the files with session.files.list()`);
    return rec;
  }

  private async writeRecords(rows: Row[], doing: string): Promise<void> {
    const store = this.store();
    try {
      await store.append(this.recordsTable, rowsToBatch(rows));
      await store.flush();
    } catch (err) {
      throw asStoreError(err, `${doing} in ${store.uri} table ${JSON.stringify(this.recordsTable)}`);
    }
  }

  /**
   * Uploads a file (a path on disk, or bytes with `filename`): its sha256, MIME type, logical
   * `path`, tags and metadata are recorded; bytes already stored (same sha256) are not stored
   * again. A live file of the same path and name is replaced (soft-deleted), as dreamlake does.
   */
  async upload(source: string | Uint8Array, opts: UploadOptions = {}): Promise<FileRecord> {
    this.ensureOpen();
    if (opts === null || typeof opts !== "object") throw new QuiverError("INVALID_VALUE", `upload options must be an object, got ${describeValue(opts)}`);
    const desc = checkDescription(opts, "files.upload");
    const folder = checkFolder(opts.path ?? "/");
    let size: number;
    let readChunk: (i: number) => Uint8Array;
    let close = () => {};
    let filename: string;
    if (typeof source === "string") {
      let st: ReturnType<typeof statSync>;
      try {
        st = statSync(source);
      } catch (err) {
        throw new QuiverError("NOT_FOUND", `cannot upload ${source}: ${(err as Error).message}`, { cause: err });
      }
      if (!st.isFile()) throw new QuiverError("INVALID_PATH", `cannot upload ${source}: not a file`);
      size = st.size;
      filename = checkFilename(opts.filename ?? basename(source));
      if (size <= this.maxSize) {
        const fd = openSync(source, "r");
        close = () => closeSync(fd);
        readChunk = (i) => {
          const len = Math.min(this.chunk, size - i * this.chunk);
          const buf = Buffer.allocUnsafe(len);
          let got = 0;
          while (got < len) {
            const n = readSync(fd, buf, got, len - got, i * this.chunk + got);
            if (n === 0) throw new QuiverError("IO", `${source} shrank while it was uploaded; upload it again`);
            got += n;
          }
          return buf;
        };
      } else readChunk = () => new Uint8Array(0);
    } else if (source instanceof Uint8Array) {
      size = source.length;
      filename = checkFilename(opts.filename);
      readChunk = (i) => source.subarray(i * this.chunk, Math.min(size, (i + 1) * this.chunk));
    } else throw new QuiverError("INVALID_VALUE", `upload expects a file path or a Uint8Array, got ${describeValue(source)}`);
    if (size > this.maxSize)
      throw new QuiverError("TOO_LARGE", `${filename} has ${size} bytes, more than the limit of ${this.maxSize}; raise Session.open's maxFileSize or split the file`);
    const n = Math.ceil(size / this.chunk);
    try {
      const hash = createHash("sha256");
      for (let i = 0; i < n; i++) hash.update(readChunk(i));
      const checksum = hash.digest("hex");
      const store = this.store();
      // A record of ours names complete bytes (they are written first): then they are stored already.
      const stored = size === 0 || [...(await this.records(false)).values()].some((r) => r.checksum === checksum && r.sizeBytes === size);
      const records = await this.records();
      if (!stored) {
        const table = this.blobTable(checksum);
        try {
          for (let i = 0; i < n; i++) await store.append(table, rowsToBatch([{ chunk: i, bytes: readChunk(i) }]));
        } catch (err) {
          throw asStoreError(err, `storing ${filename} in ${store.uri} table ${JSON.stringify(table)}`, "the file was not recorded; upload it again once the fault is fixed");
        }
      }
      const now = new Date().toISOString();
      const rec: FileRecord = {
        id: this.newId(),
        path: folder,
        filename,
        description: (desc.description as string | null | undefined) ?? null,
        tags: (desc.tags as string[] | undefined) ?? [],
        contentType: opts.contentType ?? mimeType(filename),
        sizeBytes: size,
        checksum,
        metadata: (desc.metadata as Row | null | undefined) ?? null,
        uploadedAt: now,
        updatedAt: now,
        deletedAt: null,
      };
      const rows: Row[] = [];
      for (const old of records.values())
        if (old.deletedAt === null && old.path === folder && old.filename === filename)
          rows.push({ _ts: this.ts(), id: old.id, op: "delete", record: JSON.stringify({ deletedAt: now, updatedAt: now }) });
      rows.push({ _ts: this.ts(), id: rec.id, op: "upload", record: JSON.stringify(rec) });
      await this.writeRecords(rows, `recording ${filename}`);
      if (this.mirror) {
        try {
          for (const r of rows) if (r.op === "delete") this.mirror.change(String(r.id), JSON.parse(String(r.record)) as Partial<FileRecord>);
          this.mirror.add(rec, n, readChunk);
        } catch (err) {
          throw asStoreError(err, `copying ${filename} into the other tool's files`, "the file is recorded in Quiver's tables; upload it again to copy it there");
        }
      }
      return rec;
    } finally {
      close();
    }
  }

  /** Live files, optionally under a path prefix and with any of `tags`. */
  async list(opts: { path?: string; tags?: string[] } = {}): Promise<FileRecord[]> {
    this.ensureOpen();
    const prefix = opts.path === undefined ? undefined : checkFolder(opts.path);
    const tags = opts.tags;
    return [...(await this.records()).values()].filter(
      (f) =>
        f.deletedAt === null &&
        (prefix === undefined || prefix === "/" || f.path === prefix || f.path.startsWith(`${prefix}/`)) &&
        (!tags?.length || tags.some((t) => f.tags.includes(t))),
    );
  }

  /** A live file's record (NOT_FOUND when missing or deleted). */
  async get(id: string): Promise<FileRecord> {
    this.ensureOpen();
    return this.live(id);
  }

  /** Calls `sink` with the file's bytes in order and checks their sha256 (CHECKSUM_MISMATCH). */
  private async stream(rec: FileRecord, sink: (bytes: Uint8Array) => void): Promise<void> {
    const store = this.store();
    const table = this.blobTable(rec.checksum);
    const hash = createHash("sha256");
    let next = 0;
    let got = 0;
    const later = new Map<number, Uint8Array>();
    const take = (b: Uint8Array) => {
      hash.update(b);
      sink(b);
      got += b.length;
      next++;
    };
    const onDisk = rec.sizeBytes > 0 && !(await store.schema(table)) ? this.mirror?.bytesPath(rec) : undefined;
    if (onDisk) {
      // A file only the other tool holds (dreamlake uploaded it): its bytes from its folder.
      const fd = openSync(onDisk, "r");
      try {
        const buf = Buffer.allocUnsafe(this.chunk);
        for (let n: number; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) take(Buffer.from(buf.subarray(0, n)));
      } finally {
        closeSync(fd);
      }
    } else if (rec.sizeBytes > 0) {
      if (!(await store.schema(table)))
        throw new QuiverError("CHECKSUM_MISMATCH", `the bytes of file ${rec.id} (${rec.filename}) are missing from ${store.uri} table ${JSON.stringify(table)}`);
      for await (const b of store.scan(table, {})) {
        for (const r of batchToRows(b)) {
          const k = Number(r.chunk);
          if (k < next || later.has(k)) continue; // the same content uploaded twice at once
          later.set(k, r.bytes as Uint8Array);
          while (later.has(next)) {
            const bytes = later.get(next)!;
            later.delete(next);
            take(bytes);
          }
        }
      }
    }
    const sum = hash.digest("hex");
    if (sum !== rec.checksum || got !== rec.sizeBytes)
      throw new QuiverError(
        "CHECKSUM_MISMATCH",
        `file ${rec.id} (${rec.filename}): stored bytes have sha256 ${sum} (${got} bytes), the record says ${rec.checksum} (${rec.sizeBytes} bytes); the stored copy is damaged`,
      );
  }

  /** A live file's bytes, checksum verified. */
  async read(id: string): Promise<Uint8Array> {
    this.ensureOpen();
    const rec = await this.live(id);
    const parts: Uint8Array[] = [];
    await this.stream(rec, (b) => parts.push(b));
    return Buffer.concat(parts);
  }

  /**
   * Writes a live file to `dest` (default: its file name in the current folder; a folder: the
   * file name in it), checksum verified before it appears there. Returns the path written.
   */
  async download(id: string, dest?: string): Promise<string> {
    this.ensureOpen();
    const rec = await this.live(id);
    let target = resolve(dest ?? rec.filename);
    try {
      if (statSync(target).isDirectory()) target = join(target, rec.filename);
    } catch {
      /* a new file */
    }
    const part = `${target}.quiver-part`;
    let fd: number;
    try {
      fd = openSync(part, "w");
    } catch (err) {
      throw new QuiverError("IO", `cannot create ${part}: ${(err as Error).message}; check the destination folder`, { cause: err });
    }
    try {
      await this.stream(rec, (b) => {
        let off = 0;
        while (off < b.length) off += writeSync(fd, b, off);
      });
      closeSync(fd);
      renameSync(part, target);
    } catch (err) {
      try {
        closeSync(fd);
      } catch {
        /* closed */
      }
      try {
        unlinkSync(part);
      } catch {
        /* gone */
      }
      if (err instanceof QuiverError) throw err;
      throw new QuiverError("IO", `cannot write ${target}: ${(err as Error).message}`, { cause: err });
    }
    return target;
  }

  private mirrorChange(id: string, patch: Partial<FileRecord>): void {
    try {
      this.mirror?.change(id, patch);
    } catch (err) {
      throw asStoreError(err, `changing file ${id} in the other tool's files`, "the change is recorded in Quiver's tables; make it again to copy it there");
    }
  }

  /** Soft-deletes a live file: its record stays, with `deletedAt`. */
  async delete(id: string): Promise<{ id: string; deletedAt: string }> {
    this.ensureOpen();
    await this.live(id);
    const deletedAt = new Date().toISOString();
    await this.writeRecords([{ _ts: this.ts(), id, op: "delete", record: JSON.stringify({ deletedAt, updatedAt: deletedAt }) }], `deleting file ${id}`);
    this.mirrorChange(id, { deletedAt, updatedAt: deletedAt });
    return { id, deletedAt };
  }

  /** Updates a live file's description, tags or metadata (the fields given). */
  async update(id: string, changes: Description): Promise<FileRecord> {
    this.ensureOpen();
    const rec = await this.live(id);
    const d = checkDescription(changes, "files.update");
    const change = { ...d, updatedAt: new Date().toISOString() };
    await this.writeRecords([{ _ts: this.ts(), id, op: "update", record: JSON.stringify(change) }], `updating file ${id}`);
    this.mirrorChange(id, change as Partial<FileRecord>);
    return { ...rec, ...change } as FileRecord;
  }
}
