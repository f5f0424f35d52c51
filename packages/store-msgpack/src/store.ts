/**
 * The `msgpack:` store: one folder per table under the root, dreamlake's layout (state.ts names
 * the files). This module is the driver — what the msgpack store does differently — wrapped by
 * the kit's DefinedStore, which applies the rule book (names, CLOSED, read-only, query fields,
 * update values, IO wrapping). The work lives in its own modules: the write path (append.ts),
 * the read accelerators (reads.ts, over blocks.ts and time-scan.ts), loading and recovery
 * (load.ts, recover.ts, over the data file's Readable/Writable in files.ts), rewrites
 * (rewrite.ts) and the write leases (lease.ts, on the kit's lock).
 *
 * All file I/O is synchronous: a write's critical section (lock → data → schema → index) never
 * yields to the event loop, and small reads are cheaper without the promise machinery.
 */
import { type Dirent, fdatasyncSync, readdirSync, rmdirSync, unlinkSync } from "node:fs";
import { basename, join, resolve, sep } from "node:path";
import { type RecordBatch, Schema } from "apache-arrow";
import {
  type AppendOptions,
  DefinedStore,
  type DriverCapabilities,
  type QueryNode,
  QuiverError,
  type RewriteChange,
  type RunSummary,
  type ScanOptions,
  type StoreDriver,
  type TimeRange,
  wantedPath,
} from "@quiver/core/store-kit";
import type { SessionSidecars } from "@quiver/core";
import { appendBatch } from "./append.js";
import type { Segment } from "./decode.js";
import { DreamlakeSession, keepsDreamlake, lastAppendStart } from "./dreamlake.js";
import { ByteWriter } from "./encode.js";
import { Leases } from "./lease.js";
import { refresh } from "./load.js";
import { countRows, readAll, readWindow, scanTable } from "./reads.js";
import { rewrite } from "./rewrite.js";
import { readRuns, summaryPath } from "./summary.js";
import { closeFds, type Ctx, DATA_FILE, ioError, type MsgpackStoreOptions, newState, SCHEMA_FILE, statBig, type TableState } from "./state.js";

export { DATA_FILE, INDEX_FILE, LOCK_FILE, type MsgpackStoreOptions, SCHEMA_FILE } from "./state.js";

/** Table names become folders: msgpack's own rules on top of core's. */
function checkName(root: string, table: string): void {
  for (const seg of table.split("/")) {
    if (seg === DATA_FILE || seg.startsWith(".quiver")) {
      throw new QuiverError("INVALID_NAME", `table name ${JSON.stringify(table)} uses the reserved file name ${JSON.stringify(seg)}; pick another name segment`);
    }
    // Each segment is a folder name: file systems allow 255 bytes.
    if (Buffer.byteLength(seg) > 255)
      throw new QuiverError(
        "INVALID_NAME",
        `table name ${JSON.stringify(table.slice(0, 40) + "…")} has a segment of ${Buffer.byteLength(seg)} bytes; a folder name holds at most 255 (split it with "/" or shorten it)`,
      );
  }
  // The longest file the table uses (a temp index) must fit in a path (4096 bytes).
  if (Buffer.byteLength(join(root, table)) + 40 > 4095)
    throw new QuiverError("INVALID_NAME", `table name ${JSON.stringify(table.slice(0, 40) + "…")} makes paths longer than the file system allows; shorten it`);
}

class MsgpackDriver implements StoreDriver {
  readonly scheme = "msgpack";
  readonly uri: string;
  readonly capabilities: DriverCapabilities = { concurrentWriters: true, persistent: true, appendReceipts: true };
  private closed = false;
  private readonly tableStates = new Map<string, TableState>();
  private readonly writer = new ByteWriter(1 << 20);
  private readonly ctx: Ctx;
  private readonly leases: Leases;

