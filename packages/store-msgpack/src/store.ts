/**
 * The `msgpack:` store: one folder per table under the root, dreamlake's layout.
 *
 *   <root>/<table path>/data.msgpack         one msgpack object per record (rows or columnar maps)
 *   <root>/<table path>/.quiver-schema.json  Arrow column types (so bigints, Dates, float32 lists… survive)
 *   <root>/<table path>/.quiver-index        time index: one 64-byte entry per block of records
 *   <root>/<table path>/.quiver-lock         write lock (exists only while a write is in progress)
 *
 * All file I/O is synchronous: a write's critical section (lock → data → index → unlock) never
 * yields to the event loop, and small reads are cheaper without the promise machinery.
 */
import {
  closeSync,
  type BigIntStats,
  fdatasyncSync,
  ftruncateSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmdirSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join, resolve, sep } from "node:path";
import { type DataType, type Float64, Int64, makeData, type RecordBatch, Schema, Type } from "apache-arrow";
import {
  ALL_KINDS,
  batchToRows,
  buildData,
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
  type AppendOptions,
} from "@quiver/core";
import { batchOf, decodeSegment, inferSchema, isColumnar, isPlainMap, type Segment, segmentFromRecords, segmentsToBatch, columnValues, unpackr, withIndexField, isFloat64 } from "./decode.js";
import { ByteWriter, type EncodedBlock, encodeColumns, encodeRows } from "./encode.js";
import { decodeEntries, decodeHeader, encodeEntries, encodeHeader, ENTRY, type Entry, HEADER, newGeneration } from "./index-file.js";
import { lock, tryLock, unlock, wanted, wantedPath } from "./lock.js";
import { inIntervals, overlaps, type TsRange, tsRange, within } from "./range.js";
import { checkSchemaTypes, schemaFromJson, schemaToJson } from "./schema-file.js";

export const DATA_FILE = "data.msgpack";
export const SCHEMA_FILE = ".quiver-schema.json";
export const INDEX_FILE = ".quiver-index";
export const LOCK_FILE = ".quiver-lock";

export interface MsgpackStoreOptions {
  /** How long an append waits for another process's write lock before LOCKED (ms, default 10000). */
  lockTimeout?: number;
  /** Rows per index block for layout "rows" (default 1024): smaller blocks, finer time seeks. */
  blockRows?: number;
  /** Receives recovery warnings (torn records cut, index rebuilt). Default: process.emitWarning. */
  onWarning?: (message: string) => void;
  /** flush() fsyncs written files (default true). */
  fsync?: boolean;
}

interface TableState {
  name: string;
  dir: string;
  dataPath: string;
  schemaPath: string;
  indexPath: string;
  lockPath: string;
  schema: Schema | undefined;
  schemaId: string | undefined;
  hasSchemaFile: boolean;
  entries: Entry[];
  /** Byte end of the last indexed block. */
  end: number;
  rows: number;
  dataIno: bigint | undefined;
  dataSize: number;
  indexId: string | undefined;
  indexIno: bigint | undefined;
  indexBytes: number;
  generation: string;
  /** Entries match data.msgpack (from the index file or rebuilt in memory). */
  usable: boolean;
  writeFd: number | undefined;
  writeIno: bigint | undefined;
  indexFd: number | undefined;
  /** indexBytes when the index file's size was last verified under our lock. */
  indexChecked: number;
  dirty: boolean;
}

type LoadStatus = "missing" | "ok" | "tail" | "bad";

const SLAB_ROWS = 65536;
const LEASE_IDLE_MS = 5;
const LEASE_MAX_MS = 200;
const CACHE_SEGMENTS = 96;

function statBig(path: string): BigIntStats | undefined {
  return statSync(path, { bigint: true, throwIfNoEntry: false });
}

