/**
 * DuckDB and file-system errors as QuiverErrors: what failed, the file, DuckDB's reason and
 * what to do. No raw DuckDB error (or ENOSPC/EROFS/EACCES) reaches a caller.
 */
import { QuiverError } from "@quiver/core";

export function messageOf(err: unknown): string {
  return String((err as Error)?.message ?? err);
}

/** DuckDB has invalidated the instance: it must be closed and opened again (the file is intact). */
export function isFatal(err: unknown): boolean {
  return /FATAL Error|database has been invalidated/i.test(messageOf(err));
}

/** A COMMIT that reported an error although the transaction is durable (a failed autocheckpoint). */
export function committedDespite(err: unknown): boolean {
  return /COMMIT succeeded and is durable/i.test(messageOf(err));
}

/** What the caller can do about an I/O failure, judged from the OS reason DuckDB reports. */
export function adviceFor(msg: string): string {
  if (/No space left on device|ENOSPC|disk quota|Disk full/i.test(msg)) {
    return "free disk space and retry; nothing of this call was stored and what was committed before is intact";
  }
  if (/Read-only file system|EROFS/i.test(msg)) {
    return "the file system is read-only: open the store with { readOnly: true } to read it, or move the file somewhere writable";
  }
  if (/Permission denied|EACCES|EPERM|Operation not permitted/i.test(msg)) {
    return "check the permissions of the file and of its folder (or open the store with { readOnly: true } to read it)";
  }
  if (isFatal(msg)) return "DuckDB will reopen the file on the next call; what was committed before is intact";
  return "check the disk and the file, then retry";
}

/** DuckDB's message without its "IO Error: " style prefix and trailing newlines. */
function reason(msg: string): string {
  return msg
    .replace(/^(?:[A-Za-z]+ )*Error: /, "")
    .replace(/\s+$/, "")
    .split("\n")[0]!;
}

/** `err` as QuiverError("IO"): "<what> <file>: <reason>; <what to do>", cause kept. QuiverErrors pass through. */
export function ioError(what: string, location: string, err: unknown): QuiverError {
  if (err instanceof QuiverError) return err;
  const msg = messageOf(err);
  return new QuiverError("IO", `${what} ${location} failed: ${reason(msg)}; ${adviceFor(msg)}`, { cause: err });
}

/** An error of opening the file (LOCKED is raised by the caller). */
export function openError(err: unknown, location: string, readOnly: boolean): QuiverError {
  const msg = messageOf(err);
  if (/database does not exist/i.test(msg) || (readOnly && /No such file or directory/i.test(msg))) {
    return new QuiverError("NOT_FOUND", `${location} does not exist; a store opened with { readOnly: true } never creates it — check the path`, { cause: err });
  }
  if (/Read-only file system|EROFS|Permission denied|EACCES|EPERM/i.test(msg)) {
    return new QuiverError("IO", `opening ${location}${readOnly ? " to read" : " to write"} failed: ${reason(msg)}; ${adviceFor(msg)}`, { cause: err });
  }
  if (/not a valid DuckDB database|database file .* is not|Corrupt|invalid/i.test(msg)) {
    return new QuiverError("IO", `${location} cannot be opened as a DuckDB database: ${reason(msg)}; check that it is a DuckDB file written by a compatible version`, {
      cause: err,
    });
  }
  if (/No such file or directory|Cannot open file/i.test(msg)) {
    return new QuiverError("INVALID_PATH", `${location} cannot be created or opened: ${reason(msg)}; check that its directory exists and is writable`, { cause: err });
  }
  return ioError("opening", location, err);
}
