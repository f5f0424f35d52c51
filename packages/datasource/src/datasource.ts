/** Datasource: a local folder of files plus versioned, typed metadata kept in a Quiver store. */
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { type Data, type Table, Type } from "apache-arrow";
import { QuiverError, type Row, type Store, describeValue, sameType, validateName, vectorToValues } from "@quiver/core";
import { BlobStore } from "./blobs.js";
import { increasingData, rememberIncreasing } from "./columns.js";
import { readCsv } from "./csv.js";
import { type Columns, readParquet } from "./duck.js";
import { type Engine, FoldEngine, SqlEngine, checkSpec } from "./engine.js";
import { Declarations, type FieldHost, type FieldSchema, MetadataFieldBuilder, encodeDocuments, fieldSchemas, withDeclared } from "./fields.js";
import { fetchInto, resultBlobColumn } from "./upload.js";
import { deletedPaths } from "./tombstones.js";
import { ZonedDate, addZones, arrowOffset } from "./zones.js";
import { splitZones, withZoneColumns } from "./zoned-results.js";
import { type ChangeSet, changeSize } from "./events.js";
import { MetadataContext, isArrowTable, pathIndex, rowsToColumns } from "./context.js";
import { EventLog } from "./log.js";
import { cleanAsciiPaths, decodeAsciiPaths, normalizePath } from "./paths.js";
import { type Datapoint, QueryResult } from "./result.js";
import { type ScanOptions, type ScanReport, scanFolder } from "./scan.js";
import { type StoreRef, acquireStore, appendRows, readRegistry, rootExists, withLock } from "./storage.js";
import { type FieldType, arrowType, typeOfArrowField } from "./types.js";
import { View, type ViewSource, type ViewSpec, specFromJSON, specToJSON } from "./view.js";

export interface DatasourceOptions {
  name: string;
  /** The folder holding the files (relative to the working directory or absolute). */
  path: string;
  /** Where metadata and blobs live (default ".quiver"). */
  root?: string;
  /** A store URI or an opened Store (default `duckdb:<root>/datasources.db`). */
  store?: string | Store;
}

export interface OpenOptions {
  name: string;
  root?: string;
  store?: string | Store;
  /**
   * Open only to read: the store is opened with `readOnly` and nothing under the root is ever
   * created or written (writes are UNSUPPORTED; queries compute a stale state instead of
   * materialising it). A missing root is NOT_FOUND.
   */
  readOnly?: boolean;
}

export { MetadataContext };

export interface UploadOptions {
  /** The column holding the datapoint paths, by name or index (default: the first column). */
  pathColumn?: string | number;
}

/** Distinct paths and nothing cleared or deleted: lets the SQL engine skip its checks. */
function isFresh(change: ChangeSet): boolean {
  if (change.deleted?.some((d) => d) || change.unset?.some((u) => u?.length)) return false;
  for (const values of change.fields.values()) if (Array.isArray(values) && values.includes(null)) return false;
  // Strictly increasing paths are distinct (scans and most generated tables are sorted): a cheap
  // pass (over the UTF-8 bytes when the paths came as Arrow data, without decoding them). Small
  // unsorted batches use a Set; large unsorted ones are left to the SQL check.
  const pd = change.pathData;
  if (pd && increasingData(pd)) return true;
  const ps = change.paths;
  let sorted = !pd;
  for (let i = 1; i < ps.length && sorted; i++) sorted = ps[i - 1]! < ps[i]!;
  if (sorted) return true;
  return ps.length <= 50_000 && new Set(ps).size === ps.length;
}

/**
 * Whether an Arrow column is one chunk, used as it is by the byte-level readers (a sliced one,
 * table.slice, too: its value buffers come sliced, its validity and bool bits count from
 * `offset`); a column of several chunks goes through vectorToValues.
 */
function single(col: { data: readonly Data[] }): boolean {
  return col.data.length === 1;
}

const writeLocks = new WeakMap<Store, Map<string, Promise<void>>>();

export class Datasource extends View implements ViewSource, FieldHost {
  private readonly blobs: BlobStore;
  private readonly decls: Declarations;
  private readonly engine: Engine;
  private readonly log: EventLog;
  private closed = false;

