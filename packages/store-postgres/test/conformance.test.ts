import { afterAll, beforeAll, describe, it } from "vitest";
import { openStore, type Store } from "@quiver/core";
import { runStoreConformance } from "@quiver/core/testing";
import "../dist/index.js";
import { freshUrl } from "./helpers.js";

runStoreConformance({ describe, it, beforeAll, afterAll } as never, {
  name: "postgres",
  create: () => openStore(freshUrl("conf")),
  reopen: (closed: Store) => openStore(closed.uri),
});
