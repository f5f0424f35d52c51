/**
 * Spans, the client side: what an append tells `_quiver_spans_add` of its runs, and how a read
 * of one run is narrowed to the positions its spans cover. The layout, the server functions and
 * why spans replace a per-row index: catalog.ts.
 */
import { type Data, type RecordBatch, Type, type Utf8 } from "apache-arrow";
import type { QueryNode } from "@quiver/core";
import { vectorToValues } from "@quiver/core/store-kit";
import type { TableInfo } from "./catalog.js";
import { arrayText } from "./literal.js";
import { ident, type SqlBuilder } from "./sql.js";

/** The call recording an append's spans: `$1` table, `$2` rows, `$3` ids, `$4`/`$5` first/last rows. */
export const SPANS_ADD = (S: string) => `SELECT ${S}._quiver_spans_add($1, $2, $3::text[], $4::int8[], $5::int8[])`;
/** Rebuilds a table's spans from its rows (after a delete renumbered them, or an update moved runs). */
export const SPANS_REBUILD = (S: string) => `SELECT ${S}._quiver_spans_rebuild($1, NULL)`;

/** Every position (the range a read of a run takes when its spans are not trusted). */
const MIN_POS = "'-9223372036854775808'::int8";
const MAX_POS = "'9223372036854775807'::int8";

/** Whether bytes [a0, a1) and [b0, b1) of `a` are the same. */
function same(a: Uint8Array, a0: number, a1: number, b0: number, b1: number): boolean {
  if (a1 - a0 !== b1 - b0) return false;
  for (let k = 0; k < a1 - a0; k++) if (a[a0 + k] !== a[b0 + k]) return false;
  return true;
}

// ignoreBOM: an id that starts with U+FEFF keeps it (the default decoder strips it), as core's reads do.
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * The parameters of SPANS_ADD for `batch` after the table and row count: each run's id with its
 * first and last row in the batch. Undefined when no row names a run (or track_id is not text).
 * Runs come in long stretches of equal ids, so bytes are compared and decoded only on a change.
 */
export function batchSpans(batch: RecordBatch): [ids: string, firsts: string, lasts: string] | undefined {
  const i = batch.schema.fields.findIndex((f) => f.name === "track_id");
  if (i < 0) return undefined;
  const runs = new Map<string, [number, number]>();
  const field = batch.schema.fields[i]!;
  if (field.type.typeId !== Type.Utf8) {
    // Another layout of strings (LargeUtf8 maps to other storage today, which leaves spans; kept
    // so a run's rows are never left out of its spans): through core's values. Not strings: no run.
    vectorToValues(batch.getChildAt(i)!, field).forEach((v, r) => {
      if (typeof v !== "string") return;
      const cur = runs.get(v);
      if (cur) cur[1] = r;
      else runs.set(v, [r, r]);
    });
    return spansText(runs);
  }
  let row = 0;
  for (const d of batch.getChildAt(i)!.data as Data<Utf8>[]) {
    // Arrow JS slices a column's value offsets; only its validity bits keep d.offset.
    const offsets = d.valueOffsets as Int32Array;
    const bytes = d.values as Uint8Array;
    const valid = d.nullCount > 0 ? d.nullBitmap : undefined;
    let cur: [number, number] | undefined;
    let prev = 0; // the row of `cur`'s id in this data
    for (let r = 0; r < d.length; r++, row++) {
      const bit = d.offset + r;
      if (valid && !((valid[bit >> 3]! >> (bit & 7)) & 1)) continue;
      const a = offsets[r]!;
      const b = offsets[r + 1]!;
      if (cur && same(bytes, a, b, offsets[prev]!, offsets[prev + 1]!)) {
        cur[1] = row;
        continue;
      }
      const id = utf8.decode(bytes.subarray(a, b));
      cur = runs.get(id);
      if (cur) cur[1] = row;
      else runs.set(id, (cur = [row, row]));
      prev = r;
    }
  }
  return spansText(runs);
}

function spansText(runs: Map<string, [number, number]>): [ids: string, firsts: string, lasts: string] | undefined {
  if (runs.size === 0) return undefined;
  const spans = [...runs.values()];
  return [
    arrayText("text", [...runs.keys()]),
    arrayText(
      "int8",
      spans.map((s) => s[0]),
    ),
    arrayText(
      "int8",
      spans.map((s) => s[1]),
    ),
  ];
}

