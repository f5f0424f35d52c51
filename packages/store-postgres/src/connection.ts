/**
 * The connection pool (porsager's `postgres`), with what the store needs around it:
 *
 * - sockets are made here and unref'd, so an idle pool never keeps a script alive (a script
 *   that forgets close() must still end, and then core's exit hook flushes it); while an
 *   operation runs, a timer keeps the process alive instead;
 * - closeSync() destroys every socket at once: the server ends the sessions (rolling back any
 *   open transaction and releasing its row locks) before the exit writer connects;
 * - session settings make text output exact and plain: UTC times in ISO form, shortest exact
 *   floats, hex bytea, and the store's schema first on the search path;
 * - errors become QuiverErrors: IO naming host and port for faults, INVALID_QUERY for the
 *   caller's SQL, NOT_FOUND for a missing database, UNSUPPORTED for writes on read-only opens;
 * - `behind()` puts bytes on the socket right behind a given query (a COPY's data behind the
 *   COPY, without waiting for the server's CopyInResponse: see the store's quick append).
 */
import { randomBytes } from "node:crypto";
import net from "node:net";
import { QuiverError } from "@quiver/core";
import postgres, { type Sql } from "postgres";
import { ident } from "./sql.js";
import type { Target } from "./url.js";

export interface Pool {
  sql: Sql;
  /** Runs `fn` as one operation: the process stays alive until it settles; errors are mapped. */
  op<T>(what: string, fn: () => Promise<T>): Promise<T>;
  /** Keeps the process alive until the returned function is called (a read being iterated). */
  hold(): () => void;
  /** An error as the QuiverError an operation reports. */
  fault(err: unknown, what: string): QuiverError;
  /**
   * Runs `fn` in a transaction on one connection: BEGIN, fn, COMMIT; on failure ROLLBACK when
   * the connection still lives. (Not the driver's sql.begin: its automatic rollback writes to a
   * connection the server has closed, which throws in a timer and would kill the process.)
   * BEGIN is not awaited before `fn` runs: what `fn` sends is pipelined behind it. A failure
   * once COMMIT was sent, other than the server answering it with a rollback, is `InDoubt`.
   */
  tx<T>(fn: (q: Sql, control: TxControl) => Promise<T>, options?: TxOptions): Promise<T>;
  /**
   * Has `frames` written on the socket right behind the simple-protocol query whose text holds
   * `marker` (a unique comment), in the same write: the driver's own buffering cannot reorder
   * them. Returns a function taking them back: true when they were not written (yet). Absent
   * with TLS, where the driver writes through a TLS socket of its own.
   */
  behind?: (marker: string, frames: readonly Buffer[]) => () => boolean;
  /** A marker no other query holds (for behind()). */
  marker(): string;
  /** Destroys every socket now (process exit). */
  destroy(): void;
  end(): Promise<void>;
}

export interface TxControl {
  /**
   * Sends COMMIT now, pipelined behind what was sent (say, from a COPY stream's final write,
   * without waiting for the COPY's answer); tx() awaits its answer. Later calls do nothing.
   */
  commit(): void;
  /** The server's error for a statement sent without waiting for it (the COPY behind the lock): the cause of the ROLLBACK it brings. */
  rejected?: unknown;
}

export interface TxOptions {
  /**
   * COMMIT without waiting for the WAL flush (`synchronous_commit = off` for this transaction):
   * the row lock it holds goes at once. `durable` is then sent right behind COMMIT, as its own
   * transaction with the session's synchronous_commit: it must write (WAL) so that its commit
   * flushes the WAL, and ours with it, before tx() resolves.
   */
  asyncCommit?: { durable: (q: Sql) => Promise<unknown> };
}

/**
 * Thrown by a transaction's own code to give up on it (say, its cached schema is stale): the
 * transaction is rolled back and the connection kept. (Any other error that is not the server's
 * answer counts as a lost connection: the connection is left to the pool to reconnect.)
 */
export class GiveUp extends Error {}

/** A transaction whose COMMIT was sent, but whose outcome is unknown (its answer never came). */
export class InDoubt extends Error {
  constructor(readonly reason: unknown) {
    super((reason as Error)?.message ?? String(reason), { cause: reason });
  }
}

/** SQLSTATE classes that are the caller's SQL mistakes. */
function isQueryError(code: string): boolean {
  return /^(42|22|23|2B|2F|0A|21|P0|44)/.test(code);
}

