import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The suites spawn node processes; two at a time is plenty on a shared 2-core machine.
    maxWorkers: 2,
  },
});
