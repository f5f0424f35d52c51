/**
 * Query → parameterised SQL. Identifiers are always quoted (with `"` doubled); values are
 * always parameters. Comparisons follow the core evaluator: a value of another kind than
 * the column (a string against a number column, anything against a list) matches nothing,
 * and a null makes the comparison unknown (SQL three-valued logic).
 */
import type { DuckDBType, DuckDBValue } from "@duckdb/node-api";
import { DuckDBTypeId, timestampValue } from "./duck.js";
import { classOfType, classOfValue, type Primitive, type ValueClass } from "@quiver/core";
import { QuiverError, type QueryNode } from "@quiver/core/store-kit";
import { type DataType, type Schema, Type } from "apache-arrow";
import { toDuckValue } from "./convert.js";

/** A quoted SQL identifier. */
export function ident(name: string): string {
  if (name.includes("\u0000")) throw new QuiverError("INVALID_NAME", `name ${JSON.stringify(name)} contains NUL`);
  return `"${name.replaceAll('"', '""')}"`;
}

/** A single-quoted SQL string literal (only for statements that take no parameters, e.g. COPY, COMMENT). */
export function literal(s: string): string {
  if (s.includes("\u0000")) throw new QuiverError("INVALID_VALUE", "text contains NUL");
  return `'${s.replaceAll("'", "''")}'`;
}

export function param(v: Primitive): DuckDBValue {
  if (v instanceof Date) return timestampValue(BigInt(v.getTime()) * 1000n);
  if (typeof v === "number" && Number.isInteger(v) && !Number.isSafeInteger(v)) return v; // stays a DOUBLE
  return v;
}

/** Comparisons between classes that differ never match (as in core's evaluator): compiled as `never`. */
const kindOfType = (t: DataType | undefined): ValueClass => (t ? classOfType(t) : "other");

const OPS: Record<string, string> = { eq: "=", ne: "<>", gt: ">", ge: ">=", lt: "<", le: "<=" };

export class SqlBuilder {
  readonly params: DuckDBValue[] = [];
  constructor(private readonly schema: Schema | undefined) {}

  private p(v: Primitive): string {
    this.params.push(param(v));
    return `$p${this.params.length}`;
  }

  private typeOf(field: string): DataType | undefined {
    return this.schema?.fields.find((f) => f.name === field)?.type;
  }

  /** Unknown where the column is null, false otherwise: a comparison that cannot match. */
  private never(col: string): string {
    return `(CASE WHEN ${col} IS NULL THEN NULL ELSE FALSE END)`;
  }

  where(node: QueryNode): string {
    switch (node.op) {
      case "and":
      case "or":
        return `(${node.args.map((a) => this.where(a)).join(node.op === "and" ? " AND " : " OR ")})`;
      case "not":
        return `(NOT ${this.where(node.arg)})`;
      case "isNull":
        return `(${ident(node.field)} IS NULL)`;
      case "isNotNull":
        return `(${ident(node.field)} IS NOT NULL)`;
      case "in": {
        const col = ident(node.field);
        const k = kindOfType(this.typeOf(node.field));
        const vals = node.values.filter((v) => classOfValue(v) === k);
        if (vals.length === 0) return this.never(col);
        return `(${col} IN (${vals.map((v) => this.p(v)).join(", ")}))`;
      }
      case "contains": {
        const col = ident(node.field);
        const t = this.typeOf(node.field);
        if (kindOfType(t) === "str") return typeof node.value === "string" ? `contains(${col}, ${this.p(node.value)})` : this.never(col);
        if (t?.typeId === Type.List && kindOfType(t.children[0]!.type as DataType) === classOfValue(node.value)) {
          return `list_contains(${col}, ${this.p(node.value)})`;
        }
        return this.never(col);
      }
      case "startsWith":
      case "endsWith": {
        const col = ident(node.field);
        if (kindOfType(this.typeOf(node.field)) !== "str" || typeof node.value !== "string") return this.never(col);
        return `${node.op === "startsWith" ? "starts_with" : "ends_with"}(${col}, ${this.p(node.value)})`;
      }
      default: {
        const col = ident(node.field);
        const op = OPS[node.op];
        if (!op) throw new QuiverError("INVALID_QUERY", `unknown query op ${JSON.stringify(node.op)}`);
        if (kindOfType(this.typeOf(node.field)) !== classOfValue(node.value)) return this.never(col);
        return `(${col} ${op} ${this.p(node.value)})`;
      }
    }
  }
}

/** A WHERE clause (or "") and its parameters; core has checked that the query names only the table's columns. */
export function compileWhere(node: QueryNode | undefined, b: SqlBuilder): { sql: string; params: DuckDBValue[] } {
  if (!node) return { sql: "", params: b.params };
  return { sql: ` WHERE ${b.where(node)}`, params: b.params };
}

/** Positional parameters as the named `$p1`, `$p2`… the builder writes. */
export function toNamed(params: readonly DuckDBValue[]): Record<string, DuckDBValue> {
  const out: Record<string, DuckDBValue> = {};
  params.forEach((v, i) => (out[`p${i + 1}`] = v));
  return out;
}

/** A value of sql() params: primitives as in queries, Uint8Array as BLOB. */
export function sqlParam(v: unknown): DuckDBValue {
  if (v === null || v === undefined) return null;
  if (v instanceof Date || typeof v === "number" || typeof v === "bigint" || typeof v === "string" || typeof v === "boolean") return param(v);
  if (v instanceof Uint8Array) return toDuckValue(v, { typeId: DuckDBTypeId.BLOB } as DuckDBType);
  throw new QuiverError("INVALID_QUERY", `sql() parameters must be numbers, bigints, strings, booleans, Dates, Uint8Array or null`);
}
