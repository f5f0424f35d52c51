/** @quiver/ui: the `quiver ui` dashboard — server, report export, and the pure helpers it is built on. */
export { startServer, type ServeOptions, type UiServer } from "./server/http.js";
export { exportReport, type ExportOptions, type ExportResult } from "./server/export.js";
export { RunsData, type PageRequest } from "./server/data.js";
export { decimate, binsToPoints, groupBins, extent, type Decimated, type Bin } from "./shared/decimate.js";
export { smooth, emaDebiased, runningMean, gaussian, type SmoothKind, type SmoothSpec } from "./shared/smooth.js";
export type { Meta, SummaryPage, SummaryColumn, ColumnInfo, SeriesRequest, SeriesResponse, SeriesData, Cell } from "./shared/protocol.js";
export { TracksData } from "./server/tracks.js";
export { ArraysData, StreamM4 } from "./server/arrays.js";
export { GalleryData } from "./server/gallery.js";
export { insideRoot } from "./server/files.js";
export { decodePng, encodePng, thumbnail } from "./server/image.js";
export type * from "./shared/protocol-views.js";
