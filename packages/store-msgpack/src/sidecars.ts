/**
 * Writing the sidecars (schema, time index). Writers only, under the table's lock. Whole files
 * go to a temp file renamed over the old one; index entries are appended in place, and a failed
 * append is cut back so the index never names bytes that are not whole entries.
 */
import { closeSync, fstatSync, ftruncateSync, openSync, renameSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import type { Schema } from "apache-arrow";
import { encodeEntries, encodeHeader, ENTRY, type Entry, HEADER, newGeneration } from "./index-file.js";
import { schemaToJson } from "./schema-file.js";
import { idOf, io, ioError, statBig, type TableState } from "./state.js";

/** Writes `bytes` to `path` through a temp file and a rename; nothing is left behind on failure. */
export function replaceFile(path: string, bytes: string | Uint8Array, what: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* not created */
    }
    throw ioError(`cannot write the ${what}`, path, err);
  }
}

export function writeSchema(st: TableState, schema: Schema): void {
  replaceFile(st.schemaPath, schemaToJson(schema), "schema sidecar");
  const ss = statBig(st.schemaPath)!;
  st.schema = schema;
  st.schemaId = idOf(ss);
  st.hasSchemaFile = true;
  st.schemaPending = false;
}

/** Writes the whole index (header + entries) for the current data file, atomically. */
export function writeIndexFile(st: TableState): void {
  if (st.indexFd !== undefined) closeSync(st.indexFd);
  st.indexFd = undefined;
  const generation = newGeneration();
  replaceFile(st.indexPath, Buffer.concat([encodeHeader({ dataIno: st.dataIno!, generation }), encodeEntries(st.entries)]), "time index");
  st.generation = generation;
  const is = statBig(st.indexPath)!;
  st.indexIno = is.ino;
  st.indexId = idOf(is);
  st.indexBytes = HEADER + st.entries.length * ENTRY;
  st.indexChecked = st.indexBytes;
}

/** Appends entries to the index file; on failure the file is cut back to its last whole entry. */
export function appendIndex(st: TableState, entries: Entry[]): void {
  if (st.indexFd !== undefined && st.indexChecked !== st.indexBytes && fstatSync(st.indexFd, { bigint: true }).ino !== st.indexIno) {
    closeSync(st.indexFd); // another process rewrote the index since we last held the lock
    st.indexFd = undefined;
  }
  if (st.indexFd === undefined) {
    const fd = io("cannot open the time index", st.indexPath, () => openSync(st.indexPath, "r+"));
    const s = fstatSync(fd, { bigint: true });
    if (s.ino !== st.indexIno) {
      closeSync(fd);
      return writeIndexFile(st);
    }
    st.indexFd = fd;
  }
  const fd = st.indexFd;
  const buf = encodeEntries(entries);
  try {
    if (st.indexChecked !== st.indexBytes) {
      // First append under this lock: drop a torn tail of the index before continuing the chain.
      const size = Number(fstatSync(fd, { bigint: true }).size);
      if (size !== st.indexBytes) ftruncateSync(fd, st.indexBytes);
      st.indexChecked = st.indexBytes;
    }
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, st.indexBytes + off);
  } catch (err) {
    try {
      ftruncateSync(fd, st.indexBytes);
    } catch {
      st.indexChecked = -1; // the next append under the lock checks the size again
    }
    throw ioError("cannot append to the time index", st.indexPath, err);
  }
  st.indexBytes += buf.length;
  st.indexChecked = st.indexBytes;
  st.indexId = "written"; // re-read (incrementally, from indexBytes) on the next load
}
