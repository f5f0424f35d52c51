import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { openStore, type Store } from "@quiver/core";
import { runStoreConformance } from "@quiver/core/testing";
import "../dist/index.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-h5-conf-"));
let n = 0;
const where = new WeakMap<Store, string>();

runStoreConformance({ describe, it, beforeAll, afterAll } as Parameters<typeof runStoreConformance>[0], {
  name: "h5",
  create: async () => {
    const file = path.join(dir, `store-${n++}.h5`);
    const store = await openStore(`h5:${file}`);
    where.set(store, file);
    return store;
  },
  reopen: async (closed) => {
    // Each reopened store must map to its file too: properties reopen again and again.
    const file = where.get(closed)!;
    const store = await openStore(`h5:${file}`);
    where.set(store, file);
    return store;
  },
});

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
