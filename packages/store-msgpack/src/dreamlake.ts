/**
 * dreamlake's local layout beside ours, so a `.dreamlake` folder is a `msgpack:` store and back
 * (dreamlake's storage.py, LocalStorage):
 *
 *   <root>/<workspace>/<name>/episode.json            the session's record
 *   <root>/<workspace>/<name>/parameters.json         { version, data: { "a.b": value }, createdAt, updatedAt }
 *   <root>/<workspace>/<name>/logs/logs.jsonl         one JSON entry per line, numbered by logs/.log_sequence
 *   <root>/<workspace>/<name>/tracks/<track>/metadata.json   { trackId, name, description, tags, metadata, totalDataPoints, nextIndex, … }
 *   …/tracks/<track>/.track.lock, .parameters.lock, .episode.lock, logs/.log_sequence.lock   flock(2)
 *
 * Every change to those files is made under dreamlake's flock of the same name (flock.ts), as
 * dreamlake makes it: read, merge, write. JSON files are replaced by rename, so a reader (which
 * takes no lock, like dreamlake's) never sees half a file. An append to a track table takes the
 * track's `.track.lock` for its critical section and then sets metadata.json's counts from the
 * index — what dreamlake's reader needs for hasMore, stats and listing.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Description, LogEntry, LogLevel, Row, SessionRecord, SessionSidecars, SidecarFileRecord, SidecarFiles, TrackInfo } from "@quiver/core";
import { QuiverError } from "@quiver/core";
import { Flock, withFlock } from "./flock.js";
import { type Ctx, ioError, statBig, type TableState } from "./state.js";

export const TRACK_LOCK = ".track.lock";
export const TRACK_META = "metadata.json";
const LEVELS = new Set(["debug", "info", "warn", "error", "fatal"]);

/** The track a table is in dreamlake's layout (`<session>/tracks/<name>`), or undefined. */
export function trackOf(table: string): { session: string; name: string } | undefined {
  const i = table.indexOf("/tracks/");
  if (i <= 0 || i + 8 >= table.length) return undefined;
  return { session: table.slice(0, i), name: table.slice(i + 8) };
}

/**
 * Whether the session `prefix` keeps dreamlake's files: always or never by the option, else
 * (auto) once dreamlake has opened it — its episode.json exists (dreamlake writes it at open,
 * before any append).
 */
export function keepsDreamlake(ctx: Ctx, prefix: string): boolean {
  if (ctx.dreamlake !== "auto") return ctx.dreamlake;
  return existsSync(join(ctx.root, ...prefix.split("/"), "episode.json"));
}

/** dreamlake's timestamps: datetime.utcnow().isoformat() + "Z" (microseconds). */
function now(): string {
  return new Date().toISOString().replace("Z", "000Z");
}

function readJson(path: string): Row | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw ioError("cannot read", path, err);
  }
  try {
    const v = JSON.parse(text) as unknown;
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Row) : undefined;
  } catch {
    return undefined; // half a file from a writer that died: rebuilt by the next write
  }
}

/** Replaces `path` by rename (json.dump's indent=2 layout). */
function writeJson(path: string, value: unknown): void {
  const tmp = `${path}.quiver-tmp`;
  try {
    writeFileSync(tmp, JSON.stringify(value, null, 2));
    renameSync(tmp, path);
  } catch (err) {
    throw ioError("cannot write", path, err);
  }
}

function freshTrackMeta(name: string, info: Description): Row {
  return {
    trackId: `local-track-${name}`,
    name,
    description: info.description ?? null,
    tags: info.tags ?? [],
    metadata: info.metadata ?? null,
    totalDataPoints: 0,
    nextIndex: 0,
    createdAt: now(),
  };
}

/** Tables found to keep dreamlake's files (it stays so). */
const dreamlakeTables = new WeakSet<TableState>();

/** Index of the first row of the last append, per table state (Track.appendBatch's startIndex). */
const lastStarts = new WeakMap<TableState, number>();

