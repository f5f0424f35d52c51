/**
 * What travels between a process holding a DuckDB file and readers in other processes (see
 * serve.ts, remote.ts): where the Unix socket is, how messages are framed, and values as JSON
 * that comes back exact (bigints, Dates, NaN, −0, bytes).
 *
 * The socket lives in a folder only this user can enter (`<tmp>/quiver-<uid>/`, mode 0700,
 * checked owned by us), named by a hash of the file's real path, so every process of this user
 * finds the same socket for the same file and no other user can connect.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** Longest socket path Linux takes (sun_path is 108 bytes with its NUL). */
const MAX_SOCKET_PATH = 107;

/** The private folder of this user's sockets (not created here), or undefined where there is none. */
export function socketDir(): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  for (const base of [os.tmpdir(), "/tmp"]) {
    const dir = path.join(base, `quiver-${uid}`);
    if (Buffer.byteLength(path.join(dir, "duckdb-00000000000000000000.sock")) <= MAX_SOCKET_PATH) return dir;
  }
  return undefined;
}

/** Whether `dir` is a real folder (not a link) owned by us that no one else may enter. */
export function privateDir(dir: string): boolean {
  try {
    const st = fs.lstatSync(dir);
    return st.isDirectory() && st.uid === process.getuid?.() && (st.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

/** The socket of the process serving `file` (whose real path it hashes), or undefined. */
export function socketPath(file: string): string | undefined {
  const dir = socketDir();
  if (!dir) return undefined;
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    return undefined;
  }
  const hash = createHash("sha256").update(real).digest("hex").slice(0, 20);
  return path.join(dir, `duckdb-${hash}.sock`);
}

// ---- values as exact JSON ---------------------------------------------------------------------
// Strings carry a one-letter tag, so that no string a user logged can pass for another value:
// "s…" a string, "b…" a bigint, "d…" a Date (ms), "n…" a number JSON cannot write, "y…" bytes
// (base64), "u" undefined. Finite numbers, booleans, null, arrays and objects are themselves.

export function toWire(v: unknown): unknown {
  if (typeof v === "string") return `s${v}`;
  if (typeof v === "number") return Number.isFinite(v) && !Object.is(v, -0) ? v : `n${Object.is(v, -0) ? "-0" : String(v)}`;
  if (typeof v === "bigint") return `b${v}`;
  if (v === undefined) return "u";
  if (v === null || typeof v === "boolean") return v;
  if (v instanceof Date) return `d${v.getTime()}`;
  if (v instanceof Uint8Array) return `y${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64")}`;
  if (Array.isArray(v)) return v.map(toWire);
  if (typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = toWire(x);
    return out;
  }
  throw new TypeError(`cannot send a ${typeof v}`);
}

export function fromWire(j: unknown): unknown {
  if (typeof j === "string") {
    const rest = j.slice(1);
    switch (j[0]) {
      case "s":
        return rest;
      case "n":
        return rest === "-0" ? -0 : Number(rest);
      case "b":
        return BigInt(rest);
      case "d":
        return new Date(Number(rest));
      case "y":
        return new Uint8Array(Buffer.from(rest, "base64"));
      case "u":
        return undefined;
      default:
        throw new TypeError(`bad value on the wire: ${JSON.stringify(j.slice(0, 20))}`);
    }
  }
  if (Array.isArray(j)) return j.map(fromWire);
  if (j !== null && typeof j === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(j as Record<string, unknown>)) {
      const v = fromWire(x);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  return j;
}

// ---- frames -----------------------------------------------------------------------------------
// A message is [u32 length of the rest][u32 length of the header][header: JSON][body: bytes].

export interface Message {
  header: Record<string, unknown>;
  body?: Uint8Array;
}

export function frame(header: Record<string, unknown>, body?: Uint8Array): Buffer[] {
  const h = Buffer.from(JSON.stringify(header));
  const head = Buffer.alloc(8);
  head.writeUInt32BE(4 + h.length + (body?.byteLength ?? 0), 0);
  head.writeUInt32BE(h.length, 4);
  return body?.byteLength ? [head, h, Buffer.from(body.buffer, body.byteOffset, body.byteLength)] : [head, h];
}

/** Splits a byte stream into messages. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private have = 0;

  constructor(private readonly onMessage: (m: Message) => void) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.have += chunk.length;
    for (;;) {
      if (this.have < 4) return;
      const first = this.chunks[0]!.length >= 4 ? this.chunks[0]! : this.join();
      const len = first.readUInt32BE(0);
      if (this.have < 4 + len) return;
      const all = this.join();
      const h = all.readUInt32BE(4);
      const header = JSON.parse(all.toString("utf8", 8, 8 + h)) as Record<string, unknown>;
      const body = all.subarray(8 + h, 4 + len);
      const rest = all.subarray(4 + len);
      this.chunks = rest.length ? [rest] : [];
      this.have = rest.length;
      this.onMessage(body.length ? { header, body } : { header });
    }
  }

  private join(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.have)];
    return this.chunks[0]!;
  }
}
