/**
 * Session: dreamlake's experiment session over any Store — its tracks (track.ts), params
 * (params.ts), logs (logs.ts), files (files.ts) and record (record.ts).
 *
 * Tables: `<prefix>/tracks/<name>` per track, `<prefix>/params`, `<prefix>/logs`,
 * `<prefix>/session` (the record and track descriptions), `<prefix>/files/…`. Every point has
 * `_ts` (float seconds since epoch). Missing → now, strictly increasing per session; -1 → the
 * last `_ts` used by any track of the session. A flush writes a track's points in `_ts` order,
 * those of equal `_ts` merged into one entry. A store with sidecars (msgpack: dreamlake's local
 * files) gets the session's record, params, logs and track descriptions in them too (sidecars.ts).
 */
import type { Schema } from "apache-arrow";
import { type Row, rowsToBatch } from "../arrow/batches.js";
import { describeValue, QuiverError } from "../errors.js";
import { validateName } from "../names.js";
import type { Store, StoreOpenOptions } from "../store/contract.js";
import { resolveStore } from "../store/registry.js";
import { type BufferOptions, RefusedRows } from "../write/buffer.js";
import { type ExitBatch, onProcessExit } from "../write/exit.js";
import { DEFAULT_MAX_FILE_SIZE, FILE_CHUNK, SessionFiles } from "./files.js";
import { type LogOptions, SessionLogs } from "./logs.js";
import { SessionParams } from "./params.js";
import { checkDescription, SessionRecords, splitPrefix } from "./record.js";
import { type Description, type SessionRecord, type SessionSidecars, sidecarsOf } from "./sidecars.js";
import { Track } from "./track.js";

export { type AppendBatchResult, Track, type TrackPoint, type TrackReadResult, type TrackStats } from "./track.js";
export { MAX_READ_LIMIT } from "./points-batch.js";
export { LOG_LEVELS, type LogOptions, logLevel, type SessionLogs } from "./logs.js";
export { DEFAULT_MAX_FILE_SIZE, FILE_CHUNK, type FileRecord, mimeType, type SessionFiles, type UploadOptions } from "./files.js";
export type { Description, LogEntry, LogLevel, SessionRecord, SessionSidecars, SidecarFileRecord, SidecarFiles, TrackInfo } from "./sidecars.js";

export interface SessionOptions extends BufferOptions {
  /** Names the experiment, e.g. "project/my-experiment" (dreamlake: workspace/name). */
  prefix: string;
  /** Root folder of the default store (default ".quiver"). */
  root?: string;
  /** A store URI or opened store (default `msgpack:<root>`). */
  store?: string | Store;
  storeOptions?: StoreOpenOptions;
  /** The session's readme (dreamlake's description); given, it replaces the stored one. */
  readme?: string | null;
  /** The session's tags; given, they replace the stored ones. */
  tags?: string[];
  /** The session's metadata (JSON values); given, it replaces the stored one. */
  metadata?: Row | null;
  /** Largest file `session.files.upload` accepts, in bytes (default 5 GB, as dreamlake). */
  maxFileSize?: number;
  /** Bytes per stored row of a file (default 4 MiB; at most 64 MiB). */
  fileChunkSize?: number;
}

class Tracks {
  constructor(private readonly session: Session) {}
  /** Names of the session's tracks (stored or buffered), sorted. */
  async list(): Promise<string[]> {
    await this.flush();
    const pre = `${this.session.prefix}/tracks/`;
    return (await this.session.store.tables())
      .filter((t) => t.startsWith(pre))
      .map((t) => t.slice(pre.length))
      .sort();
  }
  async flush(): Promise<void> {
    await this.session.flush();
  }
}

export class Session implements AsyncDisposable {
  readonly tracks = new Tracks(this);
  readonly params: SessionParams;
  /** The log: `session.logs.read({ level?, limit? })`. */
  readonly logs: SessionLogs;
  /** Files of the session: upload, list, get, read, download, delete, update. */
  readonly files: SessionFiles;
  /** @internal The record and the tracks' descriptions. */
  readonly record: SessionRecords;
  /** @internal The store's mirror of the session in another tool's files, if it keeps one. */
  readonly sidecars: SessionSidecars | undefined;
  /** The last segment of the prefix (dreamlake's session name). */
  readonly name: string;
  /** The segment before it (dreamlake's workspace); null for a one-segment prefix. */
  readonly workspace: string | null;
  private readonly open = new Map<string, Track>();
  /** NaN until the first point: a number field V8 updates in place (undefined would box every store). */
  private lastTs = NaN;
  private closed = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly unhook: () => void;

