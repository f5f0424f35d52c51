/**
 * The `h5:` store: a driver on core's store kit, so names, CLOSED, read-only refusals, query
 * rules, scans, counts with a `where` and time windows are core's (defineStore); this file keeps
 * what is HDF5's. Tables are HDF5 groups, columns 1-D extensible datasets (layout in README,
 * table.ts). Single writer: the file stays open (read-write) while the store is open. Every write
 * is one guarded transaction ending in H5Fflush (handle.ts): committed whole, or rolled back and
 * rejected with QuiverError("IO").
 */
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { RecordBatch, Schema } from "apache-arrow";
import { ALL_KINDS, type AppendOptions, QuiverError, type StoreOpenOptions } from "@quiver/core";
import {
  conformBatch,
  DefinedStore,
  type DriverCapabilities,
  mergeSchemas,
  projectSchema,
  type QueryNode,
  type RewriteChange,
  rewriteBatches,
  type StoreDriver,
  typeToJSON,
  vectorToValues,
} from "@quiver/core/store-kit";
import { ioAdvice, ioReason } from "./guard.js";
import { attrString, createFile, type Group, H5, h5Path, h5ready } from "./h5.js";
import { H5Handle, writerLock } from "./handle.js";
import { type Encoded, encodeValues, STORE, TABLE_ATTR, type TableMeta, TableState } from "./table.js";

/** Options of `openStore("h5:…", options)`. */
export interface H5StoreOptions extends StoreOpenOptions {
  /** Only read: never creates, locks or writes the file; NOT_FOUND when it is missing; writes fail with UNSUPPORTED. */
  readOnly?: boolean;
  /** flush() and close() fsync the file, so what they acknowledged survives a power cut (default true). */
  fsync?: boolean;
}

/** Every column of `batches` (conformed to `schema`) encoded for its datasets, in row order. */
function encodeBatches(schema: Schema, batches: readonly RecordBatch[]): { rows: number; encoded: Map<string, Encoded> } {
  const conformed = batches.map((b) => conformBatch(b, schema));
  const rows = conformed.reduce((n, b) => n + b.numRows, 0);
  const encoded = new Map<string, Encoded>();
  if (rows === 0) return { rows, encoded };
  schema.fields.forEach((f, i) => {
    const values = conformed.length === 1 ? vectorToValues(conformed[0]!.getChildAt(i)!, f) : conformed.flatMap((b) => vectorToValues(b.getChildAt(i)!, f));
    encoded.set(f.name, encodeValues(f.type, values));
  });
  return { rows, encoded };
}

/** What the h5 store does itself: the file, its tables and the accelerators HDF5 gives cheaply. */
export class H5Driver implements StoreDriver {
  readonly scheme = "h5";
  readonly uri: string;
  readonly capabilities: DriverCapabilities = { persistent: true, concurrentWriters: false, kinds: ALL_KINDS, appendReceipts: true };
  /** Bumped when a rollback reopened the file: h5wasm objects from before hold a dead file id. */
  private generation = 0;

  constructor(
    readonly path: string,
    private readonly h: H5Handle,
    private readonly unlock: () => void,
    private readonly readOnly: boolean,
    private readonly durable: boolean,
  ) {
    this.uri = `h5:${path}`;
    h.onReopen = () => void this.generation++;
  }

  /**
   * The table as the file has it now. Not cached across calls: another store (or Reader) open on
   * the same file in this process may have appended, and h5wasm Dataset objects cache their shape.
   */
  private table(name: string): TableState | undefined {
    const g = this.h.file.get(name);
    if (!(g instanceof H5.Group)) return undefined;
    const raw = attrString(g, TABLE_ATTR);
    return raw ? new TableState(name, g, JSON.parse(raw) as TableMeta) : undefined;
  }

  private createTable(name: string): TableState {
    const file = this.h.file;
    let cur = "";
    for (const seg of name.split("/")) {
      cur = cur ? `${cur}/${seg}` : seg;
      const o = file.get(cur);
      if (!o) file.create_group(cur);
      else if (!(o instanceof H5.Group)) {
        throw new QuiverError(
          "INVALID_NAME",
          `table ${JSON.stringify(name)} needs an HDF5 group at /${cur}, where a column dataset of another table is; choose another table name`,
        );
      }
    }
    const g = file.get(name) as Group;
    const t = new TableState(name, g, { version: 1, rows: 0, columns: [] });
    t.save();
    return t;
  }

  /** Batches of `schema`'s columns, block by block; survives a rollback reopening the file meanwhile. */
  private *batches(t: TableState, schema: Schema = t.schema): Generator<RecordBatch> {
    const rows = t.meta.rows;
    let gen = this.generation;
    for (let s = 0; s < rows; s += TableState.SCAN_ROWS) {
      if (gen !== this.generation) {
        const again = this.table(t.name);
        if (!again) throw new QuiverError("NOT_FOUND", `table ${t.name} of ${this.uri} is gone since this scan began`);
        t = again;
        gen = this.generation;
      }
      yield t.block(schema, s, Math.min(rows, s + TableState.SCAN_ROWS));
    }
  }

