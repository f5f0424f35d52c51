/** Collecting metadata changes (MetadataContext) and turning rows into columns for uploads. */
import type { Table } from "apache-arrow";
import { QuiverError, type Row, describeValue } from "@quiver/core";
import { type ChangeSet, validateFieldName } from "./events.js";
import { normalizePaths } from "./paths.js";

type Pending = { set: Map<string, unknown>; unset: Set<string>; deleted: boolean };

/** Collects changes inside `metadataContext`; nothing is written until the callback returns. */
export class MetadataContext {
  /** @internal */ readonly pending = new Map<string, Pending>();

  private entry(path: string): Pending {
    let e = this.pending.get(path);
    if (!e) this.pending.set(path, (e = { set: new Map(), unset: new Set(), deleted: false }));
    return e;
  }

  /** Sets fields on one or several datapoints; a null value clears the field. */
  updateMetadata(paths: string | readonly string[], metadata: Row): this {
    const ps = normalizePaths(paths);
    if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
      throw new QuiverError("INVALID_VALUE", `metadata must be a plain object of field → value, got ${describeValue(metadata)}`);
    }
    const keys = Object.keys(metadata);
    for (const k of keys) validateFieldName(k);
    for (const p of ps) {
      const e = this.entry(p);
      for (const k of keys) {
        const v = metadata[k];
        if (v === undefined) continue;
        e.set.set(k, v);
        e.unset.delete(k);
      }
    }
    return this;
  }

  /** Clears fields of datapoints (the old values stay in history). */
  deleteMetadata(paths: string | readonly string[], fields: string | readonly string[]): this {
    const fs = typeof fields === "string" ? [fields] : [...fields];
    for (const f of fs) validateFieldName(f);
    for (const p of normalizePaths(paths)) {
      const e = this.entry(p);
      for (const f of fs) {
        e.set.delete(f);
        e.unset.add(f);
      }
    }
    return this;
  }

  /** Removes datapoints and all their metadata (history kept; a rescan re-adds existing files). */
  deleteDatapoints(paths: string | readonly string[]): this {
    for (const p of normalizePaths(paths)) {
      const e = this.entry(p);
      e.set.clear();
      e.unset.clear();
      e.deleted = true;
    }
    return this;
  }

  /** @internal */
  toChange(): ChangeSet {
    const paths = [...this.pending.keys()];
    const n = paths.length;
    const fields = new Map<string, unknown[]>();
    const deleted = new Array<boolean>(n);
    const unset = new Array<string[] | undefined>(n);
    paths.forEach((p, i) => {
      const e = this.pending.get(p)!;
      deleted[i] = e.deleted;
      if (e.unset.size) unset[i] = [...e.unset];
      for (const [k, v] of e.set) {
        let col = fields.get(k);
        if (!col) fields.set(k, (col = new Array(n)));
        col[i] = v;
      }
    });
    return { paths, fields, deleted, unset };
  }
}

/**
 * Rows → one array per key (missing and null → undefined = untouched). A loop compiled for the
 * key list reads properties by constant name, which V8 serves from the rows' shared shape:
 * several times faster than `row[key]` over millions of rows.
 */
export function rowsToColumns(rows: readonly Row[], names: readonly string[]): unknown[][] {
  const n = rows.length;
  const cols = names.map(() => new Array<unknown>(n));
  if (names.length > 200 || names.some((k) => k === "__proto__")) {
    names.forEach((k, c) => {
      for (let i = 0; i < n; i++) cols[c]![i] = rows[i]![k] ?? undefined;
    });
    return cols;
  }
  const body = names.map((k, c) => `v = r[${JSON.stringify(k)}]; c${c}[i] = v === null ? undefined : v;`).join("\n");
  const fn = new Function(
    "rows",
    "cols",
    `${names.map((_, c) => `const c${c} = cols[${c}];`).join("")} let v; for (let i = 0; i < rows.length; i++) { const r = rows[i];\n${body}\n}`,
  ) as (rows: readonly Row[], cols: unknown[][]) => void;
  fn(rows, cols);
  return cols;
}

export function pathIndex(names: readonly string[], pc: string | number | undefined): number {
  const pi = typeof pc === "number" ? pc : names.indexOf(pc ?? names[0]!);
  if (!Number.isInteger(pi) || pi < 0 || pi >= names.length) {
    throw new QuiverError("UNKNOWN_FIELD", `pathColumn ${JSON.stringify(pc)} is not a column; columns: ${names.join(", ") || "(none)"}`);
  }
  return pi;
}

export function isArrowTable(x: unknown): x is Table {
  return !!x && typeof x === "object" && "schema" in x && "numRows" in x && typeof (x as Table).getChildAt === "function";
}
