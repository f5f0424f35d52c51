/**
 * One table of the `h5:` store: a group whose `quiver_table` attribute (JSON) records the columns,
 * and the datasets holding them (layout in README). Encoding, reading and schema evolution.
 */
import { type DataType, Field, type Float64, Int64, makeData, RecordBatch, Schema, Struct, TimestampMicrosecond, Type, Uint64 } from "apache-arrow";
import { BIGINT_META, buildData, isTensorType, QuiverError, typeFromJSON, type TypeJSON, typeToJSON } from "@quiver/core";
import { type Dataset, type DType, DTYPES, type Group, H5, type NumericArray, setAttrString } from "./h5.js";

export const TABLE_ATTR = "quiver_table";
export const STORE = "the h5 store";
const SCAN_ROWS = 65_536;
const CHUNK = 8192;

/** How a column's values sit in datasets. */
type Encoding = { kind: "numeric"; dtype: DType } | { kind: "bool" } | { kind: "timestamp" } | { kind: "utf8" } | { kind: "binary" } | { kind: "json" } | { kind: "null" };

interface ColumnMeta {
  name: string;
  type: TypeJSON;
  metadata?: Record<string, string>;
  /** Dataset holding values (bytes for variable-length kinds). */
  ds?: string;
  /** Dataset of end offsets (int64) into `ds`, for variable-length kinds. */
  offsets?: string;
  /** Dataset of validity flags (uint8, 1 = value, 0 = null); absent while the column has no nulls. */
  valid?: string;
}

export interface TableMeta {
  version: 1;
  rows: number;
  columns: ColumnMeta[];
}

export function encodingOf(t: DataType): Encoding {
  switch (t.typeId) {
    case Type.Null:
      return { kind: "null" };
    case Type.Bool:
      return { kind: "bool" };
    case Type.Utf8:
    case Type.LargeUtf8:
      return { kind: "utf8" };
    case Type.Binary:
    case Type.LargeBinary:
      return { kind: "binary" };
    case Type.Int: {
      const it = t as Int64;
      return { kind: "numeric", dtype: `${it.isSigned ? "int" : "uint"}${it.bitWidth}` as DType };
    }
    case Type.Float:
      return { kind: "numeric", dtype: (t as Float64).precision === 1 ? "float32" : "float64" };
    case Type.Timestamp:
    case Type.Date:
      return { kind: "timestamp" };
    default:
      return { kind: "json" };
  }
}

export const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * JSON of a list/tensor value that loses nothing: typed arrays become arrays (their bigints
 * kept), bigints beyond 2^53 and the numbers JSON cannot hold (NaN, ±Infinity, -0) become strings.
 * The column's Arrow type (in the table's metadata) says how to read each back.
 */
function jsonOf(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === "bigint") return Number.isSafeInteger(Number(x)) ? Number(x) : x.toString();
    if (typeof x === "number" && (!Number.isFinite(x) || Object.is(x, -0))) return Object.is(x, -0) ? "-0" : String(x);
    if (ArrayBuffer.isView(x)) return Array.from(x as unknown as ArrayLike<number | bigint>);
    return x;
  });
}

/** A JSON-decoded list/tensor value back in the JS form buildData expects for `t`. */
function revive(t: DataType, v: unknown): unknown {
  if (v == null) return null;
  switch (t.typeId) {
    case Type.Timestamp:
    case Type.Date:
      return new Date(typeof v === "string" ? Date.parse(v) : (v as number));
    case Type.Int:
      return (t as Int64).bitWidth === 64 ? BigInt(v as number | string) : v;
    case Type.Float:
      return typeof v === "string" ? Number(v) : v;
    case Type.List: {
      const item = t.children[0]!.type;
      return (v as unknown[]).map((x) => revive(item, x));
    }
    case Type.Binary:
    case Type.LargeBinary:
      return Uint8Array.from(v as number[]);
    case Type.Struct: {
      if (isTensorType(t)) {
        const o = v as { data: unknown[]; shape: number[] };
        return { data: revive(t.children[0]!.type, o.data), shape: o.shape };
      }
      const o = v as Record<string, unknown>;
      const out: Record<string, unknown> = { ...o };
      for (const f of t.children) if (f.name in o) out[f.name] = revive(f.type, o[f.name]);
      return out;
    }
  }
  return v;
}

