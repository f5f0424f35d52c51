/** { readOnly: true }: never creates, writes or checkpoints the file; refuses writes with UNSUPPORTED. */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openStore, rowsToBatch } from "@quiver/core";
import { describe, expect, it } from "vitest";
import "../dist/index.js";
import { tmpDb, tmpDir } from "./helpers.js";

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");

/** Every file of `dir` with its content hash and mtime. */
function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    fs.readdirSync(dir).map((f) => {
      const p = path.join(dir, f);
      return [f, `${createHash("sha256").update(fs.readFileSync(p)).digest("hex")} ${fs.statSync(p).mtimeMs}`];
    }),
  );
}

describe("duckdb: readOnly", () => {
  it("a missing file is NOT_FOUND with its path and is not created; without readOnly it is created", async () => {
    const dir = tmpDir();
    const file = path.join(dir, "missing.db");
    const err = (await openStore(`duckdb:${file}`, { readOnly: true }).then(
      () => undefined,
      (e: unknown) => e,
    )) as (Error & { code: string }) | undefined;
    expect(err).toMatchObject({ code: "NOT_FOUND" });
    expect(err!.message).toContain(file);
    await expect(openStore(`duckdb:${file}?readOnly=true`)).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(fs.readdirSync(dir)).toEqual([]);
    const w = await openStore(`duckdb:${file}`);
    await w.close();
    expect(fs.existsSync(file)).toBe(true);
    await expect(openStore("duckdb::memory:", { readOnly: true })).rejects.toMatchObject({ code: "UNSUPPORTED" });
  });

  it("reads, refuses every write with UNSUPPORTED, and leaves every byte of the folder as it was", async () => {
    const file = tmpDb();
    const w = await openStore(`duckdb:${file}`);
    await w.append("t", rowsToBatch(Array.from({ length: 100 }, (_, i) => ({ i, s: `v${i}` }))));
    await w.close();
    const dir = path.dirname(file);
    const before = snapshot(dir);
    for (const mode of ["shared", "exclusive"]) {
      const r = await openStore(`duckdb:${file}?mode=${mode}`, { readOnly: true });
      expect(await r.count("t")).toBe(100);
      expect(await r.tables()).toEqual(["t"]);
      expect((await r.sql!("SELECT sum(i) AS s FROM t")).get(0)!.toJSON()).toEqual({ s: 4950n });
      const writes: (() => Promise<unknown>)[] = [
        () => r.append("t", rowsToBatch([{ i: 1 }])),
        () => r.update("t", undefined, { i: 2 }),
        () => r.delete("t", undefined),
        () => r.drop("t"),
        () => r.sql!("DELETE FROM t"),
        () => r.sql!("SELECT 1; CHECKPOINT"),
        () => r.sql!(`COPY t TO '${path.join(dir, "out.csv")}'`),
      ];
      for (const write of writes) {
        await expect(Promise.resolve().then(write)).rejects.toMatchObject({ code: "UNSUPPORTED" });
      }
      await r.flush();
      await r.close();
    }
    expect(snapshot(dir)).toEqual(before);
  });

  it("after a writer was SIGKILLed: reads the committed rows from the WAL without replaying it into the file", async () => {
    const file = tmpDb();
    const victim = spawn(process.execPath, [path.join(fixtures, "killme.mjs"), `duckdb:${file}?mode=exclusive`, "500", "0"], { stdio: ["ignore", "pipe", "inherit"] });
    const flushed = await new Promise<number>((resolve) => {
      let n = 0;
      victim.stdout!.on("data", (d: Buffer) => {
        for (const l of d.toString().split("\n")) if (l.startsWith("flushed")) n = Number(l.split(" ")[1]);
        if (n >= 2000) resolve(n);
      });
    });
    await kill(victim);
    expect(fs.existsSync(file + ".wal")).toBe(true);
    const before = snapshot(path.dirname(file));
    const r = await openStore(`duckdb:${file}`, { readOnly: true });
    expect(await r.count("events")).toBeGreaterThanOrEqual(flushed);
    await r.close();
    expect(snapshot(path.dirname(file))).toEqual(before);
  }, 60_000);

  it("a reader and a writer on one file in one process: the reader sees the writer's rows and still cannot write", async () => {
    const file = tmpDb();
    await (await openStore(`duckdb:${file}`)).close();
    const r = await openStore(`duckdb:${file}`, { readOnly: true });
    const w = await openStore(`duckdb:${file}`);
    await w.append("t", rowsToBatch([{ i: 1 }, { i: 2 }]));
    expect(await r.count("t")).toBe(2);
    await expect(r.append("t", rowsToBatch([{ i: 3 }]))).rejects.toMatchObject({ code: "UNSUPPORTED" });
    await w.close();
    expect(await r.count("t")).toBe(2); // reopened read-only
    await r.close();
  });
});

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.on("exit", () => resolve());
    child.kill("SIGKILL");
  });
}
