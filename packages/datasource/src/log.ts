/**
 * The event log of one datasource in its store: the events tables (shards), `fields` and
 * `commits`, and how a commit is written so that a failure leaves nothing behind.
 *
 * A commit appends, in order: the events of every shard it touches (shard 0 first, always, with
 * one row per path), then its `commits` row, which also declares the fields it introduced
 * (`fields`, JSON `[[name, type, shard], …]`). That last row is what makes the commit visible:
 * readers only see events below `bound`, the `seq1` of the last commit, and only committed
 * fields. A failure rolls back what was appended; whatever a crash or a failed rollback leaves
 * (rows at `_seq >= bound`, so shard 0 holds more than `bound` rows) is deleted by the next
 * commit before it writes. (Datasources written before this kept fields in the `fields` table;
 * it is still read, first.)
 */
import { rmSync } from "node:fs";
import type { RecordBatch } from "apache-arrow";
import { QuiverError, type QueryNode, type Store, queryFields, vectorToValues } from "@quiver/core";
import type { BlobStore } from "./blobs.js";
import { type ChangeSet, FieldIndex, type FieldRec, changeSize, commitTime, prepare } from "./events.js";
import { type Segment, parseSegments, readParquetSql, removeOrphans, segmentFile, segmentThreshold, segmentable, segmentsJSON, writeSegment } from "./segments.js";
import { compileWhere } from "./sqlgen.js";
import { appendRows, fsOp, ioError } from "./storage.js";
import type { FieldType } from "./types.js";

export interface LogState {
  /** Committed fields in order of first sight (= index.list). */
  fields: readonly FieldRec[];
  index: FieldIndex;
  /** The first `_seq` not committed: readers see events below it. */
  bound: number;
  /** Rows of `commits`. */
  commits: number;
  /** Rows of `events` (shard 0): `bound` when nothing is left over from a failed commit. */
  rows: number;
  /** Committed segments (segments.ts), in commit order. */
  segments: readonly Segment[];
}

/** Where a log keeps its segments: `dir`; `write` when this process writes new ones (the default store). */
export interface SegmentOptions {
  dir: string;
  write: boolean;
}

/** A `_seq` range and an optional filter for reading one shard's events. */
export interface EventsRead {
  from?: number;
  to: number;
  where?: QueryNode;
  columns?: readonly string[];
}

export class EventLog {
  readonly fieldsTable: string;
  readonly commitsTable: string;
  readonly currentTable: string;
  private cached?: LogState;
  /** Told of every commit of this process once it is acknowledged: the batches it appended (shard order) and the fields after it, by name. */
  onCommit?: (seq0: number, seq1: number, batches: readonly RecordBatch[], fields: ReadonlyMap<string, FieldRec>) => void;
  /** Told of every commit of this process before its I/O is done: the batches it writes (shard order) and the fields after it. */
  onPrepare?: (seq0: number, batches: readonly RecordBatch[], fields: ReadonlyMap<string, FieldRec>) => void;

  constructor(
    readonly store: Store,
    readonly id: string,
    /** Segments: only on stores that read Parquet in SQL (DuckDB). */
    readonly segments?: SegmentOptions,
  ) {
    this.fieldsTable = `datasource/${id}/fields`;
    this.commitsTable = `datasource/${id}/commits`;
    this.currentTable = `datasource/${id}/current`;
  }

  /** The events table of a shard (shard 0 is the table every datasource had before shards). */
  shardTable(shard: number): string {
    return shard === 0 ? `datasource/${this.id}/events` : `datasource/${this.id}/events-${shard}`;
  }

  /** Events tables 0..max shard of the fields. */
  shardTables(fields: readonly FieldRec[]): string[] {
    const max = fields.reduce((m, f) => Math.max(m, f.shard), 0);
    return Array.from({ length: max + 1 }, (_, s) => this.shardTable(s));
  }

