/**
 * `postgres://user:pass@host:port/db?schema=quiver&max=10` → driver options. Core hands the
 * plugin the location after "postgres:", i.e. "//user:pass@host:port/db?…".
 */
import { QuiverError, type StoreOpenOptions } from "@quiver/core";

export interface PostgresStoreOptions extends StoreOpenOptions {
  /** Schema holding the store's tables (default "quiver"); created on first write. */
  schema?: string;
  /** Connections in the pool (default 10). */
  max?: number;
  /** Seconds to wait for a connection before IO (default 10). */
  connectTimeout?: number;
  /** TLS: "disable" (default), "prefer", "require", "verify-full". */
  sslmode?: "disable" | "prefer" | "require" | "verify-full";
}

export interface Target {
  host: string;
  port: number;
  /** A Unix socket folder when the host is a path. */
  path?: string;
  database: string;
  user: string;
  password?: string;
  schema: string;
  max: number;
  connectTimeout: number;
  ssl: false | "prefer" | "require" | "verify-full";
  /** host:port (or the socket path) for messages. */
  where: string;
}

const OPTIONS = ["schema", "max", "connectTimeout", "sslmode", "host", "port", "user", "password"];

function num(name: string, v: unknown, min: number): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === "string" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min)
    throw new QuiverError("INVALID_URI", `postgres: option ${name} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

export function parseLocation(location: string, options: PostgresStoreOptions = {}): Target {
  const text = location.replace(/^(postgres|postgresql):/i, "");
  if (!text.startsWith("//")) {
    throw new QuiverError(
      "INVALID_URI",
      `postgres: expected a URL such as "postgres://user@localhost:5432/db?schema=quiver", got ${JSON.stringify(`postgres:${text.replace(/:[^:@/]*@/, ":***@")}`)}`,
    );
  }
  let url: URL;
  try {
    url = new URL(`postgres:${text}`);
  } catch (err) {
    throw new QuiverError(
      "INVALID_URI",
      `postgres: ${JSON.stringify(`postgres:${text.replace(/:[^:@/]*@/, ":***@")}`)} is not a valid URL; write postgres://user:password@host:port/database`,
      { cause: err },
    );
  }
  const q = Object.fromEntries(url.searchParams);
  for (const k of Object.keys(q)) {
    if (!OPTIONS.includes(k)) throw new QuiverError("INVALID_URI", `postgres: unknown option ${JSON.stringify(k)}; use ${OPTIONS.join(", ")}`);
  }
  const host = q.host ?? (decodeURIComponent(url.hostname) || "localhost");
  const port = num("port", q.port ?? (url.port || undefined), 1) ?? 5432;
  const user = q.user ?? (decodeURIComponent(url.username) || process.env.PGUSER || process.env.USER || "postgres");
  const password = q.password ?? (url.password ? decodeURIComponent(url.password) : process.env.PGPASSWORD);
  const database = decodeURIComponent(url.pathname.replace(/^\//, "")) || process.env.PGDATABASE || user;
  const schema = options.schema ?? q.schema ?? "quiver";
  if (!schema || schema.includes("\u0000") || Buffer.byteLength(schema) > 63) {
    throw new QuiverError("INVALID_URI", `postgres: schema must be 1-63 bytes without NUL, got ${JSON.stringify(schema)}`);
  }
  const sslmode = options.sslmode ?? (q.sslmode as PostgresStoreOptions["sslmode"]) ?? "disable";
  if (!["disable", "prefer", "require", "verify-full"].includes(sslmode))
    throw new QuiverError("INVALID_URI", `postgres: sslmode must be disable, prefer, require or verify-full, got ${JSON.stringify(sslmode)}`);
  const isPath = host.startsWith("/");
  return {
    host,
    port,
    path: isPath ? `${host}/.s.PGSQL.${port}` : undefined,
    database,
    user,
    password,
    schema,
    max: num("max", options.max ?? q.max, 1) ?? 10,
    connectTimeout: num("connectTimeout", options.connectTimeout ?? q.connectTimeout, 1) ?? 10,
    ssl: sslmode === "disable" ? false : sslmode,
    where: isPath ? `${host} (port ${port})` : `${host}:${port}`,
  };
}

/** The URI without its password, for messages. */
export function redact(uri: string): string {
  return uri.replace(/(\/\/[^:@/]*:)[^@/]*@/, "$1***@").replace(/([?&]password=)[^&]*/, "$1***");
}