/** A driver or server error as a QuiverError (Quiver errors pass through). */
export function mapError(err: unknown, what: string, t: Target): QuiverError {
  if (err instanceof QuiverError) return err;
  const e = err as { code?: string; message?: string; errno?: string; severity?: string };
  const code = typeof e?.code === "string" ? e.code : "";
  const msg = String(e?.message ?? err);
  const server = typeof e?.severity === "string"; // a PostgresError: the server answered
  if (server) {
    if (code === "3D000")
      return new QuiverError(
        "NOT_FOUND",
        `${what}: database ${JSON.stringify(t.database)} does not exist on ${t.where}; create it (createdb ${t.database}) or name another in the URL`,
        { cause: err },
      );
    if (code === "25006") return new QuiverError("UNSUPPORTED", `${what}: the store was opened read-only (${msg}); open it without readOnly to write`, { cause: err });
    if (code.startsWith("28"))
      return new QuiverError("IO", `${what}: PostgreSQL at ${t.where} refused user ${JSON.stringify(t.user)} (${msg}); check the user and password in the URL`, { cause: err });
    if (isQueryError(code)) return new QuiverError("INVALID_QUERY", `${what}: ${msg} (SQLSTATE ${code})`, { cause: err });
    return new QuiverError("IO", `${what} on PostgreSQL at ${t.where} failed: ${msg} (SQLSTATE ${code}); the batch was not written, retry once the server is back`, { cause: err });
  }
  if (code === "ROLLED_BACK") return new QuiverError("IO", `${what} on PostgreSQL at ${t.where} failed: ${msg}; nothing of it was written`, { cause: err });
  if (err instanceof InDoubt)
    return new QuiverError(
      "IO",
      `${what}: the connection to PostgreSQL at ${t.where} was lost after COMMIT was sent (${msg}); whether it committed could not be checked, the next write checks it first`,
      {
        cause: err,
      },
    );
  const why = code && !msg.includes(code) ? `${code}: ${msg}` : msg;
  return new QuiverError("IO", `${what}: cannot reach PostgreSQL at ${t.where} (${why}); check that the server is running and the URL's host and port, then retry`, { cause: err });
}

/** Whether the server answered (an error of a statement, not of the connection). */
function isServerAnswer(err: unknown): boolean {
  const e = err as { severity?: string };
  return typeof e?.severity === "string" && e.severity !== "FATAL" && e.severity !== "PANIC";
}

