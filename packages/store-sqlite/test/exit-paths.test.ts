// Exit durability over real child processes: every ending of a script that forgot close().
import { fileURLToPath } from "node:url";
import { describe, it } from "vitest";
import { openStore } from "@quiver/core";
import { exitTests } from "@quiver/core/testing";
import "../dist/index.js";

exitTests(
  { describe, it },
  {
    name: "sqlite",
    packages: { "@quiver/store-sqlite": fileURLToPath(new URL("..", import.meta.url)) },
    uri: (dir) => `sqlite:${dir}.db`,
    open: (uri) => openStore(uri),
  },
);
