/**
 * Query execution. Two engines over the same event log:
 *  - FoldEngine (any Store): folds the events into the current/as-of state in JS and runs the
 *    query with core's evaluator (SQL three-valued logic, nulls last).
 *  - SqlEngine (stores with `capabilities.sql`, i.e. DuckDB): keeps a materialised "current"
 *    table next to the events (refreshed incrementally after writes) and pushes the whole query
 *    down to SQL; `asOf` aggregates the events up to that time with arg_max.
 */
import { Field, RecordBatch, Schema, Struct, Table, makeData } from "apache-arrow";
import {
  type Primitive,
  QuiverError,
  type QueryNode,
  type Store,
  buildData,
  evaluate,
  queryFields,
  sameType,
  sortIndices,
  vectorToValues,
} from "@quiver/core";
import { quoteIdent } from "./duck.js";
import { foldEvents, seqBound } from "./events.js";
import { compileWhere } from "./sqlgen.js";
import { type FieldType, arrowType } from "./types.js";
import type { ViewSpec } from "./view.js";

export interface FieldInfo {
  name: string;
  type: FieldType;
}

/** UNKNOWN_FIELD for names the datasource has never seen; INVALID_QUERY for values of the wrong kind. */
export function checkSpec(spec: ViewSpec, fields: readonly FieldInfo[], dsName: string): void {
  const types = new Map<string, FieldType>([["path", "string"], ...fields.map((f) => [f.name, f.type] as [string, FieldType])]);
  const unknown = (f: string): QuiverError =>
    new QuiverError("UNKNOWN_FIELD", `datasource ${dsName} has no field ${JSON.stringify(f)}; fields: ${[...types.keys()].join(", ")}`);
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
      new QuiverError("INVALID_QUERY", `field ${JSON.stringify(n.field)} is ${t}; cannot compare it with ${typeof v === "object" ? "a Date" : typeof v} ${JSON.stringify(String(v))}`);
    switch (n.op) {
      case "isNull":
      case "isNotNull":
        return;
      case "in":
        for (const v of n.values) if (!kindOk(t, v)) throw bad(v);
        return;
      case "contains":
      case "startsWith":
      case "endsWith":
        if (t !== "string" && t !== "blob") throw new QuiverError("INVALID_QUERY", `${n.op} needs a string field; ${JSON.stringify(n.field)} is ${t}`);
        if (typeof n.value !== "string") throw bad(n.value);
        return;
      default:
        if (!kindOk(t, n.value)) throw bad(n.value);
    }
  };
  if (spec.where) walk(spec.where);
  for (const s of spec.select ?? []) if (!types.has(s)) throw unknown(s);
  for (const o of spec.orderBy ?? []) if (!types.has(o.column)) throw unknown(o.column);
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
  run(spec: ViewSpec, fields: readonly FieldInfo[]): Promise<Table>;
  /** Called after a commit wrote events from `seq0` on. */
  invalidate(): void;
  drop(): Promise<void>;
}

export class FoldEngine implements Engine {
  private cache?: { count: number; key: string; state: Awaited<ReturnType<typeof foldEvents>> };
  constructor(
    private readonly store: Store,
    private readonly events: string,
    private readonly commits: string,
  ) {}

  invalidate(): void {
    this.cache = undefined;
  }

  async drop(): Promise<void> {}

  private async state(fields: readonly FieldInfo[], asOf?: Date) {
    const names = fields.map((f) => f.name);
    if (asOf) return foldEvents(this.store, this.events, names, await seqBound(this.store, this.commits, asOf));
    const count = await this.store.count(this.events);
    const key = names.join("\u0000");
    if (this.cache && this.cache.count === count && this.cache.key === key) return this.cache.state;
    const state = await foldEvents(this.store, this.events, names);
    this.cache = { count, key, state };
    return state;
  }

