/**
 * The time index sidecar (`.quiver-index`): a 64-byte header, then one 64-byte entry per block
 * of records, appended after the block's bytes are in data.msgpack:
 *
 *   0 minTs f64 · 8 maxTs f64 · 16 byteOffset f64 · 24 byteLength f64 · 32 firstRowIndex f64
 *   40 rowCount u32 · 44 tsCount u32 · 48 kind u8 (0 rows, 1 columnar) · 56 FNV-1a u32 · 60 magic
 *
 * Entries are 64-byte aligned after a 64-byte header, so a torn write loses whole entries, and
 * the checksum catches a half-written one. The header names the data file (its inode) and a
 * random generation that changes whenever the files are rewritten (update/delete).
 */
import { randomBytes } from "node:crypto";

export const ENTRY = 64;
export const HEADER = 64;
const MAGIC = 0x51564958; // "QVIX"
const HEAD_MAGIC = "QVMPIDX1";

export interface Entry {
  minTs: number;
  maxTs: number;
  offset: number;
  length: number;
  firstRow: number;
  rows: number;
  tsCount: number;
  kind: 0 | 1;
}

export interface IndexHeader {
  dataIno: bigint;
  generation: string;
}

function fnv(buf: Buffer, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) {
    h ^= buf[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function newGeneration(): string {
  return randomBytes(8).toString("hex");
}

export function encodeHeader(h: IndexHeader): Buffer {
  const b = Buffer.alloc(HEADER);
  b.write(HEAD_MAGIC, 0, "latin1");
  b.writeBigUInt64LE(h.dataIno, 8);
  b.write(h.generation, 16, "hex");
  b.writeUInt32LE(fnv(b, 0, 56), 56);
  return b;
}

export function decodeHeader(b: Buffer): IndexHeader | undefined {
  if (b.length < HEADER || b.toString("latin1", 0, 8) !== HEAD_MAGIC || b.readUInt32LE(56) !== fnv(b, 0, 56)) return undefined;
  return { dataIno: b.readBigUInt64LE(8), generation: b.toString("hex", 16, 24) };
}

export function encodeEntries(entries: readonly Entry[]): Buffer {
  const b = Buffer.alloc(entries.length * ENTRY);
  entries.forEach((e, k) => {
    const o = k * ENTRY;
    b.writeDoubleLE(e.minTs, o);
    b.writeDoubleLE(e.maxTs, o + 8);
    b.writeDoubleLE(e.offset, o + 16);
    b.writeDoubleLE(e.length, o + 24);
    b.writeDoubleLE(e.firstRow, o + 32);
    b.writeUInt32LE(e.rows, o + 40);
    b.writeUInt32LE(e.tsCount, o + 44);
    b[o + 48] = e.kind;
    b.writeUInt32LE(fnv(b, o, o + 56), o + 56);
    b.writeUInt32LE(MAGIC, o + 60);
  });
  return b;
}

/**
 * Valid entries of `b` that continue the chain (each starts where the previous ended and
 * counts on from its rows); stops at the first torn, corrupt or discontinuous entry.
 */
export function decodeEntries(b: Buffer, prevEnd: number, prevRows: number): Entry[] {
  const out: Entry[] = [];
  let end = prevEnd;
  let rows = prevRows;
  for (let o = 0; o + ENTRY <= b.length; o += ENTRY) {
    if (b.readUInt32LE(o + 60) !== MAGIC || b.readUInt32LE(o + 56) !== fnv(b, o, o + 56)) break;
    const e: Entry = {
      minTs: b.readDoubleLE(o),
      maxTs: b.readDoubleLE(o + 8),
      offset: b.readDoubleLE(o + 16),
      length: b.readDoubleLE(o + 24),
      firstRow: b.readDoubleLE(o + 32),
      rows: b.readUInt32LE(o + 40),
      tsCount: b.readUInt32LE(o + 44),
      kind: b[o + 48] === 1 ? 1 : 0,
    };
    if (e.offset !== end || e.firstRow !== rows) break;
    end += e.length;
    rows += e.rows;
    out.push(e);
  }
  return out;
}
