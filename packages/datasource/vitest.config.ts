import { defineConfig } from "vitest/config";
// globalSetup: a real PostgreSQL server for the postgres: store runs (QUIVER_PG_URL, else one started here).
// Two projects: the suite as it is, and the behaviour tests again with every commit written as
// Parquet segments (QUIVER_DS_SEGMENT_ROWS=1, src/segments.ts), so each reader of the events is
// checked against segments too (scale, tensorize and the README example are left out: slow, or
// nothing of theirs reads events differently).
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    globalSetup: ["test/pg-server.ts"],
    projects: [
      { extends: true, test: { name: "default" } },
      {
        extends: true,
        test: {
          name: "segments-everywhere",
          env: { QUIVER_DS_SEGMENT_ROWS: "1" },
          include: ["test/{datasource,atomic,consistency,fields,files,hot,io,segments}.test.ts"],
        },
      },
    ],
  },
});
