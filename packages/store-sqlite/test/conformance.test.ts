import { afterAll, beforeAll, describe, it } from "vitest";
import { openStore, type Store } from "@quiver/core";
import { runStoreConformance } from "@quiver/core/testing";
import "../dist/index.js";
import { tmpDb } from "./helpers.js";

runStoreConformance(
  { describe, it, beforeAll, afterAll },
  {
    name: "sqlite file",
    create: () => openStore(`sqlite:${tmpDb()}`),
    reopen: (closed: Store) => openStore(closed.uri),
  },
);

runStoreConformance(
  { describe, it, beforeAll, afterAll },
  {
    name: "sqlite :memory:",
    create: () => openStore("sqlite::memory:"),
  },
);
