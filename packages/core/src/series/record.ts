/**
 * The session's record (dreamlake's episode.json: name, workspace, readme, tags, metadata,
 * createdAt) and its tracks' descriptions, in the table `<prefix>/session`: one row per change,
 * `{ _ts, kind: "session" | "track", track, record: JSON text }`, folded in `_ts` order, so it
 * works on every store and changes from several processes merge field by field. The record is
 * written when the session opens, so a session with nothing logged still exists. A store with
 * sidecars (msgpack: dreamlake's files) gets them too, and they are read over the table.
 */
import { isDeepStrictEqual } from "node:util";
import { type Row, rowsToBatch } from "../arrow/batches.js";
import { describeValue, QuiverError } from "../errors.js";
import type { AppendReceipt, Store, StoreOpenOptions } from "../store/contract.js";
import { readRows } from "../store/scan.js";
import { exitStoreOf, type Staging, WriteBuffer } from "../write/buffer.js";
import type { ExitBatch } from "../write/exit.js";
import type { Description, SessionRecord, SessionSidecars, TrackInfo } from "./sidecars.js";

/** The JSON text of `v`, refused unless it comes back from JSON unchanged. */
export function jsonText(v: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(v);
  } catch (err) {
    throw new QuiverError("INVALID_VALUE", `${what} must be JSON (${(err as Error).message})`);
  }
  if (text === undefined || !isDeepStrictEqual(JSON.parse(text), v))
    throw new QuiverError("INVALID_VALUE", `${what} must be JSON values (null, booleans, finite numbers, strings, arrays, plain objects), got ${describeValue(v)}`);
  return text;
}

/** Checks a description's fields; returns the ones given. */
export function checkDescription(d: Description & { readme?: string | null }, what: string): Row {
  if (d === null || typeof d !== "object") throw new QuiverError("INVALID_VALUE", `${what} expects { description?, tags?, metadata? }, got ${describeValue(d)}`);
  const out: Row = {};
  for (const k of ["description", "readme"] as const) {
    const v = d[k as keyof typeof d];
    if (v === undefined) continue;
    if (v !== null && typeof v !== "string") throw new QuiverError("INVALID_VALUE", `${what}: ${k} must be a string or null, got ${describeValue(v)}`);
    out[k] = v;
  }
  if (d.tags !== undefined) {
    if (!Array.isArray(d.tags) || d.tags.some((t) => typeof t !== "string"))
      throw new QuiverError("INVALID_VALUE", `${what}: tags must be an array of strings, got ${describeValue(d.tags)}`);
    out.tags = [...d.tags];
  }
  if (d.metadata !== undefined) {
    if (d.metadata !== null && (typeof d.metadata !== "object" || Array.isArray(d.metadata)))
      throw new QuiverError("INVALID_VALUE", `${what}: metadata must be an object or null, got ${describeValue(d.metadata)}`);
    jsonText(d.metadata, `${what}: metadata`);
    out.metadata = structuredClone(d.metadata);
  }
  return out;
}

/** dreamlake's prefix rule: name is the last segment, workspace the one before it. */
export function splitPrefix(prefix: string): { name: string; workspace: string | null; namespace: string | null } {
  const parts = prefix.split("/");
  return { name: parts[parts.length - 1]!, workspace: parts.length >= 2 ? parts[parts.length - 2]! : null, namespace: parts.length >= 3 ? parts[parts.length - 3]! : null };
}

const ROWS: Staging<Row[]> = { fresh: () => [], concat: (a, b) => a.concat(b), slice: (s, a, b) => s.slice(a, b) };
const push = (row: Row, rows: Row[]): void => void rows.push(row);

export class SessionRecords {
  readonly table: string;
  private record: SessionRecord;
  private readonly tracks = new Map<string, Row>();
  /** Changes not yet written; a write in flight at exit is settled by its receipt (never written twice). */
  private readonly buffer: WriteBuffer<Row[]>;
  private stagedTracks = new Map<string, Row>();
  private lastTs = 0;
  /** The record's change not yet in the sidecars. */
  private recordUpdate: Row | undefined;

  constructor(
    private readonly store: () => Store,
    private readonly storeOptions: StoreOpenOptions | undefined,
    readonly prefix: string,
    private readonly sidecars: SessionSidecars | undefined,
  ) {
    this.table = `${prefix}/session`;
    const { name, workspace } = splitPrefix(prefix);
    this.record = { name, workspace, readme: null, tags: [], metadata: null, createdAt: new Date().toISOString() };
    this.buffer = new WriteBuffer(
      (rows, receipt) => this.write(rows, receipt),
      ROWS,
      { flushInterval: 0, flushDelay: 0 },
      `the session record ${JSON.stringify(this.table)}`,
      exitStoreOf(store),
    );
  }