  private constructor(
    readonly name: string,
    readonly id: string,
    /** Absolute path of the folder. */
    readonly path: string,
    readonly root: string,
    private readonly ref: StoreRef,
    private readonly readOnly = false,
  ) {
    super(undefined);
    this.blobs = new BlobStore(resolve(root, "blobs"));
    const s = ref.store;
    const duck = s.capabilities.sql && s.capabilities.dialect === "duckdb" && typeof s.sql === "function";
    // Large commits go to Parquet segments under the root on the default store (segments.ts);
    // any DuckDB store reads them.
    this.log = new EventLog(s, id, duck ? { dir: resolve(root, "segments", id), write: ref.defaultStore === true && !readOnly } : undefined);
    this.decls = new Declarations(s, `datasource/${id}/schema`);
    // The SQL engine writes DuckDB SQL; a store speaking another dialect (postgres:) or none gets the fold.
    this.engine =
      s.capabilities.sql && s.capabilities.dialect === "duckdb" && typeof s.sql === "function"
        ? new SqlEngine(this.log, readOnly, (fn) => withLock(this.lockFile, fn))
        : new FoldEngine(this.log);
  }

  get store(): Store {
    return this.ref.store;
  }

  /** Serialises writers of this datasource across processes. */
  private get lockFile(): string {
    return resolve(this.root, "locks", `${this.id}.lock`);
  }

  // ------------------------------------------------------------------------------------------
  // registry

  /** The datasource of this name under root, created over `path` if it does not exist. */
  static async getOrCreate(options: DatasourceOptions): Promise<Datasource> {
    const name = validateName(options?.name, "datasource name");
    if (typeof options.path !== "string" || !options.path) throw new QuiverError("INVALID_PATH", "getOrCreate needs the datasource's folder as `path`");
    const root = resolve(options.root ?? ".quiver");
    const ref = await acquireStore(root, options.store);
    try {
      // Under the root's registry lock: two processes creating one name get the same datasource.
      return await withLock(resolve(root, "locks", "registry.lock"), async () => {
        const reg = await readRegistry(ref.store, "datasources");
        const existing = reg.get(name);
        if (existing) return new Datasource(name, existing.id as string, existing.path as string, root, ref);
        const id = `ds_${randomBytes(6).toString("hex")}`;
        const path = resolve(options.path);
        await appendRows(ref.store, "datasources", [{ name, id, path, created: new Date(), _deleted: false }]);
        return new Datasource(name, id, path, root, ref);
      });
    } catch (err) {
      await ref.release();
      throw err;
    }
  }

  /** An existing datasource; NOT_FOUND if there is none of this name. */
  static async get(options: OpenOptions): Promise<Datasource> {
    const name = validateName(options?.name, "datasource name");
    const root = resolve(options.root ?? ".quiver");
    const missing = `no datasource ${JSON.stringify(name)} in ${root}`;
    const create = "create it with Datasource.getOrCreate({ name, path }) (or `quiver ds scan NAME --path DIR`)";
    // Nothing there: say so without creating the root or an empty database in it.
    if (!rootExists(root, options.store)) throw new QuiverError("NOT_FOUND", `${missing} (no datasources there); ${create}`);
    const ro = options.readOnly === true;
    const ref = await acquireStore(root, options.store, ro);
    try {
      const reg = await readRegistry(ref.store, "datasources");
      const e = reg.get(name);
      if (!e) throw new QuiverError("NOT_FOUND", `${missing}; existing: ${[...reg.keys()].join(", ") || "(none)"}; ${create}`);
      return new Datasource(name, e.id as string, e.path as string, root, ref, ro);
    } catch (err) {
      await ref.release();
      throw err;
    }
  }

  /** Every datasource under root (each must be closed, or let the process end). */
  static async list(options: { root?: string; store?: string | Store; readOnly?: boolean } = {}): Promise<Datasource[]> {
    const root = resolve(options.root ?? ".quiver");
    if (!rootExists(root, options.store)) return [];
    const ref = await acquireStore(root, options.store, options.readOnly === true);
    try {
      const reg = await readRegistry(ref.store, "datasources");
      const out: Datasource[] = [];
      for (const e of [...reg.values()].sort((a, b) => String(a.name).localeCompare(String(b.name)))) {
        out.push(await Datasource.get({ name: e.name as string, root, store: options.store, readOnly: options.readOnly }));
      }
      return out;
    } finally {
      await ref.release();
    }
  }

