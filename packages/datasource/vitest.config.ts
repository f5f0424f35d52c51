import { defineConfig } from "vitest/config";
// globalSetup: a real PostgreSQL server for the postgres: store runs (QUIVER_PG_URL, else one started here).
export default defineConfig({ test: { testTimeout: 60_000, hookTimeout: 60_000, fileParallelism: false, globalSetup: ["test/pg-server.ts"] } });
