/** Query → DuckDB SQL for the pushdown path; values are inlined as escaped literals. */
import { type Primitive, QuiverError, type QueryNode } from "@quiver/core";
import { quoteIdent, quoteString } from "./duck.js";

function lit(v: Primitive): string {
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "'NaN'::DOUBLE";
    if (!Number.isFinite(v)) return v > 0 ? "'Infinity'::DOUBLE" : "'-Infinity'::DOUBLE";
    return Number.isInteger(v) ? String(v) : `${v}::DOUBLE`;
  }
  if (typeof v === "bigint") return `${v}::HUGEINT`;
  if (typeof v === "boolean") return v ? "TRUE" : "FALSE";
  if (v instanceof Date) return `TIMESTAMP ${quoteString(v.toISOString().replace("T", " ").replace("Z", ""))}`;
  if (v.includes("\u0000")) throw new QuiverError("INVALID_QUERY", "query strings may not contain NUL");
  return quoteString(v);
}

function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (m) => `\\${m}`);
}

const OPS: Record<string, string> = { eq: "=", ne: "<>", gt: ">", ge: ">=", lt: "<", le: "<=" };

export function compileWhere(node: QueryNode): string {
  switch (node.op) {
    case "and":
    case "or":
      return `(${node.args.map(compileWhere).join(node.op === "and" ? " AND " : " OR ")})`;
    case "not":
      return `(NOT ${compileWhere(node.arg)})`;
    case "isNull":
      return `(${quoteIdent(node.field)} IS NULL)`;
    case "isNotNull":
      return `(${quoteIdent(node.field)} IS NOT NULL)`;
    case "in":
      if (node.values.length === 0) return `(CASE WHEN ${quoteIdent(node.field)} IS NULL THEN NULL ELSE FALSE END)`;
      return `(${quoteIdent(node.field)} IN (${node.values.map(lit).join(", ")}))`;
    case "contains":
      // DuckDB's contains: a substring of a VARCHAR, an element of a LIST (multivalue fields).
      return `contains(${quoteIdent(node.field)}, ${lit(node.value)})`;
    case "startsWith":
      return `(${quoteIdent(node.field)} LIKE ${quoteString(likeEscape(String(node.value)) + "%")} ESCAPE '\\')`;
    case "endsWith":
      return `(${quoteIdent(node.field)} LIKE ${quoteString("%" + likeEscape(String(node.value)))} ESCAPE '\\')`;
    default:
      return `(${quoteIdent(node.field)} ${OPS[node.op]} ${lit(node.value)})`;
  }
}
