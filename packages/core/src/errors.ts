/** Every error Quiver throws on purpose carries one of these codes. */
export type QuiverErrorCode =
  | "STORE_NOT_INSTALLED"
  | "PACKAGE_NOT_INSTALLED"
  | "INVALID_URI"
  | "INVALID_NAME"
  | "INVALID_PATH"
  | "INVALID_VALUE"
  | "INVALID_TIMESTAMP"
  | "SCHEMA_MISMATCH"
  | "SHAPE_MISMATCH"
  | "UNKNOWN_FIELD"
  | "INVALID_QUERY"
  | "UNSUPPORTED"
  | "LOCKED"
  | "NOT_FOUND"
  | "CLOSED"
  | "TOO_LARGE"
  | "CHECKSUM_MISMATCH"
  | "IO";

export class QuiverError extends Error {
  readonly code: QuiverErrorCode;
  /** LOCKED: the process holding the lock, when the store knows it (the exit writer hands over to a successor when it is the exiting process). */
  readonly holderPid?: number;
  constructor(code: QuiverErrorCode, message: string, options?: { cause?: unknown; holderPid?: number }) {
    super(message, options);
    this.name = "QuiverError";
    this.code = code;
    if (options?.holderPid !== undefined) this.holderPid = options.holderPid;
  }
}

export function isQuiverError(err: unknown, code?: QuiverErrorCode): err is QuiverError {
  return err instanceof QuiverError && (code === undefined || err.code === code);
}

/** Short, bounded rendering of a user value for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? value.slice(0, 57) + "..." : value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function") return `function ${value.name || "(anonymous)"}`;
  if (typeof value === "symbol") return value.toString();
  if (value instanceof Date) return `Date(${isNaN(value.getTime()) ? "Invalid" : value.toISOString()})`;
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as Uint8Array).length})`;
  if (Array.isArray(value)) return `array(${value.length})`;
  if (value !== null && typeof value === "object") return `object{${Object.keys(value).slice(0, 5).join(", ")}}`;
  return String(value);
}

/** Codes of a value the store refused: rewriting the same rows can never succeed. */
const REFUSALS: ReadonlySet<QuiverErrorCode> = new Set(["SCHEMA_MISMATCH", "INVALID_VALUE", "INVALID_NAME", "SHAPE_MISMATCH", "INVALID_TIMESTAMP"]);

/** Whether `err` refuses the data itself (retrying cannot help) rather than reporting a fault. */
export function isRefusal(err: unknown): boolean {
  return err instanceof QuiverError && REFUSALS.has(err.code);
}

/**
 * A store failure as a QuiverError: Quiver errors pass through; anything else (ENOSPC, EROFS, a
 * driver's own error) becomes IO, naming what was being done, with the cause kept.
 */
export function asStoreError(err: unknown, doing: string, then = "fix the fault (disk full, read-only, unreachable) and retry"): QuiverError {
  if (err instanceof QuiverError) return err;
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const why = [typeof e?.code === "string" ? e.code : undefined, typeof e?.message === "string" ? e.message : String(err)].filter(Boolean).join(": ");
  return new QuiverError("IO", `${doing} failed (${why}); ${then}`, { cause: err });
}
