import { request } from "node:http";
import { join } from "node:path";
import { Tracker } from "@quiver/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type UiServer } from "../dist/index.js";
import { makeRuns, tempDir } from "./helpers.js";

const tmp = tempDir();
const file = join(tmp.dir, "runs.db");
let ids: string[];
let srv: UiServer;

function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
  body?: string,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

beforeAll(async () => {
  ids = await makeRuns(file, [
    { lr: 0.1, points: 100 },
    { lr: 0.2, points: 50 },
  ]);
  srv = await startServer({ store: `duckdb:${file}`, port: 0, livePoll: 50 });
});

afterAll(async () => {
  await srv?.close();
  tmp.cleanup();
});

describe("the server", () => {
  it("binds 127.0.0.1 and serves the page, its script (gzipped) and the API", async () => {
    expect(srv.host).toBe("127.0.0.1");
    expect(srv.url).toBe(`http://127.0.0.1:${srv.port}/`);
    const page = await get(srv.port, "/");
    expect(page.status).toBe(200);
    expect(page.text).toContain('<script src="app.js">');
    expect(page.headers["content-security-policy"]).toContain("default-src 'self'");
    const js = await get(srv.port, "/app.js", { "accept-encoding": "gzip" });
    expect(js.headers["content-encoding"]).toBe("gzip");
    const meta = JSON.parse((await get(srv.port, "/api/meta")).text);
    expect(meta).toMatchObject({ table: "events", engine: "sql", hasRuns: true, rows: 150 });
    const runs = JSON.parse((await get(srv.port, "/api/runs?sort=lr&desc=1")).text);
    expect(runs.ids).toEqual([ids[1], ids[0]]);
    const series = JSON.parse(
      (await get(srv.port, "/api/series", { "content-type": "application/json" }, "POST", JSON.stringify({ table: "events", runs: ids, y: "loss", x: "step", width: 10 }))).text,
    );
    expect(series.series.map((s: { n: number }) => s.n)).toEqual([100, 50]);
  });

  it("answers bad requests with a code and a message", async () => {
    const bad = await get(srv.port, "/api/runs?filter=lr%20%3E");
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toMatchObject({ code: "INVALID_QUERY" });
    expect((await get(srv.port, "/api/meta?table=nope")).status).toBe(404);
    expect((await get(srv.port, "/nope")).status).toBe(404);
    const body = await get(srv.port, "/api/series", {}, "POST", "{");
    expect(JSON.parse(body.text)).toMatchObject({ code: "INVALID_VALUE" });
  });

  it("refuses a foreign Host header (DNS rebinding) when bound to loopback", async () => {
    expect((await get(srv.port, "/api/meta", { host: "evil.example:80" })).status).toBe(403);
    expect((await get(srv.port, "/api/meta", { host: `localhost:${srv.port}` })).status).toBe(200);
  });

  it("says when a table grows (server-sent events)", async () => {
    const events: string[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: srv.port, path: "/api/live?table=events" }, (res) => {
        res.on("data", (c: Buffer) => {
          events.push(c.toString());
          if (events.join("").includes("event: rows")) {
            req.destroy();
            resolve();
          }
        });
      });
      req.on("error", (e) => (events.join("").includes("event: rows") ? resolve() : reject(e)));
      req.end();
    });
    await new Promise((r) => setTimeout(r, 200));
    const t = await Tracker.open(`duckdb:${file}`, { flushInterval: 0 });
    await t.log({ step: 0, loss: 1 });
    await t.close();
    await done;
    expect(events.join("")).toMatch(/event: rows\ndata: \{"table":"events","rows":151\}/);
  });

  it("off loopback it needs a token, and every request must carry it", async () => {
    await expect(startServer({ store: `duckdb:${file}`, port: 0, host: "0.0.0.0" })).rejects.toMatchObject({ code: "INVALID_VALUE", message: expect.stringContaining("--token") });
    await expect(startServer({ store: `duckdb:${file}`, port: 0, token: "short" })).rejects.toMatchObject({ code: "INVALID_VALUE" });
    const s = await startServer({ store: `duckdb:${file}`, port: 0, host: "0.0.0.0", token: "s3cret-token" });
    try {
      expect(s.url).toBe(`http://0.0.0.0:${s.port}/?token=s3cret-token`);
      expect((await get(s.port, "/")).status).toBe(401);
      expect((await get(s.port, "/api/meta?token=wrong-token")).status).toBe(401);
      expect((await get(s.port, "/api/meta?token=s3cret-token")).status).toBe(200);
      expect((await get(s.port, "/api/meta", { authorization: "Bearer s3cret-token", host: "other.host" })).status).toBe(200);
    } finally {
      await s.close();
    }
  });

  it("reports a port in use with what to do", async () => {
    await expect(startServer({ store: `duckdb:${file}`, port: srv.port })).rejects.toMatchObject({ code: "INVALID_VALUE", message: expect.stringContaining("--port") });
  });
});
