import { describe, it } from "vitest";
import { MemoryStore } from "../dist/index.js";
import { runStoreConformance } from "../dist/testing/index.js";

let n = 0;
runStoreConformance(
  { describe, it },
  {
    name: "memory",
    // A named memory store lives as long as the process, so "reopen" finds the same tables.
    create: async () => new MemoryStore(`conformance-${n++}`),
    reopen: async (closed) => new MemoryStore((closed as MemoryStore).name),
  },
);
