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
 *   caller's SQL, NOT_FOUND for a missing database, UNSUPPORTED for writes on read-only opens.
 */
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
  /** Destroys every socket now (process exit). */
  destroy(): void;
  end(): Promise<void>;
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
    if (code === "3D000") return new QuiverError("NOT_FOUND", `${what}: database ${JSON.stringify(t.database)} does not exist on ${t.where}; create it (createdb ${t.database}) or name another in the URL`, { cause: err });
    if (code === "25006") return new QuiverError("UNSUPPORTED", `${what}: the store was opened read-only (${msg}); open it without readOnly to write`, { cause: err });
    if (code.startsWith("28")) return new QuiverError("IO", `${what}: PostgreSQL at ${t.where} refused user ${JSON.stringify(t.user)} (${msg}); check the user and password in the URL`, { cause: err });
    if (isQueryError(code)) return new QuiverError("INVALID_QUERY", `${what}: ${msg} (SQLSTATE ${code})`, { cause: err });
    return new QuiverError("IO", `${what} on PostgreSQL at ${t.where} failed: ${msg} (SQLSTATE ${code}); the batch was not written, retry once the server is back`, { cause: err });
  }
  const why = code && !msg.includes(code) ? `${code}: ${msg}` : msg;
  return new QuiverError("IO", `${what}: cannot reach PostgreSQL at ${t.where} (${why}); check that the server is running and the URL's host and port, then retry`, { cause: err });
}

export function openPool(t: Target, readOnly: boolean): Pool {
  const sockets = new Set<net.Socket>();
  let busy = 0;
  let keepAlive: NodeJS.Timeout | undefined;
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
    fetch_types: false,
    prepare: true,
    onnotice: () => undefined,
    // Every parameter is sent as the text we made (exact: µs times, shortest floats, hex
    // bytes); the driver's own serializers for the types the server infers would re-encode it.
    types: Object.fromEntries([16, 17, 114, 3802, 1082, 1114, 1184, 1700].map((oid) => [`text${oid}`, { to: oid, from: [], serialize: (x: unknown) => String(x), parse: (x: string) => x }])),
    connection,
    socket: () =>
      new Promise<net.Socket>((resolve, reject) => {
        const s = t.path ? net.connect(t.path) : net.connect(t.port, t.host);
        s.unref();
        sockets.add(s);
        s.once("close", () => sockets.delete(s));
        s.once("error", reject);
        s.once("connect", () => {
          s.removeListener("error", reject);
          s.setNoDelay(true);
          resolve(s);
        });
      }),
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
  return {
    sql,
    hold,
    fault: (err, what) => mapError(err, what, t),
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