  /** Synchronous: the receipt is settled when this returns (committed, or it threw). */
  append(table: string, batch: RecordBatch, options: AppendOptions = {}): void {
    if (options.receipt) options.receipt.tracked = true;
    const existing = this.table(table);
    // Everything that can refuse the batch runs before the file is touched.
    const schema = mergeSchemas(existing?.schema, batch.schema);
    for (const f of schema.fields) typeToJSON(f.type, STORE);
    const { rows: n, encoded } = encodeBatches(schema, [batch]);
    this.h.write(`cannot append ${n} rows to table ${table} in`, () => {
      const t = this.table(table) ?? this.createTable(table);
      t.evolve(schema);
      const before = t.meta.rows;
      if (n > 0) {
        for (const c of t.meta.columns) t.writeEncoded(c, encoded.get(c.name)!, before);
        t.meta.rows = before + n;
      }
      t.save();
    });
    if (options.receipt) options.receipt.committed = true;
  }

  /** 64k-row blocks read from the datasets of only the columns asked for. */
  *read(table: string, columns: readonly string[] | undefined): Generator<RecordBatch> {
    const t = this.table(table);
    if (t) yield* this.batches(t, columns ? projectSchema(t.schema, columns, table) : t.schema);
  }

  /** The row count is in the table's attribute; a `where` is counted by core over `read`. */
  count(table: string, where: QueryNode | undefined): number | undefined {
    return where ? undefined : (this.table(table)?.meta.rows ?? 0);
  }

  schema(table: string): Schema | undefined {
    return this.table(table)?.schema;
  }

  tables(): string[] {
    const out: string[] = [];
    const walk = (g: Group, prefix: string) => {
      for (const k of g.keys()) {
        const child = g.get(k);
        if (!(child instanceof H5.Group)) continue;
        const name = prefix + k;
        if (attrString(child, TABLE_ATTR)) out.push(name);
        walk(child, name + "/");
      }
    };
    walk(this.h.file, "");
    return out;
  }

  /**
   * Update/delete: the table's rows are rebuilt first (so a bad value changes nothing), then every
   * dataset is emptied and written again from row 0 in one transaction: as before or as after.
   */
  rewrite(table: string, where: QueryNode | undefined, change: RewriteChange): number {
    const t = this.table(table);
    if (!t) return 0;
    const r = rewriteBatches([...this.batches(t)], t.schema, where, change);
    if (r.changed === 0) return 0;
    const { rows, encoded } = encodeBatches(r.schema, r.batches);
    this.h.write(`cannot ${change.op} rows of table ${table} in`, () => {
      const t = this.table(table)!;
      for (const c of t.meta.columns) for (const n of [c.ds, c.offsets, c.valid]) t.truncate(n);
      t.meta.rows = 0;
      t.evolve(r.schema); // the datasets (and their names) are reused
      if (rows > 0) for (const c of t.meta.columns) t.writeEncoded(c, encoded.get(c.name)!, 0);
      t.meta.rows = rows;
      t.save();
    });
    return r.changed;
  }

  drop(table: string): boolean {
    if (!this.table(table)) return false;
    this.h.write(`cannot drop table ${table} in`, () => {
      // h5wasm cannot unlink objects: empty the datasets and forget the table.
      const t = this.table(table)!;
      for (const c of t.meta.columns) for (const n of [c.ds, c.offsets, c.valid]) t.truncate(n);
      t.group.delete_attribute(TABLE_ATTR);
    });
    return true;
  }

  /** Everything appended is already in the file (each append ends in H5Fflush); this makes it durable (fsync). */
  flush(): void {
    this.h.write("cannot flush", () => undefined);
    if (this.durable) this.h.sync("cannot flush");
  }

  /** Flushes, then closes. When the flush fails the file and lock stay held, so close() can be retried. */
  close(): void {
    if (!this.readOnly) this.flush();
    this.release();
  }

  /** At process exit: flushes what it can, closes the file and drops the lock, synchronously; never throws. */
  closeSync(): void {
    if (!this.readOnly) {
      try {
        this.h.write("cannot flush at exit", () => undefined);
      } catch {
        /* every append was committed when it resolved; nothing else is pending */
      }
    }
    this.release();
  }

  private release(): void {
    this.h.close();
    this.unlock();
  }
}

/** The `h5:` store (what `openStore("h5:…")` returns): core's rule book over an H5Driver. */
export class H5Store extends DefinedStore {
  /** The HDF5 file. */
  readonly path: string;
  declare readonly readOnly: boolean;

  private constructor(driver: H5Driver, readOnly: boolean) {
    super(driver, { readOnly });
    this.path = driver.path;
  }

  static async open(location: string, options: H5StoreOptions = {}): Promise<H5Store> {
    const path = h5Path(location);
    await h5ready();
    if (options.readOnly === true) {
      // Reading creates, locks and repairs nothing.
      if (!existsSync(path)) throw new QuiverError("NOT_FOUND", `no HDF5 file at ${path}; nothing to read (open it without readOnly to create it)`);
      return new H5Store(new H5Driver(path, H5Handle.open(path, "r"), () => undefined, true, false), true);
    }
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (e) {
      throw new QuiverError("IO", `cannot create the folder of ${path}: ${ioReason(e)}; ${ioAdvice(e)}`, { cause: e });
    }
    const unlock = writerLock(path);
    try {
      // A new file is valid from the start (created under a temporary name, then renamed).
      if (!existsSync(path)) createFile(path);
      return new H5Store(new H5Driver(path, H5Handle.open(path, "a"), unlock, false, options.fsync !== false), false);
    } catch (err) {
      unlock();
      throw err;
    }
  }
}
