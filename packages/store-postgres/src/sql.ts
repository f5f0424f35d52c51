/**
 * Query → parameterised PostgreSQL. Identifiers are always double-quoted (with `"` doubled);
 * values are always `$n` parameters in their text form, cast to the type compared with. The
 * semantics are core's evaluator's: SQL three-valued logic; a value of another kind than the
 * column matches nothing; NaN equals nothing and orders with nothing (PostgreSQL would call
 * NaN = NaN true and NaN greater than every number); `contains`/`startsWith`/`endsWith` are
 * plain substring tests (no LIKE wildcards).
 */
import type { DataType } from "apache-arrow";
import { checkQueryFields, classOfType, classOfValue, type Primitive, QuiverError, type QueryNode, type ValueClass } from "@quiver/core";
import { scalarText, timeText } from "./literal.js";
import type { Elem, Storage } from "./types.js";

/** A quoted SQL identifier. */
export function ident(name: string): string {
  if (name.includes("\u0000")) throw new QuiverError("INVALID_NAME", `name ${JSON.stringify(name)} contains NUL`);
  return `"${name.replaceAll('"', '""')}"`;
}

/** What the compiler needs to know of a column. */
export interface SqlColumn {
  ident: string;
  type: DataType;
  storage: Storage;
}

const OPS: Record<string, string> = { eq: "=", ne: "<>", gt: ">", ge: ">=", lt: "<", le: "<=" };
const CAST: Record<Elem, string> = {
  int2: "int8",
  int4: "int8",
  int8: "int8",
  numeric: "numeric",
  float4: "float8",
  float8: "float8",
  bool: "boolean",
  text: "text",
  bytea: "bytea",
  timestamptz: "timestamptz",
};

function elemOfStorage(s: Storage | undefined): Elem | undefined {
  return s && (s.kind === "scalar" || s.kind === "array") ? s.elem : undefined;
}

/** The prefix of the settings holding a COPY's parameters (SqlBuilder "settings"). */
export const SETTING = "quiver.p";

export class SqlBuilder {
  readonly params: (string | null)[] = [];
  /**
   * `settings`: slots read `current_setting('quiver.pN')`, set beforehand by a parameterised
   * set_config in the same transaction: COPY takes no parameters, and values are never spliced.
   */
  constructor(
    private readonly columns: ReadonlyMap<string, SqlColumn>,
    private readonly slots: "params" | "settings" = "params",
  ) {}

  /** A parameter slot holding `text`, cast to `cast`. */
  param(text: string | null, cast?: string): string {
    this.params.push(text);
    const n = this.params.length;
    const slot = this.slots === "settings" ? `current_setting('${SETTING}${n}')` : `$${n}`;
    return cast ? `${slot}::${cast}` : slot;
  }

  private col(name: string): SqlColumn {
    const c = this.columns.get(name);
    if (!c) throw new QuiverError("UNKNOWN_FIELD", `no column ${JSON.stringify(name)}`);
    return c;
  }

  /** A comparable value of class `cls` as a typed parameter, or undefined when it can match nothing (NaN). */
  private value(v: Primitive, elem: Elem): string | undefined {
    if (typeof v === "number") {
      if (Number.isNaN(v)) return undefined;
      if (elem === "numeric" && Number.isSafeInteger(v)) return this.param(String(v), "numeric");
      return Number.isSafeInteger(v) && !Object.is(v, -0) ? this.param(String(v), "int8") : this.param(scalarText("float8", v), "float8");
    }
    if (typeof v === "bigint") return this.param(String(v), "numeric");
    if (v instanceof Date) return this.param(timeText(v), "timestamptz");
    if (typeof v === "string") return elem === "bytea" ? this.param(scalarText("bytea", v), "bytea") : this.param(v, "text");
    return this.param(v ? "t" : "f", CAST[elem]);
  }

  /** Unknown where the column is null, false otherwise: a comparison that cannot match. */
  private never(col: string): string {
    return `(CASE WHEN ${col} IS NULL THEN NULL ELSE FALSE END)`;
  }

  /** A string column compared as text: byte order (UTF-8 = code point order), as core compares. */
  private sortable(c: SqlColumn): string {
    const id = ident(c.ident);
    return c.storage.kind === "scalar" && c.storage.elem === "text" ? `${id} COLLATE "C"` : id;
  }

