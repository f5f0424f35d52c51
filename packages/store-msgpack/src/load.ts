/**
 * Loading a table's state: index first, then the data file, then the schema (the reverse of the
 * write order). Readers only read: an unindexed tail is either a write in flight (ignored) or
 * records nobody indexed (indexed in memory); only a writer, under its lock, persists anything.
 */
import { closeSync, fstatSync, openSync, readFileSync, type BigIntStats } from "node:fs";
import { lockBusy } from "@quiver/core/store-kit";
import { withFile } from "./files.js";
import { decodeEntries, decodeHeader, ENTRY, HEADER } from "./index-file.js";
import { recover } from "./recover.js";
import { schemaFromJson } from "./schema-file.js";
import { type Ctx, dropMemory, idOf, io, ioError, type LoadStatus, readAt, resetIndex, sleepSync, statBig, type TableState } from "./state.js";

export function load(st: TableState): LoadStatus {
  const is = statBig(st.indexPath);
  const ds = statBig(st.dataPath);
  if (ds && st.dataIno !== ds.ino) {
    resetIndex(st);
    st.dataIno = ds.ino;
  }
  if (is && ds && (is.ino !== st.indexIno || idOf(is) !== st.indexId)) {
    dropMemory(st); // the index continues from its own last entry, not from what we indexed in memory
    readIndex(st, is, ds.ino);
  } else if (!is && st.indexId !== undefined) {
    resetIndex(st);
    st.dataIno = ds?.ino;
  }
  const ss = statBig(st.schemaPath);
  if (ss) {
    if (idOf(ss) !== st.schemaId) {
      st.schema = schemaFromJson(
        io("cannot read the schema sidecar", st.schemaPath, () => readFileSync(st.schemaPath, "utf8")),
        st.schemaPath,
      );
      st.schemaId = idOf(ss);
      st.schemaPending = false;
    }
    st.hasSchemaFile = true;
  } else if (st.hasSchemaFile) {
    st.schema = undefined;
    st.schemaId = undefined;
    st.hasSchemaFile = false;
  }
  if (!ds) {
    if (!ss) {
      resetIndex(st);
      st.dataIno = undefined;
      st.schema = undefined;
      st.schemaId = undefined;
      st.schemaPending = false;
      st.dataSize = 0;
      return "missing";
    }
    resetIndex(st);
    st.dataIno = undefined;
    st.dataSize = 0;
    st.usable = true;
    return "ok";
  }
  st.dataSize = Number(ds.size);
  if (!st.usable) return "bad";
  if (st.end > st.dataSize) {
    // The index names bytes the data file no longer has (truncated by hand): keep what exists.
    while (st.entries.length && st.entries[st.entries.length - 1]!.offset + st.entries[st.entries.length - 1]!.length > st.dataSize) {
      const e = st.entries.pop()!;
      st.end -= e.length;
      st.rows -= e.rows;
    }
    st.indexBytes = HEADER + st.entries.length * ENTRY;
    st.indexId = undefined;
  }
  if (!st.schema && st.dataSize > 0) return "bad";
  return st.dataSize > st.end ? "tail" : "ok";
}

function readIndex(st: TableState, is: BigIntStats, dataIno: bigint): void {
  let fd: number;
  try {
    fd = openSync(st.indexPath, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return; // renamed away meanwhile: the next load sees it
    throw ioError("cannot open the time index", st.indexPath, err);
  }
  try {
    const s = fstatSync(fd, { bigint: true });
    const ino = s.ino;
    const size = Number(s.size);
    const header = decodeHeader(readAt(fd, 0, HEADER));
    st.indexId = idOf(is);
    if (!header || header.dataIno !== dataIno) {
      resetIndex(st);
      st.indexId = idOf(is);
      st.indexIno = ino;
      return;
    }
    if (st.usable && header.generation === st.generation && ino === st.indexIno && size >= st.indexBytes) {
      const more = decodeEntries(readAt(fd, st.indexBytes, size - st.indexBytes), st.end, st.rows);
      for (const e of more) {
        st.entries.push(e);
        st.end += e.length;
        st.rows += e.rows;
      }
      st.indexBytes += more.length * ENTRY;
    } else {
      const all = decodeEntries(readAt(fd, HEADER, Math.max(0, size - HEADER)), 0, 0);
      st.entries = all;
      st.end = all.reduce((a, e) => a + e.length, 0);
      st.rows = all.reduce((a, e) => a + e.rows, 0);
      st.indexBytes = HEADER + all.length * ENTRY;
      st.generation = header.generation;
      st.usable = true;
    }
    st.indexIno = ino;
  } catch (err) {
    throw ioError("cannot read the time index", st.indexPath, err);
  } finally {
    closeSync(fd);
  }
}

/**
 * Brings a table's state up to date; returns whether the table exists. With `locked` (a writer
 * holding the lock) the tail is repaired and persisted. Without it nothing is written: a tail
 * behind a live lock is a write in flight (ignored); otherwise complete records nobody indexed
 * (a crashed writer's, another tool's) are indexed in memory and a torn last record is skipped.
 */
export function refresh(ctx: Ctx, st: TableState, locked = false): boolean {
  if (locked) dropMemory(st); // a writer persists from the files, not from a reader's guesses
  for (let attempt = 0; ; attempt++) {
    const status = load(st);
    if (status === "missing") return false;
    if (status === "ok") {
      // A data file nobody indexed yet (empty, or every record indexed in memory): give it its sidecars.
      if (locked && st.dataIno !== undefined && (st.indexId === undefined || !st.hasSchemaFile)) recoverFile(ctx, st, true, 4);
      return true;
    }
    if (locked) {
      recoverFile(ctx, st, true, 4);
      return true;
    }
    if (status === "bad" && attempt < 4) {
      sleepSync(1 << attempt); // a rewrite renames data then index: give it a moment
      continue;
    }
    if (status === "tail" && lockBusy(st.lockPath)) return true;
    if (recoverFile(ctx, st, false, attempt)) return true;
  }
}

/** Recovers the tail of data.msgpack (see recover); false when the file was replaced since load() looked. */
function recoverFile(ctx: Ctx, st: TableState, locked: boolean, attempt: number): boolean {
  return withFile(st.dataPath, locked ? "r+" : "r", (file) => {
    if (file.ino !== st.dataIno && attempt < 4) return false; // a rewrite renamed a new file in: look again
    recover(ctx, st, file, locked ? file : undefined);
    return true;
  });
}
