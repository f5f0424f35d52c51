/**
 * The `h5:` store: tables as HDF5 groups, columns as 1-D extensible datasets (layout in README).
 * Single writer: the file stays open (read-write) while the store is open.
 */
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import {
  type DataType,
  Field,
  Float64,
  Int64,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  TimestampMicrosecond,
  Type,
  Uint64,
} from "apache-arrow";
import {
  ALL_KINDS,
  BIGINT_META,
  batchToRows,
  buildData,
  checkQueryFields,
  checkScanOptions,
  conformBatch,
  evaluate,
  isTensorType,
  mergeSchemas,
  normalizeRow,
  queryFields,
  QuiverError,
  type QueryNode,
  type Row,
  rowsToBatch,
  type ScanOptions,
  scanBatches,
  type Store,
  type StoreCapabilities,
  typeFromJSON,
  type TypeJSON,
  typeToJSON,
  validateColumnName,
  validateName,
  vectorToValues,
} from "@quiver/core";
import { acquireWriteLock, attrString, type Dataset, type DType, DTYPES, type File, type Group, H5, h5Path, h5ready, type NumericArray, openFile, setAttrString } from "./h5.js";

const TABLE_ATTR = "quiver_table";
const STORE = "the h5 store";
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

interface TableMeta {
  version: 1;
  rows: number;
  columns: ColumnMeta[];
}

