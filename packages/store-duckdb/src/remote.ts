/**
 * A read-only store's side of "the holder serves reads" (see serve.ts): while another process
 * holds the file for writing, each read operation is sent to that process's socket instead of
 * taking the file from it. Whatever goes wrong on the way — no socket, a refused connection,
 * the holder going away mid-answer, an answer that does not decode — the operation returns
 * undefined and the caller reads the file itself, as it did before: a result arrives whole or
 * not at all, so a scan neither loses nor repeats a row. Nothing is created here (the socket
 * folder is the server's), and a socket not in our own private folder is never used.
 */
import fs from "node:fs";
import type net from "node:net";
import path from "node:path";
import { QuiverError, type QuiverErrorCode } from "@quiver/core/store-kit";
import { decodeResult, encodeRequest, type ReadRequest, type ResultOf } from "./reads.js";
import { loadNet } from "./serve.js";
import { FrameReader, frame, type Message, privateDir, socketPath } from "./wire.js";

interface Pending {
  op: ReadRequest["op"];
  resolve(v: { value: unknown } | undefined): void;
  reject(err: unknown): void;
  timer: ReturnType<typeof setTimeout>;
}

export class ReadClient {
  private sock: net.Socket | undefined;
  private connecting: Promise<net.Socket | undefined> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  /** The socket file (inode) a connection to failed: not tried again from acquire's wait. */
  private failedIno = -1;

  constructor(
    private readonly location: string,
    /** An answer that takes longer than this (a holder stopped, not dead) is given up on. */
    private readonly timeoutMs: number,
  ) {}

  /** The holder's answer to `req`; undefined when there is none to be had (read the file then). */
  async request<R extends ReadRequest>(req: R): Promise<{ value: ResultOf<R> } | undefined> {
    const sock = await this.connection();
    if (!sock) return undefined;
    const id = this.nextId++;
    const answer = new Promise<{ value: unknown } | undefined>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
        this.drop(sock); // the holder is stuck; its socket is no use to later calls either
      }, this.timeoutMs);
      timer.unref();
      this.pending.set(id, { op: req.op, resolve, reject, timer });
    });
    sock.ref(); // a call is waiting for the answer: the process must not end under it
    for (const part of frame({ id, req: encodeRequest(req) })) sock.write(part);
    return (await answer) as { value: ResultOf<R> } | undefined;
  }

  /** Whether there is a socket to try: ours, in our private folder, not one that just failed. */
  ready(): boolean {
    if (this.sock && !this.sock.destroyed) return true;
    this.path ??= socketPath(this.location);
    if (!this.path || !privateDir(path.dirname(this.path))) return false;
    try {
      const st = fs.lstatSync(this.path);
      return st.isSocket() && st.uid === process.getuid?.() && st.ino !== this.failedIno;
    } catch {
      return false;
    }
  }

  private path: string | undefined;

  private connection(): Promise<net.Socket | undefined> {
    if (this.sock && !this.sock.destroyed) return Promise.resolve(this.sock);
    if (this.closed) return Promise.resolve(undefined);
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connect(): Promise<net.Socket | undefined> {
    this.path ??= socketPath(this.location);
    const sock = this.path;
    // Only a socket in our own private folder, made by us: no one else can stand in for the holder.
    if (!sock || !privateDir(path.dirname(sock))) return undefined;
    let ino: number;
    try {
      const st = fs.lstatSync(sock);
      if (!st.isSocket() || st.uid !== process.getuid?.()) return undefined;
      ino = st.ino;
    } catch {
      return undefined;
    }
    const net = await loadNet();
    return new Promise((resolve) => {
      const s = net.connect(sock);
      s.once("error", () => {
        this.failedIno = ino;
        resolve(undefined);
      });
      s.once("connect", () => {
        if (this.closed) {
          s.destroy();
          return resolve(undefined);
        }
        s.removeAllListeners("error");
        s.on("error", () => this.drop(s));
        s.on("close", () => this.drop(s));
        const reader = new FrameReader((m) => this.answer(m));
        s.on("data", (d: Buffer) => {
          try {
            reader.push(d);
          } catch {
            this.drop(s);
          }
        });
        s.unref();
        this.sock = s;
        resolve(s);
      });
    });
  }

  private answer(m: Message): void {
    const id = m.header.id as number;
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (this.pending.size === 0) this.sock?.unref();
    const h = m.header;
    if (h.ok === true) {
      try {
        p.resolve({ value: decodeResult(p.op, h.value, m.body) });
      } catch {
        p.resolve(undefined);
      }
    } else if (typeof h.code === "string") {
      p.reject(new QuiverError(h.code as QuiverErrorCode, String(h.message)));
    } else {
      p.resolve(undefined);
    }
  }

  /** The socket is gone: every call waiting on it reads the file itself. */
  private drop(s: net.Socket): void {
    s.destroy();
    if (this.sock === s) this.sock = undefined;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.resolve(undefined);
    }
  }

  close(): void {
    this.closed = true;
    if (this.sock) this.drop(this.sock);
  }
}