  private constructor(
    readonly prefix: string,
    readonly store: Store,
    private readonly owned: boolean,
    private readonly options: SessionOptions,
    /** Schemas of the session's tables when it opened. */
    private readonly schemas: ReadonlyMap<string, Schema>,
  ) {
    ({ name: this.name, workspace: this.workspace } = splitPrefix(prefix));
    this.sidecars = sidecarsOf(store, prefix);
    const getStore = () => this.store;
    const ensureOpen = () => this.ensureOpen();
    this.record = new SessionRecords(getStore, options.storeOptions, prefix, this.sidecars);
    this.logs = new SessionLogs(getStore, options.storeOptions, prefix, this.sidecars, (ts) => this.nextTs(ts), ensureOpen, options);
    this.files = new SessionFiles(getStore, prefix, ensureOpen, options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE, options.fileChunkSize ?? FILE_CHUNK, this.sidecars?.files);
    this.params = new SessionParams(getStore, `${prefix}/params`, ensureOpen, options, this.sidecars);
    const self = this;
    // Points appended by a script that ends without close() are written all the same.
    this.unhook = onProcessExit({
      get pending() {
        return self.pending;
      },
      flush: () => self.flush(),
      takeSync: () => self.takeSync(),
      release: () => self.store.closeSync?.(),
    });
    const every = options.flushInterval ?? 1000;
    if (every > 0) {
      this.timer = setInterval(() => {
        this.flush().catch((err: unknown) => this.reportFault(err, "background flush failed, points kept for the next flush"));
      }, every);
      this.timer.unref?.();
    }
  }

  static async open(options: SessionOptions): Promise<Session> {
    if (!options || typeof options !== "object") throw new QuiverError("INVALID_VALUE", "Session.open expects { prefix, root?, store? }");
    const prefix = validateName(options.prefix, "session prefix");
    const update = checkDescription({ readme: options.readme, tags: options.tags, metadata: options.metadata }, "Session.open");
    const max = options.maxFileSize;
    if (max !== undefined && !(Number.isSafeInteger(max) && max >= 0))
      throw new QuiverError("INVALID_VALUE", `maxFileSize must be a whole number of bytes, got ${describeValue(max)}`);
    const chunk = options.fileChunkSize;
    if (chunk !== undefined && !(Number.isSafeInteger(chunk) && chunk > 0 && chunk <= 64 << 20))
      throw new QuiverError("INVALID_VALUE", `fileChunkSize must be a whole number of bytes from 1 to 64 MiB, got ${describeValue(chunk)}`);
    const target = options.store ?? `msgpack:${options.root ?? ".quiver"}`;
    const { store, owned } = await resolveStore(target, options.storeOptions);
    try {
      const schemas = new Map<string, Schema>();
      for (const t of await store.tables()) {
        if (!t.startsWith(`${prefix}/`)) continue;
        const s = await store.schema(t);
        if (s) schemas.set(t, s);
      }
      const session = new Session(prefix, store, owned, options, schemas);
      try {
        const readOnly = (store as { readOnly?: unknown }).readOnly === true;
        await session.record.open(update, (err) => session.reportFault(err, "the session record is written with the next flush"), readOnly);
        await session.params.load();
        await session.logs.load();
      } catch (err) {
        session.unhook();
        if (session.timer) clearInterval(session.timer);
        throw err;
      }
      return session;
    } catch (err) {
      if (owned) await store.close().catch(() => undefined);
      throw err;
    }
  }

  /** @internal The schema a table had when the session opened. */
  storedSchema(table: string): Schema | undefined {
    return this.schemas.get(table);
  }

  /** @internal */
  get storeOptions(): StoreOpenOptions | undefined {
    return this.options.storeOptions;
  }

  /** The session's readme, tags and metadata as stored (dreamlake's episode.json), with this session's changes. */
  get info(): SessionRecord {
    return this.record.current();
  }

  private get pending(): number {
    let n = this.params.pending + this.logs.pending + this.record.pending;
    for (const t of this.open.values()) n += t.pending;
    return n;
  }