  /**
   * Committed fields and bound. Cached: every commit adds rows to `events`, so while it holds
   * `bound` rows nothing changed (one count, the usual case); with leftovers, while neither it
   * nor `commits` changed.
   */
  async state(): Promise<LogState> {
    const s = this.store;
    const shard0 = this.shardTable(0);
    const c = this.cached;
    let rows = -1;
    if (this.segments) {
      // A commit whose events went to segments adds no row to `events`: its commits row tells.
      if (c && (await s.schema(this.commitsTable)) && (await s.count(this.commitsTable)) === c.commits) return c;
    } else {
      rows = (await s.schema(shard0)) ? await s.count(shard0) : 0;
      if (c && rows === c.bound && rows === c.rows) return c;
    }
    const cs = await s.schema(this.commitsTable);
    const commits = cs ? await s.count(this.commitsTable) : 0;
    if (c && rows === c.rows && commits === c.commits) return c;
    const segments: Segment[] = [];
    const index = new FieldIndex();
    const add = (name: string, type: FieldType, shard: number): void => index.add({ name, type, shard });
    if (await s.schema(this.fieldsTable)) {
      for await (const b of s.scan(this.fieldsTable, { columns: ["field", "type"] })) {
        const names = vectorToValues(b.getChild("field")!) as string[];
        const types = vectorToValues(b.getChild("type")!) as FieldType[];
        names.forEach((n, i) => add(n, types[i]!, 0));
      }
    }
    let bound = 0;
    if (commits) {
      const withFields = cs!.fields.some((f) => f.name === "fields");
      const withSegments = cs!.fields.some((f) => f.name === "segments");
      const columns = ["seq1", ...(withFields ? ["fields"] : []), ...(withSegments ? ["seq0", "segments"] : [])];
      for await (const b of s.scan(this.commitsTable, { columns })) {
        const seq1 = vectorToValues(b.getChild("seq1")!) as number[];
        const declared = withFields ? (vectorToValues(b.getChild("fields")!) as (string | null)[]) : [];
        const seq0 = withSegments ? (vectorToValues(b.getChild("seq0")!) as number[]) : [];
        const segs = withSegments ? (vectorToValues(b.getChild("segments")!) as (string | null)[]) : [];
        seq1.forEach((v, i) => {
          bound = Math.max(bound, v);
          const d = declared[i];
          if (d) for (const [name, type, shard] of JSON.parse(d) as [string, FieldType, number][]) add(name, type, shard);
          const g = segs[i];
          if (g) segments.push(...parseSegments(this.segmentDir(), seq0[i]!, v, g));
        });
      }
    }
    if (segments.length && !this.segments)
      throw new QuiverError("UNSUPPORTED", `datasource ${this.id} keeps events in Parquet segments, which only a DuckDB store reads; open it on its default store`);
    segments.sort((a, b) => a.seq0 - b.seq0 || a.shard - b.shard);
    if (rows < 0) rows = ((await s.schema(shard0)) ? await s.count(shard0) : 0) + segments.reduce((n, g) => n + (g.shard === 0 ? g.rows : 0), 0);
    this.cached = { fields: index.list, index, bound, commits, rows, segments };
    return this.cached;
  }

  private segmentDir(): string {
    return this.segments?.dir ?? "";
  }

