import { afterAll, beforeAll, describe, it } from "vitest";
import { openStore, type Store } from "@quiver/core";
import { runStoreConformance } from "@quiver/core/testing";
import "../dist/index.js";
import { tmpDb } from "./helpers.js";

runStoreConformance(
  { describe, it, beforeAll, afterAll },
  {
    name: "duckdb file",
    create: () => openStore("duckdb:" + tmpDb()),
    reopen: (closed: Store) => openStore(closed.uri),
  },
);

runStoreConformance(
  { describe, it, beforeAll, afterAll },
  {
    name: "duckdb exclusive",
    create: () => openStore("duckdb:" + tmpDb() + "?mode=exclusive"),
    reopen: (closed: Store) => openStore(closed.uri),
  },
);
