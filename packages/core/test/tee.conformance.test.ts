/**
 * teeStore passes the whole conformance suite: over two memory stores, and over the custom IPC
 * store (persistent: reopen runs) mirrored to a memory store. After each test, every mirror
 * must hold exactly what the primary holds.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { MemoryStore, openStore, readRows, registerStore, type Store, teeStore } from "../dist/index.js";
import { plain, runStoreConformance } from "../dist/testing/index.js";
import { ipcPlugin } from "./ipc-store.js";

registerStore(ipcPlugin);

/** The stores behind each tee, to reopen them and to compare the mirror with the primary. */
const parts = new Map<Store, { primary: () => Promise<Store>; mirror: string }>();
const dirs: string[] = [];
let n = 0;

async function tee(primary: () => Promise<Store>, mirror = `tee-mirror-${n++}`): Promise<Store> {
  const t = teeStore(await primary(), new MemoryStore(mirror));
  parts.set(t, { primary, mirror });
  return t;
}

/** Every table of the mirror holds what the primary's does (a tee that lost a write would differ). */
async function assertMirrored(closed: Store): Promise<number> {
  const p = parts.get(closed)!;
  const primary = await p.primary();
  const mirror = new MemoryStore(p.mirror);
  try {
    assert.deepEqual(await mirror.tables(), await primary.tables(), "the mirror has the primary's tables");
    let rows = 0;
    for (const t of await primary.tables()) {
      const want = await readRows(primary, t);
      assert.deepEqual(plain(await readRows(mirror, t)), plain(want), `table ${t} mirrored`);
      rows += want.length;
    }
    return rows;
  } finally {
    await primary.close();
  }
}

const api = { describe, it, beforeAll, afterAll };

describe("teeStore(memory, memory)", () => {
  api.afterAll(async () => {
    // Checked once over every tee the suite made: the mirror equals the primary.
    let rows = 0;
    for (const closed of parts.keys()) if (closed.uri.startsWith("tee:memory:tee-primary")) rows += await assertMirrored(closed);
    assert.ok(rows > 1000, `the suite's rows were compared (${rows})`);
  });
  runStoreConformance(api, {
    name: "tee memory+memory",
    create: () => {
      const name = `tee-primary-${n++}`;
      return tee(async () => new MemoryStore(name));
    },
    reopen: async (closed) => {
      const p = parts.get(closed)!;
      return tee(p.primary, p.mirror);
    },
  });
});

describe("teeStore(custom ipc store, memory)", () => {
  beforeAll(() => void dirs.push(mkdtempSync(join(tmpdir(), "quiver-tee-"))));
  afterAll(async () => {
    let rows = 0;
    for (const closed of parts.keys()) if (closed.uri.startsWith("tee:ipc:")) rows += await assertMirrored(closed);
    assert.ok(rows > 1000, `the suite's rows were compared (${rows})`);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  runStoreConformance(api, {
    name: "tee ipc+memory",
    create: () => {
      const dir = join(dirs[0]!, `s${n++}`);
      return tee(() => openStore(`ipc:${dir}`));
    },
    reopen: async (closed) => {
      const p = parts.get(closed)!;
      return tee(p.primary, p.mirror);
    },
  });
});
