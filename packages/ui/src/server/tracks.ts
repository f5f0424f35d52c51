/**
 * The tracks timeline's data (dreamlake sessions: tables `<prefix>/tracks/<name>`,
 * `<prefix>/logs`, `<prefix>/params`). Every read is a `_ts` window through the store's
 * readByTime (its time index where it has one, else the equivalent scan), so a 10M-point track
 * costs the window asked for, never the whole track. Reads only.
 */
import { QuiverError, type Store } from "@quiver/core";
import { batchToRows, readTimeRange } from "@quiver/core/store-kit";
import { type DataType, type RecordBatch, Type } from "apache-arrow";
import { floats } from "./columns.js";
import { decimate } from "../shared/decimate.js";
import type { LogEntry, SessionInfo, TrackField, TrackInfo, TrackPoints, TrackWindow } from "../shared/protocol-views.js";
import type { Cell } from "../shared/protocol.js";

const TRACKS = "/tracks/";

function fieldKind(t: DataType): TrackField["kind"] {
  switch (t.typeId) {
    case Type.Int:
    case Type.Float:
    case Type.Decimal:
      return "number";
    case Type.Bool:
      return "bool";
    case Type.Utf8:
    case Type.LargeUtf8:
      return "string";
    case Type.Timestamp:
    case Type.Date:
      return "time";
    case Type.List:
    case Type.FixedSizeList: {
      const c = t.children[0]?.type.typeId;
      return c === Type.Int || c === Type.Float ? "list" : "other";
    }
    default:
      return "other";
  }
}

/** A cell for the points table: lists as arrays of numbers, bytes and tensors described. */
function cell(v: unknown): Cell | Cell[] {
  if (v === null || v === undefined) return null;
  if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  if (Array.isArray(v) || ArrayBuffer.isView(v)) {
    const a = Array.from(v as ArrayLike<unknown>);
    return a.length <= 64 && a.every((x) => typeof x !== "object" || x === null) ? (a.map((x) => (typeof x === "bigint" ? Number(x) : x)) as Cell[]) : `<list of ${a.length}>`;
  }
  if (typeof v === "object" && "shape" in (v as object)) return `<tensor ${JSON.stringify((v as { shape: unknown }).shape)}>`;
  return JSON.stringify(v);
}

