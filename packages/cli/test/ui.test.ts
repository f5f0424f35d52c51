import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Tracker } from "@quiver/core";
import "@quiver/store-duckdb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, quiver, tempDir } from "./helpers.js";

const tmp = tempDir();
const db = join(tmp.dir, "runs.db");

beforeAll(async () => {
  for (const lr of [0.1, 0.01]) {
    const t = await Tracker.open(`duckdb:${db}`, { params: { lr } });
    await t.logBatch(Array.from({ length: 50 }, (_, step) => ({ step, loss: 1 / (1 + step) })));
    await t.close();
  }
});

afterAll(() => tmp.cleanup());

describe("quiver ui", () => {
  it("--export writes one self-contained report", () => {
    const out = join(tmp.dir, "report.html");
    const r = quiver(["ui", db, "--export", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*report\.html \(2 runs, 1 metric, \d+ KB\)/);
    const html = readFileSync(out, "utf8");
    expect(html).toContain("window.__QUIVER_REPORT__=");
    expect(html).not.toMatch(/<script src=/);
  });

  it("serves the dashboard on 127.0.0.1 until SIGINT, reading only", async () => {
    const child = spawn(process.execPath, [BIN, "ui", `duckdb:${db}`, "--port", "0"], { env: { ...process.env, NO_COLOR: "1" } });
    const line = String((await createInterface({ input: child.stdout })[Symbol.asyncIterator]().next()).value);
    const url = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(line)?.[1];
    expect(url, line).toBeDefined();
    const meta = await new Promise<string>((resolve, reject) =>
      get(`${url}api/meta`, (res) => {
        let s = "";
        res.on("data", (c) => (s += c));
        res.on("end", () => resolve(s));
      }).on("error", reject),
    );
    expect(JSON.parse(meta)).toMatchObject({ table: "events", rows: 100, engine: "sql" });
    child.kill("SIGINT");
    const code = await new Promise((r) => child.once("exit", (c) => r(c)));
    expect(code).toBe(0);
  });

  it("refuses another host without a token, and a missing store, saying what to do", () => {
    const open = quiver(["ui", db, "--host", "0.0.0.0"]);
    expect(open.code).not.toBe(0);
    expect(open.stderr).toMatch(/INVALID_VALUE: .*--token/);
    const missing = quiver(["ui", join(tmp.dir, "nope.db")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/NOT_FOUND/);
    expect(existsSync(join(tmp.dir, "nope.db"))).toBe(false);
    expect(quiver(["ui", db, "--port", "http"]).stderr).toMatch(/--port must be an integer/);
  });
});