  /**
   * The one way to read a shard's events: the rows of its table and of its committed segments
   * with `from ≤ _seq < to` (and `where`), as Arrow batches; table rows first, then each
   * segment's, so not in `_seq` order across them. A segment without a column `where` names is
   * skipped (that column is null in all its rows, which no filter used here matches).
   */
  async *scanEvents(shard: number, st: LogState, read: EventsRead): AsyncGenerator<RecordBatch> {
    const s = this.store;
    const range: QueryNode[] = [{ op: "lt", field: "_seq", value: read.to }];
    if (read.from !== undefined && read.from > 0) range.unshift({ op: "ge", field: "_seq", value: read.from });
    const all: QueryNode = { op: "and", args: read.where ? [...range, read.where] : range };
    const table = this.shardTable(shard);
    const schema = await s.schema(table);
    if (schema) {
      const have = new Set(schema.fields.map((f) => f.name));
      const columns = read.columns?.filter((c) => have.has(c));
      const named = read.where ? [...queryFields(read.where)] : [];
      if (named.every((f) => have.has(f))) for await (const b of s.scan(table, { where: all, columns })) yield b;
    }
    const named = read.where ? [...queryFields(read.where)] : [];
    const segs = st.segments.filter((g) => g.shard === shard && g.seq1 > (read.from ?? 0) && g.seq0 < read.to && named.every((f) => g.columns.includes(f)));
    if (segs.length === 0) return;
    const have = new Set(segs.flatMap((g) => g.columns));
    const cols = read.columns ? read.columns.filter((c) => have.has(c)) : [...have];
    const text = `SELECT ${cols.map((c) => `"${c.replace(/"/g, '""')}"`).join(", ")} FROM ${readParquetSql(segs)} WHERE ${compileWhere(all)}`;
    const t = await s.sql!(text);
    for (const b of t.batches) if (b.numRows) yield b;
  }

  /** Segments of `shard` visible below `bound`. */
  shardSegments(st: LogState, shard: number): Segment[] {
    return st.segments.filter((g) => g.shard === shard);
  }

  /** SQL naming a shard's events (its table and its committed segments), or undefined when there are none. */
  shardSql(st: LogState, shard: number, tableExists: boolean, quote: (t: string) => string): string | undefined {
    const segs = this.shardSegments(st, shard);
    const table = quote(this.shardTable(shard));
    if (segs.length === 0) return tableExists ? table : undefined;
    const files = `SELECT * FROM ${readParquetSql(segs)}`;
    return tableExists ? `(SELECT * FROM ${table} UNION ALL BY NAME ${files})` : `(${files})`;
  }

  /**
   * Where the change's new fields must start instead of the last shard: after every existing
   * events table, when one of them still has a column of that name (up to case) that no committed
   * field owns, left by a commit that failed after the store added the column. Appending there
   * could meet that column's old type.
   */
  private async freshShard(change: ChangeSet, st: LogState): Promise<number | undefined> {
    const names: string[] = [];
    for (const k of change.fields.keys()) if (!st.index.byName.has(k)) names.push(k.toLowerCase());
    if (names.length === 0) return undefined;
    const orphans = new Set<string>();
    let sh = st.index.last;
    for (let schema = await this.store.schema(this.shardTable(sh)); schema; schema = await this.store.schema(this.shardTable(++sh))) {
      for (const f of schema.fields) if (!st.index.byName.has(f.name) && f.name !== "path" && f.name !== "_seq" && f.name !== "_unset") orphans.add(f.name.toLowerCase());
    }
    return names.some((n) => orphans.has(n)) ? sh : undefined;
  }

  /** Deletes what failed or crashed commits left at `_seq >= bound`. */
  private async cleanup(bound: number, shards: number): Promise<void> {
    const s = this.store;
    if (!s.capabilities.delete) return;
    const where = { op: "ge" as const, field: "_seq", value: bound };
    // A crashed commit may have started a shard no committed field is in yet.
    let top = shards;
    while (await s.schema(this.shardTable(top + 1))) top++;
    for (let sh = top; sh >= 0; sh--) if (await s.schema(this.shardTable(sh))) await s.delete(this.shardTable(sh), where);
  }

  /**
   * Validates and writes one change (the caller holds the datasource's locks). Everything that
   * can be refused is refused before the first write; an I/O failure rolls back.
   */
  async commit(change: ChangeSet, declared: ReadonlyMap<string, FieldType> | undefined, blobs: BlobStore, fresh: boolean): Promise<number> {
    const n = changeSize(change);
    if (n === 0) return 0;
    const s = this.store;
    const st = await this.state();
    const seq0 = st.bound;
    const prepared = prepare(change, st.index, declared, blobs, seq0, await this.freshShard(change, st));
    const maxShard = Math.max(st.fields.at(-1)?.shard ?? 0, prepared.newFields.at(-1)?.shard ?? 0);
    // Leftovers of a commit that crashed or could not roll back: shard 0 holds every path of
    // every commit, so more rows than `bound` means some. (With segments, state() may not have
    // counted `events`: count it here, and remove segment files no commit recorded.)
    const segRows0 = st.segments.reduce((k, g) => k + (g.shard === 0 ? g.rows : 0), 0);
    if (this.segments) {
      st.rows = ((await s.schema(this.shardTable(0))) ? await s.count(this.shardTable(0)) : 0) + segRows0;
      removeOrphans(this.segments.dir, seq0);
    }
    if (st.rows > seq0) {
      await this.cleanup(seq0, maxShard);
      st.rows = seq0;
    }
    const createdBlobs: [string, number][] = [];
    const written: Segment[] = [];
    const threshold = this.segments?.write ? segmentThreshold() : undefined;
    let wrote = false;
    const shards = [...prepared.batches.keys()].sort((a, b) => a - b);
    const pending: Promise<unknown>[] = [];
    try {
      for (const [h, bytes] of prepared.blobs) if (blobs.putNew(h, bytes)) createdBlobs.push([h, blobs.mtimeOf(h)]);
      for (const sh of shards) {
        const batch = prepared.batches.get(sh)!;
        if (threshold === undefined || batch.numRows < threshold || !segmentable(batch)) continue;
        const seg: Segment = {
          seq0,
          seq1: seq0 + n,
          shard: sh,
          rows: batch.numRows,
          columns: batch.schema.fields.map((f) => f.name),
          file: segmentFile(this.segments!.dir, seq0, sh),
        };
        written.push(seg);
        pending.push(writeSegment(this.segments!.dir, seq0, sh, batch));
      }
      // While segments go to disk: what the hot state will hold after this commit (hotcache.ts).
      const fields = new Map(st.index.byName);
      for (const f of prepared.newFields) fields.set(f.name, f);
      this.onPrepare?.(
        seq0,
        shards.map((sh) => prepared.batches.get(sh)!),
        fields,
      );
      for (const sh of shards) {
        if (written.some((g) => g.shard === sh)) continue;
        wrote = true;
        await s.append(this.shardTable(sh), prepared.batches.get(sh)!, { layout: "columns" });
      }
      await Promise.all(pending);
      const row: Record<string, unknown> = { seq0, seq1: seq0 + n, ts: commitTime(), fresh };
      if (prepared.newFields.length) row.fields = JSON.stringify(prepared.newFields.map((f) => [f.name, f.type, f.shard]));
      if (written.length) row.segments = segmentsJSON(written);
      await appendRows(s, this.commitsTable, [row]);
    } catch (err) {
      if (wrote) await this.cleanup(seq0, maxShard).catch(() => undefined); // else the next commit does
      await Promise.allSettled(pending);
      for (const g of written) rmSync(g.file, { force: true });
      if (this.segments) {
        try {
          removeOrphans(this.segments.dir, seq0);
        } catch {
          /* the next commit removes them */
        }
      }
      for (const [h, mtime] of createdBlobs) blobs.removeIfUntouched(h, mtime);
      this.cached = undefined;
      throw ioError(err, `writing metadata of datasource ${this.id} to ${s.uri}`);
    }
    for (const f of prepared.newFields) st.index.add(f);
    const segments = written.length ? [...st.segments, ...written] : st.segments;
    this.cached = { fields: st.index.list, index: st.index, bound: seq0 + n, commits: st.commits + 1, rows: seq0 + n, segments };
    this.onCommit?.(
      seq0,
      seq0 + n,
      [...prepared.batches.keys()].sort((a, b) => a - b).map((sh) => prepared.batches.get(sh)!),
      st.index.byName,
    );
    return n;
  }

  /** Drops every table of the log (the caller drops the SQL engine's own). */
  async drop(): Promise<void> {
    const st = await this.state();
    for (const t of this.shardTables(st.fields)) await this.store.drop(t);
    await this.store.drop(this.fieldsTable);
    await this.store.drop(this.commitsTable);
    if (this.segments) fsOp("cannot remove the events segments", this.segments.dir, () => rmSync(this.segments!.dir, { recursive: true, force: true }));
    this.cached = undefined;
  }
}
