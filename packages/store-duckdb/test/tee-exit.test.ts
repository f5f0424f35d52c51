/** A tee of two duckdb files cut by process.exit mid-flush: each file ends with every row once. */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openStore } from "@quiver/core";
import { describe, expect, it } from "vitest";
import "../dist/index.js";
import { tmpDb } from "./helpers.js";

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "tee-exit.mjs");
const N = 150_000;

describe("teeStore at exit", () => {
  // The delays land in the primary's append, between the two, and in the mirror's append.
  it.each([0, 20, 60, 120, 250, 500])(
    "exit %i ms into the flush: primary and mirror each hold every row once",
    async (delay) => {
      const [a, b] = [tmpDb(), tmpDb()];
      const r = spawnSync(process.execPath, [fixture, a, b, String(N), String(delay)], { encoding: "utf8", timeout: 120_000 });
      expect(r.status, r.stderr).toBe(0);
      for (const file of [a, b]) {
        const s = await openStore(`duckdb:${file}`);
        const t = await s.sql!("SELECT count(*) AS n, count(DISTINCT i) AS d FROM events");
        const { n, d } = t.get(0)!.toJSON() as { n: bigint; d: bigint };
        expect([Number(n), Number(d)], `${file === a ? "primary" : "mirror"}, ${r.stderr}`).toEqual([N, N]);
        await s.close();
      }
    },
    180_000,
  );
});
