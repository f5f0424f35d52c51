/**
 * Query execution. Two engines over the same event log:
 *  - FoldEngine (any Store): folds the events into the current/as-of state in JS and runs the
 *    query with core's evaluator (SQL three-valued logic, nulls last).
 *  - SqlEngine (stores with `capabilities.sql`, i.e. DuckDB): keeps a materialised "current"
 *    table next to the events (refreshed incrementally after writes) and pushes the whole query
 *    down to SQL; `asOf` aggregates the events up to that time with arg_max.
 */
import { Field, RecordBatch, Schema, Struct, Table, makeData } from "apache-arrow";
import { type Primitive, QuiverError, type QueryNode, buildData, evaluate, queryFields, sameType, sortIndices, vectorToValues } from "@quiver/core";
import { quoteIdent } from "./duck.js";
import { type FieldRec, type State, foldEvents, seqBound } from "./events.js";
import { HotCache } from "./hotcache.js";
import type { EventLog, LogState } from "./log.js";
import { compileWhere } from "./sqlgen.js";
import { type FieldType, arrowType, elementType, isListType } from "./types.js";
import type { ViewSpec } from "./view.js";

export interface FieldInfo {
  name: string;
  type: FieldType;
}

function multi(field: string, t: FieldType, op: string): QuiverError {
  return new QuiverError("INVALID_QUERY", `field ${JSON.stringify(field)} is multivalue (${t}): ${op} does not apply; use contains(value), isNull() or isNotNull()`);
}

/** UNKNOWN_FIELD for names the datasource has never seen; INVALID_QUERY for values of the wrong kind. */
export function checkSpec(spec: ViewSpec, fields: readonly FieldInfo[], dsName: string): void {
  const types = new Map<string, FieldType>([["path", "string"], ...fields.map((f) => [f.name, f.type] as [string, FieldType])]);
  const unknown = (f: string): QuiverError => new QuiverError("UNKNOWN_FIELD", `datasource ${dsName} has no field ${JSON.stringify(f)}; fields: ${[...types.keys()].join(", ")}`);
  const kindOk = (t: FieldType, v: Primitive): boolean => {
    switch (t) {
      case "int":
      case "float":
        return typeof v === "number" || typeof v === "bigint";
      case "bool":
        return typeof v === "boolean";
      case "datetime":
        return v instanceof Date;
      default:
        return typeof v === "string";
    }
  };
  const walk = (n: QueryNode): void => {
    switch (n.op) {
      case "and":
      case "or":
        n.args.forEach(walk);
        return;
      case "not":
        walk(n.arg);
        return;
    }
    const t = types.get(n.field);
    if (!t) throw unknown(n.field);
    const bad = (v: Primitive): QuiverError =>
      new QuiverError(
        "INVALID_QUERY",
        `field ${JSON.stringify(n.field)} is ${t}; cannot compare it with ${typeof v === "object" ? "a Date" : typeof v} ${JSON.stringify(String(v))}`,
      );
    switch (n.op) {
      case "isNull":
      case "isNotNull":
        return;
      case "in":
        if (isListType(t)) throw multi(n.field, t, n.op);
        for (const v of n.values) if (!kindOk(t, v)) throw bad(v);
        return;
      case "contains":
      case "startsWith":
      case "endsWith":
        // contains on a multivalue field: "has this element" (of the element type); else a substring.
        if (n.op === "contains" && isListType(t)) {
          if (!kindOk(elementType(t), n.value)) throw bad(n.value);
          return;
        }
        if (t !== "string" && t !== "blob") throw new QuiverError("INVALID_QUERY", `${n.op} needs a string field; ${JSON.stringify(n.field)} is ${t}`);
        if (typeof n.value !== "string") throw bad(n.value);
        return;
      default:
        if (isListType(t)) throw multi(n.field, t, n.op);
        if (!kindOk(t, n.value)) throw bad(n.value);
    }
  };
  if (spec.where) walk(spec.where);
  for (const s of spec.select ?? []) if (!types.has(s)) throw unknown(s);
  for (const o of spec.orderBy ?? []) {
    if (!types.has(o.column)) throw unknown(o.column);
    if (isListType(types.get(o.column))) throw new QuiverError("INVALID_QUERY", `cannot order by the multivalue field ${JSON.stringify(o.column)}; order by a one-value field`);
  }
}

