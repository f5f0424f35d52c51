/**
 * @quiver/core/store-kit — what a store author needs: the driver contract and defineStore
 * (which applies the shared rules once), and the pieces stores build on: the scan fallback and
 * the Query evaluator, schema merging, the JSON form of types, name rules, errors and one file
 * lock. The root export (`@quiver/core`) is the API for users; this is the kit for plugins.
 */
export type { Batches, DriverCapabilities, MaybePromise, RewriteChange, SqlEngine, StoreDriver } from "./driver.js";
export { DRIVER_DEFAULTS } from "./driver.js";
export { type DefineOptions, DefinedStore, definePlugin, defineStore, type PluginDriver } from "./define.js";
export { rewriteBatches, type Rewritten } from "./rewrite.js";
export { checkTimeRange, dropColumn, readTimeRange, timeRangeScan } from "./time.js";
export { addBatchToRuns, addSummaryValue, compareSummaryValues, emptyColumnSummary, isSummarizable, listRuns, mergeColumnSummary, summarizeRuns, summaryColumns } from "./runs.js";
export { acquireLock, type FileLock, type LockHolder, lockBusy, lockHolder, type LockOptions, tryLock, wantedPath, withLock } from "./lock.js";

// The pieces stores share, re-exported so a store imports its kit from one place.
export { checkScanOptions, scanBatches, sortIndices } from "../store/scan.js";
export { checkQueryFields, evaluate } from "../query/evaluate.js";
export { queryFields, type Primitive, type QueryNode } from "../query/query.js";
export { classOfType, classOfValue, typeName, type ValueClass } from "../arrow/types.js";
export { batchesToTable, concatBatches, conformBatch, mergeSchemas, projectSchema, takeRows } from "../arrow/batches.js";
export { buildData, rowsToBatch } from "../arrow/build.js";
export { decodeValueJson, encodeValueJson } from "../arrow/value-json.js";
export { batchToRows, vectorToValues } from "../arrow/decode.js";
export { BIGINT_META, normalizeRow, type Row } from "../arrow/values.js";
export { fieldFromJSON, type FieldJSON, fieldToJSON, typeFromJSON, type TypeJSON, typeToJSON } from "../arrow/schema-json.js";
export { checkNewColumns, columnNameKey, validateColumnName, validateName } from "../names.js";
export { asStoreError, isQuiverError, isRefusal, QuiverError, type QuiverErrorCode } from "../errors.js";
export {
  ALL_KINDS,
  type AppendOptions,
  type AppendReceipt,
  type OrderBy,
  type ColumnSummary,
  type RunSummary,
  type RunsOptions,
  type ScanOptions,
  type SummaryValue,
  type SqlDialect,
  type Store,
  type StoreCapabilities,
  type StoreOpenOptions,
  type StorePlugin,
  type TimeRange,
  type ValueKind,
} from "../store/contract.js";