export function lastAppendStart(st: TableState): number | undefined {
  return lastStarts.get(st);
}

/** Called by every append once its rows are in (Track.appendBatch's startIndex). */
export function noteAppend(st: TableState, firstRow: number): void {
  lastStarts.set(st, firstRow);
}

/** An append to a track table in progress, holding dreamlake's `.track.lock`. */
export class TrackWrite {
  private constructor(
    private readonly lock: Flock,
    private readonly name: string,
  ) {}

  /**
   * Takes the track's flock when `st` is a session's track and dreamlake's files are kept there
   * (auto: dreamlake opened the session, or its track has a lock file). Checked on every append
   * (a stat or two) until it holds, so a dreamlake that opens the session later is seen.
   */
  static begin(ctx: Ctx, st: TableState): TrackWrite | undefined {
    const t = ctx.dreamlake === false ? undefined : trackOf(st.name);
    if (!t) return undefined;
    if (!dreamlakeTables.has(st)) {
      if (ctx.dreamlake === "auto" && !keepsDreamlake(ctx, t.session) && !existsSync(join(st.dir, TRACK_LOCK))) return undefined;
      dreamlakeTables.add(st);
    }
    return new TrackWrite(Flock.acquire(join(st.dir, TRACK_LOCK), ctx.lockTimeout, ctx.warn), t.name);
  }

  /** Whether the data file changed since our state of it (dreamlake appended): reload it then. */
  static changed(st: TableState): boolean {
    const s = statBig(st.dataPath);
    return s !== undefined && (s.ino !== st.dataIno || Number(s.size) !== st.end);
  }

  /** Once the batch's bytes are in: metadata.json counts every row of the track (`rows`). */
  commit(st: TableState, rows: number): void {
    const path = join(st.dir, TRACK_META);
    const meta = readJson(path) ?? freshTrackMeta(this.name, {});
    meta.totalDataPoints = rows;
    meta.nextIndex = rows;
    meta.updatedAt = now();
    writeJson(path, meta);
  }

  release(): void {
    this.lock.release();
  }
}

/**
 * dreamlake's files: `files/.files_metadata.json` (`{ files: [record…] }`, changed under
 * `files/.files_metadata.lock`) and each file's bytes at `files/<path>/<id>/<filename>`.
 */
class DreamlakeFiles implements SidecarFiles {
  private readonly dir: string;
  private readonly meta: string;

  private readonly episodeId: string;

  constructor(
    sessionDir: string,
    private readonly locked: <T>(lock: string, fn: () => T) => T,
    private readonly guard: () => void,
  ) {
    this.dir = join(sessionDir, "files");
    this.episodeId = `${basename(dirname(sessionDir))}/${basename(sessionDir)}`;
    this.meta = join(this.dir, ".files_metadata.json");
  }

  list(): SidecarFileRecord[] {
    const doc = readJson(this.meta);
    return Array.isArray(doc?.files) ? (doc.files as SidecarFileRecord[]).filter((f) => f && typeof f.id === "string") : [];
  }

  /** files/<path without its leading "/">/<id>/<filename>, never outside files/. */
  private fileOf(rec: SidecarFileRecord): string | undefined {
    const segs = [...String(rec.path ?? "").split("/"), rec.id, rec.filename].filter((s) => s !== "");
    if (segs.some((s) => s === "." || s === ".." || s.includes("\\"))) return undefined;
    return join(this.dir, ...segs);
  }

  bytesPath(rec: SidecarFileRecord): string | undefined {
    const p = this.fileOf(rec);
    return p && existsSync(p) ? p : undefined;
  }

  add(rec: SidecarFileRecord, chunks: number, chunk: (i: number) => Uint8Array): void {
    const target = this.fileOf(rec);
    if (!target) return;
    this.guard(); // refused on a read-only store before any byte is written
    try {
      mkdirSync(join(target, ".."), { recursive: true });
      writeFileSync(target, new Uint8Array(0));
      for (let i = 0; i < chunks; i++) writeFileSync(target, chunk(i), { flag: "a" });
    } catch (err) {
      throw ioError("cannot write", target, err);
    }
    this.locked(join("files", ".files_metadata.lock"), () => {
      const files = this.list();
      files.push({ ...rec, episodeId: this.episodeId } as SidecarFileRecord);
      writeJson(this.meta, { files });
    });
  }

