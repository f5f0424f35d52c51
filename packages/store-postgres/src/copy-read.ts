/**
 * Scans without parameters (a full read, a projection, an order, a rowIndex) as
 * `COPY (SELECT …) TO STDOUT (FORMAT binary)`: values come in binary (doubles as their IEEE
 * bits, int64 as 8 bytes, times as µs) and are decoded straight into Arrow buffers, with none of
 * the text formatting and parsing of a SELECT. COPY takes no parameters, so a scan with a
 * where, limit or offset goes through readRows (read.ts).
 *
 * The read runs in a transaction that first takes the table's ACCESS SHARE lock and then checks
 * the columns' types: a writer widening a column (ALTER … TYPE, which needs an exclusive lock)
 * either did so before — seen by the check, reported as IO, to be read again — or waits until
 * the read ends. So binary values are never read as another type than they were written.
 */
import {
  Bool,
  type Data,
  type DataType,
  Field,
  type Float32,
  type Float64,
  Int64,
  makeData,
  Null,
  RecordBatch,
  Schema,
  Struct,
  type TimestampMicrosecond,
  TimeUnit,
  Type,
  type Utf8,
} from "apache-arrow";
import { BIGINT_META, buildData, QuiverError } from "@quiver/core";
import type { Readable } from "node:stream";
import type { Pool } from "./connection.js";
import { decodeValueJson } from "@quiver/core/store-kit";
import type { Column } from "./read.js";
import { SETTING } from "./sql.js";
import { ARRAY_OID, OID, type Storage } from "./types.js";

const TWO32 = 4294967296;
/** µs between 1970-01-01 and PostgreSQL's epoch 2000-01-01. */
const PG_EPOCH_US = 946684800000000;
const PG_EPOCH_US_BIG = 946684800000000n;
/** Binary COPY header: signature (11 bytes), flags (4), extension length (4). */
const HEADER = 19;

/** Collects one column's values of a batch. `put` gets the value's bytes (`at`, `len` in `b`). */
interface Sink {
  put(b: Buffer, at: number, len: number, row: number): void;
  finish(n: number, bitmap: Uint8Array | undefined, nulls: number): Data;
}

function fixed<A extends Float64Array | Float32Array | Int32Array | Int16Array>(
  make: (n: number) => A,
  type: DataType,
  read: (b: Buffer, at: number) => number,
  cap: number,
): Sink {
  let arr = make(cap);
  return {
    put(b, at, _len, row) {
      arr[row] = read(b, at);
    },
    finish(n, bitmap, nulls) {
      const data = makeData({ type: type as Float64, length: n, nullCount: nulls, nullBitmap: bitmap, data: arr.subarray(0, n) as Float64Array });
      arr = make(cap);
      return data;
    },
  };
}

/** int8 (Int64) or timestamptz (µs since 1970) into a BigInt64Array, through its 32-bit halves. */
function int64Sink(type: DataType, time: boolean, cap: number): Sink {
  let buf = new ArrayBuffer(cap * 8);
  let lo = new Uint32Array(buf);
  let hi = new Int32Array(buf);
  let big = new BigInt64Array(buf);
  return {
    put(b, at, _len, row) {
      const h = b.readInt32BE(at);
      const l = b.readUInt32BE(at + 4);
      if (!time) {
        hi[2 * row + 1] = h;
        lo[2 * row] = l;
        return;
      }
      const x = h >= -2097152 && h < 2097152 ? h * TWO32 + l + PG_EPOCH_US : Number.NaN;
      if (Number.isSafeInteger(x)) {
        const xh = Math.floor(x / TWO32);
        hi[2 * row + 1] = xh;
        lo[2 * row] = x - xh * TWO32;
      } else big[row] = b.readBigInt64BE(at) + PG_EPOCH_US_BIG;
    },
    finish(n, bitmap, nulls) {
      const data = makeData({ type: type as Int64, length: n, nullCount: nulls, nullBitmap: bitmap, data: big.subarray(0, n) });
      buf = new ArrayBuffer(cap * 8);
      lo = new Uint32Array(buf);
      hi = new Int32Array(buf);
      big = new BigInt64Array(buf);
      return data;
    },
  };
}

