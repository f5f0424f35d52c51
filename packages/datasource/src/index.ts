/**
 * @quiver/datasource: the DagsHub Data Engine on local folders. Files and their typed,
 * versioned metadata in a Quiver store; queries, blobs, downloads, training batches, datasets.
 */
export { Datasource, Dataset, MetadataContext, type DatasourceOptions, type OpenOptions, type UploadOptions } from "./datasource.js";
export { View, type ViewSpec } from "./view.js";
export { QueryResult, Datapoint, type Batch, type BatchOptions, type BlobFieldOptions, type DownloadReport } from "./result.js";
export type { FieldInfo } from "./engine.js";
export type { FieldType, ListType, ScalarType } from "./types.js";
export { MetadataFieldBuilder, TAGS, THUMBNAIL_KINDS, type DeclaredType, type FieldSchema, type ThumbnailKind } from "./fields.js";
export { ZonedDate } from "./zones.js";
export { decodeImage, type DType, type EntryInfo, type Tensor, type TensorData, type TensorizerFn, type TensorizerName, type Tensorizers } from "./tensorize.js";
export type { ScanOptions, ScanProgress, ScanReport } from "./scan.js";
export { normalizePath } from "./paths.js";
export { BlobStore } from "./blobs.js";
export { defaultStoreUri } from "./storage.js";
