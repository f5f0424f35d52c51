/**
 * The `duckdb:` Store: the DuckDB driver wrapped by core's rule book (DefinedStore), plus what
 * only this store offers — a session on the file for DuckDB's own statements (export's COPY).
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { DefinedStore } from "@quiver/core/store-kit";
import type { OpKind } from "./dbfile.js";
import type { DuckDBDriver } from "./driver.js";

export class DuckDBStore extends DefinedStore {
  /** Opened with { readOnly: true }: writes are refused and the file is opened read-only. */
  declare readonly readOnly: boolean;
  private readonly duck: DuckDBDriver;

  constructor(driver: DuckDBDriver) {
    super(driver, { readOnly: driver.readOnly });
    this.duck = driver;
  }

  /** The DuckDB file (or ":memory:") behind the store. */
  get location(): string {
    return this.duck.file.location;
  }

  /** Commits pending appends (call inside a session). */
  commitPending(): Promise<void> {
    return this.duck.file.commitPending();
  }

  /**
   * Runs `fn` in a session on the file (holding its lock). Errors other than QuiverErrors
   * become QuiverError("IO") saying `what` failed on which file and what to do.
   */
  session<T>(fn: (conn: DuckDBConnection) => Promise<T>, what = "reading", kind: OpKind = "other"): Promise<T> {
    this.ensureOpen();
    return this.duck.session(fn, what, kind);
  }
}