async function collect(it: AsyncIterable<RecordBatch>): Promise<RecordBatch[]> {
  const out: RecordBatch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

export class TracksData {
  private infoCache = new Map<string, { at: number; value: Promise<TrackInfo> }>();

  constructor(readonly store: Store) {}

  /** Sessions (prefixes) with their tracks; a prefix is what comes before "/tracks/". */
  async sessions(): Promise<SessionInfo[]> {
    const tables = await this.store.tables();
    const set = new Set(tables);
    const byPrefix = new Map<string, string[]>();
    for (const t of tables) {
      let at = t.indexOf(TRACKS);
      // A prefix may itself contain "/tracks/": prefer the split whose session has logs or params.
      for (let k = at; k >= 0; k = t.indexOf(TRACKS, k + 1)) {
        const p = t.slice(0, k);
        if (set.has(`${p}/logs`) || set.has(`${p}/params`)) {
          at = k;
          break;
        }
      }
      if (at < 0) continue;
      const prefix = t.slice(0, at);
      const list = byPrefix.get(prefix) ?? [];
      list.push(t.slice(at + TRACKS.length));
      byPrefix.set(prefix, list);
    }
    for (const t of tables) {
      const m = /^(.*)\/logs$/.exec(t);
      if (m && !byPrefix.has(m[1]!) && !m[1]!.includes(TRACKS)) byPrefix.set(m[1]!, []);
    }
    const out: SessionInfo[] = [];
    for (const [prefix, names] of [...byPrefix].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const tracks = await Promise.all(names.sort().map((n) => this.info(`${prefix}${TRACKS}${n}`, n)));
      const logs = set.has(`${prefix}/logs`) ? await this.info(`${prefix}/logs`, "logs") : undefined;
      out.push({ prefix, tracks, logs: logs ? { table: logs.table, rows: logs.rows, t0: logs.t0, t1: logs.t1 } : undefined });
    }
    return out;
  }

  /** A track's size, time extent and fields (two one-row windows and a count; cached 1 s). */
  info(table: string, name = table): Promise<TrackInfo> {
    const c = this.infoCache.get(table);
    if (c && Date.now() - c.at < 1000) return c.value.then((i) => ({ ...i, name }));
    const value = (async (): Promise<TrackInfo> => {
      const schema = await this.store.schema(table);
      if (!schema) throw new QuiverError("NOT_FOUND", `${this.store.uri} has no track table ${JSON.stringify(table)}`);
      const [rows, first, last] = await Promise.all([
        this.store.count(table),
        collect(readTimeRange(this.store, table, { limit: 1 })),
        collect(readTimeRange(this.store, table, { limit: 1, reverse: true })),
      ]);
      const ts = (bs: RecordBatch[]) => {
        const b = bs.find((x) => x.numRows > 0);
        const v = b ? floats(b.getChild("_ts"))[0] : NaN;
        return Number.isFinite(v) ? v! : null;
      };
      const firstRow = first.find((b) => b.numRows > 0);
      const fields: TrackField[] = [];
      for (const f of schema.fields) {
        if (f.name === "_ts") continue;
        const kind = fieldKind(f.type);
        let size: number | undefined;
        if (kind === "list" && firstRow) {
          const v = firstRow.getChild(f.name)?.get(0) as { length?: number } | null;
          size = typeof v?.length === "number" ? v.length : undefined;
        }
        fields.push({ name: f.name, kind, ...(size !== undefined ? { size } : {}) });
      }
      return { name, table, rows, t0: ts(first), t1: ts(last), fields };
    })();
    this.infoCache.set(table, { at: Date.now(), value });
    value.catch(() => this.infoCache.delete(table));
    return value.then((i) => ({ ...i, name }));
  }

  /**
   * Numeric and list fields of a track over [t0, t1], first/min/max/last per pixel column (a
   * list field gives one line per element: `position[0]`, `position[1]`, …).
   */
  async window(table: string, fields: string[], t0: number, t1: number, width: number): Promise<TrackWindow> {
    const started = performance.now();
    const info = await this.info(table);
    const known = new Map(info.fields.map((f) => [f.name, f] as const));
    const wanted = fields.filter((f) => known.get(f)?.kind === "number" || known.get(f)?.kind === "list");
    for (const f of fields)
      if (!known.has(f))
        throw new QuiverError("UNKNOWN_FIELD", `track ${JSON.stringify(table)} has no field ${JSON.stringify(f)}; it has ${info.fields.map((x) => x.name).join(", ") || "none"}`);
    if (!(t1 >= t0)) throw new QuiverError("INVALID_VALUE", `a window needs t0 ≤ t1, got ${t0} … ${t1}`);
    // end is exclusive in readByTime; the window's last instant belongs to it.
    const end = t1 + Math.max(1e-9, Math.abs(t1) * 1e-15);
    const ts: Float64Array[] = [];
    const cols = new Map<string, Float64Array[]>();
    let n = 0;
    for await (const b of readTimeRange(this.store, table, { start: t0, end, columns: ["_ts", ...wanted] })) {
      n += b.numRows;
      ts.push(floats(b.getChild("_ts")));
      for (const f of wanted) {
        const k = known.get(f)!;
        const v = b.getChild(f);
        if (!v) {
          // An older batch without this column: its points have no value there.
          const none = new Float64Array(b.numRows).fill(NaN);
          if (k.kind === "number") push(cols, f, none);
          else for (let e = 0; e < Math.max(k.size ?? 0, 1); e++) push(cols, `${f}[${e}]`, none);
        } else if (k.kind === "number") push(cols, f, floats(v));
        else {
          // One line per element of the list (the element count may differ between points).
          const size = Math.max(k.size ?? 0, 1);
          const per = Array.from({ length: size }, () => new Float64Array(b.numRows).fill(NaN));
          for (let i = 0; i < b.numRows; i++) {
            const row = v.get(i) as ArrayLike<number | bigint> | null;
            if (!row) continue;
            for (let e = 0; e < Math.min(size, row.length); e++) per[e]![i] = Number(row[e]);
          }
          per.forEach((p, e) => push(cols, `${f}[${e}]`, p));
        }
      }
    }
    const x = concat(ts);
    const series: TrackWindow["series"] = [];
    for (const [key, parts] of cols) {
      const d = decimate(x, concat(parts), t0, t1, width);
      series.push({ key, n: d.n, x: d.x, y: d.y });
    }
    return { table, t0, t1, n, series, ms: performance.now() - started };
  }

  /** The points just before (≤ t) and after (> t) the cursor, `k` each. */
  async around(table: string, t: number, k: number): Promise<TrackPoints> {
    const kk = Math.min(200, Math.max(1, Math.floor(k)));
    const end = t + Math.max(1e-9, Math.abs(t) * 1e-15);
    const [before, after] = await Promise.all([
      collect(readTimeRange(this.store, table, { end, reverse: true, limit: kk })),
      collect(readTimeRange(this.store, table, { start: end, limit: kk })),
    ]);
    const rows = (bs: RecordBatch[]) => bs.flatMap((b) => batchToRows(b, { omitNulls: true }).map((r) => Object.fromEntries(Object.entries(r).map(([key, v]) => [key, cell(v)]))));
    const prev = rows(before).reverse();
    return { table, t, before: prev.length, points: [...prev, ...rows(after)] as TrackPoints["points"] };
  }

  /** A session's log entries in [t0, t1] (at most `limit`, oldest first). */
  async logs(table: string, t0: number | undefined, t1: number | undefined, limit = 5000): Promise<{ entries: LogEntry[]; more: boolean }> {
    if (!table.endsWith("/logs")) throw new QuiverError("INVALID_VALUE", `${JSON.stringify(table)} is not a session's logs table (<prefix>/logs)`);
    if (!(await this.store.schema(table))) return { entries: [], more: false };
    const lim = Math.min(20_000, Math.max(1, limit));
    const entries: LogEntry[] = [];
    for await (const b of readTimeRange(this.store, table, { start: t0, end: t1 === undefined ? undefined : t1 + 1e-9, limit: lim + 1 })) {
      for (const r of batchToRows(b, { omitNulls: true })) {
        entries.push({
          _ts: Number(r._ts),
          level: String(r.level ?? "info"),
          message: String(r.message ?? ""),
          ...(r.metadata !== undefined ? { metadata: String(r.metadata) } : {}),
        });
      }
    }
    const more = entries.length > lim;
    return { entries: entries.slice(0, lim), more };
  }
}

function push(m: Map<string, Float64Array[]>, k: string, v: Float64Array): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

function concat(parts: Float64Array[]): Float64Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float64Array(parts.reduce((a, p) => a + p.length, 0));
  let k = 0;
  for (const p of parts) {
    out.set(p, k);
    k += p.length;
  }
  return out;
}
