/**
 * fast-check generators for the value round-trip group: tables of columns of every kind a store
 * declares, the values each must give back exactly, and values that must be refused.
 * fast-check is an optional peer dependency, loaded only when the group runs.
 */
import type * as FC from "fast-check";
import { columnNameKey, validateColumnName } from "../names.js";
import type { Row } from "../arrow/batches.js";
import type { ValueKind } from "../store/contract.js";
import { DATE_MAX_MS, DATE_MIN_MS, INT64_MAX, INT64_MIN } from "../arrow/values.js";

export type Fc = typeof FC;

let loaded: Promise<Fc> | undefined;
/** fast-check, imported on first use; a clear error when it is not installed. */
export function loadFastCheck(): Promise<Fc> {
  loaded ??= import("fast-check").then(
    (m) => ((m as unknown as { default?: Fc }).default ?? m) as Fc,
    (err: unknown) => {
      loaded = undefined;
      throw new Error(`the value round-trip group of the conformance suite needs fast-check; install it as a dev dependency (pnpm add -D fast-check): ${(err as Error).message}`);
    },
  );
  return loaded;
}

/** One generated column: its name and the sort of values it holds (fixed per column). */
export interface ColumnSpec {
  name: string;
  sort: string;
}
export interface TableCase {
  columns: ColumnSpec[];
  /** Rows as logged: a key absent, null, or a value of the column's sort. Every row has `i`, its position. */
  rows: Row[];
}

/** Names the front-ends stamp or use themselves: generated columns avoid them (and their case variants). */
const RESERVED = new Set(["i", "timestamp", "track_id", "_ts", "__quiver_index", "__proto__", "s_ok", "b_ok", "f32_ok", "ln_ok"]);

const TRICKY_NAMES = ["rowid", "Index", "select", "a b", "a.b", "ünï✓", "x\"y'z", "n".repeat(255), "🎉", "_x", "1st", " pad ", "line\nbreak", "ROWID"];

function validName(n: string): boolean {
  try {
    validateColumnName(n);
  } catch {
    return false;
  }
  return !RESERVED.has(columnNameKey(n));
}

const SPECIAL_DOUBLES = [
  -0,
  0,
  NaN,
  Infinity,
  -Infinity,
  5e-324,
  -5e-324,
  2.2250738585072014e-308 / 3,
  1e19,
  2 ** 64,
  1.23e100,
  2 ** 53,
  -(2 ** 53),
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  0.1,
  1 / 3,
];
const SPECIAL_STRINGS = ["", "\u0000", "a\u0000b", "🎉", "é", "e\u0301", "\uFEFFbom", " lead", "trail ", "x".repeat(300), "quote\"'", "line\nbreak\r\n", "NULL", "null"];
const SPECIAL_BIGINTS = [INT64_MIN, INT64_MAX, 0n, -1n, 2n ** 53n + 1n, -(2n ** 53n) - 1n];
const SPECIAL_DATES = [DATE_MIN_MS, DATE_MAX_MS, 0, -1, Date.UTC(2262, 3, 11, 23, 47, 16, 855), Date.UTC(1677, 8, 21), Date.UTC(2300, 0, 1, 0, 0, 0, 1)];

/** Value sorts per declared kind. Lists and tensors have one sort per element type. */
export function sortsFor(kinds: readonly ValueKind[]): string[] {
  const out: string[] = [];
  if (kinds.includes("int")) out.push("int");
  if (kinds.includes("float")) out.push("float", "number");
  if (kinds.includes("bigint")) out.push("bigint");
  if (kinds.includes("bool")) out.push("bool");
  if (kinds.includes("string")) out.push("string");
  if (kinds.includes("timestamp")) out.push("date");
  if (kinds.includes("binary")) out.push("binary");
  if (kinds.includes("list")) {
    out.push("list:number", "list:string", "list:bool", "list:nested", ...TYPED.map((t) => `list:${t}`));
    if (kinds.includes("timestamp")) out.push("list:date");
    if (kinds.includes("binary")) out.push("list:binary");
  }
  if (kinds.includes("tensor")) out.push("tensor:number", "tensor:Float32Array", "tensor:Int32Array", "tensor:Uint8Array", "tensor:BigInt64Array", "tensor:Float64Array");
  return out;
}

