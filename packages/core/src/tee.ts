/** teeStore: write to every store, read from the first (e.g. DuckDB for queries + msgpack for a portable copy). */
import type { RecordBatch } from "apache-arrow";
import type { Row } from "./arrow.js";
import { QuiverError } from "./errors.js";
import type { QueryNode } from "./query.js";
import type { AppendOptions, ScanOptions, Store } from "./store.js";

export function teeStore(...stores: Store[]): Store {
  if (stores.length === 0) throw new QuiverError("INVALID_VALUE", "teeStore needs at least one store");
  const [first] = stores as [Store, ...Store[]];
  const all = async <T>(f: (s: Store) => Promise<T>): Promise<T> => (await Promise.all(stores.map(f)))[0]!;
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
    // Validate against the first store before writing anywhere, so a bad batch lands nowhere.
    append: async (table: string, batch: RecordBatch, options?: AppendOptions) => {
      await first.append(table, batch, options);
      await Promise.all(stores.slice(1).map((s) => s.append(table, batch, options)));
    },
    scan: (table: string, options?: ScanOptions) => first.scan(table, options),
    count: (table: string, where?: QueryNode) => first.count(table, where),
    schema: (table: string) => first.schema(table),
    tables: () => first.tables(),
    update: (table: string, where: QueryNode | undefined, values: Row) => all((s) => s.update(table, where, values)),
    delete: (table: string, where: QueryNode | undefined) => all((s) => s.delete(table, where)),
    drop: (table: string) => all((s) => s.drop(table)),
    flush: () => all((s) => s.flush()),
    close: () => all((s) => s.close()),
  };
  if (first.sql) tee.sql = first.sql.bind(first);
  return tee;
}