function encodingOf(t: DataType): Encoding {
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

const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

const enc = new TextEncoder();
const dec = new TextDecoder();


/** JSON that keeps typed arrays as arrays, bigints as numbers-or-strings and Dates as ms. */
function jsonOf(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === "bigint") return Number.isSafeInteger(Number(x)) ? Number(x) : x.toString();
    if (typeof x === "number" && !Number.isFinite(x)) return String(x); // JSON would make NaN null
    if (ArrayBuffer.isView(x)) return Array.from(x as Float64Array, (e) => (typeof e === "bigint" ? Number(e) : e));
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
    case Type.Struct:
      if (isTensorType(t)) {
        const o = v as { data: unknown[]; shape: number[] };
        return { data: revive(t.children[0]!.type, o.data), shape: o.shape };
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

/** A table's group, its metadata, and dataset handles. */
class TableState {
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
}

export class H5Store implements Store {
  readonly scheme = "h5";
  readonly uri: string;
  readonly capabilities: StoreCapabilities = {
    sql: false,
    update: true,
    delete: true,
    pushdown: false,
    timeIndex: false,
    concurrentWriters: false,
    persistent: true,
    kinds: ALL_KINDS,
  };
  private readonly file: File;
  private closed = false;

  private constructor(
    readonly path: string,
    file: File,
    private readonly unlock: () => void,
  ) {
    this.file = file;
    this.uri = `h5:${path}`;
  }

  static async open(location: string): Promise<H5Store> {
    const path = h5Path(location);
    await h5ready();
    mkdirSync(dirname(path), { recursive: true });
    const unlock = acquireWriteLock(path);
    try {
      return new H5Store(path, openFile(path, existsSync(path) ? "a" : "w"), unlock);
    } catch (err) {
      unlock();
      throw err;
    }
  }

  private check(): void {
    if (this.closed) throw new QuiverError("CLOSED", `${this.uri} is closed; open it again with openStore("${this.uri}")`);
  }

  /**
   * The table as the file has it now. Not cached across calls: another store (or Reader) open on
   * the same file in this process may have appended, and h5wasm Dataset objects cache their shape.
   */
  private table(name: string): TableState | undefined {
    const g = this.file.get(name);
    if (!(g instanceof H5.Group)) return undefined;
    const raw = attrString(g, TABLE_ATTR);
    return raw ? new TableState(name, g, JSON.parse(raw) as TableMeta) : undefined;
  }

  private createTable(name: string): TableState {
    let cur = "";
    for (const seg of name.split("/")) {
      cur = cur ? `${cur}/${seg}` : seg;
      const o = this.file.get(cur);
      if (!o) this.file.create_group(cur);
      else if (!(o instanceof H5.Group)) {
        throw new QuiverError("INVALID_NAME", `table ${JSON.stringify(name)} needs an HDF5 group at /${cur}, where a column dataset of another table is; choose another table name`);
      }
    }
    const g = this.file.get(name) as Group;
    const t = new TableState(name, g, { version: 1, rows: 0, columns: [] });
    t.save();
    return t;
  }

  /** Adds a column (all null for the rows already there). */
  private addColumn(t: TableState, field: Field): ColumnMeta {
    const type = typeToJSON(field.type, STORE);
    const c: ColumnMeta = { name: field.name, type };
    if (field.metadata.size) c.metadata = Object.fromEntries(field.metadata);
    const e = encodingOf(field.type);
    const rows = t.meta.rows;
    t.meta.columns.push(c);
    if (e.kind === "null") return c;
    c.ds = t.allocate(field.name);
    const dtype: DType = e.kind === "numeric" ? e.dtype : e.kind === "timestamp" ? "int64" : "uint8";
    t.create(c.ds, dtype, e.kind === "numeric" || e.kind === "bool" || e.kind === "timestamp" ? rows : 0);
    if (e.kind === "utf8" || e.kind === "binary" || e.kind === "json") {
      c.offsets = t.allocate(`${field.name}.offsets`);
      t.create(c.offsets, "int64", rows);
    }
    if (rows > 0) {
      c.valid = t.allocate(`${field.name}.valid`);
      t.create(c.valid, "uint8", rows); // fill value 0: null
    }
    return c;
  }

  /** Appends values to a column's datasets (values already conformed to its type). */
  private writeColumn(t: TableState, c: ColumnMeta, values: readonly unknown[], before: number): void {
    const e = encodingOf(typeFromJSON(c.type));
    const { data, offsets } = encodeColumn(e, values);
    if (data && c.ds) t.append(c.ds, data);
    if (offsets && c.offsets) {
      const base = before > 0 ? (t.read(c.offsets, before - 1, before) as BigInt64Array)[0]! : 0n;
      if (base !== 0n) for (let i = 0; i < offsets.length; i++) offsets[i]! += base;
      t.append(c.offsets, offsets);
    }
    let nulls = false;
    for (let i = 0; i < values.length; i++) if (values[i] == null) nulls = true;
    if (e.kind === "null") return;
    if (nulls && !c.valid) {
      c.valid = t.allocate(`${c.name}.valid`);
      t.create(c.valid, "uint8", 0);
      if (before > 0) t.append(c.valid, new Uint8Array(before).fill(1));
    }
    if (c.valid) {
      const v = new Uint8Array(values.length);
      for (let i = 0; i < values.length; i++) v[i] = values[i] == null ? 0 : 1;
      t.append(c.valid, v);
    }
  }

  /** JS values of rows [start, end) of a column, nulls included. */
  private readColumn(t: TableState, c: ColumnMeta, field: Field, start: number, end: number): unknown[] {
    const n = end - start;
    const e = encodingOf(field.type);
    if (e.kind === "null" || !c.ds) return new Array(n).fill(null);
    const out = new Array<unknown>(n);
    if (e.kind === "utf8" || e.kind === "binary" || e.kind === "json") {
      const ends = t.read(c.offsets!, start, end) as BigInt64Array;
      const first = start > 0 ? Number((t.read(c.offsets!, start - 1, start) as BigInt64Array)[0]) : 0;
      const last = n > 0 ? Number(ends[n - 1]) : first;
      const bytes = t.read(c.ds, first, last) as Uint8Array;
      let prev = first;
      for (let i = 0; i < n; i++) {
        const to = Number(ends[i]);
        const b = bytes.subarray(prev - first, to - first);
        out[i] = e.kind === "binary" ? b.slice() : e.kind === "utf8" ? dec.decode(b) : to > prev ? revive(field.type, JSON.parse(dec.decode(b))) : null;
        prev = to;
      }
    } else {
      const raw = t.read(c.ds, start, end);
      const asBig = field.metadata.get(BIGINT_META) !== undefined;
      for (let i = 0; i < n; i++) {
        const v = raw[i]!;
        if (e.kind === "bool") out[i] = v !== 0;
        else if (e.kind === "timestamp") out[i] = new Date(Number(v) / 1000);
        else out[i] = typeof v === "bigint" && !asBig ? Number(v) : v;
      }
    }
    if (c.valid) {
      const valid = t.read(c.valid, start, end) as Uint8Array;
      for (let i = 0; i < n; i++) if (!valid[i]) out[i] = null;
    }
    return out;
  }

  /** Batches of the columns in `schema` (the table's, or a projection of it), read block by block. */
  private *batches(t: TableState, schema: Schema = t.schema): Generator<RecordBatch> {
    const rows = t.meta.rows;
    const cols = schema.fields.map((f) => t.meta.columns.find((c) => c.name === f.name)!);
    for (let s = 0; s < rows; s += SCAN_ROWS) {
      const e = Math.min(rows, s + SCAN_ROWS);
      const datas = schema.fields.map((f, i) => buildData(f.type, this.readColumn(t, cols[i]!, f, s, e), f.name));
      yield new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: e - s, nullCount: 0, children: datas }));
    }
  }

  async append(table: string, batch: RecordBatch): Promise<void> {
    this.check();
    validateName(table, "table name");
    for (const f of batch.schema.fields) validateColumnName(f.name);
    const existing = this.table(table);
    const schema = mergeSchemas(existing?.schema, batch.schema); // throws before anything is written
    for (const f of schema.fields) typeToJSON(f.type, STORE); // UNSUPPORTED types fail before writing too
    const t = existing ?? this.createTable(table);
    this.evolve(t, schema);
    const conformed = conformBatch(batch, t.schema);
    const before = t.meta.rows;
    const n = conformed.numRows;
    if (n > 0) {
      t.schema.fields.forEach((f, i) => this.writeColumn(t, t.meta.columns[i]!, vectorToValues(conformed.getChildAt(i)!, f), before));
      t.meta.rows = before + n;
    }
    t.save();
    this.file.flush();
  }

  /** Brings the stored columns to `schema`: adds new ones, rewrites widened ones. */
  private evolve(t: TableState, schema: Schema): void {
    let changed = false;
    for (const f of schema.fields) {
      const idx = t.meta.columns.findIndex((c) => c.name === f.name);
      const type = typeToJSON(f.type, STORE);
      if (idx < 0) {
        this.addColumn(t, f);
        changed = true;
        continue;
      }
      const c = t.meta.columns[idx]!;
      if (sameJson(c.type, type)) continue;
      // Widened (int → float, null → a type): read the old values, write them in the new encoding.
      const oldField = t.schema.fields[idx]!;
      const values = this.readColumn(t, c, oldField, 0, t.meta.rows);
      for (const n of [c.ds, c.offsets, c.valid]) t.truncate(n);
      const rows = t.meta.rows;
      t.meta.columns.splice(idx, 1);
      t.meta.rows = 0;
      const nc = this.addColumn(t, f);
      t.meta.columns.pop();
      t.meta.columns.splice(idx, 0, nc);
      if (rows > 0) this.writeColumn(t, nc, values, 0);
      t.meta.rows = rows;
      changed = true;
    }
    if (changed) t.schema = TableState.schemaOf(t.meta);
  }

  async *scan(table: string, options: ScanOptions = {}): AsyncGenerator<RecordBatch> {
    this.check();
    validateName(table, "table name");
    const t = this.table(table);
    if (!t) {
      if (options.where) checkQueryFields(options.where, undefined, table);
      return;
    }
    checkScanOptions(t.schema, options, table);
    // Read only the columns the scan needs (projection, filter and sort keys).
    let schema = t.schema;
    if (options.columns) {
      const need = new Set([...options.columns, ...(options.orderBy ?? []).map((o) => o.column)]);
      if (options.where) for (const f of queryFields(options.where)) need.add(f);
      schema = new Schema(t.schema.fields.filter((f) => need.has(f.name)), t.schema.metadata);
    }
    yield* scanBatches(this.batches(t, schema), schema, options, table);
  }

  async count(table: string, where?: QueryNode): Promise<number> {
    this.check();
    validateName(table, "table name");
    const t = this.table(table);
    if (where) checkQueryFields(where, t?.schema, table);
    if (!t) return 0;
    if (!where) return t.meta.rows;
    const need = queryFields(where);
    let n = 0;
    for (const b of this.batches(t, new Schema(t.schema.fields.filter((f) => need.has(f.name))))) for (const m of evaluate(where, b)) n += m;
    return n;
  }

  async schema(table: string): Promise<Schema | undefined> {
    this.check();
    validateName(table, "table name");
    return this.table(table)?.schema;
  }

  async tables(): Promise<string[]> {
    this.check();
    const out: string[] = [];
    const walk = (g: Group, prefix: string) => {
      for (const k of g.keys()) {
        const child = g.get(k);
        if (!(child instanceof H5.Group)) continue;
        const name = prefix + k;
        if (attrString(child, TABLE_ATTR)) out.push(name);
        walk(child, name + "/");
      }
    };
    walk(this.file, "");
    return out.sort();
  }

  /** Replaces a table's rows (update/delete): builds the new batch first, so a bad value changes nothing. */
  private rewrite(t: TableState, rows: Row[], schema: Schema): void {
    const batch = rowsToBatch(rows, { schema });
    const merged = mergeSchemas(t.schema, batch.schema);
    // Empty every dataset and write again from row 0: the datasets (and their names) are reused.
    for (const c of t.meta.columns) for (const n of [c.ds, c.offsets, c.valid]) t.truncate(n);
    t.meta.rows = 0;
    this.evolve(t, merged);
    const conformed = conformBatch(batch, t.schema);
    t.schema.fields.forEach((f, i) => this.writeColumn(t, t.meta.columns[i]!, vectorToValues(conformed.getChildAt(i)!, f), 0));
    t.meta.rows = conformed.numRows;
    t.save();
    this.file.flush();
  }

  async update(table: string, where: QueryNode | undefined, values: Row): Promise<number> {
    this.check();
    validateName(table, "table name");
    const t = this.table(table);
    if (where) checkQueryFields(where, t?.schema, table);
    if (!t) return 0;
    const set = normalizeRow(values);
    const rows: Row[] = [];
    let changed = 0;
    for (const b of this.batches(t)) {
      const mask = where ? evaluate(where, b) : undefined;
      batchToRows(b).forEach((r, i) => {
        if (!mask || mask[i]) {
          Object.assign(r, set);
          changed++;
        }
        rows.push(r);
      });
    }
    if (changed) this.rewrite(t, rows, t.schema);
    return changed;
  }

  async delete(table: string, where: QueryNode | undefined): Promise<number> {
    this.check();
    validateName(table, "table name");
    const t = this.table(table);
    if (where) checkQueryFields(where, t?.schema, table);
    if (!t) return 0;
    const keep: Row[] = [];
    let removed = 0;
    for (const b of this.batches(t)) {
      const mask = where ? evaluate(where, b) : undefined;
      batchToRows(b).forEach((r, i) => {
        if (!mask || mask[i]) removed++;
        else keep.push(r);
      });
    }
    if (removed) this.rewrite(t, keep, t.schema);
    return removed;
  }

  async drop(table: string): Promise<boolean> {
    this.check();
    validateName(table, "table name");
    const t = this.table(table);
    if (!t) return false;
    // h5wasm cannot unlink objects: empty the datasets and forget the table.
    for (const c of t.meta.columns) for (const n of [c.ds, c.offsets, c.valid]) t.truncate(n);
    t.group.delete_attribute(TABLE_ATTR);
    this.file.flush();
    return true;
  }

  async flush(): Promise<void> {
    this.check();
    this.file.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.file.close();
    } finally {
      this.unlock();
    }
  }
}