  /** Deletes the datasource's metadata, history and saved datasets. The files are never touched. */
  async deleteSource(): Promise<void> {
    this.check(true);
    const s = this.store;
    await appendRows(s, "datasources", [{ name: this.name, id: this.id, path: this.path, created: new Date(), _deleted: true }]);
    const sets = await readRegistry(s, "datasets");
    const mine = [...sets.values()].filter((d) => d.source === this.name);
    await appendRows(
      s,
      "datasets",
      mine.map((d) => ({ name: d.name, source: d.source, spec: d.spec, _deleted: true })),
    );
    if (s.capabilities.delete) {
      await this.engine.drop();
      await this.log.drop();
      await this.decls.drop();
    }
    await this.close();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.ref.release();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private check(write = false): void {
    if (this.closed) throw new QuiverError("CLOSED", `datasource ${this.name} is closed; open it again with Datasource.get({ name })`);
    if (write && this.readOnly) throw new QuiverError("UNSUPPORTED", `datasource ${this.name} was opened with readOnly: true; open it without readOnly to change it`);
  }

  // ------------------------------------------------------------------------------------------
  // schema

  /**
   * Metadata fields in order of first sight (then those declared and still empty): name, type,
   * whether multivalue, and tags.
   */
  async fields(): Promise<FieldSchema[]> {
    this.check();
    return fieldSchemas((await this.log.state()).fields, await this.decls.all());
  }

  /** A builder to declare a field's type and tags: `await ds.metadataField("mask").setType("blob").setAnnotation().apply()`. */
  metadataField(name: string): MetadataFieldBuilder {
    this.check();
    return new MetadataFieldBuilder(this, name);
  }
  /** @internal */
  async loggedType(field: string): Promise<FieldType | undefined> {
    return (await this.log.state()).index.byName.get(field)?.type;
  }
  /** @internal */
  declarations(): Declarations {
    return this.decls;
  }
  /** @internal */
  checkWritable(): void {
    this.check(true);
  }

  private async typeMap(): Promise<Map<string, FieldType>> {
    return new Map((await this.fields()).map((f) => [f.name, f.type]));
  }

  // ------------------------------------------------------------------------------------------
  // writes

  /** @internal Validates and writes one change as one batch: all of it or nothing. */
  async commit(change: ChangeSet, declared?: ReadonlyMap<string, FieldType>): Promise<number> {
    this.check(true);
    // One commit at a time per datasource in this process: each takes the next _seq range.
    let locks = writeLocks.get(this.store);
    if (!locks) writeLocks.set(this.store, (locks = new Map()));
    const prev = locks.get(this.id) ?? Promise.resolve();
    const run = prev.then(() => withLock(this.lockFile, () => this.commitNow(change, declared)));
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    locks.set(this.id, tail);
    void tail.then(() => locks.get(this.id) === tail && locks.delete(this.id));
    return run;
  }

  private async commitNow(change: ChangeSet, declared?: ReadonlyMap<string, FieldType>): Promise<number> {
    if (changeSize(change) === 0) return 0;
    const decls = await this.decls.all();
    const logged = new Set((await this.log.state()).fields.map((f) => f.name));
    addZones(change, logged);
    encodeDocuments(change.fields, decls);
    const fresh = isFresh(change); // before prepare, which rewrites the value arrays in place
    const n = await this.log.commit(change, withDeclared(declared, decls, logged), this.blobs, fresh);
    this.engine.invalidate();
    return n;
  }

  /** Collects changes made in `fn` and writes them together; if `fn` throws, nothing is written. */
  async metadataContext<T>(fn: (ctx: MetadataContext) => T | Promise<T>): Promise<T> {
    this.check();
    const ctx = new MetadataContext();
    const result = await fn(ctx);
    await this.commit(ctx.toChange());
    return result;
  }

  async updateMetadata(paths: string | readonly string[], metadata: Row): Promise<void> {
    await this.metadataContext((ctx) => void ctx.updateMetadata(paths, metadata));
  }
  async deleteMetadata(paths: string | readonly string[], fields: string | readonly string[]): Promise<void> {
    await this.metadataContext((ctx) => void ctx.deleteMetadata(paths, fields));
  }
  async deleteDatapoints(paths: string | readonly string[]): Promise<void> {
    await this.metadataContext((ctx) => void ctx.deleteDatapoints(paths));
  }

  /**
   * Uploads a table of metadata: an Arrow Table, rows, or a `.parquet` / `.csv` file. One column
   * holds the paths (`pathColumn`, default the first); every other column is a field. Null cells
   * leave the field untouched. Returns the number of rows written.
   */
  async uploadMetadata(input: Table | QueryResult | readonly Row[] | string, options: UploadOptions = {}): Promise<number> {
    this.check(true);
    // A query result (of this datasource or another): its blob fields stay blobs, their bytes come along.
    if (input instanceof QueryResult) return fetchInto(this, input, options, (t, o) => this.uploadArrow(t, o, undefined, input));
    if (typeof input === "string") {
      const lower = input.toLowerCase();
      if (lower.endsWith(".parquet") || lower.endsWith(".pq")) return this.uploadArrow(await readParquet(resolve(input)), options, input);
      if (lower.endsWith(".csv")) return this.uploadColumns(await readCsv(resolve(input), await this.typeMap()), new Map(), options, input);
      throw new QuiverError("INVALID_VALUE", `uploadMetadata reads .parquet and .csv files; got ${JSON.stringify(input)}`);
    }
    if (isArrowTable(input)) return this.uploadArrow(input, options);
    if (Array.isArray(input)) {
      const names: string[] = [];
      const seen = new Set<string>();
      for (const r of input) {
        if (r === null || typeof r !== "object" || Array.isArray(r)) throw new QuiverError("INVALID_VALUE", `uploadMetadata rows must be plain objects, got ${describeValue(r)}`);
        for (const k in r) if (!seen.has(k)) seen.add(k), names.push(k);
      }
      return this.uploadColumns({ names, types: [], columns: rowsToColumns(input as readonly Row[], names) }, new Map(), options);
    }
    throw new QuiverError("INVALID_VALUE", `uploadMetadata takes an Arrow Table, an array of rows, or a .parquet/.csv file path; got ${describeValue(input)}`);
  }

  /** Arrow columns already of their field's type are written as they are (no per-value work). */
  /** @internal */
  async uploadArrow(input: Table, options: UploadOptions, source?: string, from?: QueryResult): Promise<number> {
    const types = await this.typeMap();
    const fs = input.schema.fields;
    const pi = pathIndex(
      fs.map((f) => f.name),
      options.pathColumn,
    );
    const data: Columns = { names: fs.map((f) => f.name), types: [], columns: [] };
    const direct = new Map<number, Data>();
    let pathsClean = false;
    fs.forEach((f, i) => {
      const col = input.getChildAt(i)!;
      if (i === pi) {
        data.types.push("string");
        const d = single(col) && f.type.typeId === Type.Utf8 ? col.data[0]! : undefined;
        // Clean ASCII paths are used as Arrow gave them; their strings are decoded only if asked for.
        pathsClean = d !== undefined && d.nullCount === 0 && cleanAsciiPaths(d.values as Uint8Array, d.valueOffsets as Int32Array, d.length, (inc) => rememberIncreasing(d, inc));
        data.columns.push(pathsClean ? [] : vectorToValues(col, f));
        if (d) direct.set(i, d);
        return;
      }
      const t = typeOfArrowField(f);
      data.types.push(t);
      const existing = types.get(f.name);
      const offset = f.type.typeId === Type.Timestamp ? arrowOffset(f.type as unknown as { timezone?: string | null }) : undefined;
      const zoned = from?.zonedColumn(f.name) ?? (offset ? vectorToValues(col, f).map((d) => (d instanceof Date ? new ZonedDate(d, offset) : d)) : undefined);
      if (zoned) data.columns.push(zoned);
      else if (single(col) && sameType(f.type, arrowType(t)) && t !== "blob" && (existing === undefined || existing === t)) {
        direct.set(i, col.data[0]!);
        data.columns.push([]);
      } else if (t === "blob") data.columns.push(resultBlobColumn(vectorToValues(col, f), f, this.blobs, from?.blobStore, source));
      else data.columns.push(vectorToValues(col, f));
    });
    return this.uploadColumns(data, direct, { pathColumn: pi }, source, pathsClean);
  }

  private async uploadColumns(data: Columns, direct: ReadonlyMap<number, Data>, options: UploadOptions, source?: string, pathsClean = false): Promise<number> {
    const pi = pathIndex(data.names, options.pathColumn);
    const rawPaths = data.columns[pi]!;
    const paths = new Array<string>(rawPaths.length);
    let clean = true;
    for (let r = 0; r < rawPaths.length; r++) {
      try {
        paths[r] = normalizePath(rawPaths[r]);
      } catch (err) {
        throw new QuiverError("INVALID_PATH", `${source ? `${source} ` : ""}row ${r + 1}: ${(err as Error).message}; nothing was uploaded`, { cause: err });
      }
      if (paths[r] !== rawPaths[r]) clean = false;
    }
    const fields = new Map<string, unknown[] | Data>();
    const declared = new Map<string, FieldType>();
    data.names.forEach((name, c) => {
      if (c === pi) return;
      if (data.types[c]) declared.set(name, data.types[c]!);
      const d = direct.get(c);
      if (d) return void fields.set(name, d);
      const col = data.columns[c]!;
      // Null cells leave the field untouched.
      for (let r = 0; r < col.length; r++) if (col[r] === null) col[r] = undefined;
      fields.set(name, col);
    });
    const pathData = clean ? direct.get(pi) : undefined;
    if (pathsClean && pathData) {
      let decoded: string[] | undefined;
      const pd = pathData;
      const change: ChangeSet = {
        get paths(): string[] {
          decoded ??= decodeAsciiPaths(pd.values as Uint8Array, pd.valueOffsets as Int32Array, pd.length);
          return decoded;
        },
        set paths(v: string[]) {
          decoded = v;
        },
        pathData,
        fields,
        source,
      };
      return this.commit(change, declared);
    }
    return this.commit({ paths, pathData, fields, source }, declared);
  }

  // ------------------------------------------------------------------------------------------
  // files

  /**
   * Indexes the files under the folder: new and changed files get `size` and `mtime`, removed
   * files lose them (a removed file without other metadata is no longer a datapoint).
   */
  async scan(options: ScanOptions = {}): Promise<ScanReport> {
    this.check(true);
    const types = await this.typeMap();
    let known = new Map<string, [number, number]>();
    if (types.has("size") && types.has("mtime")) {
      const r = await this.run({ select: ["size", "mtime"], where: { op: "isNotNull", field: "size" } });
      const t = r.table;
      const ps = vectorToValues(t.getChild("path")!) as string[];
      const sz = vectorToValues(t.getChild("size")!) as number[];
      const mt = vectorToValues(t.getChild("mtime")!) as (Date | null)[];
      known = new Map(ps.map((p, i) => [p, [sz[i]!, mt[i]?.getTime() ?? -1]]));
    }
    const { change, report } = await scanFolder(this.path, this.root, known, options);
    await this.keepDeleted(change, known, report);
    if (change.paths.length) {
      options.onProgress?.({ phase: "write", done: 0, total: change.paths.length });
      await this.commit(
        change,
        new Map<string, FieldType>([
          ["size", "int"],
          ["mtime", "datetime"],
        ]),
      );
    }
    options.onProgress?.({ phase: "done", done: report.files, total: report.files });
    return report;
  }

  /** Drops from a scan's change the new files whose datapoint was deleted (DagsHub: a scan does not re-add them). */
  private async keepDeleted(change: ChangeSet, known: ReadonlyMap<string, unknown>, report: ScanReport): Promise<void> {
    const size = change.fields.get("size") as unknown[];
    const added = change.paths.filter((p, i) => size[i] !== undefined && !known.has(p));
    const st = await this.log.state();
    const gone = await deletedPaths(this.log, st, added);
    if (gone.size === 0) return;
    // A path with metadata again (but no file yet) is a datapoint: it gets its file.
    const live = await this.run({ select: [], where: { op: "in", field: "path", values: [...gone] } });
    for (const p of live.paths) gone.delete(p);
    if (gone.size === 0) return;
    const keep = change.paths.map((p) => !gone.has(p));
    change.paths = change.paths.filter((_, i) => keep[i]);
    for (const [k, v] of change.fields)
      change.fields.set(
        k,
        (v as unknown[]).filter((_, i) => keep[i]),
      );
    if (change.unset) change.unset = change.unset.filter((_, i) => keep[i]);
    report.added -= gone.size;
  }

  // ------------------------------------------------------------------------------------------
  // queries

  /** One datapoint by its path (DagsHub #365); NOT_FOUND when the path is not a datapoint. */
  async get(path: string): Promise<Datapoint> {
    const p = normalizePath(path);
    const dp = (await this.run({ where: { op: "eq", field: "path", value: p } })).datapoints[0];
    if (!dp) throw new QuiverError("NOT_FOUND", `datasource ${this.name} has no datapoint ${JSON.stringify(p)}; run ds.scan() if the file is new, or add metadata to it`);
    return dp;
  }

  /** @internal Runs a view. */
  async run(spec: ViewSpec): Promise<QueryResult> {
    this.check();
    const logged = await this.log.state();
    const schemas = fieldSchemas(logged.fields, await this.decls.all());
    // Declared fields without values yet are queried as all-null columns.
    const empty = schemas.filter((f) => f.empty).map((f) => ({ name: f.name, type: f.type, shard: 0 }));
    const st = empty.length ? { ...logged, fields: [...logged.fields, ...empty] } : logged;
    checkSpec(spec, st.fields, this.name);
    const { table, zones } = splitZones(await this.engine.run(withZoneColumns(spec, st.fields), st));
    const types = new Map(schemas.map((f) => [f.name, f.type]));
    return QueryResult.create(table, { sourcePath: this.path, root: this.root, name: this.name, blobs: this.blobs, types, fields: schemas }, zones);
  }

  /** @internal */
  override async saveDataset(name: string, spec: ViewSpec = this.spec): Promise<void> {
    this.check(true);
    validateName(name, "dataset name");
    if (spec.where || spec.select || spec.orderBy) checkSpec(spec, await this.fields(), this.name);
    await appendRows(this.store, "datasets", [{ name, source: this.name, spec: JSON.stringify(specToJSON(spec)), _deleted: false }]);
  }

  /** Commit time of every metadata change, oldest first (for `asOf`; 1 ms resolution). */
  async versions(): Promise<Date[]> {
    this.check();
    const out: number[] = [];
    if (!(await this.store.schema(this.log.commitsTable))) return [];
    for await (const b of this.store.scan(this.log.commitsTable, { columns: ["ts"] })) for (const d of vectorToValues(b.getChild("ts")!) as Date[]) out.push(d.getTime());
    return out.sort((a, b) => a - b).map((t) => new Date(t));
  }
}

/** A saved query: the view it was saved from, on its datasource. */
export class Dataset extends View {
  private constructor(
    readonly name: string,
    readonly datasource: Datasource,
    spec: ViewSpec,
  ) {
    super(datasource, spec);
  }

