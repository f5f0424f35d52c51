/**
 * Files another tool keeps beside a session's tables, which a store may mirror: the msgpack store
 * keeps dreamlake's local layout (episode.json, parameters.json, logs/logs.jsonl, per-track
 * metadata.json) so dreamlake reads what Quiver writes and the other way round. The session always
 * writes its own tables (every store, every reader of them); a store with sidecars also writes
 * these and the session reads them over its tables. All methods are synchronous: they also run
 * at process exit. A fault is thrown (the session reports it as IO, its rows kept for the next flush).
 */
import type { FileRecord } from "./files.js";
import type { Row } from "../arrow/batches.js";
import type { Store } from "../store/contract.js";

export type LogLevel = "debug" | "info" | "warn" | "error" | "fatal";

/** A log entry as read back. */
export interface LogEntry {
  /** Position in the session's log (dreamlake's counter when the store keeps its files). */
  sequenceNumber: number;
  /** Seconds since the epoch, on the time axis of the points. */
  _ts: number;
  /** The same instant as ISO text (dreamlake's `timestamp`). */
  timestamp: string;
  level: LogLevel;
  message: string;
  metadata?: Row;
}

/** What describes a session or a track: text, tags and free metadata (JSON values). */
export interface Description {
  description?: string | null;
  tags?: string[];
  metadata?: Row | null;
}

/** The session's record (dreamlake's episode.json). */
export interface SessionRecord {
  name: string;
  workspace: string | null;
  readme: string | null;
  tags: string[];
  metadata: Row | null;
  createdAt: string;
  updatedAt?: string;
}

/** A track's description, tags and metadata (dreamlake's metadata.json keeps them). */
export interface TrackInfo {
  name: string;
  description: string | null;
  tags: string[];
  metadata: Row | null;
}

/** A file's record as dreamlake keeps it: the same fields as a session file's record. */
export type SidecarFileRecord = FileRecord;

/** The other tool's files (dreamlake's files/ folder and its .files_metadata.json). */
export interface SidecarFiles {
  /** Every record it holds, deleted ones too. */
  list(): SidecarFileRecord[];
  /** Where a record's bytes are on disk, or undefined. */
  bytesPath(rec: SidecarFileRecord): string | undefined;
  /** Adds a file: its bytes, read in `chunks` pieces by `chunk(i)`, and its record. */
  add(rec: SidecarFileRecord, chunks: number, chunk: (i: number) => Uint8Array): void;
  /** Changes fields of a record (update, soft delete); false when it holds no such id. */
  change(id: string, patch: Partial<SidecarFileRecord>): boolean;
}

export interface SessionSidecars {
  /** The other tool's files, if it keeps any the session should see. */
  readonly files?: SidecarFiles;
  /** Where they live, for messages. */
  readonly location: string;
  readRecord(): Partial<SessionRecord> | undefined;
  /** Creates the record (and the session's folders) or merges the given fields into it. */
  writeRecord(record: SessionRecord, update: { readme?: string | null; tags?: string[]; metadata?: Row | null }): void;
  /** Flattened params ("a.b" keys), or undefined when there are none. */
  readParams(): Row | undefined;
  /** Merges flattened params in. */
  writeParams(values: Row): void;
  readLogs(): LogEntry[];
  /** Appends entries (sequence numbers given out under the other tool's lock); returns them. */
  appendLogs(entries: readonly Omit<LogEntry, "sequenceNumber">[]): number[];
  readTrackInfo(track: string): Partial<TrackInfo> | undefined;
  writeTrackInfo(track: string, info: Description): void;
}

/** A store offering sidecars (duck-typed: wrappers such as teeStore offer none). */
interface SidecarHost {
  sessionSidecars(prefix: string): SessionSidecars | undefined;
}

export function sidecarsOf(store: Store, prefix: string): SessionSidecars | undefined {
  const f = (store as Partial<SidecarHost>).sessionSidecars;
  return typeof f === "function" ? f.call(store, prefix) : undefined;
}

/** A store that counts rows under its write lock (duck-typed, as sidecars). */
interface AppendCounter {
  /** Index of the first row of this store's last append to `table`. */
  lastAppendStart(table: string): number | undefined;
}

/** The store's own count of where its last append to a table started, when it keeps one. */
export function appendCounter(store: Store): ((table: string) => number | undefined) | undefined {
  const f = (store as Partial<AppendCounter>).lastAppendStart;
  return typeof f === "function" ? (table) => f.call(store, table) : undefined;
}
