/**
 * @quiver/store-postgres — the `postgres:` store (also `postgresql:`). Importing this module
 * registers both schemes.
 *
 *   postgres://user:password@host:5432/db                 schema "quiver" (created on first write)
 *   postgres://user@host/db?schema=team_a&max=20          another schema, a bigger pool
 *   postgres://user@/db?host=/var/run/postgresql          a Unix socket folder
 */
import { registerStore, type StorePlugin } from "@quiver/core";
import { definePlugin } from "@quiver/core/store-kit";
import { openPool } from "./connection.js";
import { PostgresDriver } from "./store.js";
import { parseLocation, type PostgresStoreOptions } from "./url.js";

/** Opens the driver at a location ("//user@host:port/db?…"); core wraps it into a Store. */
export async function openDriver(location: string, options: PostgresStoreOptions = {}): Promise<PostgresDriver> {
  const target = parseLocation(location, options);
  const readOnly = options.readOnly === true;
  const pool = openPool(target, readOnly);
  // The canonical URI (scheme postgres:) is what the exit writer and copy reopen.
  const driver = new PostgresDriver(`postgres:${location.replace(/^(postgres|postgresql):/i, "")}`, target, pool);
  try {
    if (readOnly) await driver.requireCatalog();
    else await driver.bootstrap();
  } catch (err) {
    pool.destroy();
    await pool.end().catch(() => undefined);
    throw err;
  }
  return driver;
}

const open = (location: string, options: PostgresStoreOptions) => openDriver(location, options);

export const postgresPlugin: StorePlugin = definePlugin("postgres", open);
/** The same store under the scheme `postgresql:` (libpq's other spelling). */
export const postgresqlPlugin: StorePlugin = definePlugin("postgresql", open);

registerStore(postgresPlugin);
registerStore(postgresqlPlugin);

export default postgresPlugin;
export { PostgresDriver } from "./store.js";
export { parseLocation, type PostgresStoreOptions } from "./url.js";