function idOf(s: BigIntStats): string {
  return `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

function writeAll(fd: number, buf: Uint8Array, from = 0, to = buf.length): void {
  let off = from;
  while (off < to) off += writeSync(fd, buf, off, to - off);
}

function readAt(fd: number, offset: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, offset + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function isNumericTs(schema: Schema | undefined): boolean {
  const f = schema?.fields.find((x) => x.name === "_ts");
  if (!f) return false;
  const t = f.type as DataType;
  return (t.typeId === Type.Float || t.typeId === Type.Int) && f.metadata.get("quiver:bigint") !== "1";
}

function tsNumber(v: unknown): number | undefined {
  if (typeof v === "number") return v === v ? v : undefined;
  if (typeof v === "bigint") return Number(v);
  return undefined;
}

export class MsgpackStore implements Store {
  readonly scheme = "msgpack";
  readonly capabilities: StoreCapabilities = {
    sql: false,
    update: true,
    delete: true,
    pushdown: false,
    timeIndex: true,
    concurrentWriters: true,
    persistent: true,
    kinds: ALL_KINDS,
  };
  private closed = false;
  private readonly tableStates = new Map<string, TableState>();
  private readonly writer = new ByteWriter(1 << 20);
  private readonly cache = new Map<string, Segment>();
  private readonly lockTimeout: number;
  private readonly blockRows: number;
  /** Write locks we keep for a few ms after a write, so a burst of appends pays for one lock. */
  private readonly leases = new Map<string, { since: number; used: number; timer: ReturnType<typeof setTimeout> }>();
  private readonly durable: boolean;

  constructor(
    readonly root: string,
    private readonly options: MsgpackStoreOptions = {},
  ) {
    this.lockTimeout = options.lockTimeout ?? 10_000;
    this.blockRows = Math.max(1, Math.floor(options.blockRows ?? 1024));
    this.durable = options.fsync ?? true;
  }

  get uri(): string {
    return `msgpack:${this.root}`;
  }

  // -------------------------------------------------------------------------------------------
  // names and state

  private ensureOpen(): void {
    if (this.closed) throw new QuiverError("CLOSED", `${this.uri} is closed; open it again with openStore("${this.uri}")`);
  }

  private checkName(table: string): string {
    validateName(table, "table name");
    for (const seg of table.split("/")) {
      if (seg === DATA_FILE || seg.startsWith(".quiver")) {
        throw new QuiverError("INVALID_NAME", `table name ${JSON.stringify(table)} uses the reserved file name ${JSON.stringify(seg)}; pick another name segment`);
      }
    }
    return table;
  }

  private state(name: string): TableState {
    let st = this.tableStates.get(name);
    if (!st) {
      const dir = join(this.root, ...name.split("/"));
      if (!(dir + sep).startsWith(this.root + sep)) throw new QuiverError("INVALID_NAME", `table name ${JSON.stringify(name)} leaves the store root`);
      st = {
        name,
        dir,
        dataPath: join(dir, DATA_FILE),
        schemaPath: join(dir, SCHEMA_FILE),
        indexPath: join(dir, INDEX_FILE),
        lockPath: join(dir, LOCK_FILE),
        schema: undefined,
        schemaId: undefined,
        hasSchemaFile: false,
        entries: [],
        end: 0,
        rows: 0,
        dataIno: undefined,
        dataSize: 0,
        indexId: undefined,
        indexIno: undefined,
        indexBytes: 0,
        generation: "",
        usable: false,
        writeFd: undefined,
        writeIno: undefined,
        indexFd: undefined,
        indexChecked: -1,
        dirty: false,
      };
      this.tableStates.set(name, st);
    }
    return st;
  }

  /**
   * Takes (or keeps) the table's write lock. Returns true when it was just taken, so the caller
   * must reload the table's state; while we hold it nobody else writes, so our state is current.
   * A lease ends 5 ms after its last use, or after 200 ms of continuous use to let others in.
   */
  private async hold(st: TableState): Promise<boolean> {
    const lease = this.leases.get(st.lockPath);
    if (lease) {
      const now = Date.now();
      if (now - lease.since < LEASE_MAX_MS || !wanted(st.lockPath)) {
        if (now - lease.since >= LEASE_MAX_MS) lease.since = now; // nobody waits: keep writing
        lease.used = now; // the idle timer re-arms itself until LEASE_IDLE_MS pass unused
        return false;
      }
      // Someone waits: step aside for longer than their longest poll interval.
      this.release(st);
      await new Promise((r) => setTimeout(r, 30));
    }
    mkdirSync(st.dir, { recursive: true });
    await lock(st.lockPath, this.lockTimeout, `table ${JSON.stringify(st.name)}`);
    this.ensureOpen();
    const now = Date.now();
    const entry = { since: now, used: now, timer: undefined as unknown as ReturnType<typeof setTimeout> };
    const check = () => {
      const idle = Date.now() - entry.used;
      if (idle >= LEASE_IDLE_MS) this.release(st);
      else {
        entry.timer = setTimeout(check, LEASE_IDLE_MS - idle + 1);
        entry.timer.unref?.();
      }
    };
    entry.timer = setTimeout(check, LEASE_IDLE_MS);
    entry.timer.unref?.();
    this.leases.set(st.lockPath, entry);
    st.indexChecked = -1;
    return true;
  }

  private release(st: TableState): void {
    const lease = this.leases.get(st.lockPath);
    if (!lease) return;
    clearTimeout(lease.timer);
    this.leases.delete(st.lockPath);
    unlock(st.lockPath);
  }

  private warn(message: string): void {
    if (this.options.onWarning) this.options.onWarning(message);
    else process.emitWarning(message, { code: "QUIVER_MSGPACK_RECOVERY" });
  }

  private closeFds(st: TableState): void {
    if (st.writeFd !== undefined) closeSync(st.writeFd);
    if (st.indexFd !== undefined) closeSync(st.indexFd);
    st.writeFd = st.indexFd = undefined;
    st.writeIno = undefined;
  }

  private resetIndex(st: TableState): void {
    st.entries = [];
    st.end = 0;
    st.rows = 0;
    st.indexId = undefined;
    st.indexIno = undefined;
    st.indexBytes = 0;
    st.generation = "";
    st.usable = false;
  }

  // -------------------------------------------------------------------------------------------
  // loading: index first, then the data file, then the schema (the reverse of the write order)

  private load(st: TableState): LoadStatus {
    const is = statBig(st.indexPath);
    const ds = statBig(st.dataPath);
    if (ds && st.dataIno !== ds.ino) {
      this.resetIndex(st);
      st.dataIno = ds.ino;
    }
    if (is && ds && (is.ino !== st.indexIno || idOf(is) !== st.indexId)) this.readIndex(st, is, ds.ino);
    else if (!is && st.indexId !== undefined && st.indexId !== "memory") {
      this.resetIndex(st);
      st.dataIno = ds?.ino;
    }
    const ss = statBig(st.schemaPath);
    if (ss) {
      if (idOf(ss) !== st.schemaId) {
        st.schema = schemaFromJson(readFileSync(st.schemaPath, "utf8"), st.schemaPath);
        st.schemaId = idOf(ss);
      }
      st.hasSchemaFile = true;
    } else if (st.hasSchemaFile) {
      st.schema = undefined;
      st.schemaId = undefined;
      st.hasSchemaFile = false;
    }
    if (!ds) {
      if (!ss) {
        this.resetIndex(st);
        st.dataIno = undefined;
        st.schema = undefined;
        st.schemaId = undefined;
        st.dataSize = 0;
        return "missing";
      }
      this.resetIndex(st);
      st.dataIno = undefined;
      st.dataSize = 0;
      st.usable = true;
      return "ok";
    }
    st.dataSize = Number(ds.size);
    if (!st.usable) return "bad";
    if (st.end > st.dataSize) {
      // The index names bytes the data file no longer has (truncated by hand): keep what exists.
      while (st.entries.length && st.entries[st.entries.length - 1]!.offset + st.entries[st.entries.length - 1]!.length > st.dataSize) {
        const e = st.entries.pop()!;
        st.end -= e.length;
        st.rows -= e.rows;
      }
      st.indexBytes = HEADER + st.entries.length * ENTRY;
      st.indexId = undefined;
    }
    if (!st.schema && st.dataSize > 0) return "bad";
    return st.dataSize > st.end ? "tail" : "ok";
  }

  private readIndex(st: TableState, is: BigIntStats, dataIno: bigint): void {
    const fd = openSync(st.indexPath, "r");
    try {
      const ino = fstatSync(fd, { bigint: true }).ino;
      const size = Number(fstatSync(fd, { bigint: true }).size);
      const header = decodeHeader(readAt(fd, 0, HEADER));
      st.indexId = idOf(is);
      if (!header || header.dataIno !== dataIno) {
        this.resetIndex(st);
        st.indexId = idOf(is);
        st.indexIno = ino;
        return;
      }
      if (st.usable && header.generation === st.generation && ino === st.indexIno && size >= st.indexBytes) {
        const more = decodeEntries(readAt(fd, st.indexBytes, size - st.indexBytes), st.end, st.rows);
        for (const e of more) {
          st.entries.push(e);
          st.end += e.length;
          st.rows += e.rows;
        }
        st.indexBytes += more.length * ENTRY;
      } else {
        const all = decodeEntries(readAt(fd, HEADER, Math.max(0, size - HEADER)), 0, 0);
        st.entries = all;
        st.end = all.reduce((a, e) => a + e.length, 0);
        st.rows = all.reduce((a, e) => a + e.rows, 0);
        st.indexBytes = HEADER + all.length * ENTRY;
        st.generation = header.generation;
        st.usable = true;
      }
      st.indexIno = ino;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Brings a table's state up to date; returns whether the table exists. Without the lock an
   * unindexed tail is a write in flight (ignored) unless nobody holds the lock, in which case it
   * is a crashed writer's leftover and gets repaired right away.
   */
  private refresh(st: TableState, locked = false): boolean {
    for (let attempt = 0; ; attempt++) {
      const status = this.load(st);
      if (status === "missing") return false;
      if (status === "ok") return true;
      if (locked) {
        this.recover(st, true);
        return true;
      }
      if (status === "bad" && attempt < 4) {
        sleepSync(1 << attempt); // a rewrite renames data then index: give it a moment
        continue;
      }
      let got = false;
      try {
        got = tryLock(st.lockPath);
      } catch {
        got = false; // read-only folder: recover in memory below
      }
      if (got) {
        try {
          if (this.load(st) !== "ok") this.recover(st, true);
        } finally {
          unlock(st.lockPath);
        }
        return true;
      }
      if (status === "tail") return true;
      this.recover(st, false);
      return true;
    }
  }

  /**
   * Indexes data beyond the last index entry (or the whole file when the index is unusable),
   * cutting away a torn last record. With `persist` (lock held) the cut and the index are
   * written; otherwise the result lives in memory only.
   */
  private recover(st: TableState, persist: boolean): void {
    const fresh = !st.usable;
    if (fresh) {
      const ino = st.dataIno;
      this.resetIndex(st);
      st.dataIno = ino;
    }
    const size = st.dataSize;
    const from = st.end;
    const added: Entry[] = [];
    const segs: Segment[] = [];
    if (size > from) {
      const fd = openSync(st.dataPath, "r");
      let buf: Buffer;
      try {
        buf = readAt(fd, from, size - from);
      } finally {
        closeSync(fd);
      }
      const recs: { value: unknown; start: number; end: number }[] = [];
      let good = 0;
      let torn = false;
      try {
        unpackr.unpackMultiple(buf, (value: unknown, start = 0, end = 0) => {
          if (!isPlainMap(value)) {
            torn = true;
            return false;
          }
          recs.push({ value, start, end });
          good = end;
          return true;
        });
      } catch {
        torn = true;
      }
      if (torn || good < buf.length) {
        const cut = from + good;
        if (persist) {
          truncateSync(st.dataPath, cut);
          this.warn(`${st.dataPath}: cut away a torn last record (${size - cut} bytes at offset ${cut}) left by an interrupted write; every record before it is kept (${recs.length} of them were not yet indexed and are indexed now)`);
        }
        st.dataSize = cut;
      }
      // Group records into blocks: runs of rows (up to blockRows), one block per columnar record.
      let runStart = -1;
      const flushRun = (k: number) => {
        if (runStart < 0) return;
        const part = recs.slice(runStart, k);
        const rows = part.map((r) => r.value as Row);
        added.push(this.entryFor(from + part[0]!.start, from + part[part.length - 1]!.end, 0, rows.length, rows.map((r) => r._ts)));
        segs.push(segmentFromRecords(rows, 0));
        runStart = -1;
      };
      recs.forEach((r, k) => {
        const rec = r.value as Record<string, unknown>;
        if (isColumnar(rec, st.schema)) {
          flushRun(k);
          const seg = segmentFromRecords([rec], 1);
          added.push(this.entryFor(from + r.start, from + r.end, 1, seg.n, (rec._ts as unknown[] | undefined) ?? []));
          segs.push(seg);
        } else {
          if (runStart < 0) runStart = k;
          if (k - runStart + 1 > this.blockRows) {
            flushRun(k);
            runStart = k;
          }
        }
      });
      flushRun(recs.length);
    }
    let rows = st.rows;
    let end = st.end;
    for (const e of added) {
      e.firstRow = rows;
      rows += e.rows;
      end += e.length;
    }
    let schemaChanged = false;
    if (!st.schema) {
      // No sidecar (a file written by another tool): infer the types from every record.
      const all = [...this.readSegments(st, st.entries), ...segs];
      st.schema = inferSchema(all) ?? new Schema([]);
      schemaChanged = true;
    }
    st.entries.push(...added);
    st.rows = rows;
    st.end = end;
    st.usable = true;
    if (!persist) {
      st.indexId = "memory";
      if (!st.generation) st.generation = `mem-${newGeneration()}`;
      return;
    }
    if (schemaChanged) this.writeSchema(st, st.schema);
    if (fresh || !statBig(st.indexPath)) {
      if (fresh && from === 0 && size > 0 && st.entries.length) this.warn(`${st.dataPath}: time index missing or stale, rebuilt from ${st.entries.length} blocks`);
      this.writeIndexFile(st);
    } else if (added.length) {
      this.appendIndex(st, added);
    }
  }

  private entryFor(start: number, end: number, kind: 0 | 1, rows: number, ts: ArrayLike<unknown>): Entry {
    let minTs = Infinity;
    let maxTs = -Infinity;
    let tsCount = 0;
    for (let i = 0; i < ts.length; i++) {
      const v = tsNumber(ts[i]);
      if (v === undefined) continue;
      if (v < minTs) minTs = v;
      if (v > maxTs) maxTs = v;
      tsCount++;
    }
    return { minTs, maxTs, offset: start, length: end - start, firstRow: 0, rows, tsCount, kind };
  }

  private writeSchema(st: TableState, schema: Schema): void {
    const tmp = `${st.schemaPath}.tmp-${process.pid}`;
    writeFileSync(tmp, schemaToJson(schema));
    renameSync(tmp, st.schemaPath);
    const ss = statBig(st.schemaPath)!;
    st.schema = schema;
    st.schemaId = idOf(ss);
    st.hasSchemaFile = true;
  }

  /** Writes the whole index (header + entries) for the current data file, atomically. */
  private writeIndexFile(st: TableState): void {
    if (st.indexFd !== undefined) closeSync(st.indexFd);
    st.indexFd = undefined;
    st.generation = newGeneration();
    const tmp = `${st.indexPath}.tmp-${process.pid}`;
    writeFileSync(tmp, Buffer.concat([encodeHeader({ dataIno: st.dataIno!, generation: st.generation }), encodeEntries(st.entries)]));
    renameSync(tmp, st.indexPath);
    const is = statBig(st.indexPath)!;
    st.indexIno = is.ino;
    st.indexId = idOf(is);
    st.indexBytes = HEADER + st.entries.length * ENTRY;
  }

  private appendIndex(st: TableState, entries: Entry[]): void {
    if (st.indexFd !== undefined && st.indexChecked !== st.indexBytes && fstatSync(st.indexFd, { bigint: true }).ino !== st.indexIno) {
      closeSync(st.indexFd); // another process rewrote the index since we last held the lock
      st.indexFd = undefined;
    }
    if (st.indexFd === undefined) {
      const fd = openSync(st.indexPath, "r+");
      const s = fstatSync(fd, { bigint: true });
      if (s.ino !== st.indexIno) {
        closeSync(fd);
        return this.writeIndexFile(st);
      }
      st.indexFd = fd;
    }
    const fd = st.indexFd;
    if (st.indexChecked !== st.indexBytes) {
      // First append under this lock: drop a torn tail of the index before continuing the chain.
      const size = Number(fstatSync(fd, { bigint: true }).size);
      if (size !== st.indexBytes) truncateSync(st.indexPath, st.indexBytes);
    }
    const buf = encodeEntries(entries);
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, st.indexBytes + off);
    st.indexBytes += buf.length;
    st.indexChecked = st.indexBytes;
    st.indexId = "written"; // re-read (incrementally, from indexBytes) on the next load
  }

  // -------------------------------------------------------------------------------------------
  // reading blocks

  private cacheKey(st: TableState, e: Entry): string {
    return `${st.dataPath}\u0000${st.generation}:${st.dataIno}:${e.offset}`;
  }

  /** One block's records, decoded (LRU-cached: count() then scan() of a window share them). */
  private segment(st: TableState, fd: number, e: Entry): Segment {
    const key = this.cacheKey(st, e);
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const seg = this.decodeAt(st, readAt(fd, e.offset, e.length), e);
    this.cache.set(key, seg);
    if (this.cache.size > CACHE_SEGMENTS) this.cache.delete(this.cache.keys().next().value!);
    return seg;
  }

  private decodeAt(st: TableState, buf: Buffer, e: Entry): Segment {
    try {
      return decodeSegment(buf, e.kind, e.rows);
    } catch (err) {
      throw new QuiverError("IO", `${st.dataPath}, bytes ${e.offset}-${e.offset + e.length}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Opens data.msgpack for reading, checking it is the file the entries describe. */
  private openData(st: TableState): number | undefined {
    for (let attempt = 0; attempt < 5; attempt++) {
      let fd: number;
      try {
        fd = openSync(st.dataPath, "r");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
      }
      if (fstatSync(fd, { bigint: true }).ino === st.dataIno) return fd;
      closeSync(fd);
      this.refresh(st);
    }
    throw new QuiverError("IO", `${st.dataPath} keeps changing under the reader; try again`);
  }

  private readSegments(st: TableState, entries: readonly Entry[]): Segment[] {
    if (!entries.length) return [];
    const fd = this.openData(st);
    if (fd === undefined) return [];
    try {
      return entries.map((e) => this.segment(st, fd, e));
    } finally {
      closeSync(fd);
    }
  }

  /** Batches of the given entries (file order), in slabs of about SLAB_ROWS rows. */
  private *batches(st: TableState, fd: number, entries: readonly Entry[], schema: Schema, rowIndex?: string): Generator<RecordBatch> {
    let k = 0;
    while (k < entries.length) {
      let rows = 0;
      let j = k;
      while (j < entries.length && (j === k || rows + entries[j]!.rows <= SLAB_ROWS)) rows += entries[j++]!.rows;
      const slab = entries.slice(k, j);
      k = j;
      const segs: Segment[] = [];
      // One read for a run of adjacent blocks.
      let a = 0;
      while (a < slab.length) {
        let b = a + 1;
        while (b < slab.length && slab[b]!.offset === slab[b - 1]!.offset + slab[b - 1]!.length) b++;
        const base = slab[a]!.offset;
        const last = slab[b - 1]!;
        const buf = readAt(fd, base, last.offset + last.length - base);
        for (let q = a; q < b; q++) {
          const e = slab[q]!;
          segs.push(this.decodeAt(st, buf.subarray(e.offset - base, e.offset - base + e.length), e));
        }
        a = b;
      }
      yield segmentsToBatch(segs, schema, rowIndex ? { name: rowIndex, firstRows: slab.map((e) => e.firstRow) } : undefined);
    }
  }

  private rangeFor(schema: Schema, where: QueryNode | undefined): TsRange | undefined {
    if (!where || !isNumericTs(schema)) return undefined;
    return tsRange(where);
  }

  // -------------------------------------------------------------------------------------------
  // Store

  async append(table: string, batch: RecordBatch, options: AppendOptions = {}): Promise<void> {
    this.ensureOpen();
    const name = this.checkName(table);
    for (const f of batch.schema.fields) validateColumnName(f.name);
    checkSchemaTypes(batch.schema);
    const st = this.state(name);
    const fresh = await this.hold(st);
    try {
      if (fresh) this.refresh(st, true);
      const schema = mergeSchemas(st.schema, batch.schema); // SCHEMA_MISMATCH before any byte is written
      if (schema !== st.schema || !st.hasSchemaFile) this.writeSchema(st, schema);
      this.openForAppend(st);
      const fd = st.writeFd!;
      const w = this.writer;
      w.pos = 0;
      w.base = 0;
      // Big batches go out in ~1 MiB writes; readers see none of it before the index entries.
      w.spill = (bytes) => writeAll(fd, bytes);
      let blocks: EncodedBlock[] = [];
      try {
        if (batch.numRows > 0) blocks = options.layout === "columns" ? [encodeColumns(batch, w)] : encodeRows(batch, w, this.blockRows);
        if (w.pos > 0) writeAll(fd, w.buf, 0, w.pos);
      } catch (err) {
        try {
          ftruncateSync(fd, st.end); // no half-written append stays behind
        } catch {
          /* the next writer's recovery cuts it */
        }
        throw err;
      } finally {
        w.spill = undefined;
      }
      const written = w.at;
      const entries: Entry[] = [];
      let rows = st.rows;
      for (const b of blocks) {
        entries.push({ minTs: b.minTs, maxTs: b.maxTs, offset: st.end + b.start, length: b.end - b.start, firstRow: rows, rows: b.rows, tsCount: b.tsCount, kind: b.kind });
        rows += b.rows;
      }
      if (entries.length) this.appendIndex(st, entries);
      st.entries.push(...entries);
      st.end += written;
      st.dataSize = st.end;
      st.rows = rows;
      st.dirty = true;
      if (w.buf.length > 16 << 20) this.writer.buf = Buffer.allocUnsafe(1 << 20);
    } catch (err) {
      // Release the lock: the next write reloads the table's state (and repairs what needs it).
      this.release(st);
      throw err;
    }
  }

  /** Makes sure data.msgpack is open for appending and the index names it. */
  private openForAppend(st: TableState): void {
    if (st.writeFd !== undefined) {
      if (st.writeIno === st.dataIno) return; // we hold the lock: nobody replaced the file
      this.closeFds(st);
    }
    const fd = openSync(st.dataPath, "a");
    const s = fstatSync(fd, { bigint: true });
    st.writeFd = fd;
    st.writeIno = s.ino;
    if (st.dataIno !== s.ino || !statBig(st.indexPath)) {
      // A new data file: start its index.
      st.dataIno = s.ino;
      st.entries = [];
      st.end = Number(s.size);
      st.rows = 0;
      st.usable = true;
      if (st.end > 0) {
        st.end = 0;
        st.dataSize = Number(s.size);
        this.recover(st, true);
      } else this.writeIndexFile(st);
    }
  }

  async *scan(table: string, options: ScanOptions = {}): AsyncGenerator<RecordBatch> {
    this.ensureOpen();
    const name = this.checkName(table);
    const st = this.state(name);
    if (!this.refresh(st)) {
      if (options.where) checkQueryFields(options.where, undefined, table);
      return;
    }
    const schema = st.schema ?? new Schema([]);
    checkScanOptions(schema, options, table);
    if (options.limit === 0 || !st.entries.length) return;
    const fd = this.openData(st);
    if (fd === undefined) return;
    const entries = st.entries.slice(); // after openData: it may have reloaded the state
    try {
      const timed = this.timeScan(st, fd, entries, schema, options);
      if (timed !== undefined) {
        if (timed) yield timed;
        return;
      }
      let cands = entries;
      const range = this.rangeFor(schema, options.where);
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
        yield* this.batches(st, fd, cands, schema);
        return;
      }
      const s2 = ri ? withIndexField(schema, ri) : schema;
      const cols = options.columns && ri && !options.columns.includes(ri) ? [...options.columns, ri] : options.columns;
      yield* scanBatches(this.batches(st, fd, cands, schema, ri), s2, { where: options.where, columns: cols, orderBy: options.orderBy, offset, limit: options.limit }, table);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Scans ordered by `_ts` (Track.readByTime), through the index: blocks are visited in time
   * order and the walk stops once `offset + limit` rows are certain. Returns undefined when the
   * scan does not have that shape (the general path handles it), null for no rows.
   */
  private timeScan(st: TableState, fd: number, entries: Entry[], schema: Schema, options: ScanOptions): RecordBatch | null | undefined {
    const ob = options.orderBy;
    if (!ob?.length || ob[0]!.column !== "_ts" || ob.length > 2 || !isNumericTs(schema)) return undefined;
    const desc = ob[0]!.direction === "desc";
    let tieDesc = false;
    if (ob.length === 2) {
      if (!options.rowIndex || ob[1]!.column !== options.rowIndex) return undefined;
      tieDesc = ob[1]!.direction === "desc";
    }
    let range: TsRange | undefined;
    if (options.where) {
      range = tsRange(options.where);
      if (!range?.pure) return undefined;
    } else if (entries.some((e) => e.tsCount < e.rows)) return undefined; // nulls sort last: general path
    const ivs = range?.intervals;
    const cands = ivs ? entries.filter((e) => e.tsCount > 0 && overlaps(e.minTs, e.maxTs, ivs)) : entries.slice();
    if (desc) cands.sort((a, b) => b.maxTs - a.maxTs || b.firstRow - a.firstRow);
    else cands.sort((a, b) => a.minTs - b.minTs || a.firstRow - b.firstRow);
    const offset = options.offset ?? 0;
    const need = options.limit === undefined ? Infinity : offset + options.limit;
    const segs: Segment[] = [];
    let cap = 0;
    for (const e of cands) cap += e.rows;
    const pTs = new Float64Array(cap);
    const pRow = new Float64Array(cap);
    const pSeg = new Uint32Array(cap);
    const pI = new Uint32Array(cap);
    let c = 0;
    for (const e of cands) {
      if (c >= need) {
        const sorted = pTs.slice(0, c).sort();
        const kth = desc ? sorted[c - need]! : sorted[need - 1]!;
        if (desc ? e.maxTs < kth : e.minTs > kth) break;
      }
      const seg = this.segment(st, fd, e);
      const id = segs.push(seg) - 1;
      const tsA = columnValues(seg, "_ts");
      const inside = ivs && !within(e.minTs, e.maxTs, ivs) ? ivs : undefined;
      const n = seg.n;
      // Newest first when descending: rows of a block come out in the order they will be returned.
      for (let k = 0; k < n; k++) {
        const i = desc ? n - 1 - k : k;
        const raw = tsA[i];
        const ts = typeof raw === "number" ? raw : tsNumber(raw);
        if (ts === undefined || ts !== ts || (inside && !inIntervals(ts, inside))) continue;
        pTs[c] = ts;
        pRow[c] = e.firstRow + i;
        pSeg[c] = id;
        pI[c] = i;
        c++;
      }
    }
    // Usually the blocks do not overlap and the picks are already in order: no sort.
    const sign = desc ? -1 : 1;
    const tieSign = tieDesc ? -1 : 1;
    let inOrder = true;
    for (let i = 1; i < c; i++) {
      const d = (pTs[i]! - pTs[i - 1]!) * sign;
      if (d > 0) continue;
      if (d < 0 || (pRow[i]! - pRow[i - 1]!) * tieSign < 0) {
        inOrder = false;
        break;
      }
    }
    let order: ArrayLike<number>;
    if (inOrder) order = { length: c } as ArrayLike<number>;
    else {
      const idx = Array.from({ length: c }, (_, i) => i);
      idx.sort((a, b) => (pTs[a]! - pTs[b]!) * sign || (pRow[a]! - pRow[b]!) * tieSign);
      order = idx;
    }
    const from = Math.min(offset, c);
    const to = Math.min(c, from + (options.limit ?? Infinity));
    if (to <= from) return null;
    const take = new Uint32Array(to - from);
    for (let k = 0; k < take.length; k++) take[k] = inOrder ? from + k : order[from + k]!;
    const ri = options.rowIndex;
    const names = [...(options.columns ?? schema.fields.map((f) => f.name))];
    if (ri && !names.includes(ri)) names.push(ri);
    const indexField = ri ? withIndexField(new Schema([]), ri).fields[0]! : undefined;
    const fields = names.map((n) => (n === ri ? indexField! : schema.fields.find((f) => f.name === n)!));
    const datas = fields.map((f) => {
      if (f === indexField) return buildData(new Int64(), Array.from(take, (p) => pRow[p]!));
      const bySeg = segs.map((seg) => columnValues(seg, f.name));
      if (isFloat64(f.type)) {
        // Straight into the Float64Array buildData would make.
        const out = new Float64Array(take.length);
        let bitmap: Uint8Array | undefined;
        let nulls = 0;
        for (let k = 0; k < take.length; k++) {
          const p = take[k]!;
          const v = bySeg[pSeg[p]!]![pI[p]!];
          if (typeof v === "number") out[k] = v;
          else if (v == null) {
            bitmap ??= new Uint8Array((take.length + 7) >> 3).fill(0xff);
            bitmap[k >> 3]! &= ~(1 << (k & 7));
            nulls++;
          } else out[k] = Number(v);
        }
        return makeData({ type: f.type as Float64, length: take.length, nullCount: nulls, nullBitmap: bitmap, data: out });
      }
      const vals = new Array<unknown>(take.length);
      for (let k = 0; k < take.length; k++) {
        const p = take[k]!;
        vals[k] = bySeg[pSeg[p]!]![pI[p]!];
      }
      return buildData(f.type, vals, f.name);
    });
    return batchOf(new Schema(fields, schema.metadata), datas, take.length);
  }

  async count(table: string, where?: QueryNode): Promise<number> {
    this.ensureOpen();
    const name = this.checkName(table);
    const st = this.state(name);
    const exists = this.refresh(st);
    if (where) checkQueryFields(where, exists ? st.schema : undefined, table);
    if (!exists) return 0;
    if (!where) return st.rows;
    const fd = this.openData(st);
    if (fd === undefined) return 0;
    const schema = st.schema ?? new Schema([]);
    const entries = st.entries.slice();
    const range = this.rangeFor(schema, where);
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
          const tsA = columnValues(this.segment(st, fd, e), "_ts");
          for (let i = 0; i < tsA.length; i++) {
            const ts = tsNumber(tsA[i]);
            if (ts !== undefined && inIntervals(ts, ivs)) n++;
          }
        }
        return n;
      }
      const cands = range ? entries.filter((e) => overlaps(e.minTs, e.maxTs, range.intervals)) : entries;
      for (const b of this.batches(st, fd, cands, schema)) for (const m of evaluate(where, b)) n += m;
      return n;
    } finally {
      closeSync(fd);
    }
  }

  async schema(table: string): Promise<Schema | undefined> {
    this.ensureOpen();
    const st = this.state(this.checkName(table));
    if (!this.refresh(st)) return undefined;
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

  /**
   * Rewrites a table block by block under the lock: `change` returns a block's new batch, or
   * undefined to keep its bytes as they are. New files are written aside and renamed in.
   */
  private async rewrite(table: string, where: QueryNode | undefined, change: (batch: RecordBatch, mask: Uint8Array | undefined, schema: Schema) => RecordBatch | undefined): Promise<number> {
    this.ensureOpen();
    const name = this.checkName(table);
    const st = this.state(name);
    const exists = this.refresh(st);
    if (where) checkQueryFields(where, exists ? st.schema : undefined, table);
    if (!exists) return 0;
    await this.hold(st);
    try {
      if (!this.refresh(st, true)) return 0;
      let schema = st.schema ?? new Schema([]);
      if (where) checkQueryFields(where, schema, table);
      const fd = this.openData(st);
      if (fd === undefined) return 0;
      type Part = { entry: Entry; raw?: Buffer; batch?: RecordBatch };
      const parts: Part[] = [];
      let changed = 0;
      try {
        for (const e of st.entries) {
          const b = segmentsToBatch([this.decodeAt(st, readAt(fd, e.offset, e.length), e)], st.schema ?? schema);
          const mask = where ? evaluate(where, b) : undefined;
          let hits = b.numRows;
          if (mask) {
            hits = 0;
            for (const m of mask) hits += m;
          }
          const next = hits ? change(b, mask, schema) : undefined;
          if (!next) {
            parts.push({ entry: e, raw: readAt(fd, e.offset, e.length) });
            continue;
          }
          changed += hits;
          schema = mergeSchemas(schema, next.schema); // SCHEMA_MISMATCH before anything is written
          parts.push({ entry: e, batch: next });
        }
      } finally {
        closeSync(fd);
      }
      if (!changed) return 0;
      checkSchemaTypes(schema);
      const w = new ByteWriter(1 << 16);
      const entries: Entry[] = [];
      let rows = 0;
      for (const p of parts) {
        if (p.raw) {
          const start = w.pos;
          w.raw(p.raw);
          entries.push({ ...p.entry, offset: start, firstRow: rows });
          rows += p.entry.rows;
          continue;
        }
        if (!p.batch!.numRows) continue;
        const blocks = p.entry.kind === 1 ? [encodeColumns(p.batch!, w)] : encodeRows(p.batch!, w, this.blockRows);
        for (const b of blocks) {
          entries.push({ minTs: b.minTs, maxTs: b.maxTs, offset: b.start, length: b.end - b.start, firstRow: rows, rows: b.rows, tsCount: b.tsCount, kind: b.kind });
          rows += b.rows;
        }
      }
      const tmpData = `${st.dataPath}.tmp-${process.pid}`;
      const dfd = openSync(tmpData, "w");
      let ino: bigint;
      try {
        writeAll(dfd, w.buf, 0, w.pos);
        if (this.durable) fsyncSync(dfd);
        ino = fstatSync(dfd, { bigint: true }).ino;
      } finally {
        closeSync(dfd);
      }
      const generation = newGeneration();
      const tmpIndex = `${st.indexPath}.tmp-${process.pid}`;
      writeFileSync(tmpIndex, Buffer.concat([encodeHeader({ dataIno: ino, generation }), encodeEntries(entries)]));
      if (schema !== st.schema) this.writeSchema(st, schema);
      this.closeFds(st);
      renameSync(tmpData, st.dataPath);
      renameSync(tmpIndex, st.indexPath);
      this.resetIndex(st);
      st.dataIno = undefined;
      this.refresh(st, true);
      return changed;
    } catch (err) {
      this.release(st);
      throw err;
    }
  }

  async update(table: string, where: QueryNode | undefined, values: Row): Promise<number> {
    this.ensureOpen();
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
    return this.rewrite(table, where, (b, mask) => {
      if (!mask) return takeRows(b, []);
      const keep: number[] = [];
      for (let i = 0; i < mask.length; i++) if (!mask[i]) keep.push(i);
      return takeRows(b, keep);
    });
  }

  async drop(table: string): Promise<boolean> {
    this.ensureOpen();
    const name = this.checkName(table);
    const st = this.state(name);
    if (!statBig(st.dataPath) && !statBig(st.schemaPath)) return false;
    await this.hold(st);
    let existed = false;
    try {
      this.closeFds(st);
      for (const p of [st.dataPath, st.indexPath, st.schemaPath, wantedPath(st.lockPath)]) {
        try {
          unlinkSync(p);
          if (p === st.dataPath || p === st.schemaPath) existed = true;
        } catch {
          /* not there */
        }
      }
    } finally {
      this.release(st);
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

  async flush(): Promise<void> {
    this.ensureOpen();
    for (const st of this.tableStates.values()) {
      if (!st.dirty) continue;
      if (this.durable) {
        if (st.writeFd !== undefined) fdatasyncSync(st.writeFd);
        if (st.indexFd !== undefined) fdatasyncSync(st.indexFd);
      }
      st.dirty = false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      for (const st of this.tableStates.values()) {
        this.release(st);
        this.closeFds(st);
      }
      this.tableStates.clear();
      this.cache.clear();
    }
  }
}

/** Opens a store folder (created on first write). */
export function openMsgpackStore(location: string, options: MsgpackStoreOptions = {}): MsgpackStore {
  if (typeof location !== "string" || location.length === 0) {
    throw new QuiverError("INVALID_URI", 'msgpack: needs a folder, e.g. "msgpack:./.quiver"');
  }
  const root = resolve(location);
  const s = statBig(root);
  if (s && !s.isDirectory()) throw new QuiverError("INVALID_URI", `msgpack:${location}: ${root} exists and is not a folder`);
  return new MsgpackStore(root, options);
}
