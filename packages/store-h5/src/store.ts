/**
 * The `h5:` store: tables as HDF5 groups, columns as 1-D extensible datasets (layout in README,
 * table.ts). Single writer: the file stays open (read-write) while the store is open. Every write
 * is one guarded transaction ending in H5Fflush (handle.ts): committed whole, or rolled back and
 * rejected with QuiverError("IO").
 */
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { type RecordBatch, Schema } from "apache-arrow";
import {
  ALL_KINDS,
  batchToRows,
  checkQueryFields,
  checkScanOptions,
  conformBatch,
  evaluate,
  mergeSchemas,
  normalizeRow,
  queryFields,
  QuiverError,
  type QueryNode,
  type Row,
  rowsToBatch,
  type ScanOptions,
  scanBatches,
  type Store,
  type StoreCapabilities,
  type StoreOpenOptions,
  typeToJSON,
  validateColumnName,
  validateName,
  vectorToValues,
} from "@quiver/core";
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

export class H5Store implements Store {
  readonly scheme = "h5";
  readonly uri: string;
  readonly capabilities: StoreCapabilities = {
    sql: false,
    update: true,
    delete: true,
    pushdown: false,
    timeIndex: false,
    concurrentWriters: false,
    persistent: true,
    kinds: ALL_KINDS,
  };
  private closed = false;
  /** Bumped when a rollback reopened the file: h5wasm objects from before hold a dead file id. */
  private generation = 0;

  private constructor(
    readonly path: string,
    private readonly h: H5Handle,
    private readonly unlock: () => void,
    readonly readOnly: boolean,
    private readonly durable = true,
  ) {
    this.uri = `h5:${path}`;
    h.onReopen = () => void this.generation++;
  }

  static async open(location: string, options: H5StoreOptions = {}): Promise<H5Store> {
    const path = h5Path(location);
    await h5ready();
    if (options.readOnly === true) {
      // Reading creates, locks and repairs nothing.
      if (!existsSync(path)) throw new QuiverError("NOT_FOUND", `no HDF5 file at ${path}; nothing to read (open it without readOnly to create it)`);
      return new H5Store(path, H5Handle.open(path, "r"), () => undefined, true);
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
      return new H5Store(path, H5Handle.open(path, "a"), unlock, false, options.fsync !== false);
    } catch (err) {
      unlock();
      throw err;
    }
  }

  private check(): void {
    if (this.closed) throw new QuiverError("CLOSED", `${this.uri} is closed; open it again with openStore("${this.uri}")`);
  }