const TYPED = [
  "Int8Array",
  "Uint8ClampedArray",
  "Int16Array",
  "Uint16Array",
  "Int32Array",
  "Uint32Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "BigUint64Array",
] as const;

function typedArb(fc: Fc, ctor: string, len?: number): FC.Arbitrary<unknown> {
  const c = len === undefined ? { maxLength: 5 } : { minLength: len, maxLength: len };
  switch (ctor) {
    case "Int8Array":
      return fc.int8Array(c);
    case "Uint8Array":
      return fc.uint8Array(c);
    case "Uint8ClampedArray":
      return fc.uint8ClampedArray(c);
    case "Int16Array":
      return fc.int16Array(c);
    case "Uint16Array":
      return fc.uint16Array(c);
    case "Int32Array":
      return fc.int32Array(c);
    case "Uint32Array":
      return fc.uint32Array(c);
    case "Float32Array":
      return fc.float32Array(c);
    case "Float64Array":
      return fc.float64Array(c);
    case "BigInt64Array":
      return fc.bigInt64Array(c);
    case "BigUint64Array":
      // Values above 2^63-1 included: uint64 columns hold them exactly.
      return fc.bigUint64Array(c);
    default:
      return fc.array(doubleArb(fc), c);
  }
}

function doubleArb(fc: Fc): FC.Arbitrary<number> {
  return fc.oneof(fc.double(), fc.constantFrom(...SPECIAL_DOUBLES));
}
function stringArb(fc: Fc): FC.Arbitrary<string> {
  return fc.oneof({ weight: 3, arbitrary: fc.string({ unit: "binary", maxLength: 12 }) }, { weight: 1, arbitrary: fc.constantFrom(...SPECIAL_STRINGS) });
}
function dateArb(fc: Fc): FC.Arbitrary<Date> {
  return fc.oneof(
    fc.date({ min: new Date(DATE_MIN_MS), max: new Date(DATE_MAX_MS), noInvalidDate: true }),
    fc.constantFrom(...SPECIAL_DATES).map((ms) => new Date(ms)),
  );
}

/** Values of one sort (never null). */
export function valueArb(fc: Fc, sort: string): FC.Arbitrary<unknown> {
  switch (sort) {
    case "int":
      return fc.oneof(fc.maxSafeInteger(), fc.constantFrom(0, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER));
    case "float":
      return doubleArb(fc);
    case "number":
      // Integers first and floats later widen an int64 column to float64.
      return fc.oneof(fc.maxSafeInteger(), doubleArb(fc));
    case "bigint":
      return fc.oneof(fc.bigInt({ min: INT64_MIN, max: INT64_MAX }), fc.constantFrom(...SPECIAL_BIGINTS));
    case "bool":
      return fc.boolean();
    case "string":
      return stringArb(fc);
    case "date":
      return dateArb(fc);
    case "binary":
      return fc.uint8Array({ maxLength: 12 });
    case "list:number":
      return fc.array(fc.option(doubleArb(fc), { nil: null, freq: 4 }), { maxLength: 5 });
    case "list:string":
      return fc.array(fc.option(stringArb(fc), { nil: null, freq: 4 }), { maxLength: 4 });
    case "list:bool":
      return fc.array(fc.option(fc.boolean(), { nil: null, freq: 4 }), { maxLength: 4 });
    case "list:date":
      return fc.array(fc.option(dateArb(fc), { nil: null, freq: 4 }), { maxLength: 3 });
    case "list:binary":
      return fc.array(fc.uint8Array({ maxLength: 4 }), { maxLength: 3 });
    case "list:nested":
      return fc.array(fc.array(doubleArb(fc), { maxLength: 3 }), { maxLength: 3 });
  }
  if (sort.startsWith("list:")) return typedArb(fc, sort.slice(5));
  if (sort.startsWith("tensor:")) {
    const elem = sort.slice(7);
    return fc.oneof(fc.tuple(fc.integer({ min: 0, max: 6 })), fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 3 }))).chain((shape) =>
      typedArb(
        fc,
        elem === "number" ? "" : elem,
        shape.reduce((a, b) => a * b, 1),
      ).map((data) => ({ data, shape: [...shape] })),
    );
  }
  throw new Error(`unknown sort ${sort}`);
}

