/** The test server's URL, fresh schemas on it, and a raw client for looking under the store. */
import { randomBytes } from "node:crypto";
import postgres from "postgres";

export function baseUrl(): string {
  const u = process.env.QUIVER_PG_URL;
  if (!u) throw new Error("QUIVER_PG_URL is not set: the tests need a PostgreSQL server (test/server.ts starts one)");
  return u;
}

/** A URL of the test server with `?schema=` set (other options appended). */
export function urlWith(schema: string, extra = ""): string {
  const u = new URL(baseUrl());
  u.searchParams.set("schema", schema);
  return u.toString() + extra;
}

/** A fresh, unused schema name. */
export function freshSchema(prefix = "t"): string {
  return `${prefix}_${randomBytes(6).toString("hex")}`;
}

/** A store URL in a fresh schema. */
export function freshUrl(prefix = "t", extra = ""): string {
  return urlWith(freshSchema(prefix), extra);
}

/** A raw driver connection (no Quiver in between) to check what is really stored. */
export function raw(): postgres.Sql {
  return postgres(baseUrl(), { max: 2, onnotice: () => undefined, fetch_types: false });
}

export function schemaOf(url: string): string {
  return new URL(url).searchParams.get("schema")!;
}
