/**
 * The `msgpack:` store: one folder per table under the root, dreamlake's layout (see state.ts
 * for the files). This module holds the Store methods; loading and recovery, block reading,
 * time-ordered scans, leases and rewrites live in their own modules.
 *
 * All file I/O is synchronous: a write's critical section (lock → data → schema → index) never
 * yields to the event loop, and small reads are cheaper without the promise machinery.
 */
import { fdatasyncSync, readdirSync, rmdirSync, unlinkSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import { type RecordBatch, Schema } from "apache-arrow";
import {
  ALL_KINDS,
  type AppendOptions,
  batchToRows,
  checkQueryFields,
  checkScanOptions,
  evaluate,
  mergeSchemas,
  normalizeRow,
  type QueryNode,
  QuiverError,
  type Row,
  rowsToBatch,
  type ScanOptions,
  scanBatches,
  type Store,
  type StoreCapabilities,
  takeRows,
  validateColumnName,
  validateName,
} from "@quiver/core";
import { wantedPath } from "@quiver/core/store-kit";
import { batches, openData, rangeFor, segment } from "./blocks.js";
import { columnValues, rawColumns, type Segment, withIndexField } from "./decode.js";
import { ByteWriter, checkRawValues, type EncodedBlock, encodeColumns, encodeRows } from "./encode.js";
import { DataFile } from "./files.js";
import type { Entry } from "./index-file.js";
import { Leases } from "./lease.js";
import { refresh } from "./load.js";
import { inIntervals, overlaps, within } from "./range.js";
import { recover } from "./recover.js";
import { closeFds, rewrite, type Change } from "./rewrite.js";
import { checkSchemaTypes, schemaToJson } from "./schema-file.js";
import { appendIndex, replaceFile, writeIndexFile, writeSchema } from "./sidecars.js";
import { type Ctx, DATA_FILE, ioError, type MsgpackStoreOptions, newState, SCHEMA_FILE, statBig, type TableState, tsNumber } from "./state.js";
import { timeScan } from "./time-scan.js";

export { DATA_FILE, INDEX_FILE, LOCK_FILE, type MsgpackStoreOptions, SCHEMA_FILE } from "./state.js";

export class MsgpackStore implements Store {
  readonly scheme = "msgpack";
  readonly capabilities: StoreCapabilities;
  private closed = false;
  private readonly tableStates = new Map<string, TableState>();
  private readonly writer = new ByteWriter(1 << 20);
  private readonly ctx: Ctx;
  private readonly leases: Leases;
  private readonly readOnly: boolean;

  constructor(
    readonly root: string,
    private readonly options: MsgpackStoreOptions = {},
  ) {
    this.readOnly = options.readOnly === true;
    // What the store can do; a read-only instance still refuses writes with UNSUPPORTED (front-ends
    // such as Reader reopen the location for writing when asked to update or delete).
    this.capabilities = {
      sql: false,
      update: true,
      delete: true,
      pushdown: false,
      timeIndex: true,
      concurrentWriters: true,
      persistent: true,
      kinds: ALL_KINDS,
    };
    const onWarning = options.onWarning;
    this.ctx = {
      root,
      blockRows: Math.max(1, Math.floor(options.blockRows ?? 1024)),
      durable: options.fsync ?? true,
      readOnly: this.readOnly,
      cache: new Map<string, Segment>(),
      warn: (message) => (onWarning ? onWarning(message) : process.emitWarning(message, { code: "QUIVER_MSGPACK_RECOVERY" })),
    };
    this.leases = new Leases(options.lockTimeout ?? 10_000, () => this.closed);
  }

  get uri(): string {
    return `msgpack:${this.root}`;
  }

  // -------------------------------------------------------------------------------------------
  // names and state

  private ensureOpen(): void {
    if (this.closed) throw new QuiverError("CLOSED", `${this.uri} is closed; open it again with openStore("${this.uri}")`);
  }

  private ensureWritable(what: string): void {
    this.ensureOpen();
    if (this.readOnly) throw new QuiverError("UNSUPPORTED", `${this.uri} was opened read-only and cannot ${what}; open it without readOnly to write`);
  }

  private checkName(table: string): string {
    validateName(table, "table name");
    for (const seg of table.split("/")) {
      if (seg === DATA_FILE || seg.startsWith(".quiver")) {
        throw new QuiverError("INVALID_NAME", `table name ${JSON.stringify(table)} uses the reserved file name ${JSON.stringify(seg)}; pick another name segment`);
      }
      // Each segment is a folder name: file systems allow 255 bytes.
      if (Buffer.byteLength(seg) > 255) throw new QuiverError("INVALID_NAME", `table name ${JSON.stringify(table.slice(0, 40) + "…")} has a segment of ${Buffer.byteLength(seg)} bytes; a folder name holds at most 255 (split it with "/" or shorten it)`);
    }
    // The longest file the table uses (a temp index) must fit in a path (4096 bytes).
    if (Buffer.byteLength(join(this.root, table)) + 40 > 4095) throw new QuiverError("INVALID_NAME", `table name ${JSON.stringify(table.slice(0, 40) + "…")} makes paths longer than the file system allows; shorten it`);
    return table;
  }

  private state(name: string): TableState {
    let st = this.tableStates.get(name);
    if (!st) {
      st = newState(this.root, name);
      this.tableStates.set(name, st);
    }
    return st;
  }

  // -------------------------------------------------------------------------------------------
  // Store

  async append(table: string, batch: RecordBatch, options: AppendOptions = {}): Promise<void> {
    this.ensureWritable("append");
    const name = this.checkName(table);
    for (const f of batch.schema.fields) validateColumnName(f.name);
    checkSchemaTypes(batch.schema);
    const st = this.state(name);
    const fresh = await this.leases.hold(st);
    let start = -1; // data length before our bytes, once we may have written some
    let oldSchema: Schema | undefined;
    let schemaWritten = false;
    try {
      if (st.cutTo !== undefined) this.cutBack(st, st.cutTo);
      if (fresh) refresh(this.ctx, st, true);
      const schema = mergeSchemas(st.schema, batch.schema); // SCHEMA_MISMATCH before any byte is written
      checkRawValues(batch, rawColumns(schema));
      const file = this.openForAppend(st);
      this.leases.writeIntent(st, st.dataIno!, st.end);
      start = st.end;
      const w = this.writer;
      w.pos = 0;
      w.base = 0;
      // Big batches go out in ~1 MiB writes; readers see none of it before the index entries.
      w.spill = (bytes) => file.append(bytes);
      let blocks: EncodedBlock[] = [];
      const raw = rawColumns(schema);
      try {
        if (batch.numRows > 0) blocks = options.layout === "columns" ? [encodeColumns(batch, w, raw)] : encodeRows(batch, w, this.ctx.blockRows, raw);
        if (w.pos > 0) file.append(w.buf, 0, w.pos);
      } catch (err) {
        throw ioError(`cannot append ${batch.numRows} rows to`, st.dataPath, err);
      } finally {
        w.spill = undefined;
      }
      const written = w.at;
      // The schema goes after the data and before the index: readers only see bytes the index
      // names, and by then the schema describes them; a failed append leaves the old schema.
      if (schema !== st.schema || !st.hasSchemaFile) {
        oldSchema = st.hasSchemaFile ? st.schema : undefined;
        writeSchema(st, schema);
        schemaWritten = true;
      }
      const entries: Entry[] = [];
      let rows = st.rows;
      for (const b of blocks) {
        entries.push({ minTs: b.minTs, maxTs: b.maxTs, offset: st.end + b.start, length: b.end - b.start, firstRow: rows, rows: b.rows, tsCount: b.tsCount, kind: b.kind });
        rows += b.rows;
      }
      if (entries.length) appendIndex(st, entries);
      st.entries.push(...entries);
      st.end += written;
      st.dataSize = st.end;
      st.rows = rows;
      st.dirty = true;
      if (w.buf.length > 16 << 20) this.writer.buf = Buffer.allocUnsafe(1 << 20);
    } catch (err) {
      // Nothing of the batch may stay behind: cut the data back and restore the schema, then
      // release the lock (the next write reloads the table's state).
      let cut = true;
      if (start >= 0) cut = this.tryCut(st, start);
      if (schemaWritten) {
        try {
          if (oldSchema) replaceFile(st.schemaPath, schemaToJson(oldSchema), "schema sidecar");
          else unlinkSync(st.schemaPath);
          st.schemaId = undefined;
        } catch {
          /* a schema with extra (all-null) columns describes the old data as well */
        }
      }
      if (cut) this.leases.release(st);
      throw err;
    }
  }

  /** Cuts data.msgpack back to `length` after a failed append; false (lock kept) when it cannot. */
  private tryCut(st: TableState, length: number): boolean {
    try {
      this.cutBack(st, length);
      return true;
    } catch {
      st.cutTo = length;
      this.leases.pin(st, true);
      return false;
    }
  }

  private cutBack(st: TableState, length: number): void {
    const file = st.appender ?? DataFile.open(st.dataPath, "r+")!;
    try {
      if (file.size() > length) file.truncate(length);
    } catch (err) {
      throw ioError("cannot cut a failed append off", st.dataPath, err);
    } finally {
      if (file !== st.appender) file.close();
    }
    st.cutTo = undefined;
    this.leases.pin(st, false);
  }

  /** Makes sure data.msgpack is open for appending and the index names it. */
  private openForAppend(st: TableState): DataFile {
    if (st.appender) {
      if (st.appender.ino === st.dataIno) return st.appender; // we hold the lock: nobody replaced the file
      closeFds(st);
    }
    const file = DataFile.open(st.dataPath, "a+")!;
    st.appender = file;
    if (st.dataIno !== file.ino || !statBig(st.indexPath)) {
      // A new data file: start its index.
      st.dataIno = file.ino;
      st.entries = [];
      st.end = 0;
      st.rows = 0;
      st.usable = true;
      st.memFrom = undefined;
      st.dataSize = file.size();
      if (st.dataSize > 0) recover(this.ctx, st, file, file);
      else writeIndexFile(st);
    }
    return file;
  }

  async *scan(table: string, options: ScanOptions = {}): AsyncGenerator<RecordBatch> {
    this.ensureOpen();
    const name = this.checkName(table);
    const st = this.state(name);
    if (!refresh(this.ctx, st)) {
      if (options.where) checkQueryFields(options.where, undefined, table);
      return;
    }
    const schema = st.schema ?? new Schema([]);
    checkScanOptions(schema, options, table);
    if (options.limit === 0 || !st.entries.length) return;
    const data = openData(this.ctx, st);
    if (!data) return;
    const entries = st.entries.slice(); // after openData: it may have reloaded the state
    try {
      const timed = timeScan(this.ctx, st, data, entries, schema, options);
      if (timed !== undefined) {
        if (timed) yield timed;
        return;
      }
      let cands = entries;
      const range = rangeFor(schema, options.where);
      if (range) cands = cands.filter((e) => overlaps(e.minTs, e.maxTs, range.intervals));
      let offset = options.offset ?? 0;
      const simple = !options.where && !options.orderBy?.length;
      if (simple) {
        // Seek by row counts: reading rows [offset, offset + limit) costs the window only.
        let k = 0;
        while (k < cands.length && offset >= cands[k]!.rows) offset -= cands[k++]!.rows;
        cands = cands.slice(k);
        if (options.limit !== undefined) {
          let need = offset + options.limit;
          let j = 0;
          while (j < cands.length && need > 0) need -= cands[j++]!.rows;
          cands = cands.slice(0, j);
        }
      }
      const ri = options.rowIndex;
      if (simple && !options.columns && !ri && offset === 0 && options.limit === undefined) {
        yield* batches(st, data, cands, schema);
        return;
      }
      const s2 = ri ? withIndexField(schema, ri) : schema;
      const cols = options.columns && ri && !options.columns.includes(ri) ? [...options.columns, ri] : options.columns;
      yield* scanBatches(batches(st, data, cands, schema, ri), s2, { where: options.where, columns: cols, orderBy: options.orderBy, offset, limit: options.limit }, table);
    } finally {
      data.close();
    }
  }

  async count(table: string, where?: QueryNode): Promise<number> {
    this.ensureOpen();
    const name = this.checkName(table);
    const st = this.state(name);
    const exists = refresh(this.ctx, st);
    if (where) checkQueryFields(where, exists ? st.schema : undefined, table);
    if (!exists) return 0;
    if (!where) return st.rows;
    const data = openData(this.ctx, st);
    if (!data) return 0;
    const schema = st.schema ?? new Schema([]);
    const entries = st.entries.slice();
    const range = rangeFor(schema, where);
    try {
      let n = 0;
      if (range?.pure) {
        const ivs = range.intervals;
        for (const e of entries) {
          if (e.tsCount === 0 || !overlaps(e.minTs, e.maxTs, ivs)) continue;
          if (within(e.minTs, e.maxTs, ivs)) {
            n += e.tsCount; // every numeric _ts of the block is inside: no need to decode it
            continue;
          }
          const tsA = columnValues(segment(this.ctx, st, data, e), "_ts");
          for (let i = 0; i < tsA.length; i++) {
            const ts = tsNumber(tsA[i]);
            if (ts !== undefined && inIntervals(ts, ivs)) n++;
          }
        }
        return n;
      }
      const cands = range ? entries.filter((e) => overlaps(e.minTs, e.maxTs, range.intervals)) : entries;
      for (const b of batches(st, data, cands, schema)) for (const m of evaluate(where, b)) n += m;
      return n;
    } finally {
      data.close();
    }
  }

  async schema(table: string): Promise<Schema | undefined> {
    this.ensureOpen();
    const st = this.state(this.checkName(table));
    if (!refresh(this.ctx, st)) return undefined;
    return st.schema ?? new Schema([]);
  }

  async tables(): Promise<string[]> {
    this.ensureOpen();
    const out: string[] = [];
    const walk = (dir: string, prefix: string) => {
      let ents;
      try {
        ents = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      if (prefix && ents.some((d) => d.isFile() && (d.name === DATA_FILE || d.name === SCHEMA_FILE))) out.push(prefix);
      for (const d of ents) {
        if (!d.isDirectory() || d.name.startsWith(".quiver") || d.name === DATA_FILE) continue;
        walk(join(dir, d.name), prefix ? `${prefix}/${d.name}` : d.name);
      }
    };
    walk(this.root, "");
    return out.sort();
  }


  private async rewrite(table: string, where: QueryNode | undefined, change: Change): Promise<number> {
    this.ensureWritable(where ? "update or delete rows" : "update or delete rows");
    return rewrite(this.ctx, this.leases, this.state(this.checkName(table)), where, change);
  }

  async update(table: string, where: QueryNode | undefined, values: Row): Promise<number> {
    this.ensureWritable("update rows");
    const set = normalizeRow(values);
    for (const k of Object.keys(set)) validateColumnName(k);
    return this.rewrite(table, where, (b, mask, schema) => {
      const rows = batchToRows(b);
      rows.forEach((r, i) => {
        if (!mask || mask[i]) Object.assign(r, set);
      });
      return rowsToBatch(rows, { schema });
    });
  }

  async delete(table: string, where: QueryNode | undefined): Promise<number> {
    this.ensureWritable("delete rows");
    return this.rewrite(table, where, (b, mask) => {
      if (!mask) return takeRows(b, []);
      const keep: number[] = [];
      for (let i = 0; i < mask.length; i++) if (!mask[i]) keep.push(i);
      return takeRows(b, keep);
    });
  }

  async drop(table: string): Promise<boolean> {
    this.ensureWritable("drop tables");
    const name = this.checkName(table);
    const st = this.state(name);
    if (!statBig(st.dataPath) && !statBig(st.schemaPath)) return false;
    await this.leases.hold(st);
    let existed = false;
    try {
      closeFds(st);
      for (const p of [st.dataPath, st.indexPath, st.schemaPath, wantedPath(st.lockPath)]) {
        try {
          unlinkSync(p);
          if (p === st.dataPath || p === st.schemaPath) existed = true;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw ioError("cannot remove", p, err);
        }
      }
    } finally {
      this.leases.release(st);
    }
    this.tableStates.delete(name);
    // Remove folders left empty, up to the root.
    let dir = st.dir;
    while (dir.length > this.root.length && dir.startsWith(this.root + sep)) {
      try {
        rmdirSync(dir);
      } catch {
        break;
      }
      dir = resolve(dir, "..");
    }
    return existed;
  }

  /** fdatasyncs what was appended since the last flush; a failure is IO and the next flush retries. */
  async flush(): Promise<void> {
    this.ensureOpen();
    for (const st of this.tableStates.values()) {
      if (!st.dirty) continue;
      if (this.ctx.durable) {
        if (st.appender) {
          try {
            st.appender.sync();
          } catch (err) {
            throw ioError("cannot make durable (fdatasync)", st.dataPath, err);
          }
        }
        if (st.indexFd !== undefined) {
          try {
            fdatasyncSync(st.indexFd);
          } catch (err) {
            throw ioError("cannot make durable (fdatasync)", st.indexPath, err);
          }
        }
      }
      st.dirty = false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closeSync();
    }
  }

  /** Process exit: every lock and file handle let go of at once; idempotent, never throws. */
  closeSync(): void {
    this.closed = true;
    try {
      this.leases.releaseAll();
    } catch {
      /* never throws */
    }
    for (const st of this.tableStates.values()) {
      try {
        closeFds(st);
      } catch {
        /* already closed */
      }
    }
    this.tableStates.clear();
    this.ctx.cache.clear();
  }
}

/**
 * Opens a store folder. Nothing is created until the first write; with `readOnly` the folder
 * must exist (NOT_FOUND) and nothing is ever created, locked or written.
 */
export function openMsgpackStore(location: string, options: MsgpackStoreOptions = {}): MsgpackStore {
  if (typeof location !== "string" || location.length === 0) {
    throw new QuiverError("INVALID_URI", 'msgpack: needs a folder, e.g. "msgpack:./.quiver"');
  }
  const root = resolve(location);
  const s = statBig(root);
  if (s && !s.isDirectory()) throw new QuiverError("INVALID_URI", `msgpack:${location}: ${root} exists and is not a folder`);
  if (!s && options.readOnly) throw new QuiverError("NOT_FOUND", `msgpack:${location}: ${root} does not exist; check the path (a read-only open creates nothing)`);
  return new MsgpackStore(root, options);
}