  private write(rows: Row[], receipt: AppendReceipt): Promise<void> {
    return this.store().append(this.table, rowsToBatch(rows), { receipt });
  }

  private ts(): number {
    const now = Date.now() / 1000;
    this.lastTs = now > this.lastTs ? now : this.lastTs + 1e-6;
    return this.lastTs;
  }

  /**
   * Reads the record and writes it (creating it, or with the fields `update` gives) before the
   * session is used. A store fault then does not fail the open: `onFault` hears of it and the
   * record is written with the next flush.
   */
  async open(update: Row, onFault: (err: unknown) => void, readOnly = false): Promise<void> {
    const store = this.store();
    let exists = false;
    if (await store.schema(this.table)) {
      for (const r of await readRows(store, this.table, { orderBy: [{ column: "_ts" }] })) {
        const rec = JSON.parse(String(r.record)) as Row;
        if (r.kind === "track") this.tracks.set(String(r.track), { ...this.tracks.get(String(r.track)), ...rec });
        else {
          Object.assign(this.record, rec);
          exists = true;
        }
      }
    }
    const side = this.sidecars?.readRecord();
    if (side) Object.assign(this.record, side);
    // A session over a read-only store (the CLI's reads) writes nothing.
    if (readOnly || (exists && Object.keys(update).length === 0 && (side || !this.sidecars))) return;
    const change = exists ? { ...update, updatedAt: new Date().toISOString() } : { ...this.record, ...update };
    Object.assign(this.record, change);
    void this.buffer.stage(push, { _ts: this.ts(), kind: "session", track: "", record: JSON.stringify(change) });
    this.recordUpdate = update;
    try {
      await this.flush();
      await store.flush();
    } catch (err) {
      onFault(err);
    }
  }

  current(): SessionRecord {
    return structuredClone(this.record);
  }

  /** Stages a track's description (written with the session's flush). */
  describeTrack(track: string, info: Description): void {
    const d = checkDescription(info, `track ${JSON.stringify(track)} describe`);
    if (Object.keys(d).length === 0) return;
    this.tracks.set(track, { ...this.tracks.get(track), ...d });
    this.stagedTracks.set(track, { ...this.stagedTracks.get(track), ...d });
    void this.buffer.stage(push, { _ts: this.ts(), kind: "track", track, record: JSON.stringify(d) });
  }

  async trackInfo(track: string): Promise<TrackInfo> {
    const side = this.sidecars?.readTrackInfo(track);
    const t = { ...this.tracks.get(track), ...side, ...this.stagedTracks.get(track) } as Partial<TrackInfo>;
    return { name: track, description: t.description ?? null, tags: t.tags ?? [], metadata: t.metadata ?? null };
  }

  get pending(): number {
    return this.buffer.pending + (this.recordUpdate ? 1 : 0);
  }

  /** Writes the staged rows, then the sidecars; on a fault they stay staged for the next flush. */
  async flush(): Promise<void> {
    await this.buffer.flush();
    this.writeSidecars();
  }

  private writeSidecars(): void {
    if (this.recordUpdate) {
      this.sidecars?.writeRecord(this.current(), this.recordUpdate);
      this.recordUpdate = undefined;
    }
    for (const [track, d] of this.stagedTracks) {
      this.sidecars?.writeTrackInfo(track, d);
      this.stagedTracks.delete(track);
    }
  }

  /** At exit: the staged rows as a batch for the exit writer (sidecars written now). */
  takeSync(): ExitBatch[] {
    this.buffer.stop();
    const { inDoubt, rest } = this.buffer.takeParts();
    try {
      this.writeSidecars();
    } catch (err) {
      process.stderr.write(`[quiver] track descriptions of ${this.prefix} not written to ${this.sidecars?.location}: ${(err as Error).message}\n`);
    }
    const to = { store: this.store(), storeOptions: this.storeOptions, table: this.table };
    const out: ExitBatch[] = [];
    if (inDoubt) out.push({ ...to, batch: rowsToBatch(inDoubt.items), token: inDoubt.token });
    if (rest.length) out.push({ ...to, batch: rowsToBatch(rest) });
    return out;
  }
}
