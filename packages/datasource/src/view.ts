/** Views: a datasource plus a query, select, order, limit and point in time. Immutable. */
import { FieldRef, type OrderBy, QuiverError, type QueryLike, type QueryNode, and, queryFromJSON, queryToJSON, toNode } from "@quiver/core";
import type { QueryResult } from "./result.js";

export interface ViewSpec {
  where?: QueryNode;
  select?: string[];
  orderBy?: OrderBy[];
  limit?: number;
  asOf?: Date;
}

/** What a view needs from its datasource. */
export interface ViewSource {
  run(spec: ViewSpec): Promise<QueryResult>;
  saveDataset(name: string, spec: ViewSpec): Promise<void>;
}

export class View {
  constructor(
    private readonly src: ViewSource | undefined,
    readonly spec: ViewSpec = {},
  ) {}

  protected get viewSource(): ViewSource {
    return this.src ?? (this as unknown as ViewSource);
  }

  protected derive(spec: ViewSpec): View {
    return new View(this.viewSource, spec);
  }

  /** A field to build queries with: `ds.field("episode").gt(5)`. */
  field(name: string): FieldRef {
    return new FieldRef(name);
  }

  /** Rows where the query holds; chained `where` calls are ANDed. */
  where(query: QueryLike): View {
    const node = toNode(query);
    return this.derive({ ...this.spec, where: this.spec.where ? and(this.spec.where, node).node : node });
  }

  /** Only these metadata fields (path is always included). */
  select(...fields: string[]): View {
    const flat = fields.flat();
    for (const f of flat) if (typeof f !== "string" || !f) throw new QuiverError("INVALID_QUERY", "select() takes field names");
    return this.derive({ ...this.spec, select: flat });
  }

  /** Sort by a field; chained calls add further keys. Nulls sort last. */
  orderBy(field: string, direction: "asc" | "desc" = "asc"): View {
    if (direction !== "asc" && direction !== "desc") throw new QuiverError("INVALID_QUERY", `orderBy direction must be "asc" or "desc", got ${JSON.stringify(direction)}`);
    return this.derive({ ...this.spec, orderBy: [...(this.spec.orderBy ?? []), { column: field, direction }] });
  }

  limit(n: number): View {
    if (!Number.isInteger(n) || n < 0) throw new QuiverError("INVALID_QUERY", `limit must be a non-negative integer, got ${n}`);
    return this.derive({ ...this.spec, limit: n });
  }

  /** The metadata as it was at this time. */
  asOf(date: Date | string | number): View {
    const d = date instanceof Date ? date : new Date(date);
    if (isNaN(d.getTime())) throw new QuiverError("INVALID_QUERY", `asOf needs a valid date, got ${String(date)}`);
    return this.derive({ ...this.spec, asOf: d });
  }

  head(n = 100): Promise<QueryResult> {
    if (!Number.isInteger(n) || n < 0) throw new QuiverError("INVALID_QUERY", `head(n) needs a non-negative integer, got ${n}`);
    return this.viewSource.run({ ...this.spec, limit: Math.min(n, this.spec.limit ?? Infinity) });
  }

  /** Every match: a `limit()` on the view is ignored (DagsHub's all(); use fetch() to keep it). */
  all(): Promise<QueryResult> {
    const { limit: _ignored, ...spec } = this.spec;
    return this.viewSource.run(spec);
  }

  /** The matches up to the view's `limit()` (DagsHub's fetch()). */
  fetch(): Promise<QueryResult> {
    return this.viewSource.run(this.spec);
  }

  /** Saves this view (datasource + query) under a name; `Dataset.get({ name })` gives it back. */
  saveDataset(name: string): Promise<void> {
    return this.viewSource.saveDataset(name, this.spec);
  }

  /** The view's query (or undefined when it has none). */
  get query(): QueryNode | undefined {
    return this.spec.where;
  }

  toJSON(): unknown {
    return specToJSON(this.spec);
  }
}

export function specToJSON(spec: ViewSpec): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (spec.where) o.where = queryToJSON(spec.where);
  if (spec.select) o.select = spec.select;
  if (spec.orderBy) o.orderBy = spec.orderBy;
  if (spec.limit !== undefined) o.limit = spec.limit;
  if (spec.asOf) o.asOf = spec.asOf.toISOString();
  return o;
}

export function specFromJSON(json: unknown): ViewSpec {
  const o = (json ?? {}) as Record<string, unknown>;
  const spec: ViewSpec = {};
  if (o.where !== undefined) spec.where = queryFromJSON(o.where);
  if (Array.isArray(o.select)) spec.select = o.select as string[];
  if (Array.isArray(o.orderBy)) spec.orderBy = o.orderBy as OrderBy[];
  if (typeof o.limit === "number") spec.limit = o.limit;
  if (typeof o.asOf === "string") spec.asOf = new Date(o.asOf);
  return spec;
}
