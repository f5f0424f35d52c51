/** @quiver/ui: the `quiver ui` dashboard — server, report export, and the pure helpers it is built on. */
export { startServer, type ServeOptions, type UiServer } from "./server/http.js";
export { exportReport, type ExportOptions, type ExportResult } from "./server/export.js";
export { RunsData, type PageRequest } from "./server/data.js";
export { decimate, binsToPoints, groupBins, extent, type Decimated, type Bin } from "./shared/decimate.js";
export { smooth, emaDebiased, runningMean, gaussian, type SmoothKind, type SmoothSpec } from "./shared/smooth.js";
export type { Meta, SummaryPage, SummaryColumn, ColumnInfo, SeriesRequest, SeriesResponse, SeriesData, Cell } from "./shared/protocol.js";
