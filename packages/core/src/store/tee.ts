/**
 * teeStore: write to every store, read from the first (e.g. DuckDB for queries + msgpack for a
 * portable copy).
 *
 * The first store is the primary: an append resolves once the primary committed it (and refuses
 * a bad batch before any store sees it). A mirror that fails keeps a backlog of the batches it
 * has not taken, in order; they are written to it before its next append and on flush(), which
 * rejects while any mirror is behind. So a retry never writes a batch twice to a store that took
 * it. A mirror more than `MAX_BACKLOG` batches behind makes append refuse (before the primary
 * writes), which turns into the front-ends' own bounded buffering.
 */
import type { RecordBatch } from "apache-arrow";
import type { Row } from "../arrow/batches.js";
import { asStoreError, QuiverError } from "../errors.js";
import { type ExitBatch, onProcessExit, storeMembers } from "../write/exit.js";
import type { QueryNode } from "../query/query.js";
import type { AppendOptions, AppendReceipt, ScanOptions, Store } from "./contract.js";

const MAX_BACKLOG = 1000;

interface Pending {
  table: string;
  batch: RecordBatch;
  options?: AppendOptions;
  /** The primary's receipt while the primary's append runs: the mirrors wait for it. */
  primary?: AppendReceipt;
}

class Mirror {
  /** Batches not yet taken, in order (those still waiting for the primary among them). */
  readonly backlog: Pending[] = [];
  fault: QuiverError | undefined;
  /** The write running now, with its own receipt (the caller's is the primary's). */
  private flying: { p: Pending; receipt: AppendReceipt } | undefined;
  /** The drain running now: one at a time, or two would write the same batch. */
  private running: Promise<void> | undefined;
  constructor(readonly store: Store) {}

  /** Batches the primary has committed and this mirror has not taken. */
  get behind(): number {
    return this.backlog.reduce((n, p) => n + (p.primary ? 0 : 1), 0);
  }

  /** Writes the backlog's ready batches in order; whatever fails stays. Never rejects. */
  async take(): Promise<void> {
    while (this.running) await this.running;
    if (this.behind === 0) return;
    this.running = (async () => {
      try {
        await this.drain();
      } finally {
        this.running = undefined;
      }
    })();
    await this.running;
  }

  private async drain(): Promise<void> {
    for (let p = this.backlog.find((q) => !q.primary); p; p = this.backlog.find((q) => !q.primary)) {
      const receipt: AppendReceipt = { tracked: false, committed: false };
      this.flying = { p, receipt };
      try {
        await this.store.append(p.table, p.batch, { ...p.options, receipt });
      } catch (err) {
        this.fault = asStoreError(err, `writing to the mirror ${this.store.uri}`, "its batches are kept and written on the next append or flush()");
        return;
      } finally {
        this.flying = undefined;
      }
      this.backlog.splice(this.backlog.indexOf(p), 1);
    }
    this.fault = undefined;
  }

  /**
   * At exit: the batches this mirror still owes, for the exit writer. Appends in flight are
   * settled first, as the write buffers do (closeSync, then the receipt): one this mirror
   * committed is left out, one a server store cannot settle goes with its token; a batch whose
   * primary append was cut goes only if the primary committed it (if not, its writer hands it
   * over again, to every store of the tee).
   */
  takeSync(settlePrimary: () => void): ExitBatch[] {
    const items = this.backlog.splice(0);
    const f = this.flying;
    this.flying = undefined;
    const out: ExitBatch[] = [];
    let token: string | undefined;
    if (f && this.store.capabilities.appendReceipts === true) {
      try {
        this.store.closeSync?.();
      } catch {
        /* closeSync must not throw */
      }
      if (f.receipt.committed && items.includes(f.p)) items.splice(items.indexOf(f.p), 1);
      else if (f.receipt.tracked) token = f.receipt.token;
    }
    if (items.some((p) => p.primary)) settlePrimary();
    for (const p of items) {
      if (p.primary && !(p.primary.committed || !p.primary.tracked)) continue;
      out.push({ store: this.store, table: p.table, batch: p.batch, layout: p.options?.layout, token: p === f?.p ? token : undefined });
    }
    return out;
  }
}