  private takeSync(): ExitBatch[] {
    if (this.timer) clearInterval(this.timer);
    const out: ExitBatch[] = [];
    for (const t of this.open.values()) out.push(...t.takeSync());
    out.push(...this.logs.takeSync(), ...this.record.takeSync());
    const { inDoubt, rest } = this.params.takeRows();
    const to = { store: this.store, storeOptions: this.options.storeOptions, table: this.params.table };
    try {
      if (inDoubt) out.push({ ...to, batch: rowsToBatch(inDoubt.items), token: inDoubt.token });
      if (rest.length) out.push({ ...to, batch: rowsToBatch(rest) });
    } catch (err) {
      process.stderr.write(`[quiver] params of ${this.prefix} refused at exit: ${(err as Error).message}\n`);
    }
    return out;
  }

  /** A background fault: to `onError`, else a warning (never thrown into the user's loop). */
  private reportFault(err: unknown, then: string): void {
    const onError = this.options.onError;
    if (onError) onError(err);
    else console.warn(`[quiver] ${this.store.uri} ${this.prefix}: ${(err as Error)?.message ?? err}; ${then}`);
  }

  /** @internal */
  ensureOpen(): void {
    if (this.closed) throw new QuiverError("CLOSED", `session ${this.prefix} is closed; open it again with Session.open()`);
  }

  /** @internal Resolves a point's `_ts`. */
  nextTs(ts: unknown): number {
    if (ts === undefined || ts === null) {
      const now = Date.now() / 1000;
      const t = now <= this.lastTs ? this.lastTs + 1e-6 : now; // false while lastTs is NaN
      this.lastTs = t;
      return t;
    }
    if (ts === -1) {
      if (this.lastTs !== this.lastTs) return this.nextTs(undefined);
      return this.lastTs;
    }
    if (typeof ts !== "number" || !Number.isFinite(ts)) {
      throw new QuiverError("INVALID_TIMESTAMP", `_ts must be a finite number of seconds since the epoch (or -1 to reuse the last one), got ${describeValue(ts)}`);
    }
    this.lastTs = ts;
    return ts;
  }

  /**
   * The track of this name (the same object on every call); `P` types its points. `info`
   * (description, tags, metadata: dreamlake's track options) is merged into what is stored.
   */
  track<P extends object = Row>(name: string, info?: Description): Track<P> {
    this.ensureOpen();
    let t = this.open.get(name);
    if (!t) {
      t = new Track(this, name, this.options);
      this.open.set(name, t);
    }
    if (info !== undefined) t.describe(info);
    return t as unknown as Track<P>;
  }

  /**
   * The track of this name with a description, tags or metadata (dreamlake's track options),
   * merged into what is stored and written with the next flush.
   */
  describeTrack<P extends object = Row>(name: string, info: Description): Track<P> {
    return this.track<P>(name).describe(info);
  }

  /**
   * Adds a log entry at `_ts` (default: now, like a point; -1: the last `_ts` of the session);
   * levels debug, info (default), warn, error, fatal in any case; metadata a JSON object.
   */
  log(message: string, opts: LogOptions = {}): void {
    this.logs.add(message, opts);
  }

  /**
   * Writes every buffered point of every track, and the params. Rejects with a store fault
   * (points kept for the next flush) before a refusal (those points were dropped, the rest written).
   */
  async flush(): Promise<void> {
    let fault: unknown;
    let refused: unknown;
    for (const t of [this.record, ...this.open.values(), this.logs, this.params]) {
      try {
        await t.flush();
      } catch (err) {
        if (err instanceof RefusedRows) refused ??= err;
        else fault ??= err;
      }
    }
    if (fault) throw fault;
    await this.store.flush();
    if (refused) throw refused;
  }

  /** Flushes and closes; while the store fails it rejects and stays open (see Tracker.close). */
  async close(): Promise<void> {
    if (this.closed) return;
    let refused: unknown;
    try {
      await this.flush();
    } catch (err) {
      if (!(err instanceof RefusedRows)) throw err;
      refused = err;
    }
    if (this.timer) clearInterval(this.timer);
    this.unhook();
    this.closed = true;
    if (this.owned) await this.store.close();
    if (refused) throw refused;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