/** text / bytea bytes (strings kept as their exact UTF-8 bytes) into offsets + values. */
function bytesSink(type: DataType, cap: number): Sink {
  let offsets = new Int32Array(cap + 1);
  let bytes = Buffer.allocUnsafe(1 << 16);
  let used = 0;
  let last = 0;
  return {
    put(b, at, len, row) {
      for (let r = last + 1; r <= row; r++) offsets[r] = used; // nulls before this row
      if (used + len > bytes.length) {
        const nb = Buffer.allocUnsafe(Math.max(used + len, bytes.length * 2));
        bytes.copy(nb, 0, 0, used);
        bytes = nb;
      }
      b.copy(bytes, used, at, at + len);
      used += len;
      offsets[row + 1] = used;
      last = row + 1;
    },
    finish(n, bitmap, nulls) {
      for (let r = last + 1; r <= n; r++) offsets[r] = used;
      const data = makeData({
        type: type as Utf8,
        length: n,
        nullCount: nulls,
        nullBitmap: bitmap,
        valueOffsets: offsets.subarray(0, n + 1),
        data: new Uint8Array(bytes.subarray(0, used)),
      });
      offsets = new Int32Array(cap + 1);
      bytes = Buffer.allocUnsafe(1 << 16);
      used = last = 0;
      return data;
    },
  };
}

function boolSink(cap: number): Sink {
  let bits = new Uint8Array((cap + 7) >> 3);
  return {
    put(b, at, _len, row) {
      if (b[at]) bits[row >> 3]! |= 1 << (row & 7);
    },
    finish(n, bitmap, nulls) {
      const data = makeData({ type: new Bool(), length: n, nullCount: nulls, nullBitmap: bitmap, data: bits.subarray(0, (n + 7) >> 3) });
      bits = new Uint8Array((cap + 7) >> 3);
      return data;
    },
  };
}

/** JSON text (tensors, lists of lists): parsed per value, built by core. */
function jsonSink(type: DataType): Sink {
  let vals: unknown[] = [];
  return {
    put(b, at, len, row) {
      while (vals.length < row) vals.push(null);
      vals.push(decodeValueJson(b.toString("utf8", at, at + len), type));
    },
    finish(n) {
      while (vals.length < n) vals.push(null);
      const data = buildData(type, vals);
      vals = [];
      return data;
    },
  };
}

/** A sink for a column read as `type` from `storage`, or undefined when only the text path reads it. */
function sinkFor(type: DataType, storage: Storage, cap: number): Sink | undefined {
  if (storage.kind === "null" || type.typeId === Type.Null) return { put() {}, finish: (n) => makeData({ type: new Null(), length: n, nullCount: n }) };
  if (storage.kind === "json") return jsonSink(type);
  if (storage.kind !== "scalar") return undefined;
  const e = storage.elem;
  const t = type;
  if (e === "float8" && t.typeId === Type.Float && (t as Float64).precision === 2)
    return fixed(
      (n) => new Float64Array(n),
      t,
      (b, at) => b.readDoubleBE(at),
      cap,
    );
  if (e === "float4" && t.typeId === Type.Float && (t as Float32).precision === 1)
    return fixed(
      (n) => new Float32Array(n),
      t,
      (b, at) => b.readFloatBE(at),
      cap,
    );
  const int = t.typeId === Type.Int ? (t as unknown as { bitWidth: number; isSigned: boolean }) : undefined;
  if (e === "int8" && int?.bitWidth === 64 && int.isSigned) return int64Sink(t, false, cap);
  if (e === "int4" && int?.bitWidth === 32 && int.isSigned)
    return fixed(
      (n) => new Int32Array(n),
      t,
      (b, at) => b.readInt32BE(at),
      cap,
    );
  if (e === "int2" && int?.bitWidth === 16 && int.isSigned)
    return fixed(
      (n) => new Int16Array(n),
      t,
      (b, at) => b.readInt16BE(at),
      cap,
    );
  if (e === "timestamptz" && t.typeId === Type.Timestamp && (t as TimestampMicrosecond).unit === TimeUnit.MICROSECOND) return int64Sink(t, true, cap);
  if (e === "text" && t.typeId === Type.Utf8) return bytesSink(t, cap);
  if (e === "bytea" && (t.typeId === Type.Binary || t.typeId === Type.Utf8)) return bytesSink(t, cap);
  if (e === "bool" && t.typeId === Type.Bool) return boolSink(cap);
  return undefined;
}

