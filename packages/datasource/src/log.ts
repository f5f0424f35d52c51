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
import type { RecordBatch } from "apache-arrow";
import { type Store, vectorToValues } from "@quiver/core";
import type { BlobStore } from "./blobs.js";
import { type ChangeSet, FieldIndex, type FieldRec, commitTime, prepare } from "./events.js";
import { appendRows, ioError } from "./storage.js";
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
}

export class EventLog {
  readonly fieldsTable: string;
  readonly commitsTable: string;
  readonly currentTable: string;
  private cached?: LogState;
  /** Told of every commit of this process once it is acknowledged: the batches it appended (shard order) and the fields after it, by name. */
  onCommit?: (seq0: number, seq1: number, batches: readonly RecordBatch[], fields: ReadonlyMap<string, FieldRec>) => void;

  constructor(
    readonly store: Store,
    readonly id: string,
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
    const rows = (await s.schema(shard0)) ? await s.count(shard0) : 0;
    const c = this.cached;
    if (c && rows === c.bound && rows === c.rows) return c;
    const cs = await s.schema(this.commitsTable);
    const commits = cs ? await s.count(this.commitsTable) : 0;
    if (c && rows === c.rows && commits === c.commits) return c;
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
      for await (const b of s.scan(this.commitsTable, { columns: withFields ? ["seq1", "fields"] : ["seq1"] })) {
        const seq1 = vectorToValues(b.getChild("seq1")!) as number[];
        const declared = withFields ? (vectorToValues(b.getChild("fields")!) as (string | null)[]) : [];
        seq1.forEach((v, i) => {
          bound = Math.max(bound, v);
          const d = declared[i];
          if (d) for (const [name, type, shard] of JSON.parse(d) as [string, FieldType, number][]) add(name, type, shard);
        });
      }
    }
    this.cached = { fields: index.list, index, bound, commits, rows };
    return this.cached;
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
    const n = change.paths.length;
    if (n === 0) return 0;
    const s = this.store;
    const st = await this.state();
    const seq0 = st.bound;
    const prepared = prepare(change, st.index, declared, blobs, seq0, await this.freshShard(change, st));
    const maxShard = Math.max(st.fields.at(-1)?.shard ?? 0, prepared.newFields.at(-1)?.shard ?? 0);
    // Leftovers of a commit that crashed or could not roll back: shard 0 holds every path of
    // every commit, so more rows than `bound` means some.
    if (st.rows > seq0) {
      await this.cleanup(seq0, maxShard);
      st.rows = seq0;
    }
    const createdBlobs: [string, number][] = [];
    let wrote = false;
    try {
      for (const [h, bytes] of prepared.blobs) if (blobs.putNew(h, bytes)) createdBlobs.push([h, blobs.mtimeOf(h)]);
      for (const sh of [...prepared.batches.keys()].sort((a, b) => a - b)) {
        wrote = true;
        await s.append(this.shardTable(sh), prepared.batches.get(sh)!, { layout: "columns" });
      }
      const row: Record<string, unknown> = { seq0, seq1: seq0 + n, ts: commitTime(), fresh };
      if (prepared.newFields.length) row.fields = JSON.stringify(prepared.newFields.map((f) => [f.name, f.type, f.shard]));
      await appendRows(s, this.commitsTable, [row]);
    } catch (err) {
      if (wrote) await this.cleanup(seq0, maxShard).catch(() => undefined); // else the next commit does
      for (const [h, mtime] of createdBlobs) blobs.removeIfUntouched(h, mtime);
      this.cached = undefined;
      throw ioError(err, `writing metadata of datasource ${this.id} to ${s.uri}`);
    }
    for (const f of prepared.newFields) st.index.add(f);
    this.cached = { fields: st.index.list, index: st.index, bound: seq0 + n, commits: st.commits + 1, rows: seq0 + n };
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
    this.cached = undefined;
  }
}
