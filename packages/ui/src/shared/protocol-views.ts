/** What the server sends the timeline, array viewer and gallery views (compact JSON). */
import type { Cell } from "./protocol.js";

/** Which kinds of data this server shows (the page hides views with nothing to show). */
export interface Sources {
  uri: string;
  /** The store has a runs table (a track_id column). */
  runs: boolean;
  /** The store holds dreamlake sessions (tables `<prefix>/tracks/<name>`). */
  tracks: boolean;
  /** HDF5 files the array viewer reads. */
  h5: string[];
  /** The datasource root the gallery reads (undefined: no gallery). */
  datasources?: string;
}

export interface TrackField {
  name: string;
  /** number: one line; list: one line per element; the rest shows in the points table only. */
  kind: "number" | "list" | "string" | "bool" | "time" | "other";
  /** Elements of a list field (from its first point). */
  size?: number;
}

export interface TrackInfo {
  name: string;
  table: string;
  rows: number;
  /** First and last `_ts` (seconds), null when empty. */
  t0: number | null;
  t1: number | null;
  fields: TrackField[];
}

export interface SessionInfo {
  prefix: string;
  tracks: TrackInfo[];
  logs?: { table: string; rows: number; t0: number | null; t1: number | null };
}

export interface TrackWindow {
  table: string;
  t0: number;
  t1: number;
  /** Points read in the window. */
  n: number;
  /** Decimated lines, one per numeric field or list element ("position[0]"). */
  series: { key: string; n: number; x: number[]; y: number[] }[];
  ms: number;
}

export interface TrackPoints {
  table: string;
  t: number;
  /** How many of `points` are at or before t (the last of them is the cursor's point). */
  before: number;
  points: Record<string, Cell | Cell[]>[];
}

export interface LogEntry {
  _ts: number;
  level: string;
  message: string;
  metadata?: string;
}

/** One line of `h5ls -r`: a group or a dataset with its shape and dtype. */
export interface H5Entry {
  path: string;
  kind: "group" | "dataset";
  shape?: number[];
  dtype?: string;
  /** How the viewer shows it. */
  view?: "line" | "lines" | "image" | "rgb" | "none";
}

export interface H5Tree {
  file: string;
  entries: H5Entry[];
}

export interface H5Line {
  name: string;
  /** Rows in the dataset (after the refresh). */
  length: number;
  i0: number;
  i1: number;
  series: { key: string; n: number; x: number[]; y: number[] }[];
}

export interface GalleryField {
  name: string;
  type: string;
  /** The datasource's tags on the field (annotation, text_document, thumbnail_viz + image, …). */
  tags?: string[];
}

export interface GallerySource {
  name: string;
  path: string;
  fields: GalleryField[];
  /** Commit times (ms), oldest first: what asOf can tell apart. */
  versions: number[];
}

export interface GalleryList {
  root: string;
  sources: GallerySource[];
  datasets: { name: string; source: string; where?: string }[];
}

export interface GalleryItem {
  path: string;
  size: number | null;
  /** "image" (a thumbnail is served), else an icon by extension. */
  kind: "image" | "file";
  meta: Record<string, Cell>;
  /** The blob hash of the datapoint's thumbnail field (a blob field tagged thumbnail_viz + image): shown instead of the file. */
  thumb?: string;
}

export interface GalleryRequest {
  source: string;
  dataset?: string;
  filter?: string;
  /** ISO time or ms. */
  asOf?: string;
  offset: number;
  limit: number;
}

export interface GalleryPage {
  total: number;
  offset: number;
  items: GalleryItem[];
  fields: GalleryField[];
  ms: number;
}

export interface Facet {
  field: string;
  type: string;
  /** Most frequent values first (at most 20). */
  values: { value: Cell; count: number }[];
  /** Datapoints with another value (beyond the top 20) and without one. */
  other: number;
  missing: number;
}