/** Values of one column → typed arrays for its datasets. */
function encodeColumn(e: Encoding, values: readonly unknown[]): { data?: NumericArray; offsets?: BigInt64Array } {
  switch (e.kind) {
    case "null":
      return {};
    case "numeric": {
      const info = DTYPES[e.dtype];
      if (info.big) return { data: buildData(e.dtype === "uint64" ? new Uint64() : new Int64(), values).values as NumericArray };
      const a = new info.ctor(values.length) as Float64Array;
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (v != null) a[i] = typeof v === "number" ? v : Number(v);
      }
      return { data: a };
    }
    case "bool": {
      const a = new Uint8Array(values.length);
      for (let i = 0; i < values.length; i++) a[i] = values[i] ? 1 : 0;
      return { data: a };
    }
    case "timestamp": {
      return { data: buildData(new TimestampMicrosecond("UTC"), values).values as NumericArray }; // int64 µs
    }
    default: {
      const parts: Uint8Array[] = [];
      const offsets = new BigInt64Array(values.length);
      let total = 0;
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        if (v != null) {
          const b = e.kind === "binary" ? (v as Uint8Array) : enc.encode(e.kind === "utf8" ? String(v) : jsonOf(v));
          parts.push(b);
          total += b.length;
        }
        offsets[i] = BigInt(total);
      }
      const data = new Uint8Array(total);
      let at = 0;
      for (const p of parts) {
        data.set(p, at);
        at += p.length;
      }
      return { data, offsets };
    }
  }
}

/** A column's values encoded for its datasets; `valid` only when some are null. */
export interface Encoded {
  kind: Encoding["kind"];
  rows: number;
  data?: NumericArray;
  offsets?: BigInt64Array;
  valid?: Uint8Array;
}

/** Encodes values of a column of type `t` (throws INVALID_VALUE on a value the type cannot hold). */
export function encodeValues(t: DataType, values: readonly unknown[]): Encoded {
  const e = encodingOf(t);
  const out: Encoded = { kind: e.kind, rows: values.length, ...encodeColumn(e, values) };
  for (let i = 0; i < values.length; i++) {
    if (values[i] == null) {
      out.valid ??= new Uint8Array(values.length).fill(1);
      out.valid[i] = 0;
    }
  }
  return out;
}

/** A table's group, its metadata, and dataset handles. */
export class TableState {
  /** Rows read per scan block. */
  static readonly SCAN_ROWS = SCAN_ROWS;
  private readonly handles = new Map<string, Dataset>();
  schema: Schema;

  constructor(
    readonly name: string,
    readonly group: Group,
    public meta: TableMeta,
  ) {
    this.schema = TableState.schemaOf(meta);
  }

  static schemaOf(meta: TableMeta): Schema {
    return new Schema(meta.columns.map((c) => new Field(c.name, typeFromJSON(c.type), true, c.metadata ? new Map(Object.entries(c.metadata)) : undefined)));
  }

  ds(name: string): Dataset {
    let d = this.handles.get(name);
    if (!d) {
      const o = this.group.get(name);
      if (!(o instanceof H5.Dataset)) throw new QuiverError("IO", `table ${this.name}: dataset ${name} is missing from the file`);
      d = o;
      this.handles.set(name, d);
    }
    return d;
  }

  length(name: string): number {
    return Number(this.ds(name).shape?.[0] ?? 0);
  }

