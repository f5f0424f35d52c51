/**
 * A complete store plugin written by a "user" in one file: Arrow IPC files in a folder, one per
 * table, as a driver on @quiver/core/store-kit. defineStore supplies the rest (names, CLOSED,
 * read-only, scans, counts, query rules); custom-store.test.ts runs the conformance suite on it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { type RecordBatch, type Schema, Table, tableFromIPC, tableToIPC } from "apache-arrow";
import { conformBatch, definePlugin, mergeSchemas, QuiverError, rewriteBatches } from "../dist/store-kit/index.js";

export const ipcPlugin = definePlugin("ipc", (dir, { readOnly }) => {
  if (readOnly && !existsSync(dir)) throw new QuiverError("NOT_FOUND", `${dir} does not exist`);
  mkdirSync(dir, { recursive: true });
  const file = (table: string) => join(dir, `${table}.arrow`);
  const load = (table: string) => (existsSync(file(table)) ? tableFromIPC(readFileSync(file(table))) : undefined);
  const save = (table: string, schema: Schema, batches: RecordBatch[]) => {
    mkdirSync(dirname(file(table)), { recursive: true });
    writeFileSync(
      `${file(table)}.tmp`,
      tableToIPC(
        new Table(
          schema,
          batches.map((b) => conformBatch(b, schema)),
        ),
        "file",
      ),
    );
    renameSync(`${file(table)}.tmp`, file(table)); // atomic: a crash never leaves half a table
  };
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((n) => {
      const p = join(d, n);
      return statSync(p).isDirectory() ? walk(p) : n.endsWith(".arrow") ? [relative(dir, p).slice(0, -6)] : [];
    });
  return {
    append(table, batch) {
      const t = load(table);
      save(table, mergeSchemas(t?.schema, batch.schema), [...(t?.batches ?? []), batch]);
    },
    read: (table) => load(table)?.batches ?? [],
    schema: (table) => load(table)?.schema,
    tables: () => walk(dir),
    rewrite(table, where, change) {
      const t = load(table)!;
      const r = rewriteBatches(t.batches, t.schema, where, change);
      save(table, r.schema, r.batches);
      return r.changed;
    },
    drop(table) {
      if (!existsSync(file(table))) return false;
      rmSync(file(table));
      return true;
    },
    flush() {},
    close() {},
  };
});
