import { QuiverError, describeValue } from "../errors.js";

/** Values a Query may compare against. */
export type Primitive = number | bigint | string | boolean | Date;

export type CompareOp = "eq" | "ne" | "gt" | "ge" | "lt" | "le" | "contains" | "startsWith" | "endsWith";

/** The Query expression tree: plain data, so stores can compile it and it survives structuredClone. */
export type QueryNode =
  | { op: CompareOp; field: string; value: Primitive }
  | { op: "in"; field: string; values: Primitive[] }
  | { op: "isNull" | "isNotNull"; field: string }
  | { op: "and" | "or"; args: QueryNode[] }
  | { op: "not"; arg: QueryNode };

export type QueryLike = Query | QueryNode;

function checkPrimitive(v: unknown, where: string): Primitive {
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "string" || typeof v === "boolean") return v;
  if (v instanceof Date && !isNaN(v.getTime())) return v;
  throw new QuiverError("INVALID_QUERY", `${where}: only numbers, bigints, strings, booleans and valid Dates can be compared, got ${describeValue(v)}`);
}

export class Query {
  constructor(readonly node: QueryNode) {}
  and(...others: QueryLike[]): Query {
    return and(this, ...others);
  }
  or(...others: QueryLike[]): Query {
    return or(this, ...others);
  }
  not(): Query {
    return not(this);
  }
  toJSON(): unknown {
    return queryToJSON(this.node);
  }
  static fromJSON(json: unknown): Query {
    return new Query(queryFromJSON(json));
  }
}

export class FieldRef {
  constructor(readonly name: string) {
    if (typeof name !== "string" || name.length === 0) throw new QuiverError("INVALID_QUERY", "field name must be a non-empty string");
  }
  private cmp(op: CompareOp, value: unknown): Query {
    return new Query({ op, field: this.name, value: checkPrimitive(value, `field(${JSON.stringify(this.name)}).${op}`) });
  }
  eq(v: Primitive): Query {
    return this.cmp("eq", v);
  }
  ne(v: Primitive): Query {
    return this.cmp("ne", v);
  }
  gt(v: Primitive): Query {
    return this.cmp("gt", v);
  }
  ge(v: Primitive): Query {
    return this.cmp("ge", v);
  }
  lt(v: Primitive): Query {
    return this.cmp("lt", v);
  }
  le(v: Primitive): Query {
    return this.cmp("le", v);
  }
  contains(v: Primitive): Query {
    return this.cmp("contains", v);
  }
  startsWith(v: string): Query {
    return this.cmp("startsWith", v);
  }
  endsWith(v: string): Query {
    return this.cmp("endsWith", v);
  }
  in(values: readonly Primitive[]): Query {
    if (!Array.isArray(values)) throw new QuiverError("INVALID_QUERY", `field(${JSON.stringify(this.name)}).in expects an array`);
    return new Query({ op: "in", field: this.name, values: values.map((v) => checkPrimitive(v, `field(${JSON.stringify(this.name)}).in`)) });
  }
  isNull(): Query {
    return new Query({ op: "isNull", field: this.name });
  }
  isNotNull(): Query {
    return new Query({ op: "isNotNull", field: this.name });
  }
}

export function field(name: string): FieldRef {
  return new FieldRef(name);
}

export function toNode(q: QueryLike): QueryNode {
  if (q instanceof Query) return q.node;
  if (q && typeof q === "object" && typeof (q as QueryNode).op === "string") return q as QueryNode;
  throw new QuiverError("INVALID_QUERY", `expected a Query (built with field(...)), got ${describeValue(q)}`);
}

export function and(...qs: QueryLike[]): Query {
  if (qs.length === 0) throw new QuiverError("INVALID_QUERY", "and() needs at least one query");
  return qs.length === 1 ? new Query(toNode(qs[0]!)) : new Query({ op: "and", args: qs.map(toNode) });
}
export function or(...qs: QueryLike[]): Query {
  if (qs.length === 0) throw new QuiverError("INVALID_QUERY", "or() needs at least one query");
  return qs.length === 1 ? new Query(toNode(qs[0]!)) : new Query({ op: "or", args: qs.map(toNode) });
}
export function not(q: QueryLike): Query {
  return new Query({ op: "not", arg: toNode(q) });
}

/** Field names a query reads. */
export function queryFields(node: QueryNode, out: Set<string> = new Set()): Set<string> {
  switch (node.op) {
    case "and":
    case "or":
      for (const a of node.args) queryFields(a, out);
      break;
    case "not":
      queryFields(node.arg, out);
      break;
    default:
      out.add(node.field);
  }
  return out;
}

function valToJSON(v: Primitive): unknown {
  if (v instanceof Date) return { $date: v.toISOString() };
  if (typeof v === "bigint") return { $bigint: v.toString() };
  return v;
}
function valFromJSON(v: unknown): Primitive {
  if (v && typeof v === "object") {
    const o = v as { $date?: string; $bigint?: string };
    if (typeof o.$date === "string") return new Date(o.$date);
    if (typeof o.$bigint === "string") return BigInt(o.$bigint);
  }
  return checkPrimitive(v, "query JSON");
}

/** JSON-safe form of a query (Dates and bigints tagged). */
export function queryToJSON(node: QueryNode): unknown {
  switch (node.op) {
    case "and":
    case "or":
      return { op: node.op, args: node.args.map(queryToJSON) };
    case "not":
      return { op: "not", arg: queryToJSON(node.arg) };
    case "in":
      return { op: "in", field: node.field, values: node.values.map(valToJSON) };
    case "isNull":
    case "isNotNull":
      return { op: node.op, field: node.field };
    default:
      return { op: node.op, field: node.field, value: valToJSON(node.value) };
  }
}

const COMPARE_OPS = new Set(["eq", "ne", "gt", "ge", "lt", "le", "contains", "startsWith", "endsWith"]);

export function queryFromJSON(json: unknown): QueryNode {
  const o = json as Record<string, unknown>;
  if (!o || typeof o !== "object" || typeof o.op !== "string") throw new QuiverError("INVALID_QUERY", "query JSON must be an object with an op");
  const fieldName = (): string => {
    if (typeof o.field !== "string" || !o.field) throw new QuiverError("INVALID_QUERY", `query JSON op ${o.op} needs a field`);
    return o.field;
  };
  switch (o.op) {
    case "and":
    case "or":
      if (!Array.isArray(o.args)) throw new QuiverError("INVALID_QUERY", `${o.op} needs args`);
      return { op: o.op, args: o.args.map(queryFromJSON) };
    case "not":
      return { op: "not", arg: queryFromJSON(o.arg) };
    case "in":
      if (!Array.isArray(o.values)) throw new QuiverError("INVALID_QUERY", "in needs values");
      return { op: "in", field: fieldName(), values: o.values.map(valFromJSON) };
    case "isNull":
    case "isNotNull":
      return { op: o.op, field: fieldName() };
    default:
      if (!COMPARE_OPS.has(o.op)) throw new QuiverError("INVALID_QUERY", `unknown query op ${JSON.stringify(o.op)}`);
      return { op: o.op as CompareOp, field: fieldName(), value: valFromJSON(o.value) };
  }
}
