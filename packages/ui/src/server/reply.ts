/** Writing responses: JSON (gzipped when large), bytes, and QuiverErrors as { code, message }. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";
import { isQuiverError, QuiverError } from "@quiver/core";

export function send(res: ServerResponse, status: number, body: string | Buffer, type: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store", "x-content-type-options": "nosniff", ...extra });
  res.end(body);
}

export function json(res: ServerResponse, value: unknown, req: IncomingMessage): void {
  const text = JSON.stringify(value);
  if (text.length > 8192 && /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))) {
    send(res, 200, gzipSync(text, { level: 1 }), "application/json", { "content-encoding": "gzip" });
  } else send(res, 200, text, "application/json");
}

export function fail(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (isQuiverError(err)) {
    const status = err.code === "NOT_FOUND" ? 404 : err.code === "INVALID_PATH" ? 403 : err.code === "IO" || err.code === "LOCKED" ? 503 : 400;
    send(res, status, JSON.stringify({ code: err.code, message: err.message }), "application/json");
  } else {
    send(res, 500, JSON.stringify({ code: "ERROR", message: String((err as Error)?.message ?? err) }), "application/json");
  }
}

/** A JSON request body (at most 1 MiB). */
export async function body(req: IncomingMessage, limit = 1 << 20): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new QuiverError("INVALID_VALUE", "request body too large");
    chunks.push(c as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new QuiverError("INVALID_VALUE", "request body is not JSON");
  }
}