  /** A dataset name not used in the group (column names are escaped: "/" is not allowed in links). */
  allocate(base: string): string {
    const taken = new Set(this.group.keys());
    for (const c of this.meta.columns) for (const n of [c.ds, c.offsets, c.valid]) if (n) taken.add(n);
    let name = base.replace(/%/g, "%25").replace(/\//g, "%2F");
    if (name === ".") name = "%2E";
    if (!taken.has(name)) return name;
    for (let i = 2; ; i++) if (!taken.has(`${name}~${i}`)) return `${name}~${i}`;
  }

  create(name: string, dtype: DType, rows: number): void {
    const info = DTYPES[dtype];
    this.group.create_dataset({
      name,
      data: new info.ctor(0) as unknown as Float64Array,
      shape: [0],
      maxshape: [null],
      chunks: [CHUNK],
      dtype: info.h5,
    });
    if (rows > 0) this.ds(name).resize([rows]);
  }

  append(name: string, data: NumericArray): void {
    if (data.length === 0) return;
    const d = this.ds(name);
    const at = Number(d.shape?.[0] ?? 0);
    d.resize([at + data.length]);
    d.write_slice([[at, at + data.length]], data);
  }

  read(name: string, start: number, end: number): NumericArray {
    if (end <= start) return new Uint8Array(0);
    return this.ds(name).slice([[start, end]]) as unknown as NumericArray;
  }

  truncate(name: string | undefined): void {
    if (name) this.ds(name).resize([0]);
  }

  save(): void {
    setAttrString(this.group, TABLE_ATTR, JSON.stringify(this.meta));
  }

  /** Adds a column (all null for the rows already there). */
  addColumn(field: Field): ColumnMeta {
    const type = typeToJSON(field.type, STORE);
    const c: ColumnMeta = { name: field.name, type };
    if (field.metadata.size) c.metadata = Object.fromEntries(field.metadata);
    const e = encodingOf(field.type);
    const rows = this.meta.rows;
    this.meta.columns.push(c);
    if (e.kind === "null") return c;
    c.ds = this.allocate(field.name);
    const dtype: DType = e.kind === "numeric" ? e.dtype : e.kind === "timestamp" ? "int64" : "uint8";
    this.create(c.ds, dtype, e.kind === "numeric" || e.kind === "bool" || e.kind === "timestamp" ? rows : 0);
    if (e.kind === "utf8" || e.kind === "binary" || e.kind === "json") {
      c.offsets = this.allocate(`${field.name}.offsets`);
      this.create(c.offsets, "int64", rows);
    }
    if (rows > 0) {
      c.valid = this.allocate(`${field.name}.valid`);
      this.create(c.valid, "uint8", rows); // fill value 0: null
    }
    return c;
  }

  /** Appends values to a column's datasets (values already conformed to its type). */
  writeColumn(c: ColumnMeta, values: readonly unknown[], before: number): void {
    this.writeEncoded(c, encodeValues(typeFromJSON(c.type), values), before);
  }

  /** Appends encoded values (see encodeValues) to a column's datasets. */
  writeEncoded(c: ColumnMeta, v: Encoded, before: number): void {
    if (v.kind === "null") return;
    if (v.data && c.ds) this.append(c.ds, v.data);
    if (v.offsets && c.offsets) {
      const base = before > 0 ? (this.read(c.offsets, before - 1, before) as BigInt64Array)[0]! : 0n;
      let offsets = v.offsets;
      if (base !== 0n) offsets = offsets.map((o) => o + base);
      this.append(c.offsets, offsets);
    }
    if (v.valid && !c.valid) {
      c.valid = this.allocate(`${c.name}.valid`);
      this.create(c.valid, "uint8", 0);
      if (before > 0) this.append(c.valid, new Uint8Array(before).fill(1));
    }
    if (c.valid) this.append(c.valid, v.valid ?? new Uint8Array(v.rows).fill(1));
  }

  /** JS values of rows [start, end) of a column, nulls included. */
  readColumn(c: ColumnMeta, field: Field, start: number, end: number): unknown[] {
    const n = end - start;
    const e = encodingOf(field.type);
    if (e.kind === "null" || !c.ds) return new Array(n).fill(null);
    const out = new Array<unknown>(n);
    if (e.kind === "utf8" || e.kind === "binary" || e.kind === "json") {
      const ends = this.read(c.offsets!, start, end) as BigInt64Array;
      const first = start > 0 ? Number((this.read(c.offsets!, start - 1, start) as BigInt64Array)[0]) : 0;
      const last = n > 0 ? Number(ends[n - 1]) : first;
      const bytes = this.read(c.ds, first, last) as Uint8Array;
      let prev = first;
      for (let i = 0; i < n; i++) {
        const to = Number(ends[i]);
        const b = bytes.subarray(prev - first, to - first);
        out[i] = e.kind === "binary" ? b.slice() : e.kind === "utf8" ? dec.decode(b) : to > prev ? revive(field.type, JSON.parse(dec.decode(b))) : null;
        prev = to;
      }
    } else {
      const raw = this.read(c.ds, start, end);
      const asBig = field.metadata.get(BIGINT_META) !== undefined;
      for (let i = 0; i < n; i++) {
        const v = raw[i]!;
        if (e.kind === "bool") out[i] = v !== 0;
        else if (e.kind === "timestamp") out[i] = new Date(Number(v) / 1000);
        // A 64-bit column of numbers holds safe integers; anything else stays a bigint rather than round.
        else out[i] = typeof v === "bigint" && !asBig && v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v;
      }
    }
    if (c.valid) {
      const valid = this.read(c.valid, start, end) as Uint8Array;
      for (let i = 0; i < n; i++) if (!valid[i]) out[i] = null;
    }
    return out;
  }

  /** Rows [s, e) of the columns in `schema` (the table's, or a projection of it) as one batch. */
  block(schema: Schema, s: number, e: number): RecordBatch {
    const cols = schema.fields.map((f) => this.meta.columns.find((c) => c.name === f.name)!);
    const datas = schema.fields.map((f, i) => buildData(f.type, this.readColumn(cols[i]!, f, s, e), f.name));
    return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: e - s, nullCount: 0, children: datas }));
  }

  /** Brings the stored columns to `schema`: adds new ones, rewrites widened ones. */
  evolve(schema: Schema): void {
    let changed = false;
    for (const f of schema.fields) {
      const idx = this.meta.columns.findIndex((c) => c.name === f.name);
      const type = typeToJSON(f.type, STORE);
      if (idx < 0) {
        this.addColumn(f);
        changed = true;
        continue;
      }
      const c = this.meta.columns[idx]!;
      if (sameJson(c.type, type)) continue;
      // Widened (int → float, null → a type): read the old values, write them in the new encoding.
      const oldField = this.schema.fields[idx]!;
      const values = this.readColumn(c, oldField, 0, this.meta.rows);
      for (const n of [c.ds, c.offsets, c.valid]) this.truncate(n);
      const rows = this.meta.rows;
      this.meta.columns.splice(idx, 1);
      this.meta.rows = 0;
      const nc = this.addColumn(f);
      this.meta.columns.pop();
      this.meta.columns.splice(idx, 0, nc);
      if (rows > 0) this.writeColumn(nc, values, 0);
      this.meta.rows = rows;
      changed = true;
    }
    if (changed) this.schema = TableState.schemaOf(this.meta);
  }
}
