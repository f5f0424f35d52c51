/**
 * Append tokens: no batch is written twice because a COMMIT's answer was lost.
 *
 * Every append inserts a random token into `_quiver_batches` in its own transaction. A writer
 * that sent COMMIT and never got the answer (the connection dropped, the server restarted) asks
 * the server about the token with an upsert: it waits for the original transaction if that is
 * still running, tells whether the token (so the append) committed, and, when it did, commits
 * an update that makes it durable. The append is then acknowledged after all. When the server
 * cannot be asked (it is down), the doubt is kept: the next append to the table settles it first
 * and, when the doubted batch committed and the new batch starts with the same rows (core's
 * buffer retries a failed batch ahead of newer rows), writes only the rest.
 *
 * Tokens are deleted once their append is acknowledged (by the same writer's next append);
 * tokens older than a day (a writer that crashed in doubt) go too.
 */
import type { RecordBatch } from "apache-arrow";
import { vectorToValues } from "@quiver/core/store-kit";
import type { Sql } from "postgres";
import type { Pool } from "./connection.js";

export type TokenState = "committed" | "absent";

class Absent extends Error {}

/** Whether the append that wrote `token` committed (waiting, up to 10 s, for it to end). */
export async function probeToken(pool: Pool, S: string, token: string): Promise<TokenState> {
  try {
    await pool.tx(async (q) => {
      await q.unsafe("SET LOCAL lock_timeout = '10s'");
      const [r] = await q.unsafe<{ fresh: boolean }[]>(
        `INSERT INTO ${S}._quiver_batches (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET done = true RETURNING (xmax = 0) AS fresh`,
        [token],
      );
      if (r!.fresh) throw new Absent(); // rolled back: the token must not outlive this question
    });
    return "committed";
  } catch (err) {
    if (err instanceof Absent) return "absent";
    throw err;
  }
}

/** The statement making an async-committed append durable (it writes, so its commit flushes). */
export function durableStatement(q: Sql, S: string, token: string, acked: readonly string[], prune: boolean): Promise<unknown> {
  const old = prune ? ` OR at < now() - interval '1 day'` : "";
  return q
    .unsafe(
      `WITH gone AS (DELETE FROM ${S}._quiver_batches WHERE id = ANY(string_to_array($2, ' '))${old}) UPDATE ${S}._quiver_batches SET done = true WHERE id = $1`,
      [token, acked.join(" ")],
      { prepare: true },
    ) // prepared: sent right behind COMMIT without a Parse/Describe round trip
    .execute();
}

interface Doubt {
  token: string;
  batch: RecordBatch;
  /** Known once asked; "committed" doubts wait for their retry. */
  state?: TokenState;
}

/** Committed doubts kept for a retry that may never come (a caller that gave up). */
const KEEP = 16;

/** The doubts of one writer, per table. */
export class Doubts {
  private readonly byTable = new Map<string, Doubt[]>();

  add(table: string, token: string, batch: RecordBatch): void {
    const list = this.byTable.get(table) ?? [];
    list.push({ token, batch });
    this.byTable.set(table, list);
  }

  /**
   * Settles the table's doubts before `batch` is appended: what of `batch` is still to write
   * (undefined: nothing). Throws (the append fails, the doubts stay) when the server cannot
   * be asked.
   */
  async settle(table: string, batch: RecordBatch, probe: (token: string) => Promise<TokenState>): Promise<RecordBatch | undefined> {
    const list = this.byTable.get(table);
    if (!list?.length) return batch;
    let rest: RecordBatch | undefined = batch;
    for (const d of [...list]) {
      d.state ??= await probe(d.token);
      const matches = rest !== undefined && d.state === "committed" && startsWith(rest, d.batch);
      if (d.state === "absent" || matches) list.splice(list.indexOf(d), 1);
      if (matches) rest = rest!.numRows === d.batch.numRows ? undefined : rest!.slice(d.batch.numRows);
    }
    if (list.length > KEEP) list.splice(0, list.length - KEEP);
    if (list.length === 0) this.byTable.delete(table);
    return rest;
  }
}

/** Whether two logged values are the same (NaN and -0 kept apart as logged). */
function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a === null || b === null || a === undefined || b === undefined || typeof a !== "object" || typeof b !== "object") return false;
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && Object.is(a.getTime(), b.getTime());
  if (ArrayBuffer.isView(a) || Array.isArray(a)) {
    const x = a as ArrayLike<unknown>;
    const y = b as ArrayLike<unknown>;
    if (!(ArrayBuffer.isView(b) || Array.isArray(b)) || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!same(x[i], y[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Whether `batch`'s first rows are `prefix`'s rows (columns matched by name; missing ones null). */
export function startsWith(batch: RecordBatch, prefix: RecordBatch): boolean {
  const n = prefix.numRows;
  if (batch.numRows < n) return false;
  const head = batch.slice(0, n);
  const values = (b: RecordBatch, name: string): unknown[] | undefined => {
    const i = b.schema.fields.findIndex((f) => f.name === name);
    return i < 0 ? undefined : vectorToValues(b.getChildAt(i)!, b.schema.fields[i]!);
  };
  const names = new Set([...head.schema.fields, ...prefix.schema.fields].map((f) => f.name));
  for (const name of names) {
    const a = values(head, name);
    const b = values(prefix, name);
    for (let k = 0; k < n; k++) if (!same(a?.[k] ?? null, b?.[k] ?? null)) return false;
  }
  return true;
}