  constructor(
    private readonly root: string,
    options: MsgpackStoreOptions,
  ) {
    this.uri = `msgpack:${root}`;
    const onWarning = options.onWarning;
    this.ctx = {
      root,
      blockRows: Math.max(1, Math.floor(options.blockRows ?? 1024)),
      durable: options.fsync ?? true,
      cache: new Map<string, Segment>(),
      dreamlake: options.dreamlake === undefined || options.dreamlake === "auto" ? (basename(root) === ".dreamlake" ? true : "auto") : options.dreamlake === true,
      lockTimeout: options.lockTimeout ?? 10_000,
      warn: (message) => (onWarning ? onWarning(message) : process.emitWarning(message, { code: "QUIVER_MSGPACK_RECOVERY" })),
    };
    this.leases = new Leases(options.lockTimeout ?? 10_000, () => this.closed);
  }

  /** The table's state (names checked on first use). */
  private state(table: string): TableState {
    let st = this.tableStates.get(table);
    if (!st) {
      checkName(this.root, table);
      st = newState(this.root, table);
      this.tableStates.set(table, st);
    }
    return st;
  }

  /** The session's dreamlake files (dreamlake.ts) where they are kept; read-only ones refuse every write. */
  sessionSidecars(prefix: string, readOnly: boolean): DreamlakeSession | undefined {
    if (!keepsDreamlake(this.ctx, prefix)) return undefined;
    const rows = (track: string) => this.loaded(`${prefix}/tracks/${track}`)?.rows ?? 0;
    return new DreamlakeSession(join(this.root, ...prefix.split("/")), this.ctx.lockTimeout, this.ctx.warn, rows, readOnly);
  }

  /** Index of the first row of the last append to `table`, counted under the lock. */
  lastAppendStart(table: string): number | undefined {
    return lastAppendStart(this.state(table));
  }

  /** The state of a table that exists, refreshed; undefined for a missing table. */
  private loaded(table: string): TableState | undefined {
    const st = this.state(table);
    return refresh(this.ctx, st) ? st : undefined;
  }

  append(table: string, batch: RecordBatch, options: AppendOptions): Promise<void> {
    return appendBatch(this.ctx, this.leases, this.writer, this.state(table), batch, options);
  }

  read(table: string): Iterable<RecordBatch> {
    const st = this.loaded(table);
    return st ? readAll(this.ctx, st, st.schema ?? new Schema([])) : [];
  }

  schema(table: string): Schema | undefined {
    const st = this.loaded(table);
    return st ? (st.schema ?? new Schema([])) : undefined;
  }

  // The accelerators run right after schema(), which refreshed the table's state.

  scan(table: string, options: ScanOptions, schema: Schema): AsyncIterable<RecordBatch> {
    return scanTable(this.ctx, this.state(table), schema, options, table);
  }

  count(table: string, where: QueryNode | undefined, schema: Schema): number {
    return countRows(this.ctx, this.state(table), schema, where);
  }

  readByTime(table: string, range: TimeRange & { column: string }, schema: Schema): RecordBatch[] | undefined {
    return readWindow(this.ctx, this.state(table), schema, range);
  }

  /** Run summaries from the sidecar appends keep (summary.ts); undefined: core scans. */
  runs(table: string, schema: Schema, columns: readonly string[]): RunSummary[] | undefined {
    return readRuns(this.ctx, this.state(table), schema, columns);
  }

  rewrite(table: string, where: QueryNode | undefined, change: RewriteChange): Promise<number> {
    return rewrite(this.ctx, this.leases, this.state(table), where, change);
  }