function nameArb(fc: Fc): FC.Arbitrary<string> {
  return fc
    .oneof({ weight: 3, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 16 }) }, { weight: 1, arbitrary: fc.constantFrom(...TRICKY_NAMES) })
    .filter(validName);
}

/** A table: 1-4 generated columns plus `i`, and 1-6 rows. */
export function tableArb(fc: Fc, kinds: readonly ValueKind[], maxRows = 6): FC.Arbitrary<TableCase> {
  const sorts = sortsFor(kinds);
  return fc
    .uniqueArray(fc.record({ name: nameArb(fc), sort: fc.constantFrom(...sorts) }), { minLength: 1, maxLength: 4, selector: (c) => columnNameKey(c.name) })
    .chain((columns) => {
      const cell = (c: ColumnSpec) =>
        fc.oneof({ weight: 5, arbitrary: valueArb(fc, c.sort) }, { weight: 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constant(undefined) });
      const row = fc.tuple(...columns.map(cell));
      return fc.array(row, { minLength: 1, maxLength: maxRows }).map((cells) => ({
        columns,
        rows: cells.map((vals, i) => {
          const r: Row = { i };
          columns.forEach((c, k) => {
            if (vals[k] !== undefined) r[c.name] = vals[k];
          });
          return r;
        }),
      }));
    });
}

const UNTYPED_WHEN_EMPTY = new Set(["list:string", "list:bool", "list:date", "list:binary", "list:nested"]);

/**
 * Whether some list column of these rows has only empty lists (or lists of nulls): stored alone,
 * such a column is settled to list<float64>, so a later batch of strings (say) is refused — store
 * them in one batch.
 */
export function settlesEmptyLists(rows: readonly Row[], columns: readonly ColumnSpec[]): boolean {
  return columns.some((c) => {
    if (!UNTYPED_WHEN_EMPTY.has(c.sort)) return false;
    const vals = rows.map((r) => r[c.name]).filter((v) => v != null) as unknown[][];
    // Lists of nothing but nulls say no more about the element type than empty ones.
    const untyped = (e: unknown): boolean => e === null || (c.sort === "list:nested" && Array.isArray(e) && e.every((x) => x === null));
    return vals.length > 0 && vals.every((v) => v.every(untyped));
  });
}

/**
 * What a logged value reads back as, per the documented mapping: Float64Array → number[],
 * Uint8ClampedArray → Uint8Array (List<uint8>), a tensor's number[] data → Float64Array. Every
 * value is kept exactly; only these containers change.
 */
export function expected(v: unknown): unknown {
  if (v instanceof Float64Array) return Array.from(v);
  if (v instanceof Uint8ClampedArray) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(expected);
  if (v !== null && typeof v === "object" && "data" in v && "shape" in v) {
    const t = v as { data: unknown; shape: number[] };
    const data = Array.isArray(t.data) ? Float64Array.from(t.data as number[]) : t.data instanceof Uint8ClampedArray ? new Uint8Array(t.data) : t.data;
    return { data, shape: [...t.shape] };
  }
  return v;
}

/** The row a store gives back for a logged row of `columns` (absent → null). */
export function expectedRow(row: Row, columns: readonly ColumnSpec[]): Row {
  const out: Row = { i: row.i };
  for (const c of columns) out[c.name] = Object.hasOwn(row, c.name) ? expected(row[c.name]) : null;
  return out;
}