export function resultSchema(fields: readonly FieldInfo[], select?: readonly string[]): Schema {
  const chosen = select ? fields.filter((f) => select.includes(f.name)) : [...fields];
  if (select) chosen.sort((a, b) => select.indexOf(a.name) - select.indexOf(b.name));
  return new Schema([new Field("path", arrowType("string"), true), ...chosen.map((f) => new Field(f.name, arrowType(f.type), true))]);
}

function batchOf(schema: Schema, columns: unknown[][], n: number): RecordBatch {
  const datas = schema.fields.map((f, i) => buildData(f.type, columns[i]!, f.name));
  return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children: datas }));
}

export interface Engine {
  run(spec: ViewSpec, state: LogState): Promise<Table>;
  /** Called after a commit. */
  invalidate(): void;
  drop(): Promise<void>;
}

export class FoldEngine implements Engine {
  private cache?: { bound: number; key: string; state: State };
  /** The current state in memory, kept up to date incrementally (hotcache.ts); loaded once from the fold. */
  private readonly hot: HotCache;
  constructor(private readonly log: EventLog) {
    this.hot = new HotCache(log, async (st) => {
      const state = await foldEvents(log, st, st.fields, st.bound);
      const schema = resultSchema(st.fields);
      return new Table([batchOf(schema, [state.paths, ...st.fields.map((f) => state.columns.get(f.name)!)], state.paths.length)]);
    });
  }

  invalidate(): void {
    this.cache = undefined;
  }

  async drop(): Promise<void> {
    this.hot.drop();
  }

  private async state(st: LogState, asOf?: Date): Promise<State> {
    if (asOf) return foldEvents(this.log, st, st.fields, Math.min(st.bound, await seqBound(this.log.store, this.log.commitsTable, asOf)));
    const key = st.fields.map((f) => f.name).join("\u0000");
    if (this.cache && this.cache.bound === st.bound && this.cache.key === key) return this.cache.state;
    const state = await foldEvents(this.log, st, st.fields, st.bound);
    this.cache = { bound: st.bound, key, state };
    return state;
  }

  async run(spec: ViewSpec, st: LogState): Promise<Table> {
    const fields = st.fields;
    const hot = await this.hot.query(st, spec, resultSchema(fields, spec.select));
    if (hot) return hot;
    const state = await this.state(st, spec.asOf);
    const n = state.paths.length;
    const column = (name: string): unknown[] => (name === "path" ? state.paths : state.columns.get(name)!);
    // Build Arrow only for the columns the query and the sort read, and sort only the matches.
    const sub = (names: readonly string[], rows?: readonly number[]): RecordBatch => {
      const schema = resultSchema(fields.filter((f) => names.includes(f.name)));
      return batchOf(
        schema,
        schema.fields.map((f) => (rows ? rows.map((i) => column(f.name)[i]) : column(f.name))),
        rows ? rows.length : n,
      );
    };
    let candidates: number[];
    if (spec.where) {
      const mask = evaluate(spec.where, sub([...queryFields(spec.where)]));
      candidates = [];
      for (let i = 0; i < n; i++) if (mask[i]) candidates.push(i);
    } else candidates = Array.from({ length: n }, (_, i) => i);
    const keys = [...(spec.orderBy ?? []), { column: "path", direction: "asc" as const }];
    const order = sortIndices(
      sub(
        keys.map((k) => k.column),
        candidates,
      ),
      keys,
    );
    const limit = Math.min(spec.limit ?? Infinity, order.length);
    const picked = new Array<number>(limit);
    for (let k = 0; k < limit; k++) picked[k] = candidates[order[k]!]!;
    const schema = resultSchema(fields, spec.select);
    const cols = schema.fields.map((f) => {
      const src = f.name === "path" ? state.paths : state.columns.get(f.name)!;
      return picked.map((i) => src[i]);
    });
    return new Table([batchOf(schema, cols, picked.length)]);
  }
}

const Q = quoteIdent;

/** Columns of each shard's events, and the SQL naming them (its table, or its table and segments). */
type Present = Set<string>[] & { src: readonly string[] };