/** The run a query is about: its top-level `track_id = "…"` (alone, or one term of an AND). */
export function runOf(node: QueryNode | undefined): string | undefined {
  if (!node) return undefined;
  if (node.op === "eq" && node.field === "track_id" && typeof node.value === "string") return node.value;
  if (node.op === "and") {
    for (const a of node.args) {
      const id = runOf(a);
      if (id !== undefined) return id;
    }
  }
  return undefined;
}

/**
 * How a read of one run goes: "window" scans the primary key from the run's first position to
 * its last (in order, no sort: the run fills most of that window), "spans" probes the primary
 * key once per span and sorts what it finds (the run is a small part of its window: other runs
 * were written in between). Undefined: the query is not about one run of a table with spans.
 */
export type RunShape = "window" | "spans";

/** The statement RunShape is chosen from (`$1` table, `$2` run): the run's spans, their rows, their window. */
export const SHAPE_SQL = (S: string) =>
  `SELECT count(*)::int AS n, coalesce(sum(hi - lo + 1), 0)::float8 AS covered, coalesce(max(hi) - min(lo) + 1, 0)::float8 AS width FROM ${S}._quiver_spans WHERE tbl = $1 AND track_id = $2`;

/** "spans" when the run's rows are under a quarter of its window. */
export function shapeOf(r: { n: number; covered: number; width: number } | undefined): RunShape {
  return r && r.n > 1 && r.covered * 4 < r.width ? "spans" : "window";
}

/** Whether a read of `where` over `info` is a read of one run through spans (so has a RunShape). */
export function aboutOneRun(info: TableInfo, where: QueryNode | undefined): string | undefined {
  const col = info.byName.get("track_id");
  if (!info.spans || col?.storage.kind !== "scalar" || col.storage.elem !== "text") return undefined;
  return runOf(where);
}

/**
 * The FROM of a "spans" read of table `T` (quoted) for `where`: each of the run's spans, and the
 * rows of its positions that match (a primary key range each). In one statement, so in one
 * snapshot: when the spans are not 'ok' (a foreign write: catalog.ts), one span covers all.
 */
export function spansFrom(S: string, info: TableInfo, id: string, T: string, where: string, b: SqlBuilder): string {
  const { ok, ofRun } = runSql(S, info, id, b);
  const spans = `SELECT lo AS _quiver_lo, hi AS _quiver_hi FROM ${ofRun} AND ${ok}` + ` UNION ALL SELECT ${MIN_POS}, ${MAX_POS} WHERE NOT coalesce(${ok}, false)`;
  const P = ident("_quiver_pos");
  // OFFSET 0 keeps the lateral subquery a nested loop of primary key ranges (not flattened into a join the planner may turn into a scan).
  return `(${spans}) s CROSS JOIN LATERAL (SELECT * FROM ${T} WHERE ${P} BETWEEN s._quiver_lo AND s._quiver_hi AND ${where} OFFSET 0) t`;
}

/**
 * A condition narrowing a query about one run to the positions from its first span to its last
 * (a primary key range, in order), or "" when it does not apply. Checked in the same statement,
 * so in the same snapshot: spans not 'ok' (a foreign write: catalog.ts) give the whole range,
 * and a run with no span an empty one.
 */
export function narrowToRun(S: string, info: TableInfo, where: QueryNode | undefined, b: SqlBuilder): string {
  const id = aboutOneRun(info, where);
  if (id === undefined) return "";
  const { ok, ofRun } = runSql(S, info, id, b);
  // Spans trusted: the run's first to last position (none: an empty range); else every position.
  const bound = (agg: string, none: string, all: string) => `(CASE WHEN coalesce(${ok}, false) THEN coalesce((SELECT ${agg} FROM ${ofRun}), ${none}) ELSE ${all} END)`;
  return `${ident("_quiver_pos")} BETWEEN ${bound("min(lo)", "1", MIN_POS)} AND ${bound("max(hi)", "0", MAX_POS)}`;
}

/** SQL pieces of a read of run `id`: whether the table's spans are trusted, and its spans (a FROM … WHERE). */
function runSql(S: string, info: TableInfo, id: string, b: SqlBuilder): { ok: string; ofRun: string } {
  const t = b.param(info.name, "text");
  const r = b.param(id, "text");
  return { ok: `((SELECT spans FROM ${S}._quiver_tables WHERE name = ${t}) = 'ok')`, ofRun: `${S}._quiver_spans WHERE tbl = ${t} AND track_id = ${r}` };
}