/** Values log() must refuse, with the codes it may refuse them with. */
export interface BadCase {
  what: string;
  /** The bad row, given a good row of the same table (after PRELUDE and that row were logged). */
  row(good: Row): Row;
  codes: readonly string[];
}

/** Logged first in the refusal tests, so that these columns have a known kind. */
export function prelude(kinds: readonly ValueKind[]): Row {
  const r: Row = { i: -1, s_ok: "text" };
  if (kinds.includes("bigint")) r.b_ok = 1n;
  if (kinds.includes("list")) {
    r.f32_ok = new Float32Array([1.5]);
    r.ln_ok = [0.5];
  }
  return r;
}

export function badCases(kinds: readonly ValueKind[]): BadCase[] {
  const V = ["INVALID_VALUE"];
  const S = ["SCHEMA_MISMATCH"];
  const N = ["INVALID_NAME"];
  const put = (good: Row, k: string, v: unknown): Row => ({ ...good, [k]: v });
  const cases: BadCase[] = [
    { what: "a bigint beyond int64", row: (g) => put(g, "big_bad", 2n ** 63n), codes: V },
    { what: "a bigint below int64", row: (g) => put(g, "big_bad", -(2n ** 63n) - 1n), codes: V },
    { what: "a Date past 9999", row: (g) => put(g, "d_bad", new Date(DATE_MAX_MS + 1)), codes: V },
    { what: "a Date before year 1", row: (g) => put(g, "d_bad", new Date(DATE_MIN_MS - 1)), codes: V },
    { what: "an invalid Date", row: (g) => put(g, "d_bad", new Date(NaN)), codes: V },
    { what: "a lone surrogate", row: (g) => put(g, "s_bad", "a\uD800b"), codes: V },
    { what: "tensor data of strings", row: (g) => put(g, "t_bad", { data: ["a", "b"], shape: [2] }), codes: V },
    { what: "tensor data with a null", row: (g) => put(g, "t_bad", { data: [1, null], shape: [2] }), codes: V },
    { what: "a bigint inside an array", row: (g) => put(g, "l_bad", [1n, 2n]), codes: V },
    { what: "an array mixing numbers and strings", row: (g) => put(g, "l_bad", [1, "a"]), codes: [...V, ...S] },
    { what: "a function", row: (g) => put(g, "f_bad", () => 1), codes: V },
    { what: "a Map", row: (g) => put(g, "m_bad", new Map()), codes: V },
    { what: "an empty column name", row: (g) => put(g, "", 1), codes: N },
    { what: "a NUL in a column name", row: (g) => put(g, "a\u0000b", 1), codes: N },
    { what: "a 256-character column name", row: (g) => put(g, "c".repeat(256), 1), codes: N },
    { what: "a lone surrogate in a column name", row: (g) => put(g, "n\uDC00", 1), codes: N },
    { what: "a column name differing only in case", row: (g) => put(g, "I", 1), codes: N },
    // Same keys as the good rows before them: what a compiled fast path must refuse too.
    { what: "a string into a column of numbers", row: (g) => put(g, "i", "seven"), codes: S },
    { what: "a bigint into a column of numbers", row: (g) => put(g, "i", 7n), codes: S },
    { what: "a bigint beyond int64 into a column of numbers", row: (g) => put(g, "i", 2n ** 64n), codes: [...V, ...S] },
    { what: "a lone surrogate into a column of strings", row: (g) => put(g, "s_ok", "\uDFFFx"), codes: V },
  ];
  if (kinds.includes("bigint")) cases.push({ what: "a number into a bigint column", row: (g) => put(g, "b_ok", 1), codes: S });
  if (kinds.includes("list")) {
    cases.push({ what: "an Int32Array into a Float32Array column", row: (g) => put(g, "f32_ok", new Int32Array([1])), codes: S });
    cases.push({ what: "strings into a list of numbers", row: (g) => put(g, "ln_ok", ["a"]), codes: S });
  }
  return cases;
}
