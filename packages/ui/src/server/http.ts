/**
 * The dashboard's HTTP server (node:http): the page, its one JS file, a small JSON API (the
 * page polls /api/rows for growth) and a server-sent-events stream for scripts that says when a
 * table grew. Binds 127.0.0.1 unless told
 * otherwise; any other host needs a token that every request must carry. It only reads.
 */
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { openStore, QuiverError, type Store } from "@quiver/core";
import { RunsData } from "./data.js";
import { pageHtml, pageScript } from "./page.js";
import { body, fail, json, send } from "./reply.js";
import { ViewRoutes } from "./routes.js";
import type { SeriesRequest } from "../shared/protocol.js";

export interface ServeOptions {
  /** A store URI (opened read-only) or an opened store (the caller keeps owning it). */
  store: string | Store;
  /** Port to listen on (default 5170; 0 picks a free one). */
  port?: number;
  /** Interface to bind (default 127.0.0.1). Any other needs `token`. */
  host?: string;
  /** Required on every request (`?token=` or `Authorization: Bearer`); mandatory off loopback. */
  token?: string;
  /** How often live clients' tables are checked for new rows (ms, default 250). */
  livePoll?: number;
  /** HDF5 files for the array viewer (an `h5:` store's own file is added). */
  h5?: string | readonly string[];
  /** A datasource root (the folder of datasources.db, e.g. ".quiver") for the gallery. */
  datasources?: string;
}

export interface UiServer {
  /** The page's address (with the token when there is one). */
  url: string;
  host: string;
  port: number;
  data: RunsData;
  views: ViewRoutes;
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);

function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function seriesRequest(v: unknown): SeriesRequest {
  const o = v as Record<string, unknown>;
  const str = (k: string) => (typeof o?.[k] === "string" ? (o[k] as string) : undefined);
  const fin = (k: string) => (typeof o?.[k] === "number" && Number.isFinite(o[k]) ? (o[k] as number) : undefined);
  if (!o || !Array.isArray(o.runs) || !o.runs.every((r) => typeof r === "string") || !str("table") || !str("y")) {
    throw new QuiverError("INVALID_VALUE", "series request needs table, y and runs (an array of run ids)");
  }
  return {
    table: str("table")!,
    runs: (o.runs as string[]).slice(0, 500),
    y: str("y")!,
    x: str("x") ?? "step",
    x0: fin("x0"),
    x1: fin("x1"),
    width: fin("width") ?? 1000,
    group: str("group") || undefined,
  };
}

