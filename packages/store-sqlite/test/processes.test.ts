/**
 * Several processes on one file: writers append at once (each append one transaction; SQLite
 * serialises them) and a reader reads while they write. Every row lands once, positions stay
 * dense and in commit order, and a new column one writer adds is seen by the others.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openStore } from "@quiver/core";
import { describe, expect, it } from "vitest";
import "../dist/index.js";
import { tmpDb } from "./helpers.js";

const PKG = fileURLToPath(new URL("..", import.meta.url));

function writer(uri: string, id: number, batches: number, size: number): Promise<number | null> {
  const code = `import { openStore, rowsToBatch } from "@quiver/core"; await import(${JSON.stringify(path.join(PKG, "dist/index.js"))});
const s = await openStore(${JSON.stringify(uri)});
for (let b = 0; b < ${batches}; b++) {
  const rows = Array.from({ length: ${size} }, (_, k) => ({ w: ${id}, i: b * ${size} + k, ...(b === 5 ? { ["extra_${id}"]: "x" } : {}) }));
  await s.append("t", rowsToBatch(rows));
}
await s.close();`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", code], { cwd: PKG, stdio: ["ignore", "ignore", "inherit"] });
    child.on("error", reject);
    child.on("close", resolve);
  });
}

describe("sqlite: many processes", () => {
  it("three writers and a reader at once: every row once, dense positions, every writer's columns", async () => {
    const uri = `sqlite:${tmpDb()}`;
    const reader = await openStore(uri);
    const seen: number[] = [];
    let done = false;
    const watching = (async () => {
      while (!done) {
        seen.push((await reader.schema("t")) ? await reader.count("t") : 0);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const codes = await Promise.all([1, 2, 3].map((id) => writer(uri, id, 40, 250)));
    done = true;
    await watching;
    expect(codes).toEqual([0, 0, 0]);
    expect(seen.every((n, k) => k === 0 || n >= seen[k - 1]!)).toBe(true); // counts only grow
    expect(await reader.count("t")).toBe(30_000);
    const t = await reader.sql!(`SELECT count(*) AS n, count(DISTINCT w * 100000 + i) AS d, min(_quiver_pos) AS lo, max(_quiver_pos) AS hi FROM t`);
    expect(Object.values(t.get(0)!.toJSON()).map(Number)).toEqual([30_000, 30_000, 0, 29_999]);
    const schema = (await reader.schema("t"))!;
    expect(schema.fields.map((f) => f.name).sort()).toEqual(["extra_1", "extra_2", "extra_3", "i", "w"]);
    await reader.close();
  }, 120_000);
});