export function openPool(t: Target, readOnly: boolean): Pool {
  const sockets = new Set<net.Socket>();
  const dead = new WeakSet<net.Socket>();
  /** Transactions in progress, told when a socket closes. */
  const watchers = new Set<(s: net.Socket) => void>();
  let busy = 0;
  let keepAlive: NodeJS.Timeout | undefined;
  /** Frames waiting for their query to be written (behind()), by marker. */
  const pending = new Map<string, { marker: Buffer; frames: readonly Buffer[] }>();
  const nonce = randomBytes(12).toString("hex");
  let markers = 0;
  /**
   * The socket's write, splitting a chunk that holds a pending query: the chunk up to the end of
   * that query's message (its text has no NUL; the message ends with one), the frames, the rest.
   * Corked, so it goes out as one write.
   */
  const writeBehind = (s: net.Socket, write: (chunk: Buffer, ...rest: unknown[]) => boolean, chunk: Buffer, rest: unknown[]): boolean => {
    for (const [key, p] of pending) {
      const at = chunk.indexOf(p.marker);
      if (at < 0) continue;
      const nul = chunk.indexOf(0, at);
      if (nul < 0) continue; // not a whole message (never so): the COPY's stream sends the data
      const end = nul + 1;
      pending.delete(key);
      s.cork();
      try {
        write(chunk.subarray(0, end));
        const last = p.frames.length - 1;
        for (let i = 0; i < last; i++) write(p.frames[i]!);
        if (end === chunk.length) return write(p.frames[last]!, ...rest);
        write(p.frames[last]!);
        return writeBehind(s, write, chunk.subarray(end), rest);
      } finally {
        s.uncork();
      }
    }
    return write(chunk, ...rest);
  };
  const connection: Record<string, string> = {
    application_name: "quiver",
    search_path: `${ident(t.schema)}, public`,
    TimeZone: "UTC",
    DateStyle: "ISO, YMD",
    IntervalStyle: "iso_8601",
    extra_float_digits: "3",
    bytea_output: "hex",
  };
  if (readOnly) connection.default_transaction_read_only = "on";
  const sql = postgres({
    host: t.path ? undefined : t.host,
    port: t.port,
    database: t.database,
    username: t.user,
    password: t.password,
    ssl: t.ssl === false ? false : t.ssl === "verify-full" ? "verify-full" : t.ssl,
    max: t.max,
    idle_timeout: 0,
    max_lifetime: 0,
    connect_timeout: t.connectTimeout,
    // Also what makes reserve() on a reconnecting connection resolve (3.4.9 leaves it pending otherwise).
    fetch_types: true,
    prepare: true,
    onnotice: () => undefined,
    // Every parameter is sent as the text we made (exact: µs times, shortest floats, hex
    // bytes); the driver's own serializers for the types the server infers would re-encode it.
    types: Object.fromEntries(
      [16, 17, 114, 3802, 1082, 1114, 1184, 1700].map((oid) => [`text${oid}`, { to: oid, from: [], serialize: (x: unknown) => String(x), parse: (x: string) => x }]),
    ),
    connection,
    // Returned before it connects (writes wait in the socket), as the driver's own sockets are:
    // the driver must never be left without a socket while it has work to write.
    socket: () => {
      const s = t.path ? net.connect(t.path) : net.connect(t.port, t.host);
      s.unref();
      s.setNoDelay(true);
      if (t.ssl === false) {
        const write = s.write.bind(s) as (chunk: Buffer, ...rest: unknown[]) => boolean;
        s.write = ((chunk: Buffer, ...rest: unknown[]) =>
          pending.size > 0 && Buffer.isBuffer(chunk) ? writeBehind(s, write, chunk, rest) : write(chunk, ...rest)) as typeof s.write;
      }
      sockets.add(s);
      s.once("close", () => {
        sockets.delete(s);
        dead.add(s);
        for (const w of watchers) w(s);
      });
      return s;
    },
  } as unknown as postgres.Options<Record<string, postgres.PostgresType>>);

  const hold = (): (() => void) => {
    if (busy++ === 0) keepAlive = setInterval(() => undefined, 1 << 30);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--busy === 0) clearInterval(keepAlive);
    };
  };
  /** Whether an error means the connection is gone (nothing more may be sent on it). */
  const lost = (err: unknown): boolean => {
    const e = err as { severity?: string; code?: string };
    if (err instanceof InDoubt) return lost(err.reason);
    if (err instanceof QuiverError || err instanceof GiveUp || e?.code === "ROLLED_BACK") return false;
    if (typeof e?.severity === "string") return e.severity === "FATAL" || e.severity === "PANIC";
    return true;
  };

  // After a lost connection the server may be down. The driver's reserve() must then not be
  // the call that reconnects: a reserve whose connection attempt fails stays queued in 3.4.9 and
  // later takes a connection for nobody (the pool shrinks until every reserve hangs). So a plain
  // query reconnects first, and a reserve that waits too long is given up (its connection, if
  // it ever comes, is released at once).
  let suspect = false;
  async function reserve(): Promise<postgres.ReservedSql> {
    if (suspect) {
      await sql.unsafe("SELECT 1");
      suspect = false;
    }
    const pending = sql.reserve();
    let timer: NodeJS.Timeout | undefined;
    let late = false;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        late = true;
        reject(Object.assign(new Error(`no connection within ${t.connectTimeout} s`), { code: "CONNECT_TIMEOUT" }));
      }, t.connectTimeout * 1000);
    });
    pending.then(
      (r) => late && r.release(),
      () => undefined,
    );
    try {
      return await Promise.race([pending, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function tx<T>(fn: (q: Sql, control: TxControl) => Promise<T>, options: TxOptions = {}): Promise<T> {
    let r: postgres.ReservedSql;
    try {
      r = await reserve();
    } catch (err) {
      suspect = true;
      throw err;
    }
    let sock: net.Socket | undefined;
    // The connection's socket, by the client port the server sees (TCP; a Unix socket has none).
    const alive = () => (sock ? !dead.has(sock) : true);
    let gone = false;
    let committing: Promise<{ command: string }> | undefined;
    let durable: Promise<unknown> | undefined;
    const quiet = <P extends Promise<unknown>>(p: P): P => (p.catch(() => undefined), p);
    // Settles (rejects) when the connection is lost. Statements queued behind one the server
    // never answered are dropped by the driver without settling: every wait races this.
    let kill: (err: unknown) => void = () => undefined;
    const lostConnection = quiet(
      new Promise<never>((_, reject) => {
        kill = reject;
      }),
    );
    const watcher = (closed: net.Socket) => {
      if (closed === sock) kill(Object.assign(new Error("the connection closed"), { code: "CONNECTION_CLOSED" }));
    };
    watchers.add(watcher);
    const watch = <P extends Promise<unknown>>(p: P): P => {
      p.catch((err: unknown) => lost(err) && kill(err));
      return p;
    };
    const settle = <V>(p: Promise<V>): Promise<V> => Promise.race([p, lostConnection]);
    const control: TxControl = {
      commit() {
        if (committing) return;
        // After a lost connection the driver would send COMMIT on a new session, where it
        // commits nothing and answers "COMMIT" all the same.
        if (!alive()) throw Object.assign(new Error("the connection closed before COMMIT"), { code: "CONNECTION_CLOSED" });
        committing = quiet(watch(r.unsafe("COMMIT").execute() as unknown as Promise<{ command: string }>));
        if (options.asyncCommit) durable = quiet(options.asyncCommit.durable(r));
      },
    };
    try {
      const begin = quiet(watch(r.unsafe("BEGIN").execute()));
      // One statement for all: the client port (alive()), quiver.own (this store's writes keep
      // the tables' spans: catalog.ts) and, for asyncCommit, SET LOCAL synchronous_commit.
      const relax = options.asyncCommit ? "set_config('synchronous_commit', 'off', true) AS relaxed, " : "";
      const who = quiet(watch(r.unsafe<{ port: number | null }[]>(`SELECT ${relax}set_config('quiver.own', 'on', true) AS own, inet_client_port() AS port`).execute()));
      who.then(
        (rows) => {
          const port = rows[0]?.port;
          if (port != null) sock = [...sockets].find((s) => s.localPort === Number(port));
          if (sock && dead.has(sock)) watcher(sock);
        },
        () => undefined,
      );
      const out = await settle(fn(r, control));
      await settle(begin);
      await settle(who);
      control.commit();
      let answer: { command: string };
      try {
        answer = await settle(committing!);
      } catch (err) {
        throw lost(err) || !alive() ? new InDoubt(err) : err;
      }
      if (answer.command !== "COMMIT") {
        // The server rolled back (a COPY it rejected after the data aborted the transaction).
        const why = control.rejected === undefined ? "" : `: ${(control.rejected as Error)?.message ?? control.rejected}`;
        throw Object.assign(new Error(`the server rolled the transaction back (it rejected the batch's data${why})`), { code: "ROLLED_BACK", cause: control.rejected });
      }
      try {
        await settle(durable ?? Promise.resolve());
      } catch (err) {
        throw new InDoubt(err);
      }
      return out;
    } catch (err) {
      gone = lost(err) || !alive();
      if (gone) suspect = true;
      const sent = committing !== undefined;
      if (!gone && !sent) {
        try {
          await settle(r.unsafe("ROLLBACK").execute());
        } catch (e) {
          gone = lost(e) || !alive();
        }
      }
      if (sent && !(err instanceof InDoubt) && (err as { code?: string }).code !== "ROLLED_BACK" && !isServerAnswer(err)) throw new InDoubt(err);
      throw err;
    } finally {
      // What was sent behind COMMIT (the durable statement) is answered before the connection
      // goes back: released earlier, it could run inside the next user's transaction.
      if (committing && !gone && alive()) await Promise.allSettled([settle(committing), settle(durable ?? Promise.resolve())]);
      watchers.delete(watcher);
      // A lost connection is left to the pool, which reconnects it; releasing it would put a
      // closed connection among the open ones.
      if (!gone && alive()) r.release();
    }
  }

  return {
    sql,
    tx,
    hold,
    fault: (err, what) => mapError(err, what, t),
    behind:
      t.ssl === false
        ? (marker, frames) => {
            const key = marker;
            pending.set(key, { marker: Buffer.from(marker), frames });
            return () => pending.delete(key);
          }
        : undefined,
    marker: () => `quiver:${nonce}:${markers++}`,
    async op<T>(what: string, fn: () => Promise<T>): Promise<T> {
      const release = hold();
      try {
        return await fn();
      } catch (err) {
        throw mapError(err, what, t);
      } finally {
        release();
      }
    },
    destroy(): void {
      for (const s of sockets) s.destroy();
      sockets.clear();
      if (keepAlive) clearInterval(keepAlive);
    },
    async end(): Promise<void> {
      await sql.end({ timeout: 5 });
    },
  };
}