  static async get(options: OpenOptions): Promise<Dataset> {
    const name = validateName(options?.name, "dataset name");
    const root = resolve(options.root ?? ".quiver");
    const missing = `no dataset ${JSON.stringify(name)} in ${root}; save one with ds.where(...).saveDataset(name)`;
    if (!rootExists(root, options.store)) throw new QuiverError("NOT_FOUND", missing);
    const ref = await acquireStore(root, options.store, options.readOnly === true);
    try {
      const reg = await readRegistry(ref.store, "datasets");
      const e = reg.get(name);
      if (!e) throw new QuiverError("NOT_FOUND", missing);
      const ds = await Datasource.get({ name: e.source as string, root, store: options.store, readOnly: options.readOnly });
      return new Dataset(name, ds, specFromJSON(JSON.parse(e.spec as string)));
    } finally {
      await ref.release();
    }
  }

  /** Every saved dataset under root: name → datasource name. */
  static async list(options: { root?: string; store?: string | Store; readOnly?: boolean } = {}): Promise<{ name: string; source: string }[]> {
    const root = resolve(options.root ?? ".quiver");
    if (!rootExists(root, options.store)) return [];
    const ref = await acquireStore(root, options.store, options.readOnly === true);
    try {
      const reg = await readRegistry(ref.store, "datasets");
      return [...reg.values()].map((e) => ({ name: e.name as string, source: e.source as string })).sort((a, b) => a.name.localeCompare(b.name));
    } finally {
      await ref.release();
    }
  }

  close(): Promise<void> {
    return this.datasource.close();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
