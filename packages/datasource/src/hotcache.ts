/**
 * Keeps one datasource's HotState (hot.ts) in step with its log: this process's commits are
 * applied as they are made (from the batches they appended), other processes' commits are read
 * from the store at the next query (only the events beyond what is applied), and a first query
 * in a process loads the state once. Any failure to follow drops the state, and the caller
 * runs the query in SQL: the cache can make a query faster, never different.
 */
import type { RecordBatch, Schema, Table } from "apache-arrow";
import type { FieldRec } from "./events.js";
import { HotState, MAX_CELLS } from "./hot.js";
import type { EventLog, LogState } from "./log.js";
import type { ViewSpec } from "./view.js";

export class HotCache {
  private hot?: HotState;
  /** Infinity once the state proved too large to keep (MAX_CELLS). */
  private tooBig = -1;
  private readonly off = process.env.QUIVER_DS_HOT === "0";

  constructor(
    private readonly log: EventLog,
    /** The state at `st.bound` as an Arrow table (path + fields), from the store. */
    private readonly load: (st: LogState) => Promise<Table>,
  ) {
    log.onCommit = (seq0, seq1, batches, fields) => this.committed(seq0, seq1, batches, fields);
    log.onPrepare = (seq0, batches, fields) => this.prepared(seq0, batches, fields);
  }

  /** A state built ahead for a commit into an empty state (applied while its I/O runs), installed if it commits. */
  private ahead?: { seq0: number; state: HotState };

  /** A commit about to be written: into an empty state, its state is built now, aside. */
  private prepared(seq0: number, batches: readonly RecordBatch[], fields: ReadonlyMap<string, FieldRec>): void {
    this.ahead = undefined;
    if (this.off) return;
    const h = this.hot;
    if (h ? h.bound !== seq0 || h.rows > 0 : seq0 !== 0) return;
    try {
      const state = new HotState(seq0);
      for (const b of batches) state.applyBatch(b, fields);
      this.ahead = { seq0, state };
    } catch {
      /* applied (or dropped) after the commit as usual */
    }
  }

  drop(): void {
    this.hot = undefined;
  }

  /** A commit of this process, just acknowledged: applied if the state was at its start. */
  private committed(seq0: number, seq1: number, batches: readonly RecordBatch[], fields: ReadonlyMap<string, FieldRec>): void {
    if (this.off) return;
    const ahead = this.ahead;
    this.ahead = undefined;
    if (ahead && ahead.seq0 === seq0 && (this.hot ? this.hot.bound === seq0 && this.hot.rows === 0 : seq0 === 0)) {
      ahead.state.bound = seq1;
      this.hot = ahead.state;
      if (ahead.state.cells > MAX_CELLS) this.drop();
      return;
    }
    // A new datasource: its state starts empty, no load needed.
    if (!this.hot && seq0 === 0) this.hot = new HotState(0);
    const h = this.hot;
    if (!h || h.bound !== seq0) return; // behind: the next query catches up from the store
    try {
      // O(what the commit wrote): columns are added for the fields it sets (the rest at the next query).
      for (const b of batches) h.applyBatch(b, fields);
      h.bound = seq1;
      if (h.cells > MAX_CELLS) this.drop();
    } catch {
      this.drop();
    }
  }

  /** The query on the current state, or undefined when it must run in SQL. */
  async query(st: LogState, spec: ViewSpec, schema: Schema): Promise<Table | undefined> {
    if (this.off || spec.asOf || st.bound <= this.tooBig) return undefined;
    const h = await this.state(st);
    return h?.query(spec.where, spec.limit, schema, spec.orderBy);
  }

  private async state(st: LogState): Promise<HotState | undefined> {
    let h = this.hot;
    if (h) {
      try {
        h.ensureFields(st.fields);
        await h.catchUp(this.log, st, st.fields, st.bound);
        return h;
      } catch {
        this.drop();
      }
    }
    if (st.bound * (st.fields.length + 1) > 4 * MAX_CELLS) {
      this.tooBig = Infinity;
      return undefined;
    }
    try {
      h = HotState.fromTable(st.bound, await this.load(st), st.fields);
    } catch {
      return undefined;
    }
    if (h.cells > MAX_CELLS) {
      this.tooBig = Infinity; // too large to keep: SQL serves this datasource from now on
      return undefined;
    }
    this.hot = h;
    return h;
  }
}