/** DuckDB pushdown: the store's tables are SQL tables named by their quoted Quiver names. */
export class SqlEngine implements Engine {
  private readonly cur: string;
  private readonly meta: string;
  private readonly commits: string;
  /** The current state in memory, kept up to date incrementally (hotcache.ts). */
  private readonly hot: HotCache;
  constructor(
    private readonly log: EventLog,
    /** Read-only: never materialise (the state is computed in the query instead). */
    private readonly readOnly: boolean,
    private readonly lock: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn(),
  ) {
    this.commits = Q(log.commitsTable);
    this.cur = Q(log.currentTable);
    this.meta = Q(`${log.currentTable}_state`);
    this.hot = new HotCache(log, async (st) => {
      const from = await this.refresh(st, await this.present(st));
      return this.sql(`SELECT path${st.fields.map((f) => `, ${Q(f.name)}`).join("")} FROM ${from} ORDER BY path`);
    });
  }

  private sql(text: string): Promise<Table> {
    return this.log.store.sql!(text);
  }

  invalidate(): void {}

  async drop(): Promise<void> {
    this.hot.drop();
    await this.sql(`DROP TABLE IF EXISTS ${this.cur}`);
    await this.sql(`DROP TABLE IF EXISTS ${this.meta}`);
  }

  /**
   * Columns present in each shard's events (its table and its committed segments; an empty set
   * when there are none yet), and `src`: the SQL naming each shard's events.
   */
  private async present(st: LogState): Promise<Present> {
    const out = [] as unknown as Present;
    const src: string[] = [];
    const tables = this.log.shardTables(st.fields);
    for (let sh = 0; sh < tables.length; sh++) {
      const schema = await this.log.store.schema(tables[sh]!);
      const cols = new Set(schema?.fields.map((f) => f.name) ?? []);
      for (const g of this.log.shardSegments(st, sh)) for (const c of g.columns) cols.add(c);
      out.push(cols);
      src.push(this.log.shardSql(st, sh, schema !== undefined, Q) ?? Q(tables[sh]!));
    }
    out.src = src;
    return out;
  }

