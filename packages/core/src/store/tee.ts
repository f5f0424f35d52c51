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
import { onProcessExit, storeMembers } from "../write/exit.js";
import type { QueryNode } from "../query/query.js";
import type { AppendOptions, ScanOptions, Store } from "./contract.js";

const MAX_BACKLOG = 1000;

interface Pending {
  table: string;
  batch: RecordBatch;
  options?: AppendOptions;
}

class Mirror {
  readonly backlog: Pending[] = [];
  fault: QuiverError | undefined;
  constructor(readonly store: Store) {}

  /** Writes the backlog, then `next`; whatever fails stays in the backlog. Never rejects. */
  async take(next?: Pending): Promise<void> {
    if (next) this.backlog.push(next);
    while (this.backlog.length) {
      const p = this.backlog[0]!;
      try {
        await this.store.append(p.table, p.batch, p.options);
      } catch (err) {
        this.fault = asStoreError(err, `writing to the mirror ${this.store.uri}`, "its batches are kept and written on the next append or flush()");
        return;
      }
      this.backlog.shift();
    }
    this.fault = undefined;
  }
}

export function teeStore(...stores: Store[]): Store {
  if (stores.length === 0) throw new QuiverError("INVALID_VALUE", "teeStore needs at least one store");
  const [first] = stores as [Store, ...Store[]];
  const mirrors = stores.slice(1).map((s) => new Mirror(s));
  const all = async <T>(f: (s: Store) => Promise<T>): Promise<T> => (await Promise.all(stores.map(f)))[0]!;
  const behind = () => mirrors.reduce((n, m) => n + m.backlog.length, 0);
  let unhook: (() => void) | undefined;
  // Batches a mirror has not taken are written at process exit like any buffered rows.
  const watch = () => {
    if (behind() > 0 && !unhook) {
      unhook = onProcessExit({
        get pending() {
          return behind();
        },
        flush: () => tee.flush(),
        takeSync: () => mirrors.flatMap((m) => m.backlog.splice(0).map((p) => ({ store: m.store, table: p.table, batch: p.batch, layout: p.options?.layout }))),
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
      const late = mirrors.find((m) => m.backlog.length >= MAX_BACKLOG);
      if (late)
        throw new QuiverError(
          "IO",
          `the mirror ${late.store.uri} is ${late.backlog.length} batches behind (${late.fault?.message ?? "failing"}); nothing more is taken until it catches up`,
          { cause: late.fault },
        );
      // The primary validates and commits first, so a bad batch lands nowhere.
      await first.append(table, batch, options);
      await Promise.all(mirrors.map((m) => m.take({ table, batch, options })));
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
      const late = mirrors.find((m) => m.backlog.length > 0);
      await all((s) => s.flush());
      if (late) throw new QuiverError("IO", `the mirror ${late.store.uri} is ${late.backlog.length} batches behind: ${late.fault?.message ?? "failing"}`, { cause: late.fault });
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