  private isFloat(c: SqlColumn): boolean {
    return c.storage.kind === "scalar" && (c.storage.elem === "float8" || c.storage.elem === "float4");
  }

  where(node: QueryNode): string {
    switch (node.op) {
      case "and":
      case "or":
        return `(${node.args.map((a) => this.where(a)).join(node.op === "and" ? " AND " : " OR ")})`;
      case "not":
        return `(NOT ${this.where(node.arg)})`;
      case "isNull":
        return `(${ident(this.col(node.field).ident)} IS NULL)`;
      case "isNotNull":
        return `(${ident(this.col(node.field).ident)} IS NOT NULL)`;
      case "in": {
        const c = this.col(node.field);
        const id = ident(c.ident);
        const k: ValueClass = classOfType(c.type);
        const elem = elemOfStorage(c.storage);
        if (c.storage.kind !== "scalar" || !elem) return this.never(id);
        const slots = node.values
          .filter((v) => classOfValue(v) === k)
          .map((v) => this.value(v, elem))
          .filter((s): s is string => s !== undefined);
        if (slots.length === 0) return this.never(id);
        const nan = this.isFloat(c) ? ` AND ${id} <> 'NaN'::float8` : "";
        return `(${this.sortable(c)} IN (${slots.join(", ")})${nan})`;
      }
      case "contains": {
        const c = this.col(node.field);
        const id = ident(c.ident);
        const v = node.value;
        if (c.storage.kind === "scalar" && classOfType(c.type) === "str") {
          if (typeof v !== "string") return this.never(id);
          return c.storage.elem === "bytea" ? `(position(${this.value(v, "bytea")} IN ${id}) > 0)` : `(strpos(${id}, ${this.value(v, "text")}) > 0)`;
        }
        if (c.storage.kind === "array" && classOfType(c.type.children[0]!.type as DataType) === classOfValue(v)) {
          const p = this.value(v, c.storage.elem);
          if (p === undefined) return this.never(id);
          // An array with null elements and no match is false here, not unknown (as in core).
          return `(CASE WHEN ${id} IS NULL THEN NULL ELSE COALESCE(${p} = ANY(${id}), FALSE) END)`;
        }
        return this.never(id);
      }
      case "startsWith":
      case "endsWith": {
        const c = this.col(node.field);
        const id = ident(c.ident);
        const v = node.value;
        if (c.storage.kind !== "scalar" || classOfType(c.type) !== "str" || typeof v !== "string") return this.never(id);
        if (c.storage.elem === "bytea") {
          const p = this.value(v, "bytea");
          return node.op === "startsWith"
            ? `(substr(${id}, 1, octet_length(${p})) = ${p})`
            : `(octet_length(${id}) >= octet_length(${p}) AND substr(${id}, octet_length(${id}) - octet_length(${p}) + 1) = ${p})`;
        }
        const p = this.value(v, "text");
        return node.op === "startsWith" ? `starts_with(${id}, ${p})` : `(right(${id}, char_length(${p})) = ${p})`;
      }
      default: {
        const c = this.col(node.field);
        const id = ident(c.ident);
        const op = OPS[node.op];
        if (!op) throw new QuiverError("INVALID_QUERY", `unknown query op ${JSON.stringify(node.op)}`);
        const elem = elemOfStorage(c.storage);
        if (c.storage.kind !== "scalar" || !elem || classOfType(c.type) !== classOfValue(node.value)) return this.never(id);
        const p = this.value(node.value as Primitive, elem);
        if (p === undefined) return this.never(id);
        const nan = this.isFloat(c) ? ` AND ${id} <> 'NaN'::float8` : "";
        return `(${this.sortable(c)} ${op} ${p}${nan})`;
      }
    }
  }

  /** An ORDER BY key: nulls last both ways, strings in code point order. */
  orderKey(name: string, desc: boolean): string {
    return `${this.sortable(this.col(name))} ${desc ? "DESC" : "ASC"} NULLS LAST`;
  }
}

/** A WHERE clause (or "") over `columns`; UNKNOWN_FIELD for names the table lacks. */
export function compileWhere(node: QueryNode | undefined, b: SqlBuilder, check: () => void = () => undefined): string {
  if (!node) return "";
  check();
  return ` WHERE ${b.where(node)}`;
}

export { checkQueryFields };
