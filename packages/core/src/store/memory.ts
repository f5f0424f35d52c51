/**
 * The `memory:` store: Arrow batches in process memory. `memory:` is a fresh store each time;
 * `memory:NAME` is shared by every open of that name in the process (handy for tests and apps).
 * A driver on the store kit: defineStore's rules (names, CLOSED, read-only, scans, counts,
 * time windows) apply to it as to any store.
 */
import type { RecordBatch, Schema } from "apache-arrow";
import { mergeSchemas } from "../arrow/batches.js";
import { QuiverError } from "../errors.js";
import type { StoreOpenOptions, StorePlugin } from "./contract.js";
import { DefinedStore } from "../store-kit/define.js";
import type { StoreDriver } from "../store-kit/driver.js";
import { rewriteBatches } from "../store-kit/rewrite.js";

interface MemTable {
  schema: Schema;
  batches: RecordBatch[];
}

const shared = new Map<string, Map<string, MemTable>>();

function memoryDriver(name: string): StoreDriver {
  let tables = name ? shared.get(name) : undefined;
  if (!tables) {
    tables = new Map();
    if (name) shared.set(name, tables);
  }
  const t = tables;
  return {
    scheme: "memory",
    uri: `memory:${name}`,
    capabilities: { persistent: false, concurrentWriters: false },
    append(table, batch) {
      const cur = t.get(table);
      const schema = mergeSchemas(cur?.schema, batch.schema); // throws before anything changes
      if (!cur) t.set(table, { schema, batches: [batch] });
      else {
        cur.schema = schema;
        if (batch.numRows > 0) cur.batches.push(batch);
      }
    },
    read: (table) => t.get(table)?.batches.slice() ?? [],
    schema: (table) => t.get(table)?.schema,
    tables: () => [...t.keys()],
    rewrite(table, where, change) {
      const cur = t.get(table);
      if (!cur) return 0;
      const r = rewriteBatches(cur.batches, cur.schema, where, change);
      cur.batches = r.batches;
      cur.schema = r.schema;
      return r.changed;
    },
    drop: (table) => t.delete(table),
    flush() {},
    close() {},
  };
}

export class MemoryStore extends DefinedStore {
  constructor(
    readonly name = "",
    readOnly = false,
  ) {
    super(memoryDriver(name), { readOnly });
  }
}

export const memoryPlugin: StorePlugin = {
  scheme: "memory",
  async open(location: string, options?: StoreOpenOptions) {
    if (options?.readOnly === true) {
      // Read-only opens nothing new: a fresh `memory:` or an unknown name has nothing to read.
      if (!location || !shared.has(location)) throw new QuiverError("NOT_FOUND", `memory:${location} does not exist in this process; nothing to read`);
      return new MemoryStore(location, true);
    }
    return new MemoryStore(location);
  },
};
