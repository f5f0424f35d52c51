import { defineConfig } from "vitest/config";
// The store-postgres README example needs a real server: the same throw-away cluster its own tests
// use (QUIVER_PG_URL when CI started one).
export default defineConfig({ test: { testTimeout: 60_000, hookTimeout: 120_000, globalSetup: ["../store-postgres/test/server.ts"] } });