const INDEX_STORAGE: Storage = { kind: "scalar", elem: "int8" };

/** The Arrow fields of a scan's output columns. */
export function fieldsOf(columns: readonly Column[]): Field[] {
  return columns.map((c) => (c.rowIndex ? new Field(c.name, new Int64(), false) : new Field(c.name, c.col!.type, true, c.col!.bigint ? new Map([[BIGINT_META, "1"]]) : undefined)));
}

/** Whether every output column can be read through binary COPY. */
export function copyReadable(columns: readonly Column[]): boolean {
  return columns.every((c) => (c.rowIndex ? true : sinkFor(c.col!.type, c.col!.storage, 1) !== undefined));
}

/** The type OID a column's storage has in the table. */
export function expectedOid(s: Storage): number {
  if (s.kind === "scalar") return OID[s.elem];
  if (s.kind === "array") return ARRAY_OID[s.elem];
  return 25;
}

/** Decodes a binary COPY stream, arbitrarily chunked, into RecordBatches of up to `cap` rows. */
class Decoder {
  private readonly sinks: Sink[];
  private readonly nulls: (Uint8Array | undefined)[];
  private readonly nullCounts: number[];
  private rows = 0;
  private rest: Buffer | undefined;
  private header = false;
  ended = false;

  constructor(
    private readonly fields: Field[],
    columns: readonly Column[],
    private readonly cap: number,
    private readonly emit: (b: RecordBatch) => void,
  ) {
    this.sinks = columns.map((c) => (c.rowIndex ? sinkFor(new Int64(), INDEX_STORAGE, cap)! : sinkFor(c.col!.type, c.col!.storage, cap)!));
    this.nulls = columns.map(() => undefined);
    this.nullCounts = columns.map(() => 0);
  }

