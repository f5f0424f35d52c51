import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, it } from "vitest";
import { openStore, type Store } from "@quiver/core";
import { runStoreConformance } from "@quiver/core/testing";
import "../dist/index.js";

const roots: string[] = [];
const where = new WeakMap<Store, string>();

afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

runStoreConformance(
  { describe, it },
  {
    name: "msgpack",
    create: async () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), "quiver-msgpack-conf-"));
      roots.push(root);
      const store = await openStore(`msgpack:${root}`);
      where.set(store, root);
      return store;
    },
    reopen: async (closed) => {
      const root = where.get(closed)!;
      const store = await openStore(`msgpack:${root}`);
      where.set(store, root);
      return store;
    },
  },
);
