/**
 * The holder serves reads: while this process has a DuckDB file open for writing, it answers
 * other processes' read operations over a Unix socket (see wire.ts for where), so that a reader
 * never takes the file from a working writer (a hand-over costs ~35 ms of instance closes and
 * opens; an answer through the socket well under a millisecond for a count).
 *
 * Answers run on a separate connection of the holder's instance, one at a time, each in a
 * read-only transaction: it sees only committed rows (the writer's own connection holds the
 * open group-commit transaction) and can change nothing. Only read operations exist in the
 * protocol, and sql() text is checked as for a read-only open.
 * The server never keeps a process alive (unref'd), and stops before the instance closes
 * (idle linger, hand-over, close, closeSync); readers then open the file themselves.
 */
import fs from "node:fs";
import type net from "node:net";
import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { isQuiverError } from "@quiver/core/store-kit";
import type { TableInfo } from "./catalog.js";
import { readInfo } from "./catalog.js";
import { messageOf } from "./errors.js";
import { B } from "./native.js";
import { awaitQueuedStarts } from "./procs.js";
import { decodeRequest, encodeResult, execRead, type ReadRequest } from "./reads.js";
import { FrameReader, frame, type Message, privateDir, socketDir, socketPath } from "./wire.js";

/** What the server needs of its DbFile. */
export interface ServedFile {
  readonly location: string;
  /** Bumped whenever the file's own table cache changes (a writer's DDL): ours is dropped then. */
  readonly tablesGen: number;
  /** Called on every request: serving counts as activity for the idle linger. */
  served(): void;
}

/** node:net, loaded when first needed (≈3 ms that a one-shot script need not pay). */
export const loadNet = () => import("node:net");

/** Whether a live process listens on `sock` (a refused or missing one is stale). */
async function listening(sock: string): Promise<boolean> {
  const net = await loadNet();
  return new Promise((resolve) => {
    const c = net.connect(sock);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

export class ReadServer {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private conn: DuckDBConnection | undefined;
  private connecting: Promise<DuckDBConnection> | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  /** A request is being answered: a native call of it may be queued on the thread pool. */
  private active = false;
  private stopped = false;
  private readonly started: Promise<void>;
  private readonly tables = new Map<string, TableInfo | null>();
  private gen = -1;

  constructor(
    private readonly file: ServedFile,
    private readonly instance: DuckDBInstance,
  ) {
    this.started = this.start().catch(() => undefined);
  }

  /** Starts listening; does nothing where no private socket folder can be had. */
  private async start(): Promise<void> {
    const dir = socketDir();
    if (!dir) return;
    try {
      fs.mkdirSync(dir, { mode: 0o700 });
    } catch {
      /* exists (checked below) */
    }
    if (!privateDir(dir)) return; // someone else's, a link, or open to others: serve nothing
    const sock = socketPath(this.file.location);
    if (!sock || this.stopped) return;
    if (fs.existsSync(sock)) {
      // Left by a process that died holding the file (we hold its lock now): replace it.
      if (await listening(sock)) return;
      if (this.stopped) return;
      try {
        fs.unlinkSync(sock);
      } catch {
        return;
      }
    }
    const net = await loadNet();
    if (this.stopped) return;
    const server = net.createServer((s) => this.accept(s));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(sock, () => resolve());
    });
    server.on("error", () => undefined);
    server.unref();
    if (this.stopped) server.close();
    else this.server = server;
  }

  private accept(s: net.Socket): void {
    if (this.stopped) return void s.destroy();
    s.unref();
    this.sockets.add(s);
    s.on("close", () => this.sockets.delete(s));
    s.on("error", () => s.destroy());
    const reader = new FrameReader((m) => this.request(s, m));
    s.on("data", (d: Buffer) => {
      try {
        reader.push(d);
      } catch {
        s.destroy(); // not our protocol
      }
    });
  }

  private request(s: net.Socket, m: Message): void {
    const id = m.header.id;
    let req: ReadRequest;
    try {
      req = decodeRequest(m.header.req);
    } catch (err) {
      return this.reply(s, { id, ok: false, fallback: true, message: messageOf(err) });
    }
    this.file.served();
    this.chain = this.chain.then(async () => {
      if (this.stopped || s.destroyed) return;
      let conn: DuckDBConnection | undefined;
      try {
        this.active = true;
        conn = await this.connection();
        // A read-only transaction: a SELECT that would write (nextval(), say) is refused, as
        // on a read-only open, and the whole operation reads one snapshot.
        await conn.run("BEGIN TRANSACTION READ ONLY");
        const out = await execRead(this.context(conn), req);
        const { value, body } = encodeResult(req.op, out);
        this.reply(s, { id, ok: true, value }, body);
      } catch (err) {
        // A refusal (bad SQL, a write) is the caller's answer; anything else (an I/O fault, the
        // instance closing) is for the caller to find out by reading the file itself.
        if (isQuiverError(err) && err.code !== "IO") this.reply(s, { id, ok: false, code: err.code, message: err.message });
        else this.reply(s, { id, ok: false, fallback: true, message: messageOf(err) });
      } finally {
        await conn?.run("ROLLBACK").catch(() => undefined);
        this.active = false;
        this.file.served();
      }
    });
  }

  private reply(s: net.Socket, header: Record<string, unknown>, body?: Uint8Array): void {
    if (s.destroyed) return;
    for (const part of frame(header, body)) s.write(part);
  }

  private async connection(): Promise<DuckDBConnection> {
    if (this.conn) return this.conn;
    this.connecting ??= this.instance.connect();
    this.conn = await this.connecting;
    return this.conn;
  }

  private context(conn: DuckDBConnection) {
    if (this.gen !== this.file.tablesGen) {
      this.tables.clear();
      this.gen = this.file.tablesGen;
    }
    return {
      conn,
      location: this.file.location,
      info: async (table: string) => {
        const hit = this.tables.get(table);
        if (hit !== undefined) return hit ?? undefined;
        const gen = this.file.tablesGen;
        const info = await readInfo(conn, table);
        if (gen === this.file.tablesGen) this.tables.set(table, info ?? null); // else a DDL raced it
        return info;
      },
      forget: () => this.tables.clear(),
    };
  }

  /** Stops listening and drops every client (they read the file themselves from now on). */
  private hangUp(): void {
    this.stopped = true;
    this.server?.close(); // unlinks the socket file
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Stops, waiting for the answer in progress (interrupted): call before the instance closes. */
  async stop(): Promise<void> {
    this.hangUp();
    await this.started;
    this.hangUp();
    if (this.active) this.conn?.interrupt();
    await this.chain.catch(() => undefined);
    await this.connecting?.catch(() => undefined);
    this.closeConn();
  }

  /** stop() for closeSync: a statement still running natively is interrupted and joined. */
  stopSync(): void {
    this.hangUp();
    const conn = this.conn;
    if (this.active) {
      try {
        conn?.interrupt();
        // A call queued on the thread pool (the connect, a fetch) must start before the instance closes.
        awaitQueuedStarts(2000);
        // Takes the connection's context lock, i.e. waits until the running statement ends.
        if (conn) B.get_table_names((conn as unknown as { connection: object }).connection, "SELECT 1", false);
      } catch {
        /* interrupted: the statement has ended either way */
      }
    }
    this.closeConn();
  }

  private closeConn(): void {
    try {
      this.conn?.closeSync();
    } catch {
      /* invalidated */
    }
    this.conn = undefined;
  }
}
