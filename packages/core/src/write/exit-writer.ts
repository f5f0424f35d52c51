/**
 * The exit writer: run by exit.ts in a child process while the exiting process waits. Opens
 * each store of the manifest, appends its batches in order, flushes and closes it. A written
 * item's file is removed and the manifest rewritten, so whatever is left over (and printed by
 * the parent) is exactly what still needs writing. Exit code 0 only when everything is written.
 *
 * A store whose lock the exiting process itself still holds (a native call of its outlived
 * closeSync; the store says so with LOCKED and `holderPid` = QUIVER_EXIT_PARENT) cannot be
 * written while that process waits for us: exit code HELD_BY_PARENT, and the parent starts this
 * writer again as its successor (QUIVER_EXIT_AFTER), which waits for the parent to end — the OS
 * then releases the lock — and writes what is left.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { tableFromIPC } from "apache-arrow";
import type { ExitManifest } from "./exit.js";
import { openStore } from "../store/registry.js";
import { concatBatches } from "../arrow/batches.js";
import { isQuiverError } from "../errors.js";
import { HELD_BY_PARENT } from "./exit-codes.js";

/** Waits until process `pid` has ended (at most `ms`). */
async function awaitEnd(pid: number, ms: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    try {
      process.kill(pid, 0);
      // A zombie (ended, not yet reaped by its parent) has closed its files and locks already.
      if (/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "latin1"))) return;
    } catch {
      return; // ESRCH: gone (or no /proc: the kill probe said it lives, so keep polling elsewhere)
    }
    if (Date.now() - t0 > ms) return; // try anyway: the store reports what it meets
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function main(path: string): Promise<number> {
  const manifest = JSON.parse(readFileSync(path, "utf8")) as ExitManifest;
  const after = Number(process.env.QUIVER_EXIT_AFTER);
  if (after > 0) await awaitEnd(after, 60_000);
  const parent = Number(process.env.QUIVER_EXIT_PARENT);
  let failed = 0;
  let held = 0;
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
      if (!(after > 0) && parent > 0 && isQuiverError(err, "LOCKED") && err.holderPid === parent) {
        held++; // the successor writes it
        continue;
      }
      failed++;
      process.stderr.write(`[quiver] exit writer: ${entry.uri}: ${(err as Error)?.message ?? err}\n`);
    }
  }
  manifest.stores = manifest.stores.filter((s) => s.items.length > 0);
  writeFileSync(path, JSON.stringify(manifest));
  // The successor: nobody waits for it, so it removes the folder itself, or says where it is.
  if (after > 0) {
    if (failed === 0) rmSync(dirname(path), { recursive: true, force: true });
    else process.stderr.write(`[quiver] exit writer: what could not be written stays as Arrow IPC files in ${dirname(path)} (manifest.json names each store and table)\n`);
  }
  return failed > 0 ? 1 : held > 0 ? HELD_BY_PARENT : 0;
}

main(process.argv[2]!).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`[quiver] exit writer failed: ${(err as Error)?.stack ?? err}\n`);
    process.exit(1);
  },
);