export function teeStore(...stores: Store[]): Store {
  if (stores.length === 0) throw new QuiverError("INVALID_VALUE", "teeStore needs at least one store");
  const [first] = stores as [Store, ...Store[]];
  const mirrors = stores.slice(1).map((s) => new Mirror(s));
  const all = async <T>(f: (s: Store) => Promise<T>): Promise<T> => (await Promise.all(stores.map(f)))[0]!;
  const behind = () => mirrors.reduce((n, m) => n + m.backlog.length, 0);
  const settlePrimary = () => {
    try {
      first.closeSync?.();
    } catch {
      /* closeSync must not throw */
    }
  };
  let unhook: (() => void) | undefined;
  // Batches a mirror has not taken are written at process exit like any buffered rows.
  const watch = () => {
    if (behind() > 0 && !unhook) {
      unhook = onProcessExit({
        get pending() {
          return behind();
        },
        flush: () => tee.flush(),
        takeSync: () => mirrors.flatMap((m) => m.takeSync(settlePrimary)),
      });
    } else if (behind() === 0 && unhook) {
      unhook();
      unhook = undefined;
    }
  };
  const tee: Store = {
    scheme: "tee",
    uri: `tee:${stores.map((s) => s.uri).join("|")}`,
    capabilities: {
      ...first.capabilities,
      update: stores.every((s) => s.capabilities.update),
      delete: stores.every((s) => s.capabilities.delete),
      concurrentWriters: stores.every((s) => s.capabilities.concurrentWriters),
      persistent: stores.some((s) => s.capabilities.persistent),
      kinds: first.capabilities.kinds.filter((k) => stores.every((s) => s.capabilities.kinds.includes(k))),
    },
    append: async (table: string, batch: RecordBatch, options?: AppendOptions) => {
      const late = mirrors.find((m) => m.behind >= MAX_BACKLOG);
      if (late)
        throw new QuiverError(
          "IO",
          `the mirror ${late.store.uri} is ${late.behind} batches behind (${late.fault?.message ?? "failing"}); nothing more is taken until it catches up`,
          { cause: late.fault },
        );
      // The primary validates and commits first, so a bad batch lands nowhere. The mirrors hold
      // the batch meanwhile, waiting: a process that ends now hands it over (see takeSync).
      const receipt = options?.receipt ?? { tracked: false, committed: false };
      const held = mirrors.map((m) => {
        const p: Pending = { table, batch, options: options && { ...options, receipt: undefined }, primary: receipt };
        m.backlog.push(p);
        return p;
      });
      watch();
      try {
        await first.append(table, batch, { ...options, receipt });
      } catch (err) {
        mirrors.forEach((m, i) => m.backlog.includes(held[i]!) && m.backlog.splice(m.backlog.indexOf(held[i]!), 1));
        watch();
        throw err;
      }
      for (const p of held) p.primary = undefined;
      await Promise.all(mirrors.map((m) => m.take()));
      watch();
    },
    scan: (table: string, options?: ScanOptions) => first.scan(table, options),
    count: (table: string, where?: QueryNode) => first.count(table, where),
    schema: (table: string) => first.schema(table),
    tables: () => first.tables(),
    update: (table: string, where: QueryNode | undefined, values: Row) => all((s) => s.update(table, where, values)),
    delete: (table: string, where: QueryNode | undefined) => all((s) => s.delete(table, where)),
    drop: (table: string) => all((s) => s.drop(table)),
    flush: async () => {
      await Promise.all(mirrors.map((m) => m.take()));
      watch();
      const late = mirrors.find((m) => m.behind > 0);
      await all((s) => s.flush());
      if (late) throw new QuiverError("IO", `the mirror ${late.store.uri} is ${late.behind} batches behind: ${late.fault?.message ?? "failing"}`, { cause: late.fault });
    },
    close: async () => {
      await tee.flush();
      await all((s) => s.close());
    },
    closeSync: () => {
      for (const s of stores) s.closeSync?.();
    },
  };
  if (first.sql) tee.sql = first.sql.bind(first);
  // Reads go to the primary, through its time index and run summaries when it has them.
  if (first.readByTime) tee.readByTime = first.readByTime.bind(first);
  if (first.runs) tee.runs = first.runs.bind(first);
  storeMembers.set(tee, stores);
  return tee;
}