  change(id: string, patch: Partial<SidecarFileRecord>): boolean {
    return this.locked(join("files", ".files_metadata.lock"), () => {
      const files = this.list();
      const f = files.find((x) => x.id === id);
      if (!f) return false;
      Object.assign(f, patch);
      writeJson(this.meta, { files });
      return true;
    });
  }
}

/** A session's dreamlake files, for core's Session (its SessionSidecars). */
export class DreamlakeSession implements SessionSidecars {
  readonly location: string;
  readonly files: SidecarFiles;

  constructor(
    private readonly dir: string,
    private readonly lockTimeout: number,
    private readonly warn: (message: string) => void,
    /** Rows stored in a track table (for a metadata.json written before any append). */
    private readonly rows: (track: string) => number,
    /** Opened read-only: reads only, every write UNSUPPORTED (nothing created, locked or written). */
    private readonly readOnly = false,
  ) {
    this.location = dir;
    this.files = new DreamlakeFiles(dir, (lock, fn) => this.locked(lock, fn), this.guard);
  }

  /** Refuses a write on a read-only store (UNSUPPORTED), before anything is created or locked. */
  private readonly guard = (): void => {
    if (this.readOnly) throw new QuiverError("UNSUPPORTED", `${this.dir} was opened read-only; open the store without readOnly to write`);
  };

  /** Every change is made under dreamlake's lock of its file. */
  private locked<T>(lock: string, fn: () => T): T {
    this.guard();
    return withFlock(join(this.dir, lock), this.lockTimeout, this.warn, fn);
  }

  readRecord(): Partial<SessionRecord> | undefined {
    const e = readJson(join(this.dir, "episode.json"));
    if (!e) return undefined;
    const out: Partial<SessionRecord> = {};
    if (typeof e.description === "string" || e.description === null) out.readme = e.description;
    if (Array.isArray(e.tags)) out.tags = e.tags as string[];
    if (e.metadata !== undefined) out.metadata = e.metadata as Row | null;
    if (typeof e.created_at === "string") out.createdAt = e.created_at;
    if (typeof e.updated_at === "string") out.updatedAt = e.updated_at;
    return out;
  }

  writeRecord(record: SessionRecord, update: { readme?: string | null; tags?: string[]; metadata?: Row | null }): void {
    this.guard();
    for (const sub of ["logs", "tracks", "files"]) {
      try {
        mkdirSync(join(this.dir, sub), { recursive: true });
      } catch (err) {
        throw ioError("cannot create", join(this.dir, sub), err);
      }
    }
    this.locked(".episode.lock", () => {
      const path = join(this.dir, "episode.json");
      const e = readJson(path);
      if (!e) {
        writeJson(path, {
          name: record.name,
          workspace: record.workspace,
          description: record.readme,
          tags: record.tags,
          folder: null,
          metadata: record.metadata,
          created_at: record.createdAt.replace("Z", "000Z"),
          write_protected: false,
        });
        return;
      }
      if (update.readme !== undefined) e.description = update.readme;
      if (update.tags !== undefined) e.tags = update.tags;
      if (update.metadata !== undefined) e.metadata = update.metadata;
      e.updated_at = now();
      writeJson(path, e);
    });
  }

  readParams(): Row | undefined {
    const doc = readJson(join(this.dir, "parameters.json"));
    const data = doc?.data;
    return data !== null && typeof data === "object" && !Array.isArray(data) ? (data as Row) : undefined;
  }

