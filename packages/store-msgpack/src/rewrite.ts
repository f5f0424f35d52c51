/**
 * update/delete: the table is rewritten block by block under the lock. Untouched blocks are
 * copied byte for byte, changed blocks re-encoded with their layout; new files are written aside
 * (fsynced when the store is durable) and renamed over the old ones, data then index.
 */
import { renameSync, unlinkSync } from "node:fs";
import { type RecordBatch, Schema } from "apache-arrow";
import { batchToRows, evaluate, mergeSchemas, type QueryNode, type RewriteChange, rowsToBatch, takeRows } from "@quiver/core/store-kit";
import { decodeAt, openData } from "./blocks.js";
import { TrackWrite } from "./dreamlake.js";
import { rawColumns, segmentsToBatch } from "./decode.js";
import { ByteWriter, checkRawValues, encodeColumns, encodeRows } from "./encode.js";
import { DataFile } from "./files.js";
import { encodeEntries, encodeHeader, type Entry, newGeneration } from "./index-file.js";
import type { Leases } from "./lease.js";
import { refresh } from "./load.js";
import { checkSchemaTypes } from "./schema-file.js";
import { replaceFile, writeSchema } from "./sidecars.js";
import { rebuildSummary } from "./summary.js";
import { closeFds, type Ctx, ioError, resetIndex, type TableState } from "./state.js";

/** A block's new batch from its rows (mask: the rows `where` matched; all without one), in the schema so far. */
type Change = (batch: RecordBatch, mask: Uint8Array | undefined, schema: Schema) => RecordBatch;

function blockChange(change: RewriteChange): Change {
  if (change.op === "delete") {
    return (b, mask) => {
      if (!mask) return takeRows(b, []);
      const keep: number[] = [];
      for (let i = 0; i < mask.length; i++) if (!mask[i]) keep.push(i);
      return takeRows(b, keep);
    };
  }
  return (b, mask, schema) => {
    const rows = batchToRows(b);
    for (let i = 0; i < rows.length; i++) if (!mask || mask[i]) Object.assign(rows[i]!, change.set);
    return rowsToBatch(rows, { schema });
  };
}

/**
 * Updates or deletes the rows `where` matches (core has checked its fields); blocks without a
 * match keep their bytes. Returns rows changed.
 */
export async function rewrite(ctx: Ctx, leases: Leases, st: TableState, where: QueryNode | undefined, rewriteChange: RewriteChange): Promise<number> {
  const change = blockChange(rewriteChange);
  await leases.hold(st);
  const tmpData = `${st.dataPath}.tmp-${process.pid}`;
  const tmpIndex = `${st.indexPath}.tmp-${process.pid}`;
  let track: TrackWrite | undefined; // dreamlake's .track.lock: no dreamlake append may land in the old file meanwhile
  try {
    track = TrackWrite.begin(ctx, st);
    if (!refresh(ctx, st, true)) return 0;
    let schema = st.schema ?? new Schema([]);
    const data = openData(ctx, st);
    if (!data) return 0;
    type Part = { entry: Entry; raw?: Buffer; batch?: RecordBatch };
    const parts: Part[] = [];
    let changed = 0;
    try {
      for (const e of st.entries) {
        const bytes = data.read(e.offset, e.length);
        const b = segmentsToBatch([decodeAt(st, bytes, e)], st.schema ?? schema);
        const mask = where ? evaluate(where, b) : undefined;
        let hits = b.numRows;
        if (mask) {
          hits = 0;
          for (const m of mask) hits += m;
        }
        const next = hits ? change(b, mask, schema) : undefined;
        if (!next) {
          parts.push({ entry: e, raw: bytes });
          continue;
        }
        changed += hits;
        schema = mergeSchemas(schema, next.schema); // SCHEMA_MISMATCH before anything is written
        parts.push({ entry: e, batch: next });
      }
    } finally {
      data.close();
    }
    if (!changed) return 0;
    checkSchemaTypes(schema);
    const raw = rawColumns(schema);
    for (const p of parts) if (p.batch) checkRawValues(p.batch, raw);
    const w = new ByteWriter(1 << 16);
    const entries: Entry[] = [];
    let rows = 0;
    for (const p of parts) {
      if (p.raw) {
        const start = w.pos;
        w.raw(p.raw);
        entries.push({ ...p.entry, offset: start, firstRow: rows });
        rows += p.entry.rows;
        continue;
      }
      if (!p.batch!.numRows) continue;
      const blocks = p.entry.kind === 1 ? [encodeColumns(p.batch!, w, raw)] : encodeRows(p.batch!, w, ctx.blockRows, raw);
      for (const b of blocks) {
        entries.push({ minTs: b.minTs, maxTs: b.maxTs, offset: b.start, length: b.end - b.start, firstRow: rows, rows: b.rows, tsCount: b.tsCount, kind: b.kind });
        rows += b.rows;
      }
    }
    const out = DataFile.open(tmpData, "w")!;
    try {
      out.append(w.buf, 0, w.pos);
      if (ctx.durable) out.sync();
    } catch (err) {
      throw ioError("cannot write the rewritten data", tmpData, err);
    } finally {
      out.close();
    }
    const ino = out.ino;
    const generation = newGeneration();
    replaceFile(tmpIndex, Buffer.concat([encodeHeader({ dataIno: ino, generation }), encodeEntries(entries)]), "rewritten time index");
    if (schema !== st.schema) writeSchema(st, schema);
    closeFds(st);
    try {
      renameSync(tmpData, st.dataPath);
      renameSync(tmpIndex, st.indexPath);
    } catch (err) {
      throw ioError("cannot put the rewritten table in place at", st.dataPath, err);
    }
    resetIndex(st);
    st.dataIno = undefined;
    refresh(ctx, st, true);
    rebuildSummary(ctx, st); // the old one describes files that are gone
    track?.commit(st, st.rows);
    return changed;
  } catch (err) {
    for (const t of [tmpData, tmpIndex]) {
      try {
        unlinkSync(t);
      } catch {
        /* not there */
      }
    }
    leases.release(st);
    throw err;
  } finally {
    track?.release();
  }
}
