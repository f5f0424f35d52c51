// Exit durability over real child processes: every ending of a script that forgot close().
import { fileURLToPath } from "node:url";
import { basename } from "node:path";
import { describe, it } from "vitest";
import { openStore } from "@quiver/core";
import { exitTests } from "@quiver/core/testing";
import "../dist/index.js";
import { urlWith } from "./helpers.js";

exitTests(
  { describe, it },
  {
    name: "postgres",
    packages: { "@quiver/store-postgres": fileURLToPath(new URL("..", import.meta.url)) },
    // One schema per test: the child's app folder names it.
    uri: (dir) => urlWith(`exit_${basename(dir.replace(/\/data$/, "")).replace(/[^A-Za-z0-9]/g, "_")}`).replace(/^postgresql?:/, "postgres:"),
    open: (uri) => openStore(uri),
  },
);
