/**
 * Read-only opens never create, write or leave anything: a missing file is NOT_FOUND, writes are
 * UNSUPPORTED, and the folder holds the same bytes afterwards — also for a file a writer left in
 * WAL mode (killed before it could close), where only SQLite's -shm index is written to.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openStore, rowsToBatch } from "@quiver/core";
import { describe, expect, it } from "vitest";
import "../dist/index.js";
import { tmpDir } from "./helpers.js";

const PKG = fileURLToPath(new URL("..", import.meta.url));

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    fs.readdirSync(dir).map((f) => [
      f,
      createHash("sha256")
        .update(fs.readFileSync(path.join(dir, f)))
        .digest("hex"),
    ]),
  );
}

describe("sqlite: read-only opens", () => {
  it("a missing file is NOT_FOUND and is not created", async () => {
    const dir = tmpDir();
    await expect(openStore(`sqlite:${path.join(dir, "none.db")}`, { readOnly: true })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(openStore("sqlite::memory:", { readOnly: true })).rejects.toMatchObject({ code: "UNSUPPORTED" });
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("reads a closed file without creating, changing or locking anything; writes are UNSUPPORTED", async () => {
    const dir = tmpDir();
    const uri = `sqlite:${path.join(dir, "r.db")}`;
    const w = await openStore(uri);
    await w.append("t", rowsToBatch([{ i: 1, s: "x" }]));
    await w.close();
    const before = snapshot(dir);
    const r = await openStore(uri, { readOnly: true });
    expect(await r.count("t")).toBe(1);
    await expect(r.append("t", rowsToBatch([{ i: 2 }]))).rejects.toMatchObject({ code: "UNSUPPORTED" });
    await expect(r.sql!(`INSERT INTO t (i) VALUES (3)`)).rejects.toMatchObject({ code: "UNSUPPORTED" });
    // Another process writes meanwhile: the read-only store holds no lock that stops it.
    const w2 = await openStore(uri);
    await w2.append("t", rowsToBatch([{ i: 2 }]));
    await w2.close();
    expect(await r.count("t")).toBe(2);
    await r.close();
    const after = snapshot(dir);
    expect(Object.keys(after)).toEqual(Object.keys(before));
  });

  it("two writers at once: once both closed, the file has no -wal/-shm and a read-only open creates none", async () => {
    const dir = tmpDir();
    const uri = `sqlite:${path.join(dir, "two.db")}`;
    const a = await openStore(uri);
    await a.append("t", rowsToBatch([{ i: 1 }]));
    const b = await openStore(uri);
    await b.append("t", rowsToBatch([{ i: 2 }]));
    await a.close(); // b still open: the file stays in WAL mode
    await b.close(); // the last one sets it back
    expect(fs.readdirSync(dir)).toEqual(["two.db"]);
    const r = await openStore(uri, { readOnly: true });
    expect(await r.count("t")).toBe(2);
    await r.close();
    expect(fs.readdirSync(dir)).toEqual(["two.db"]);
  });

  it("reads what a killed writer committed (WAL left behind), without touching its files", async () => {
    const dir = tmpDir();
    const file = path.join(dir, "k.db");
    const child = `import { openStore, rowsToBatch } from "@quiver/core"; await import(${JSON.stringify(path.join(PKG, "dist/index.js"))});
const s = await openStore(${JSON.stringify(`sqlite:${file}`)});
await s.append("t", rowsToBatch([{ i: 1 }, { i: 2 }]));
process.kill(process.pid, "SIGKILL");`;
    const r0 = spawnSync(process.execPath, ["--input-type=module", "-e", child], { cwd: PKG, encoding: "utf8" });
    expect(r0.signal).toBe("SIGKILL");
    expect(fs.readdirSync(dir).sort()).toEqual(["k.db", "k.db-shm", "k.db-wal"]);
    const before = snapshot(dir);
    const r = await openStore(`sqlite:${file}`, { readOnly: true });
    expect(await r.count("t")).toBe(2);
    await r.close();
    // The database and its WAL are byte for byte as the writer left them. The -shm is SQLite's
    // shared-memory index (read marks), which every WAL reader writes by SQLite's protocol.
    const after = snapshot(dir);
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    expect([after["k.db"], after["k.db-wal"]]).toEqual([before["k.db"], before["k.db-wal"]]);
  });
});
