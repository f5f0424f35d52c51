/** The custom IPC store (ipc-store.ts, a driver on the store kit) passes the whole conformance suite. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { openStore, registerStore } from "../dist/index.js";
import { runStoreConformance } from "../dist/testing/index.js";
import { ipcPlugin } from "./ipc-store.js";

registerStore(ipcPlugin);

runStoreConformance(
  { describe, it },
  {
    name: "custom ipc store",
    create: () => openStore(`ipc:${mkdtempSync(join(tmpdir(), "quiver-ipc-"))}`),
    reopen: (closed) => openStore(closed.uri),
  },
);