  writeParams(values: Row): void {
    this.locked(".parameters.lock", () => {
      const path = join(this.dir, "parameters.json");
      const doc = readJson(path);
      const t = now();
      if (doc && doc.data !== null && typeof doc.data === "object") {
        Object.assign(doc.data as Row, values);
        writeJson(path, { version: (typeof doc.version === "number" ? doc.version : 1) + 1, data: doc.data, updatedAt: t });
      } else writeJson(path, { version: 1, data: values, createdAt: t, updatedAt: t });
    });
  }

  readLogs(): LogEntry[] {
    let text: string;
    const path = join(this.dir, "logs", "logs.jsonl");
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw ioError("cannot read", path, err);
    }
    const out: LogEntry[] = [];
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      let e: Row;
      try {
        e = JSON.parse(line) as Row;
      } catch {
        continue; // a line being written
      }
      if (typeof e.sequenceNumber !== "number" || typeof e.message !== "string") continue;
      const level = String(e.level).toLowerCase();
      const timestamp = typeof e.timestamp === "string" ? e.timestamp : "";
      const ts = typeof e._ts === "number" ? e._ts : Date.parse(timestamp.endsWith("Z") || /[+-]\d\d:\d\d$/.test(timestamp) ? timestamp : `${timestamp}Z`) / 1000;
      const entry: LogEntry = { sequenceNumber: e.sequenceNumber, _ts: ts, timestamp, level: (LEVELS.has(level) ? level : "info") as LogLevel, message: e.message };
      if (e.metadata !== null && typeof e.metadata === "object") entry.metadata = e.metadata as Row;
      out.push(entry);
    }
    return out;
  }

  appendLogs(entries: readonly Omit<LogEntry, "sequenceNumber">[]): number[] {
    this.guard();
    const logs = join(this.dir, "logs");
    if (!existsSync(logs)) {
      try {
        mkdirSync(logs, { recursive: true });
      } catch (err) {
        throw ioError("cannot create", logs, err);
      }
    }
    return this.locked(join("logs", ".log_sequence.lock"), () => {
      const seqPath = join(logs, ".log_sequence");
      let seq = 0;
      try {
        seq = Number.parseInt(readFileSync(seqPath, "utf8").trim(), 10) || 0;
      } catch {
        seq = 0; // dreamlake starts at 0 too
      }
      const out: number[] = [];
      let text = "";
      for (const e of entries) {
        const line: Row = { sequenceNumber: seq, timestamp: e.timestamp.replace("Z", "000Z"), level: e.level, message: e.message };
        if (e.metadata) line.metadata = e.metadata;
        line._ts = e._ts; // the exact time (dreamlake's timestamp text keeps microseconds)
        text += `${JSON.stringify(line)}\n`;
        out.push(seq++);
      }
      const path = join(logs, "logs.jsonl");
      try {
        writeFileSync(path, text, { flag: "a" });
        writeFileSync(seqPath, String(seq));
      } catch (err) {
        throw ioError("cannot append to", path, err);
      }
      return out;
    });
  }

  readTrackInfo(track: string): Partial<TrackInfo> | undefined {
    const m = readJson(join(this.dir, "tracks", ...track.split("/"), TRACK_META));
    if (!m) return undefined;
    const out: Partial<TrackInfo> = {};
    if (typeof m.description === "string" || m.description === null) out.description = m.description;
    if (Array.isArray(m.tags)) out.tags = m.tags as string[];
    if (m.metadata !== undefined) out.metadata = m.metadata as Row | null;
    return out;
  }

  writeTrackInfo(track: string, info: Description): void {
    const dir = join(this.dir, "tracks", ...track.split("/"));
    this.locked(join("tracks", ...track.split("/"), TRACK_LOCK), () => {
      const path = join(dir, TRACK_META);
      let meta = readJson(path);
      if (!meta) {
        meta = freshTrackMeta(track, {});
        meta.totalDataPoints = meta.nextIndex = this.rows(track);
      }
      if (info.description !== undefined) meta.description = info.description;
      if (info.tags !== undefined) meta.tags = info.tags;
      if (info.metadata !== undefined) meta.metadata = info.metadata;
      meta.updatedAt = now();
      writeJson(path, meta);
    });
  }
}
