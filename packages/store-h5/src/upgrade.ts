/**
 * Moving an open H5Logger file to the HDF5 1.10 format SWMR needs (`enableConcurrentReaders()` on a
 * logger opened without `concurrentReaders`). HDF5 never upgrades a superblock in place (opening a
 * v2-superblock file with libver v110 keeps v2, and H5Fstart_swmr_write then refuses it), so the
 * file is copied: a complete 1.10-format copy is written and fsynced under a temporary name, then
 * renamed over the file. Every value and attribute keeps its type and bytes; a crash leaves either
 * the old file or the new one at the path, never half of one.
 */
import { renameSync, rmSync } from "node:fs";
import { QuiverError } from "@quiver/core";
import { createFile, type Dataset, type DType, DTYPES, describeType, dtypeOfMetadata, type File, type Group, H5 } from "./h5.js";
import { H5Handle } from "./handle.js";

/** HDF5's unlimited extent as h5wasm reports it (2^64 − 1 as a double). */
const UNLIMITED = 2 ** 63;
/** Elements copied per hyperslab: bounds the wasm memory a copy needs. */
const COPY_ELEMENTS = 1 << 20;

/** The first thing in `group` a copy could not keep exactly, or undefined when all of it can be copied. */
function obstacle(group: Group, prefix: string): string | undefined {
  for (const [k, a] of Object.entries(group.attrs)) {
    const m = a.metadata;
    if (m.type !== 3 && !dtypeOfMetadata(m)) return `attribute "${k}" of /${prefix} is ${describeType(m)}`;
  }
  for (const k of group.keys()) {
    const o = group.get(k);
    const name = prefix + k;
    if (o instanceof H5.Group) {
      const inner = obstacle(o, name + "/");
      if (inner) return inner;
    } else if (o instanceof H5.Dataset) {
      const m = o.metadata;
      if (!dtypeOfMetadata(m)) return `"${name}" holds ${describeType(m)} values`;
      if (!o.shape || o.shape.length === 0 || !m.chunks) return `"${name}" is not a chunked array`;
      if (o.filters.length > 0) return `"${name}" is compressed or filtered`;
      for (const [ak, a] of Object.entries(o.attrs)) {
        if (a.metadata.type !== 3 && !dtypeOfMetadata(a.metadata)) return `attribute "${ak}" of "${name}" is ${describeType(a.metadata)}`;
      }
    } else return `"${name}" is a link or an object type H5Logger does not copy`;
  }
  return undefined;
}

function copyAttrs(from: Dataset | Group, to: Dataset | Group): void {
  for (const [k, a] of Object.entries(from.attrs)) {
    const m = a.metadata;
    const dtype = dtypeOfMetadata(m);
    const value = a.value;
    if (m.type === 3 || !dtype) to.create_attribute(k, value as string);
    else to.create_attribute(k, value as number, a.shape, DTYPES[dtype].h5);
  }
}

function copyDataset(src: Dataset, dst: File, name: string): void {
  const m = src.metadata;
  const dtype = dtypeOfMetadata(m) as DType;
  const shape = (src.shape ?? []).map(Number);
  const rest = shape.slice(1);
  const maxshape = (m.maxshape ?? shape).map((d) => (d >= UNLIMITED ? null : Number(d)));
  const info = DTYPES[dtype];
  const ds = dst.create_dataset({
    name,
    data: new info.ctor(0) as unknown as Float64Array,
    shape: [0, ...rest],
    maxshape,
    chunks: (m.chunks ?? []).map(Number),
    dtype: info.h5,
  });
  copyAttrs(src, ds);
  const rows = shape[0] ?? 0;
  if (rows === 0) return;
  ds.resize(shape);
  const rowSize = rest.reduce((a, b) => a * b, 1);
  if (rowSize === 0) return;
  const step = Math.max(1, Math.floor(COPY_ELEMENTS / rowSize));
  const tail = rest.map((d) => [0, d] as [number, number]);
  for (let at = 0; at < rows; at += step) {
    const end = Math.min(rows, at + step);
    ds.write_slice([[at, end], ...tail], src.slice([[at, end], ...tail]) as unknown as Float64Array);
  }
}

function copyGroup(src: Group, dst: File, prefix: string): void {
  for (const k of src.keys()) {
    const o = src.get(k);
    const name = prefix + k;
    if (o instanceof H5.Group) {
      const g = dst.create_group(name);
      copyAttrs(o, g);
      copyGroup(o, dst, name + "/");
    } else if (o instanceof H5.Dataset) copyDataset(o, dst, name);
  }
}

/**
 * Writes a 1.10-format copy of `src` (open, committed) and renames it over `path`. The caller has
 * closed nothing yet: `closeSource` is called right before the rename (HDF5 must let go of the old
 * file). UNSUPPORTED, before anything is written, when the file holds something a copy could not
 * keep exactly.
 */
export function copyToSwmrFormat(src: File, path: string, closeSource: () => void, durable: boolean): void {
  const why = obstacle(src, "");
  if (why) {
    throw new QuiverError(
      "UNSUPPORTED",
      `${path} uses a file format without SWMR (it was opened without concurrentReaders) and cannot be converted in place: ${why}. Open it with H5Logger.open(path, { concurrentReaders: true }) on a new file (or replaceIfExists), or convert it first with \`h5repack --low=2 --high=2 ${path} new.h5\``,
    );
  }
  const tmp = `${path}.${process.pid}.swmr.h5`;
  try {
    createFile(tmp, "v110");
    const h = H5Handle.open(tmp, "a", "v110");
    try {
      h.write(`cannot convert ${path} for concurrent readers into`, (dst) => {
        copyAttrs(src, dst);
        copyGroup(src, dst, "");
      });
      if (durable) h.sync("cannot make durable");
    } finally {
      h.close();
    }
    closeSource();
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