/** Starts the dashboard server; resolves once it listens. */
export async function startServer(options: ServeOptions): Promise<UiServer> {
  const host = options.host ?? "127.0.0.1";
  if (!isLoopback(host) && !options.token) {
    throw new QuiverError("INVALID_VALUE", `--host ${host} makes the dashboard reachable from other machines; pass --token SECRET too (every request must then carry it)`);
  }
  if (options.token !== undefined && !/^[\x21-\x7e]{8,}$/.test(options.token)) {
    throw new QuiverError("INVALID_VALUE", "--token must be at least 8 printable characters without spaces");
  }
  const owned = typeof options.store === "string";
  const store = typeof options.store === "string" ? await openStore(options.store, { readOnly: true }) : options.store;
  const data = new RunsData(store);
  const h5 = typeof options.h5 === "string" ? [options.h5] : [...(options.h5 ?? [])];
  if (store.scheme === "h5") {
    const own = store.uri.replace(/^h5:/, "");
    if (!h5.includes(own)) h5.unshift(own);
  }
  const views = new ViewRoutes(store, { h5, datasources: options.datasources }, async () => {
    for (const t of await store.tables()) if ((await store.schema(t))?.fields.some((f) => f.name === "track_id")) return true;
    return false;
  });
  const script = pageScript();
  const scriptGz = gzipSync(script);
  const token = options.token;
  const poll = options.livePoll ?? 250;
  const live = new Map<string, { clients: Set<ServerResponse>; rows: number; timer: NodeJS.Timeout }>();

  const watch = (table: string, res: ServerResponse) => {
    let w = live.get(table);
    if (!w) {
      const entry = { clients: new Set<ServerResponse>(), rows: -1, timer: undefined as unknown as NodeJS.Timeout, busy: false };
      entry.timer = setInterval(async () => {
        if (entry.busy) return;
        entry.busy = true;
        try {
          const n = await data.rows(table, true);
          if (entry.rows >= 0 && n !== entry.rows) for (const c of entry.clients) c.write(`event: rows\ndata: ${JSON.stringify({ table, rows: n })}\n\n`);
          entry.rows = n;
        } catch {
          // The store is busy or gone for a moment; the next tick asks again.
        } finally {
          entry.busy = false;
        }
      }, poll);
      live.set(table, (w = entry));
    }
    w.clients.add(res);
    res.on("close", () => {
      w!.clients.delete(res);
      if (w!.clients.size === 0) {
        clearInterval(w!.timer);
        live.delete(table);
      }
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const hostHeader = String(req.headers.host ?? "").replace(/:\d+$/, "");
    // A page on another site must not reach a loopback server through DNS rebinding.
    if (!token && !isLoopback(hostHeader)) return send(res, 403, "forbidden host", "text/plain");
    if (token) {
      const auth = String(req.headers.authorization ?? "");
      const given = url.searchParams.get("token") ?? (auth.startsWith("Bearer ") ? auth.slice(7) : undefined);
      if (!sameToken(given, token))
        return send(res, 401, JSON.stringify({ code: "UNAUTHORIZED", message: "this dashboard needs its token: open the URL quiver ui printed" }), "application/json");
    }
    const p = url.pathname;
    const q = (k: string) => url.searchParams.get(k) ?? undefined;
    if (req.method === "GET" && (p === "/" || p === "/index.html"))
      return send(res, 200, pageHtml(), "text/html; charset=utf-8", { "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:" });
    if (req.method === "GET" && p === "/app.js") {
      const gz = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
      return send(res, 200, gz ? scriptGz : script, "application/javascript; charset=utf-8", gz ? { "content-encoding": "gzip" } : {});
    }
    if (await views.handle(req, res, url)) return;
    if (req.method === "GET" && p === "/api/meta") return json(res, await data.meta(q("table")), req);
    if (req.method === "GET" && p === "/api/runs") {
      const table = q("table") ?? (await data.defaultTable());
      return json(
        res,
        await data.page({ table, filter: q("filter"), sort: q("sort"), desc: q("desc") === "1", offset: Number(q("offset") ?? 0), limit: Number(q("limit") ?? 200) }),
        req,
      );
    }
    if (req.method === "GET" && p === "/api/rows") return json(res, { rows: await data.rows(q("table") ?? (await data.defaultTable())) }, req);
    if (req.method === "POST" && p === "/api/series") return json(res, await data.series(seriesRequest(await body(req))), req);
    if (req.method === "GET" && p === "/api/live") {
      const table = q("table") ?? (await data.defaultTable());
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
      res.write(`retry: 1000\nevent: hello\ndata: ${JSON.stringify({ table })}\n\n`);
      watch(table, res);
      return;
    }
    send(res, 404, JSON.stringify({ code: "NOT_FOUND", message: `no such path ${p}` }), "application/json");
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => fail(res, err));
  });
  server.keepAliveTimeout = 5000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) => {
        reject(
          err.code === "EADDRINUSE"
            ? new QuiverError("INVALID_VALUE", `port ${options.port ?? 5170} on ${host} is in use; pass --port N (or --port 0 for any free port)`, { cause: err })
            : err,
        );
      });
      server.listen(options.port ?? 5170, host, () => resolve());
    });
  } catch (err) {
    await views.close();
    if (owned) await store.close();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  const url = `http://${shown}:${port}/${token ? `?token=${encodeURIComponent(token)}` : ""}`;
  return {
    url,
    host,
    port,
    data,
    views,
    async close() {
      for (const w of live.values()) {
        clearInterval(w.timer);
        for (const c of w.clients) c.end();
      }
      live.clear();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await views.close();
      if (owned) await store.close();
    },
  };
}
