/**
 * The exit writer: run by exit.ts in a child process while the exiting process waits. Opens
 * each store of the manifest, appends its batches in order, flushes and closes it. A written
 * item's file is removed and the manifest rewritten, so whatever is left over (and printed by
 * the parent) is exactly what still needs writing. Exit code 0 only when everything is written.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { tableFromIPC } from "apache-arrow";
import type { ExitManifest } from "./exit.js";
import { openStore } from "../store/registry.js";
import { concatBatches } from "../arrow/batches.js";

async function main(path: string): Promise<number> {
  const manifest = JSON.parse(readFileSync(path, "utf8")) as ExitManifest;
  let failed = 0;
  for (const entry of manifest.stores) {
    try {
      const store = await openStore(entry.uri, entry.options);
      try {
        while (entry.items.length) {
          const item = entry.items[0]!;
          const table = tableFromIPC(readFileSync(item.file));
          // A token covers the whole item: it was one append, so it is one append again.
          const batch = table.batches.length === 1 ? table.batches[0]! : concatBatches(table.batches, table.schema);
          await store.append(item.table, batch, { layout: item.layout, token: item.token });
          await store.flush();
          entry.items.shift();
          rmSync(item.file, { force: true });
        }
      } finally {
        await store.close();
      }
    } catch (err) {
      failed++;
      process.stderr.write(`[quiver] exit writer: ${entry.uri}: ${(err as Error)?.message ?? err}\n`);
    }
  }
  manifest.stores = manifest.stores.filter((s) => s.items.length > 0);
  writeFileSync(path, JSON.stringify(manifest));
  return failed === 0 ? 0 : 1;
}

main(process.argv[2]!).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[quiver] exit writer failed: ${(err as Error)?.stack ?? err}\n`);
    process.exit(1);
  },
);