  /**
   * SELECT producing the state (path + fields) from the events below `bound`, optionally only
   * for some paths. Each shard is aggregated on its own (with shard 0's clears and deletions)
   * and the shards' states are combined per path.
   */
  private stateSql(fields: readonly FieldRec[], present: Present, bound: string, paths = ""): string {
    const ev0 = present.src[0]!;
    const hasUnset = present[0]!.has("_unset");
    const filter = `_seq < ${bound}${paths ? ` AND ${paths}` : ""}`;
    const parts: string[] = [];
    present.forEach((cols, sh) => {
      const mine = fields.filter((f) => f.shard === sh);
      if (!cols.has("_seq") || (sh > 0 && mine.length === 0)) return;
      const aggs = mine.map((f) => {
        if (!cols.has(f.name)) return `CAST(NULL AS ${duckTypeName(f.type)}) AS ${Q(f.name)}`;
        const c = Q(f.name);
        const key = f.name.replace(/'/g, "''");
        const touched = hasUnset
          ? `${c} IS NOT NULL OR (_unset IS NOT NULL AND (starts_with(_unset, chr(31) || '*' || chr(31)) OR contains(_unset, chr(31) || '${key}' || chr(31))))`
          : `${c} IS NOT NULL`;
        return `arg_max_null(${c}, _seq) FILTER (WHERE ${touched}) AS ${c}`;
      });
      const table = present.src[sh]!;
      const src =
        sh === 0 || !hasUnset
          ? `${table} WHERE ${filter}`
          : `(SELECT path, _seq, CAST(NULL AS VARCHAR) AS _unset, ${mine
              .filter((f) => cols.has(f.name))
              .map((f) => Q(f.name))
              .join(", ")} FROM ${table} WHERE ${filter} UNION ALL BY NAME SELECT path, _seq, _unset FROM ${ev0} WHERE _unset IS NOT NULL AND ${filter})`;
      parts.push(`(SELECT path${aggs.map((x) => `, ${x}`).join("")} FROM ${src} GROUP BY path)`);
    });
    const any = fields.length ? fields.map((f) => `${Q(f.name)} IS NOT NULL`).join(" OR ") : "FALSE";
    if (parts.length === 0) return `SELECT path FROM (SELECT CAST(NULL AS VARCHAR) AS path) WHERE FALSE`;
    // Shards hold disjoint fields, so each column has at most one value per path across the
    // shards' states: stacking them and taking max() per column joins them (a chain of FULL
    // JOINs took 29 s for 79 shards in DuckDB, this 2 s).
    const joined =
      parts.length === 1
        ? parts[0]!
        : `(SELECT path${fields.map((f) => `, max(${Q(f.name)}) AS ${Q(f.name)}`).join("")} FROM (${parts.map((p) => `SELECT * FROM ${p}`).join(" UNION ALL BY NAME ")}) GROUP BY path)`;
    return `SELECT * FROM ${joined} WHERE ${any}`;
  }

  /**
   * What the current state is read from, brought up to date with the events. While there is one
   * shard and every path has been written once and nothing was cleared (the common "upload
   * datapoints" history), the events table itself is the state ("events" mode: nothing to
   * materialise). Otherwise the state is materialised in `current` and refreshed incrementally
   * ("table" mode). Read-only, a stale `current` is replaced by the state query itself.
   */
  private async refresh(st: LogState, present: Present): Promise<string> {
    // Up to date (the usual case): no lock. Otherwise rebuild under the datasource's lock, so
    // that two processes never refresh the materialised state at once.
    const fast = await this.refreshNow(st, present, true);
    if (fast !== undefined) return fast;
    if (this.readOnly) return `(${this.stateSql(st.fields, present, String(st.bound))})`;
    return this.lock(async () => (await this.refreshNow(st, present, false))!);
  }

  private async refreshNow(st: LogState, present: Present, readOnly: boolean): Promise<string | undefined> {
    const fields = st.fields;
    const key = JSON.stringify(fields.map((f) => [f.name, f.type, f.shard]));
    const total = st.bound;
    const ev = present.src[0]!;
    let done = 0;
    let builtKey = "";
    let mode = fields.some((f) => f.shard > 0) ? "rebuild" : "events";
    try {
      const m = await this.sql(`SELECT seq::BIGINT AS seq, fields, mode FROM ${this.meta}`);
      if (m.numRows) {
        done = Number(m.get(0)!.seq);
        builtKey = String(m.get(0)!.fields);
        const saved = String(m.get(0)!.mode);
        if (mode === "events" || saved === "table") mode = saved;
      }
    } catch {
      /* no state yet: nothing checked */
    }
    const eventsView = (): string => {
      const p = present[0]!;
      const cols = fields.map((f) => (p.has(f.name) ? Q(f.name) : `CAST(NULL AS ${duckTypeName(f.type)}) AS ${Q(f.name)}`));
      const any =
        fields
          .filter((f) => p.has(f.name))
          .map((f) => `${Q(f.name)} IS NOT NULL`)
          .join(" OR ") || "FALSE";
      return `(SELECT path${cols.map((x) => `, ${x}`).join("")} FROM ${ev} WHERE _seq < ${total} AND (${any}))`;
    };
    const save = (m: string): Promise<Table> =>
      this.sql(`CREATE OR REPLACE TABLE ${this.meta} AS SELECT ${total}::BIGINT AS seq, '${key.replace(/'/g, "''")}' AS fields, '${m}' AS mode`);
    if (mode === "events") {
      if (done < total) {
        if (readOnly) return undefined;
        // Still simple? New events must touch distinct paths, never seen before, clearing nothing.
        // A single new commit marked `fresh` (distinct paths, nothing cleared: checked in JS at
        // commit time) only needs the overlap check, and none at all on an empty log.
        const commits = await this.sql(`SELECT fresh FROM ${this.commits} WHERE seq0 >= ${done}`).catch(() => undefined);
        const oneFresh = commits?.numRows === 1 && commits.get(0)!.fresh === true;
        const parts = oneFresh
          ? ["0::BIGINT AS dup", "0::BIGINT AS cleared"]
          : ["(count(*) - count(DISTINCT path))::BIGINT AS dup", `${present[0]!.has("_unset") ? "count(_unset)" : "0"}::BIGINT AS cleared`];
        parts.push(
          done > 0
            ? `(SELECT count(*) FROM ${ev} e SEMI JOIN (SELECT path FROM ${ev} WHERE _seq < ${done}) p ON e.path = p.path WHERE e._seq >= ${done} AND e._seq < ${total})::BIGINT AS overlap`
            : "0::BIGINT AS overlap",
        );
        const c =
          oneFresh && done === 0 ? { dup: 0, cleared: 0, overlap: 0 } : (await this.sql(`SELECT ${parts.join(", ")} FROM ${ev} WHERE _seq >= ${done} AND _seq < ${total}`)).get(0)!;
        if (Number(c.dup) + Number(c.cleared) + Number(c.overlap) === 0) {
          await save("events");
          return eventsView();
        }
        mode = "rebuild";
      } else return eventsView();
    }
    if (mode === "table" && done === total && builtKey === key) return this.cur;
    if (readOnly) return undefined;
    if (mode === "table" && builtKey === key && done < total) {
      // Recompute only the paths touched since the last refresh.
      const since = present
        .map((cols, sh) => (cols.has("_seq") ? `SELECT path FROM ${present.src[sh]!} WHERE _seq >= ${done} AND _seq < ${total}` : ""))
        .filter(Boolean)
        .join(" UNION ");
      const touched = `path IN (${since})`;
      await this.sql(`DELETE FROM ${this.cur} WHERE ${touched}`);
      await this.sql(`INSERT INTO ${this.cur} ${this.stateSql(fields, present, String(total), touched)}`);
    } else {
      await this.sql(`CREATE OR REPLACE TABLE ${this.cur} AS ${this.stateSql(fields, present, String(total))}`);
    }
    await save("table");
    return this.cur;
  }

  async run(spec: ViewSpec, st: LogState): Promise<Table> {
    const fields = st.fields;
    const schema = resultSchema(fields, spec.select);
    let from: string;
    const present = await this.present(st);
    if (!present[0]!.has("_seq") || st.bound === 0) return new Table(schema); // nothing written yet
    // Now (not asOf): from the state in memory, when it is kept (hotcache.ts).
    const hot = await this.hot.query(st, spec, schema);
    if (hot) return hot;
    if (spec.asOf) {
      const ts = spec.asOf.toISOString().replace("T", " ").replace("Z", "");
      const bound = `LEAST(${st.bound}, (SELECT coalesce(max(seq1), 0) FROM ${this.commits} WHERE ts <= TIMESTAMP '${ts}'))`;
      from = `(${this.stateSql(fields, present, bound)})`;
    } else {
      from = await this.refresh(st, present);
    }
    const cols = schema.fields.map((f) => Q(f.name)).join(", ");
    const order = [...(spec.orderBy ?? []), { column: "path", direction: "asc" as const }]
      .map((o) => `${Q(o.column)} ${o.direction === "desc" ? "DESC" : "ASC"} NULLS LAST`)
      .join(", ");
    let text = `SELECT ${cols} FROM ${from}`;
    if (spec.where) text += ` WHERE ${compileWhere(spec.where)}`;
    text += ` ORDER BY ${order}`;
    if (spec.limit !== undefined) text += ` LIMIT ${spec.limit}`;
    return conform(await this.sql(text), schema);
  }
}

function duckTypeName(t: FieldType): string {
  if (isListType(t)) return `${duckTypeName(elementType(t))}[]`;
  return { int: "BIGINT", float: "DOUBLE", bool: "BOOLEAN", string: "VARCHAR", datetime: "TIMESTAMP", blob: "VARCHAR" }[elementType(t)];
}

/** The SQL result with exactly our result schema's types. */
function conform(table: Table, schema: Schema): Table {
  const ok = schema.fields.every((f, i) => {
    const g = table.schema.fields[i];
    return g && g.name === f.name && sameType(g.type, f.type) && !g.metadata.get("quiver:bigint");
  });
  if (ok && table.batches.length) return new Table(table.batches.map((b) => new RecordBatch(schema, b.data)));
  const n = table.numRows;
  if (n === 0) return new Table(schema); // DuckDB's empty result can hold a List column without its child
  const cols = schema.fields.map((f) => {
    const v = table.getChild(f.name);
    if (!v) return new Array(n).fill(null);
    const vals = vectorToValues(v);
    return vals.map((x) => (typeof x === "bigint" ? Number(x) : x));
  });
  return new Table([batchOf(schema, cols, n)]);
}
