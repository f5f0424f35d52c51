/**
 * A complete store plugin written by a "user" in one file: Arrow IPC files in a folder, one
 * per table. It passes the same conformance suite as the shipped stores — the proof that the
 * Store interface is small enough to implement in well under 150 lines.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { type RecordBatch, type Schema, Table, tableFromIPC, tableToIPC } from "apache-arrow";
import { describe, it } from "vitest";
import {
  ALL_KINDS, batchToRows, checkQueryFields, conformBatch, evaluate, mergeSchemas, normalizeRow, openStore, QuiverError,
  type QueryNode, registerStore, type Row, rowsToBatch, type ScanOptions, scanBatches, type Store, validateName,
} from "../dist/index.js";
import { runStoreConformance } from "../dist/testing/index.js";

class IpcStore implements Store {
  readonly scheme = "ipc";
  readonly capabilities = { sql: false, update: true, delete: true, pushdown: false, timeIndex: false, concurrentWriters: false, persistent: true, kinds: ALL_KINDS };
  private closed = false;
  constructor(readonly dir: string) {}
  get uri() { return `ipc:${this.dir}`; }

  private file(table: string): string {
    if (this.closed) throw new QuiverError("CLOSED", `${this.uri} is closed`);
    return join(this.dir, `${validateName(table, "table name")}.arrow`);
  }
  private load(table: string): { schema: Schema; batches: RecordBatch[] } | undefined {
    const f = this.file(table);
    if (!existsSync(f)) return undefined;
    const t = tableFromIPC(readFileSync(f));
    return { schema: t.schema, batches: t.batches };
  }
  private save(table: string, schema: Schema, batches: RecordBatch[]): void {
    const f = this.file(table);
    mkdirSync(dirname(f), { recursive: true });
    const t = batches.length ? new Table(batches.map((b) => conformBatch(b, schema))) : new Table(schema);
    writeFileSync(`${f}.tmp`, tableToIPC(t, "file"));
    renameSync(`${f}.tmp`, f); // atomic: a crash never leaves half a table
  }
  private rewrite(table: string, where: QueryNode | undefined, edit: (rows: Row[], hit: boolean[]) => Row[]): number {
    const t = this.load(table);
    if (where) checkQueryFields(where, t?.schema, table);
    if (!t) return 0;
    const rows = t.batches.flatMap((b) => batchToRows(b));
    const hit = t.batches.flatMap((b) => Array.from(where ? evaluate(where, b) : new Uint8Array(b.numRows).fill(1), Boolean));
    const next = edit(rows, hit);
    const batch = rowsToBatch(next, { schema: t.schema });
    this.save(table, mergeSchemas(t.schema, batch.schema), next.length ? [batch] : []);
    return hit.filter(Boolean).length;
  }

  async append(table: string, batch: RecordBatch): Promise<void> {
    const t = this.load(table);
    const schema = mergeSchemas(t?.schema, batch.schema);
    this.save(table, schema, [...(t?.batches ?? []), batch]);
  }
  async *scan(table: string, options: ScanOptions = {}): AsyncGenerator<RecordBatch> {
    const t = this.load(table);
    if (!t) return void (options.where && checkQueryFields(options.where, undefined, table));
    yield* scanBatches(t.batches, t.schema, options, table);
  }
  async count(table: string, where?: QueryNode): Promise<number> {
    let n = 0;
    for await (const b of this.scan(table, { where })) n += b.numRows;
    return n;
  }
  async schema(table: string) { return this.load(table)?.schema; }
  async tables(): Promise<string[]> {
    if (this.closed) throw new QuiverError("CLOSED", `${this.uri} is closed`);
    const walk = (d: string): string[] => readdirSync(d).flatMap((n) => {
      const p = join(d, n);
      return statSync(p).isDirectory() ? walk(p) : n.endsWith(".arrow") ? [relative(this.dir, p).slice(0, -6)] : [];
    });
    return walk(this.dir).sort();
  }
  async update(table: string, where: QueryNode | undefined, values: Row): Promise<number> {
    const set = normalizeRow(values);
    return this.rewrite(table, where, (rows, hit) => rows.map((r, i) => (hit[i] ? { ...r, ...set } : r)));
  }
  async delete(table: string, where: QueryNode | undefined): Promise<number> {
    return this.rewrite(table, where, (rows, hit) => rows.filter((_, i) => !hit[i]));
  }
  async drop(table: string): Promise<boolean> {
    const f = this.file(table);
    if (!existsSync(f)) return false;
    rmSync(f);
    return true;
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> { this.closed = true; }
}

registerStore({
  scheme: "ipc",
  async open(location) {
    mkdirSync(location, { recursive: true });
    return new IpcStore(location);
  },
});

runStoreConformance({ describe, it }, {
  name: "custom ipc store",
  create: () => openStore(`ipc:${mkdtempSync(join(tmpdir(), "quiver-ipc-"))}`),
  reopen: (closed) => openStore(closed.uri),
});