  tables(): string[] {
    const out: string[] = [];
    const walk = (dir: string, prefix: string) => {
      let ents: Dirent[];
      try {
        ents = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      if (prefix && ents.some((d) => d.isFile() && (d.name === DATA_FILE || d.name === SCHEMA_FILE))) out.push(prefix);
      for (const d of ents) {
        if (!d.isDirectory() || d.name.startsWith(".quiver") || d.name === DATA_FILE) continue;
        walk(join(dir, d.name), prefix ? `${prefix}/${d.name}` : d.name);
      }
    };
    walk(this.root, "");
    return out;
  }

  async drop(table: string): Promise<boolean> {
    const st = this.state(table);
    if (!statBig(st.dataPath) && !statBig(st.schemaPath)) return false;
    await this.leases.hold(st);
    let existed = false;
    try {
      closeFds(st);
      for (const p of [st.dataPath, st.indexPath, st.schemaPath, summaryPath(st), wantedPath(st.lockPath)]) {
        try {
          unlinkSync(p);
          if (p === st.dataPath || p === st.schemaPath) existed = true;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw ioError("cannot remove", p, err);
        }
      }
    } finally {
      this.leases.release(st);
    }
    this.tableStates.delete(table);
    // Remove folders left empty, up to the root.
    let dir = st.dir;
    while (dir.length > this.root.length && dir.startsWith(this.root + sep)) {
      try {
        rmdirSync(dir);
      } catch {
        break;
      }
      dir = resolve(dir, "..");
    }
    return existed;
  }

  /** fdatasyncs what was appended since the last flush; a failure is IO and the next flush retries. */
  flush(): void {
    for (const st of this.tableStates.values()) {
      if (!st.dirty) continue;
      if (this.ctx.durable) {
        if (st.appender) {
          try {
            st.appender.sync();
          } catch (err) {
            throw ioError("cannot make durable (fdatasync)", st.dataPath, err);
          }
        }
        if (st.indexFd !== undefined) {
          try {
            fdatasyncSync(st.indexFd);
          } catch (err) {
            throw ioError("cannot make durable (fdatasync)", st.indexPath, err);
          }
        }
      }
      st.dirty = false;
    }
  }

  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } finally {
      this.closeSync();
    }
  }

  /** Process exit: every lock and file handle let go of at once; idempotent, never throws. */
  closeSync(): void {
    this.closed = true;
    try {
      this.leases.releaseAll();
    } catch {
      /* never throws */
    }
    for (const st of this.tableStates.values()) closeFds(st);
    this.tableStates.clear();
    this.ctx.cache.clear();
  }
}

/** The msgpack: store: the driver under the kit's rule book, with its root folder. */
export class MsgpackStore extends DefinedStore {
  private readonly msgpack: MsgpackDriver;
  private readonly readOnlyOpen: boolean;

  constructor(
    readonly root: string,
    options: MsgpackStoreOptions = {},
  ) {
    const driver = new MsgpackDriver(root, options);
    super(driver, { readOnly: options.readOnly === true });
    this.msgpack = driver;
    this.readOnlyOpen = options.readOnly === true;
  }

  /** What a Session keeps in dreamlake's files beside its tables (core's SessionSidecars). */
  sessionSidecars(prefix: string): SessionSidecars | undefined {
    return this.msgpack.sessionSidecars(prefix, this.readOnlyOpen);
  }

  /** Where this store's last append to `table` started (Track.appendBatch's startIndex, exact with other writers). */
  lastAppendStart(table: string): number | undefined {
    return this.msgpack.lastAppendStart(table);
  }
}

/**
 * Opens a store folder. Nothing is created until the first write; with `readOnly` the folder
 * must exist (NOT_FOUND) and nothing is ever created, locked or written.
 */
export function openMsgpackStore(location: string, options: MsgpackStoreOptions = {}): MsgpackStore {
  if (typeof location !== "string" || location.length === 0) {
    throw new QuiverError("INVALID_URI", 'msgpack: needs a folder, e.g. "msgpack:./.quiver"');
  }
  const root = resolve(location);
  const s = statBig(root);
  if (s && !s.isDirectory()) throw new QuiverError("INVALID_URI", `msgpack:${location}: ${root} exists and is not a folder`);
  if (!s && options.readOnly) throw new QuiverError("NOT_FOUND", `msgpack:${location}: ${root} does not exist; check the path (a read-only open creates nothing)`);
  return new MsgpackStore(root, options);
}
