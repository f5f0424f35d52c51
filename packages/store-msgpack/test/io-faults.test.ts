import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isQuiverError, readRows, rowsToBatch } from "@quiver/core";
import { DATA_FILE, LOCK_FILE, openMsgpackStore } from "../dist/index.js";
import { cleanup, exited, listTree, pythonSummary, run, snapshot, tmpRoot, waitFor } from "./helpers.js";

const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts.splice(0).reverse()) {
    try {
      execFileSync("umount", [m]);
    } catch {
      /* already unmounted */
    }
  }
  cleanup();
});

/** A small tmpfs of `size`, or the reason it could not be mounted. */
function tmpfs(size: string): string | Error {
  const dir = tmpRoot("tmpfs");
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" });
  } catch (err) {
    return err as Error;
  }
  mounts.push(dir);
  return dir;
}

const canMount = (() => {
  const d = tmpfs("16k");
  if (d instanceof Error) return d.message;
  execFileSync("umount", [d]);
  mounts.pop();
  return true;
})();

async function failure(p: Promise<unknown>): Promise<Error | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
}

const rowsOf = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ _ts: from + i, i: from + i, text: `payload ${from + i} `.repeat(6) }));

describe.skipIf(canMount !== true)(`disk full and read-only file systems${canMount === true ? "" : ` (skipped: mount refused: ${canMount})`}`, () => {
  it("disk full: append rejects IO naming the file, leaves no torn bytes, and the retry succeeds with every row", async () => {
    const root = tmpfs("96k") as string;
    const store = openMsgpackStore(root, { blockRows: 64 });
    let acknowledged = 0;
    let err: Error | undefined;
    let batch = rowsOf(0, 40);
    for (let k = 0; k < 200; k++) {
      batch = rowsOf(acknowledged, 40);
      err = await failure(store.append("t", rowsToBatch(batch), { layout: k % 2 ? "columns" : "rows" }));
      if (err) break;
      acknowledged += batch.length;
      await store.flush();
    }
    expect(err, "the disk never filled").toBeDefined();
    expect(isQuiverError(err, "IO")).toBe(true);
    expect(err!.message).toContain(root);
    expect(err!.message).toMatch(/ENOSPC|no space/i);
    expect(err!.message).toMatch(/free (disk|some) space/); // the data file's advice, or the lock file's when that is what met the full disk
    expect((err as Error & { cause?: unknown }).cause).toBeDefined();
    // What was acknowledged is there, exactly, in this process and in a fresh one.
    expect(await store.count("t")).toBe(acknowledged);
    const other = openMsgpackStore(root, { readOnly: true });
    expect(await other.count("t")).toBe(acknowledged);
    await other.close();
    expect(pythonSummary(path.join(root, "t", DATA_FILE)).rows).toBe(acknowledged);
    // Retrying while the disk is still full fails again, and still adds nothing.
    expect(isQuiverError(await failure(store.append("t", rowsToBatch(batch))), "IO")).toBe(true);
    expect(await store.count("t")).toBe(acknowledged);
    // Make room (as a user would: the files are in the way, so grow the file system), retry.
    execFileSync("mount", ["-o", "remount,size=4m", root]);
    await store.append("t", rowsToBatch(batch));
    await store.flush();
    acknowledged += batch.length;
    expect((await readRows(store, "t")).map((r) => r.i)).toEqual(Array.from({ length: acknowledged }, (_, i) => i));
    await store.close();
    const again = openMsgpackStore(root, { readOnly: true });
    expect(await again.count("t")).toBe(acknowledged);
    await again.close();
    expect(pythonSummary(path.join(root, "t", DATA_FILE)).rows).toBe(acknowledged);
    expect(listTree(root).filter((f) => f.includes(".tmp-") || f.endsWith(LOCK_FILE))).toEqual([]);
  }, 60_000);

  it("read-only file system: reads work and create nothing, append rejects IO, the store stays usable once writable again", async () => {
    const root = tmpfs("4m") as string;
    const store = openMsgpackStore(root);
    await store.append("t", rowsToBatch(rowsOf(0, 100)));
    await store.close();
    execFileSync("mount", ["-o", "remount,ro", root]);
    const before = snapshot(root);
    const s2 = openMsgpackStore(root);
    expect(await s2.count("t")).toBe(100);
    expect(await s2.tables()).toEqual(["t"]);
    const err = await failure(s2.append("t", rowsToBatch(rowsOf(100, 10))));
    expect(isQuiverError(err, "IO")).toBe(true);
    expect(err!.message).toContain(root);
    expect(err!.message).toMatch(/read-only/);
    expect(isQuiverError(await failure(s2.append("new/table", rowsToBatch(rowsOf(0, 1)))), "IO")).toBe(true);
    expect(snapshot(root)).toEqual(before);
    execFileSync("mount", ["-o", "remount,rw", root]);
    await s2.append("t", rowsToBatch(rowsOf(100, 10)));
    expect(await s2.count("t")).toBe(110);
    await s2.close();
    const s3 = openMsgpackStore(root, { readOnly: true });
    expect((await readRows(s3, "t")).map((r) => r.i)).toEqual(Array.from({ length: 110 }, (_, i) => i));
    await s3.close();
  }, 30_000);
});

describe("readOnly and closeSync", () => {
  it("readOnly: NOT_FOUND for a missing folder; reads create nothing; writes are UNSUPPORTED", async () => {
    const parent = tmpRoot("ro");
    const missing = path.join(parent, "nope");
    expect(() => openMsgpackStore(missing, { readOnly: true })).toThrow(expect.objectContaining({ code: "NOT_FOUND" }));
    expect(fs.existsSync(missing)).toBe(false);
    const w = openMsgpackStore(parent);
    await w.append("a/b", rowsToBatch(rowsOf(0, 5)));
    await w.close();
    const before = snapshot(parent);
    const ro = openMsgpackStore(parent, { readOnly: true });
    expect(await ro.count("a/b")).toBe(5);
    expect(await ro.count("x/y")).toBe(0);
    expect(await ro.schema("x/y")).toBeUndefined();
    for (const p of [ro.append("a/b", rowsToBatch(rowsOf(5, 1))), ro.update("a/b", undefined, { v: 1 }), ro.delete("a/b", undefined), ro.drop("a/b")]) {
      expect(isQuiverError(await failure(p), "UNSUPPORTED")).toBe(true);
    }
    await ro.flush();
    ro.closeSync();
    await ro.close();
    expect(snapshot(parent)).toEqual(before);
    expect(fs.existsSync(path.join(parent, "x"))).toBe(false);
  });

  it("closeSync releases the lock at once: another process writes the same table while the first still runs", async () => {
    for (const useCloseSync of [true, false]) {
      const root = tmpRoot("closesync");
      const child = run("close-sync.mjs", [root, "t", useCloseSync ? "1" : "0"]);
      await waitFor(child, "released");
      const store = openMsgpackStore(root, { lockTimeout: 1000 });
      const err = await failure(store.append("t", rowsToBatch([{ _ts: 1000, who: "parent" }])));
      if (useCloseSync) {
        expect(err).toBeUndefined();
        expect(await store.count("t")).toBe(101);
      } else {
        // Without it the lock stays with the blocked process: this test can fail.
        expect(isQuiverError(err, "LOCKED")).toBe(true);
      }
      await store.close();
      child.kill("SIGKILL");
      await exited(child);
    }
  }, 30_000);
});
