/**
 * The write path: one batch appended to a table under its lease. Order: write intent in the
 * lock → data bytes (in ~1 MiB writes) → schema sidecar → index entries. Readers only see bytes
 * the index names, so a batch is visible whole or not at all; a failed append cuts its bytes
 * back and restores the schema, leaving the table as it was and the store usable for a retry.
 */
import { unlinkSync } from "node:fs";
import type { RecordBatch, Schema } from "apache-arrow";
import { type AppendOptions, mergeSchemas } from "@quiver/core/store-kit";
import { rawColumns } from "./decode.js";
import { type ByteWriter, checkRawValues, type EncodedBlock, encodeColumns, encodeRows } from "./encode.js";
import { noteAppend, TrackWrite } from "./dreamlake.js";
import { DataFile } from "./files.js";
import type { Entry } from "./index-file.js";
import type { Leases } from "./lease.js";
import { refresh } from "./load.js";
import { recover } from "./recover.js";
import { checkSchemaTypes, schemaToJson } from "./schema-file.js";
import { keepSummary } from "./summary.js";
import { appendIndex, replaceFile, writeIndexFile, writeSchema } from "./sidecars.js";
import { closeFds, type Ctx, ioError, statBig, type TableState } from "./state.js";

/** Appends `batch` to the table; resolves once its bytes and index entries are written (flush makes them durable). */
export async function appendBatch(ctx: Ctx, leases: Leases, w: ByteWriter, st: TableState, batch: RecordBatch, options: AppendOptions): Promise<void> {
  checkSchemaTypes(batch.schema);
  // Receipts: the append counts as committed once its index entries are written (below).
  const receipt = options.receipt;
  if (receipt) receipt.tracked = true;
  const fresh = await leases.hold(st);
  let start = -1; // data length before our bytes, once we may have written some
  let oldSchema: Schema | undefined;
  let schemaWritten = false;
  let track: TrackWrite | undefined; // dreamlake's .track.lock, for a session's track
  try {
    track = TrackWrite.begin(ctx, st);
    if (st.cutTo !== undefined) cutBack(leases, st, st.cutTo);
    if (fresh || (track && TrackWrite.changed(st))) refresh(ctx, st, true);
    const firstRow = st.rows;
    const schema = mergeSchemas(st.schema, batch.schema); // SCHEMA_MISMATCH before any byte is written
    const raw = rawColumns(schema);
    checkRawValues(batch, raw);
    const file = openForAppend(ctx, st);
    leases.writeIntent(st, st.dataIno!, st.end);
    start = st.end;
    w.pos = 0;
    w.base = 0;
    // Big batches go out in ~1 MiB writes; readers see none of it before the index entries.
    w.spill = (bytes) => file.append(bytes);
    let blocks: EncodedBlock[] = [];
    try {
      if (batch.numRows > 0) blocks = options.layout === "columns" ? [encodeColumns(batch, w, raw)] : encodeRows(batch, w, ctx.blockRows, raw);
      if (w.pos > 0) file.append(w.buf, 0, w.pos);
    } catch (err) {
      throw ioError(`cannot append ${batch.numRows} rows to`, st.dataPath, err);
    } finally {
      w.spill = undefined;
    }
    const written = w.at;
    // The schema goes after the data and before the index: readers only see bytes the index
    // names, and by then the schema describes them; a failed append leaves the old schema.
    if (schema !== st.schema || !st.hasSchemaFile) {
      oldSchema = st.hasSchemaFile ? st.schema : undefined;
      writeSchema(st, schema);
      schemaWritten = true;
    }
    const entries: Entry[] = [];
    let rows = st.rows;
    for (const b of blocks) {
      entries.push({ minTs: b.minTs, maxTs: b.maxTs, offset: st.end + b.start, length: b.end - b.start, firstRow: rows, rows: b.rows, tsCount: b.tsCount, kind: b.kind });
      rows += b.rows;
    }
    // dreamlake's metadata.json before the index: a failure there cuts the batch back whole.
    track?.commit(st, rows);
    if (entries.length) appendIndex(st, entries);
    if (receipt) receipt.committed = true;
    st.entries.push(...entries);
    st.end += written;
    st.dataSize = st.end;
    st.rows = rows;
    st.dirty = true;
    noteAppend(st, firstRow);
    // The run summary after the index (it never covers more than the index names); never throws.
    keepSummary(ctx, st, schema, batch, st.entries.length - entries.length);
    if (w.buf.length > 16 << 20) w.shrink(1 << 20);
  } catch (err) {
    // Nothing of the batch may stay behind: cut the data back and restore the schema, then
    // release the lock (the next write reloads the table's state).
    let cut = true;
    if (start >= 0) cut = tryCut(leases, st, start);
    if (schemaWritten) {
      try {
        if (oldSchema) replaceFile(st.schemaPath, schemaToJson(oldSchema), "schema sidecar");
        else unlinkSync(st.schemaPath);
        st.schemaId = undefined;
      } catch {
        /* a schema with extra (all-null) columns describes the old data as well */
      }
    }
    if (cut) leases.release(st);
    throw err;
  } finally {
    track?.release();
  }
}

/** Cuts data.msgpack back to `length` after a failed append; false (lock kept) when it cannot. */
function tryCut(leases: Leases, st: TableState, length: number): boolean {
  try {
    cutBack(leases, st, length);
    return true;
  } catch {
    st.cutTo = length;
    leases.pin(st, true);
    return false;
  }
}

function cutBack(leases: Leases, st: TableState, length: number): void {
  const file = st.appender ?? DataFile.open(st.dataPath, "r+")!;
  try {
    if (file.size() > length) file.truncate(length);
  } catch (err) {
    throw ioError("cannot cut a failed append off", st.dataPath, err);
  } finally {
    if (file !== st.appender) file.close();
  }
  st.cutTo = undefined;
  leases.pin(st, false);
}

/** Makes sure data.msgpack is open for appending and the index names it. */
function openForAppend(ctx: Ctx, st: TableState): DataFile {
  if (st.appender) {
    if (st.appender.ino === st.dataIno) return st.appender; // we hold the lock: nobody replaced the file
    closeFds(st);
  }
  const file = DataFile.open(st.dataPath, "a+")!;
  st.appender = file;
  if (st.dataIno !== file.ino || !statBig(st.indexPath)) {
    // A new data file: start its index.
    st.dataIno = file.ino;
    st.entries = [];
    st.end = 0;
    st.rows = 0;
    st.usable = true;
    st.memFrom = undefined;
    st.dataSize = file.size();
    if (st.dataSize > 0) recover(ctx, st, file, file);
    else writeIndexFile(st);
  }
  return file;
}