  feed(chunk: Buffer): void {
    let b = chunk;
    if (this.rest) {
      b = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    let p = 0;
    if (!this.header) {
      if (b.length < HEADER) {
        this.rest = b;
        return;
      }
      p = HEADER + b.readInt32BE(HEADER - 4); // skip the header extension
      this.header = true;
    }
    const k = this.sinks.length;
    while (p + 2 <= b.length) {
      const nf = b.readInt16BE(p);
      if (nf === -1) {
        this.ended = true;
        this.flush();
        return;
      }
      // Whole tuple here? (PostgreSQL sends one per message; a split one waits for the rest.)
      let q = p + 2;
      let whole = true;
      for (let i = 0; i < nf; i++) {
        if (q + 4 > b.length) {
          whole = false;
          break;
        }
        const len = b.readInt32BE(q);
        q += 4 + Math.max(len, 0);
        if (q > b.length) {
          whole = false;
          break;
        }
      }
      if (!whole) break;
      if (nf !== k) throw new Error(`binary COPY row of ${nf} fields, ${k} expected`);
      q = p + 2;
      const row = this.rows;
      for (let i = 0; i < k; i++) {
        const len = b.readInt32BE(q);
        q += 4;
        if (len < 0) {
          let bm = this.nulls[i];
          if (!bm) {
            bm = this.nulls[i] = new Uint8Array((this.cap + 7) >> 3).fill(0xff);
          }
          bm[row >> 3]! &= ~(1 << (row & 7));
          this.nullCounts[i]!++;
          continue;
        }
        this.sinks[i]!.put(b, q, len, row);
        q += len;
      }
      p = q;
      if (++this.rows === this.cap) this.flush();
    }
    if (p < b.length) this.rest = b.subarray(p);
  }

  flush(): void {
    const n = this.rows;
    if (n === 0) return;
    const datas = this.sinks.map((s, i) => {
      const bm = this.nulls[i];
      return s.finish(n, bm ? bm.subarray(0, (n + 7) >> 3) : undefined, this.nullCounts[i]!);
    });
    this.nulls.fill(undefined);
    this.nullCounts.fill(0);
    this.rows = 0;
    this.emit(new RecordBatch(new Schema(this.fields), makeData({ type: new Struct(this.fields), length: n, nullCount: 0, children: datas })));
  }
}

/**
 * Batches of `select` (a SELECT over table `T`, quoted), read through binary COPY. `params` are
 * set as the transaction's settings `quiver.p1…` (SqlBuilder "settings" reads them there). At
 * most two batches wait for the consumer; a consumer that stops early cancels the COPY.
 */
export async function* copyRows(
  pool: Pool,
  what: string,
  T: string,
  select: string,
  columns: readonly Column[],
  chunk: number,
  params: readonly string[] = [],
): AsyncGenerator<RecordBatch> {
  const fields = fieldsOf(columns);
  const queue: RecordBatch[] = [];
  let wake: (() => void) | undefined;
  let stream: Readable | undefined;
  let cancel: (() => void) | undefined;
  let finished = false;
  let discard = false;
  let failure: unknown;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const release = pool.hold();
  const run = pool
    .tx(async (q) => {
      const set = params.length ? q.unsafe(`SELECT ${params.map((_, i) => `set_config('${SETTING}${i + 1}', $${i + 1}, true)`).join(", ")}`, [...params]).execute() : undefined;
      set?.catch(() => undefined); // awaited below; its failure fails what follows it
      const lock = q.unsafe(`LOCK TABLE ${T} IN ACCESS SHARE MODE`).execute();
      lock.catch(() => undefined);
      // Sent right behind the lock (one round trip for both): the server answers it once the lock is held.
      const types = await q.unsafe<{ ident: string; oid: number }[]>(
        `SELECT attname AS ident, atttypid::int AS oid FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`,
        [T],
      );
      await lock;
      await set;
      const oids = new Map(types.map((t) => [t.ident, Number(t.oid)]));
      for (const c of columns) {
        if (c.col && oids.get(c.col.ident) !== expectedOid(c.col.storage))
          throw new QuiverError("IO", `${what}: column ${JSON.stringify(c.name)} changed type while being read (another writer widened it); read again`);
      }
      const cq = q.unsafe(`COPY (${select}) TO STDOUT (FORMAT binary)`);
      cancel = () => cq.cancel();
      const readable = cq.readable();
      cq.execute(); // sent now, behind the checks (left to readable(), it can stay queued)
      const s = (stream = (await readable) as unknown as Readable);
      const decoder = new Decoder(fields, columns, chunk, (b) => {
        queue.push(b);
        if (queue.length >= 2) s.pause();
        poke();
      });
      await new Promise<void>((resolve, reject) => {
        s.on("data", (b: Buffer) => {
          if (discard) return;
          try {
            decoder.feed(b);
          } catch (err) {
            reject(err);
            cq.cancel();
          }
        });
        s.on("end", () => {
          // The driver pauses its socket when the stream's buffer is full and resumes it only
          // from the stream's _read, which a stream that already got its end never calls: a
          // COPY whose last rows were buffered would leave COMMIT's answer unread.
          (s as unknown as { _read(n: number): void })._read(0);
          decoder.flush();
          resolve();
        });
        s.on("error", reject);
      });
      await cq;
    })
    .then(
      () => {
        finished = true;
      },
      (err: unknown) => {
        failure = err;
      },
    )
    .finally(poke);
  try {
    for (;;) {
      if (queue.length) {
        const b = queue.shift()!;
        if (queue.length < 2) stream?.resume();
        yield b;
        continue;
      }
      if (failure !== undefined) throw pool.fault(failure, what);
      if (finished) return;
      await new Promise<void>((r) => {
        wake = r;
      });
    }
  } finally {
    if (!finished && failure === undefined) {
      // Stopped early: the COPY is cancelled, and what still arrives is dropped undecoded.
      discard = true;
      cancel?.();
      stream?.resume();
      await run;
    }
    release();
  }
}
