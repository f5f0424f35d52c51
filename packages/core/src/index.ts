/**
 * @quiver/core — the API of ../shared/API.md first, then (below the line) the plugin kit's
 * pieces that earlier versions exported from here. Store authors import the kit from
 * `@quiver/core/store-kit`; those names stay here so no existing plugin breaks.
 */

// ── The API: front-ends, queries, errors, stores by URI ──────────────────────────────────────
export * from "./errors.js";
export * from "./query/query.js";
export { parseFilter, parseIsoDate, FilterSyntaxError } from "./query/filter.js";
export * from "./store/contract.js";
export * from "./store/registry.js";
export { MemoryStore, memoryPlugin } from "./store/memory.js";
export { teeStore } from "./store/tee.js";
export * from "./runs/tracker.js";
export * from "./runs/reader.js";
export * from "./runs/copy.js";
export { Asset, asset, assetsTable, type AssetInfo, getAssetValue, listAssets, readAsset, removeAsset } from "./runs/assets.js";
export { type CacheEntry, cacheKey, FunctionCache } from "./runs/cache.js";
export { decodeValue, encodeValue, contentHash, type Encoded, type Encoding } from "./runs/codec.js";
export { gitCommitHash } from "./runs/git.js";
export { parameterNames, unpackArgs } from "./runs/unpack.js";
export * from "./series/session.js";
export { RefusedRows, type BufferOptions } from "./write/buffer.js";
export { readRows, readTable } from "./store/scan.js";

// ── Plugin kit (also in @quiver/core/store-kit; import it from there in new code) ────────────
export * from "./names.js";
export * from "./arrow/batches.js";
export { evaluate, checkQueryFields } from "./query/evaluate.js";
export * from "./store/scan.js";
export { WriteBuffer } from "./write/buffer.js";
export { onProcessExit, type ExitBatch, type ExitParticipant } from "./write/exit.js";
export { ColumnTypes } from "./arrow/column-types.js";
export * from "./arrow/schema-json.js";