  async run(spec: ViewSpec, fields: readonly FieldInfo[]): Promise<Table> {
    const state = await this.state(fields, spec.asOf);
    const n = state.paths.length;
    const column = (name: string): unknown[] => (name === "path" ? state.paths : state.columns.get(name)!);
    // Build Arrow only for the columns the query and the sort read, and sort only the matches.
    const sub = (names: readonly string[], rows?: readonly number[]): RecordBatch => {
      const schema = resultSchema(fields.filter((f) => names.includes(f.name)));
      return batchOf(schema, schema.fields.map((f) => (rows ? rows.map((i) => column(f.name)[i]) : column(f.name))), rows ? rows.length : n);
    };
    let candidates: number[];
    if (spec.where) {
      const mask = evaluate(spec.where, sub([...queryFields(spec.where)]));
      candidates = [];
      for (let i = 0; i < n; i++) if (mask[i]) candidates.push(i);
    } else candidates = Array.from({ length: n }, (_, i) => i);
    const keys = [...(spec.orderBy ?? []), { column: "path", direction: "asc" as const }];
    const order = sortIndices(sub(keys.map((k) => k.column), candidates), keys);
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

/** DuckDB pushdown: the store's tables are SQL tables named by their quoted Quiver names. */
export class SqlEngine implements Engine {
  private readonly ev: string;
  private readonly cur: string;
  private readonly meta: string;
  private readonly commits: string;
  constructor(
    private readonly store: Store,
    events: string,
    current: string,
    commits: string,
    private readonly lock: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn(),
  ) {
    this.commits = Q(commits);
    this.ev = Q(events);
    this.cur = Q(current);
    this.meta = Q(`${current}_state`);
    this.eventsName = events;
  }
  private readonly eventsName: string;

  private sql(text: string): Promise<Table> {
    return this.store.sql!(text);
  }

  invalidate(): void {}

  async drop(): Promise<void> {
    await this.sql(`DROP TABLE IF EXISTS ${this.cur}`);
    await this.sql(`DROP TABLE IF EXISTS ${this.meta}`);
  }

  /** SELECT producing the state (path + fields) from the events, optionally up to a time / for some paths. */
  private stateSql(fields: readonly FieldInfo[], present: ReadonlySet<string>, filter: string): string {
    const aggs = fields.map((f) => {
      if (!present.has(f.name)) return `CAST(NULL AS ${duckTypeName(f.type)}) AS ${Q(f.name)}`;
      const c = Q(f.name);
      const key = f.name.replace(/'/g, "''");
      const touched = present.has("_unset")
        ? `${c} IS NOT NULL OR (_unset IS NOT NULL AND (starts_with(_unset, chr(31) || '*' || chr(31)) OR contains(_unset, chr(31) || '${key}' || chr(31))))`
        : `${c} IS NOT NULL`;
      return `arg_max_null(${c}, _seq) FILTER (WHERE ${touched}) AS ${c}`;
    });
    const any = fields.length ? fields.map((f) => `${Q(f.name)} IS NOT NULL`).join(" OR ") : "FALSE";
    return `SELECT * FROM (SELECT path${aggs.map((a) => `, ${a}`).join("")} FROM ${this.ev}${filter ? ` WHERE ${filter}` : ""} GROUP BY path) WHERE ${any}`;
  }

  private async presentColumns(): Promise<Set<string>> {
    const s = await this.store.schema(this.eventsName);
    return new Set(s?.fields.map((f) => f.name) ?? []);
  }

  /** Brings the materialised current table up to date with the events. */
  /**
   * What the current state is read from, brought up to date with the events. While every path
   * has been written once and nothing was cleared (the common "upload datapoints" history), the
   * events table itself is the state ("events" mode: nothing to materialise). After the first
   * update of an existing path, clear or delete, the state is materialised in `current` and
   * refreshed incrementally ("table" mode).
   */
  private async refresh(fields: readonly FieldInfo[], present: ReadonlySet<string>): Promise<string> {
    // Up to date (the usual case): no lock. Otherwise rebuild under the datasource's lock, so
    // that two processes never refresh the materialised state at once.
    const fast = await this.refreshNow(fields, present, true);
    return fast ?? this.lock(async () => (await this.refreshNow(fields, present, false))!);
  }

  private async refreshNow(fields: readonly FieldInfo[], present: ReadonlySet<string>, readOnly: boolean): Promise<string | undefined> {
    const key = JSON.stringify(fields.map((f) => [f.name, f.type]));
    const total = Number((await this.sql(`SELECT count(*)::BIGINT AS n FROM ${this.ev}`)).get(0)!.n);
    let done = 0;
    let builtKey = "";
    let mode = "events";
    try {
      const m = await this.sql(`SELECT seq::BIGINT AS seq, fields, mode FROM ${this.meta}`);
      if (m.numRows) {
        done = Number(m.get(0)!.seq);
        builtKey = String(m.get(0)!.fields);
        mode = String(m.get(0)!.mode);
      }
    } catch {
      /* no state yet: nothing checked, events mode */
    }
    const eventsView = (): string => {
      const cols = fields.map((f) => (present.has(f.name) ? Q(f.name) : `CAST(NULL AS ${duckTypeName(f.type)}) AS ${Q(f.name)}`));
      const any = fields.filter((f) => present.has(f.name)).map((f) => `${Q(f.name)} IS NOT NULL`).join(" OR ") || "FALSE";
      return `(SELECT path${cols.map((x) => `, ${x}`).join("")} FROM ${this.ev} WHERE ${any})`;
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
          : ["(count(*) - count(DISTINCT path))::BIGINT AS dup", `${present.has("_unset") ? "count(_unset)" : "0"}::BIGINT AS cleared`];
        parts.push(
          done > 0
            ? `(SELECT count(*) FROM ${this.ev} e SEMI JOIN (SELECT path FROM ${this.ev} WHERE _seq < ${done}) p ON e.path = p.path WHERE e._seq >= ${done})::BIGINT AS overlap`
            : "0::BIGINT AS overlap",
        );
        const c = oneFresh && done === 0 ? { dup: 0, cleared: 0, overlap: 0 } : (await this.sql(`SELECT ${parts.join(", ")} FROM ${this.ev} WHERE _seq >= ${done}`)).get(0)!;
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
      const touched = `path IN (SELECT path FROM ${this.ev} WHERE _seq >= ${done})`;
      await this.sql(`DELETE FROM ${this.cur} WHERE ${touched}`);
      await this.sql(`INSERT INTO ${this.cur} ${this.stateSql(fields, present, touched)}`);
    } else {
      await this.sql(`CREATE OR REPLACE TABLE ${this.cur} AS ${this.stateSql(fields, present, "")}`);
    }
    await save("table");
    return this.cur;
  }

  async run(spec: ViewSpec, fields: readonly FieldInfo[]): Promise<Table> {
    const schema = resultSchema(fields, spec.select);
    let from: string;
    const present = await this.presentColumns();
    if (!present.has("_seq")) return new Table(schema); // nothing written yet
    if (spec.asOf) {
      const ts = spec.asOf.toISOString().replace("T", " ").replace("Z", "");
      const bound = `_seq < (SELECT coalesce(max(seq1), 0) FROM ${this.commits} WHERE ts <= TIMESTAMP '${ts}')`;
      from = `(${this.stateSql(fields, present, bound)})`;
    } else {
      from = await this.refresh(fields, present);
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
  return { int: "BIGINT", float: "DOUBLE", bool: "BOOLEAN", string: "VARCHAR", datetime: "TIMESTAMP", blob: "VARCHAR" }[t];
}

/** The SQL result with exactly our result schema's types. */
function conform(table: Table, schema: Schema): Table {
  const ok = schema.fields.every((f, i) => {
    const g = table.schema.fields[i];
    return g && g.name === f.name && sameType(g.type, f.type) && !g.metadata.get("quiver:bigint");
  });
  if (ok && table.batches.length) return new Table(table.batches.map((b) => new RecordBatch(schema, b.data)));
  const n = table.numRows;
  const cols = schema.fields.map((f) => {
    const v = table.getChild(f.name);
    if (!v) return new Array(n).fill(null);
    const vals = vectorToValues(v);
    return vals.map((x) => (typeof x === "bigint" ? Number(x) : x));
  });
  return new Table([batchOf(schema, cols, n)]);
}
