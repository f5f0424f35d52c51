/**
 * The `memory:` store: Arrow batches in process memory. `memory:` is a fresh store each time;
 * `memory:NAME` is shared by every open of that name in the process (handy for tests and apps).
 */
import type { RecordBatch, Schema } from "apache-arrow";
import { batchToRows, mergeSchemas, normalizeRow, type Row, rowsToBatch } from "./arrow.js";
import { QuiverError } from "./errors.js";
import { checkQueryFields, evaluate } from "./evaluate.js";
import { validateColumnName, validateName } from "./names.js";
import type { QueryNode } from "./query.js";
import { scanBatches } from "./scan.js";
import { ALL_KINDS, type ScanOptions, type Store, type StoreCapabilities, type StoreOpenOptions, type StorePlugin } from "./store.js";

interface MemTable {
  schema: Schema;
  batches: RecordBatch[];
}

const shared = new Map<string, Map<string, MemTable>>();

export class MemoryStore implements Store {
  readonly scheme = "memory";
  readonly capabilities: StoreCapabilities = {
    sql: false,
    update: true,
    delete: true,
    pushdown: false,
    timeIndex: false,
    concurrentWriters: false,
    persistent: false,
    kinds: ALL_KINDS,
  };
  private closed = false;
  private readonly tablesMap: Map<string, MemTable>;

  constructor(
    readonly name = "",
    private readonly readOnly = false,
  ) {
    if (name) {
      let t = shared.get(name);
      if (!t) shared.set(name, (t = new Map()));
      this.tablesMap = t;
    } else this.tablesMap = new Map();
  }

  get uri(): string {
    return `memory:${this.name}`;
  }

  private open(): void {
    if (this.closed) throw new QuiverError("CLOSED", `${this.uri} is closed; open it again with openStore("${this.uri}")`);
  }

  private writable(): void {
    this.open();
    if (this.readOnly) throw new QuiverError("UNSUPPORTED", `${this.uri} was opened read-only; open it without readOnly to write`);
  }

  async append(table: string, batch: RecordBatch): Promise<void> {
    this.writable();
    validateName(table, "table name");
    for (const f of batch.schema.fields) validateColumnName(f.name);
    const t = this.tablesMap.get(table);
    const schema = mergeSchemas(t?.schema, batch.schema); // throws before anything changes
    if (batch.numRows === 0 && t) return void (t.schema = schema);
    if (t) {
      t.schema = schema;
      t.batches.push(batch);
    } else this.tablesMap.set(table, { schema, batches: [batch] });
  }

  async *scan(table: string, options: ScanOptions = {}): AsyncGenerator<RecordBatch> {
    this.open();
    validateName(table, "table name");
    const t = this.tablesMap.get(table);
    if (!t) {
      if (options.where) checkQueryFields(options.where, undefined, table);
      return;
    }
    yield* scanBatches(t.batches.slice(), t.schema, options, table);
  }

  async count(table: string, where?: QueryNode): Promise<number> {
    this.open();
    validateName(table, "table name");
    const t = this.tablesMap.get(table);
    if (where) checkQueryFields(where, t?.schema, table);
    if (!t) return 0;
    let n = 0;
    for (const b of t.batches) {
      if (!where) n += b.numRows;
      else for (const m of evaluate(where, b)) n += m;
    }
    return n;
  }

  async schema(table: string): Promise<Schema | undefined> {
    this.open();
    validateName(table, "table name");
    return this.tablesMap.get(table)?.schema;
  }

  async tables(): Promise<string[]> {
    this.open();
    return [...this.tablesMap.keys()].sort();
  }

  async update(table: string, where: QueryNode | undefined, values: Row): Promise<number> {
    this.writable();
    validateName(table, "table name");
    const t = this.tablesMap.get(table);
    if (where) checkQueryFields(where, t?.schema, table);
    if (!t) return 0;
    const set = normalizeRow(values);
    let changed = 0;
    let schema = t.schema;
    const next: RecordBatch[] = [];
    for (const b of t.batches) {
      const mask = where ? evaluate(where, b) : undefined;
      const rows = batchToRows(b);
      let hit = 0;
      rows.forEach((r, i) => {
        if (mask && !mask[i]) return;
        Object.assign(r, set);
        hit++;
      });
      if (!hit) {
        next.push(b);
        continue;
      }
      changed += hit;
      const nb = rowsToBatch(rows, { schema });
      schema = mergeSchemas(schema, nb.schema);
      next.push(nb);
    }
    t.schema = schema;
    t.batches = next;
    return changed;
  }

  async delete(table: string, where: QueryNode | undefined): Promise<number> {
    this.writable();
    validateName(table, "table name");
    const t = this.tablesMap.get(table);
    if (where) checkQueryFields(where, t?.schema, table);
    if (!t) return 0;
    let removed = 0;
    const next: RecordBatch[] = [];
    for (const b of t.batches) {
      if (!where) {
        removed += b.numRows;
        continue;
      }
      const mask = evaluate(where, b);
      const keep: number[] = [];
      mask.forEach((m, i) => (m ? removed++ : keep.push(i)));
      if (keep.length === b.numRows) next.push(b);
      else if (keep.length) {
        const rows = batchToRows(b);
        next.push(rowsToBatch(keep.map((i) => rows[i]!), { schema: t.schema }));
      }
    }
    t.batches = next;
    return removed;
  }

  async drop(table: string): Promise<boolean> {
    this.writable();
    validateName(table, "table name");
    return this.tablesMap.delete(table);
  }

  async flush(): Promise<void> {
    this.open();
  }

  async close(): Promise<void> {
    this.closed = true;
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