  private writable(what: string): void {
    this.check();
    if (this.readOnly) throw new QuiverError("UNSUPPORTED", `${this.uri} was opened with readOnly: true, so it cannot ${what}; open it without readOnly to write`);
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
        throw new QuiverError("INVALID_NAME", `table ${JSON.stringify(name)} needs an HDF5 group at /${cur}, where a column dataset of another table is; choose another table name`);
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

  async append(table: string, batch: RecordBatch): Promise<void> {
    this.writable("append");
    validateName(table, "table name");
    for (const f of batch.schema.fields) validateColumnName(f.name);
    const existing = this.table(table);
    // Everything that can refuse the batch runs before the file is touched.
    const schema = mergeSchemas(existing?.schema, batch.schema);
    for (const f of schema.fields) typeToJSON(f.type, STORE);
    const conformed = conformBatch(batch, schema);
    const n = conformed.numRows;
    const encoded = new Map<string, Encoded>();
    if (n > 0) schema.fields.forEach((f, i) => encoded.set(f.name, encodeValues(f.type, vectorToValues(conformed.getChildAt(i)!, f))));
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
  }

  async *scan(table: string, options: ScanOptions = {}): AsyncGenerator<RecordBatch> {
    this.check();
    validateName(table, "table name");
    const t = this.table(table);
    if (!t) {
      if (options.where) checkQueryFields(options.where, undefined, table);
      return;
    }
    checkScanOptions(t.schema, options, table);
    // Read only the columns the scan needs (projection, filter and sort keys).
    let schema = t.schema;
    if (options.columns) {
      const need = new Set([...options.columns, ...(options.orderBy ?? []).map((o) => o.column)]);
      if (options.where) for (const f of queryFields(options.where)) need.add(f);
      schema = new Schema(t.schema.fields.filter((f) => need.has(f.name)), t.schema.metadata);
    }
    yield* scanBatches(this.batches(t, schema), schema, options, table);
  }

  async count(table: string, where?: QueryNode): Promise<number> {
    this.check();
    validateName(table, "table name");
    const t = this.table(table);
    if (where) checkQueryFields(where, t?.schema, table);
    if (!t) return 0;
    if (!where) return t.meta.rows;
    const need = queryFields(where);
    let n = 0;
    for (const b of this.batches(t, new Schema(t.schema.fields.filter((f) => need.has(f.name))))) for (const m of evaluate(where, b)) n += m;
    return n;
  }

  async schema(table: string): Promise<Schema | undefined> {
    this.check();
    validateName(table, "table name");
    return this.table(table)?.schema;
  }

  async tables(): Promise<string[]> {
    this.check();
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
    return out.sort();
  }

  /** Replaces a table's rows (update/delete): builds the new batch first, so a bad value changes nothing. */
  private rewrite(name: string, rows: Row[], schema: Schema, what: string): void {
    const batch = rowsToBatch(rows, { schema });
    const merged = mergeSchemas(schema, batch.schema);
    const conformed = conformBatch(batch, merged);
    const encoded = new Map<string, Encoded>();
    merged.fields.forEach((f, i) => encoded.set(f.name, encodeValues(f.type, vectorToValues(conformed.getChildAt(i)!, f))));
    this.h.write(`cannot ${what} rows of table ${name} in`, () => {
      const t = this.table(name)!;
      // Empty every dataset and write again from row 0: the datasets (and their names) are reused.
      for (const c of t.meta.columns) for (const n of [c.ds, c.offsets, c.valid]) t.truncate(n);
      t.meta.rows = 0;
      t.evolve(merged);
      for (const c of t.meta.columns) t.writeEncoded(c, encoded.get(c.name)!, 0);
      t.meta.rows = conformed.numRows;
      t.save();
    });
  }

  async update(table: string, where: QueryNode | undefined, values: Row): Promise<number> {
    this.writable("update rows");
    validateName(table, "table name");
    const t = this.table(table);
    if (where) checkQueryFields(where, t?.schema, table);
    if (!t) return 0;
    const set = normalizeRow(values);
    const rows: Row[] = [];
    let changed = 0;
    for (const b of this.batches(t)) {
      const mask = where ? evaluate(where, b) : undefined;
      batchToRows(b).forEach((r, i) => {
        if (!mask || mask[i]) {
          Object.assign(r, set);
          changed++;
        }
        rows.push(r);
      });
    }
    if (changed) this.rewrite(table, rows, t.schema, "update");
    return changed;
  }

  async delete(table: string, where: QueryNode | undefined): Promise<number> {
    this.writable("delete rows");
    validateName(table, "table name");
    const t = this.table(table);
    if (where) checkQueryFields(where, t?.schema, table);
    if (!t) return 0;
    const keep: Row[] = [];
    let removed = 0;
    for (const b of this.batches(t)) {
      const mask = where ? evaluate(where, b) : undefined;
      batchToRows(b).forEach((r, i) => {
        if (!mask || mask[i]) removed++;
        else keep.push(r);
      });
    }
    if (removed) this.rewrite(table, keep, t.schema, "delete");
    return removed;
  }

  async drop(table: string): Promise<boolean> {
    this.writable("drop tables");
    validateName(table, "table name");
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
  async flush(): Promise<void> {
    this.check();
    if (this.readOnly) return;
    this.h.write("cannot flush", () => undefined);
    if (this.durable) this.h.sync("cannot flush");
  }

  /** Flushes, then closes. When the flush fails the store stays open, so close() can be retried. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (!this.readOnly) await this.flush();
    this.release();
  }

  /** At process exit: flushes what it can, closes the file and drops the lock, synchronously; never throws. */
  closeSync(): void {
    if (this.closed) return;
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
    this.closed = true;
    this.h.close();
    this.unlock();
  }
}
