/** h5wasm loading, file paths and element types shared by the logger and the store. */
import { closeSync, existsSync, fstatSync, openSync, readSync, renameSync, rmSync, statSync } from "node:fs";
import { extname, resolve } from "node:path";
import h5wasm, { Module } from "h5wasm/node";
import type { Dataset as DatasetClass, File as FileClass, Group as GroupClass } from "h5wasm/node";
import type { Dataset, File, Group } from "h5wasm/node";
import { QuiverError } from "@quiver/core";
import { FileGuard, ioAdvice, ioReason, silenced } from "./guard.js";

export type { Dataset, File, Group };
/** The classes we test with instanceof and construct. */
export const H5: { File: typeof FileClass; Group: typeof GroupClass; Dataset: typeof DatasetClass } = h5wasm;

let ready: Promise<unknown> | undefined;
/** Resolves once the wasm module is instantiated (once per process). */
export function h5ready(): Promise<unknown> {
  return (ready ??= h5wasm.ready);
}

/** Element types of logged arrays. "bool" is stored as uint8 with a `quiver_dtype` attribute. */
export type DType = "float64" | "float32" | "int8" | "int16" | "int32" | "int64" | "uint8" | "uint16" | "uint32" | "uint64" | "bool";

export type NumericArray = Float64Array | Float32Array | Int8Array | Int16Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Uint32Array | BigUint64Array;

interface DTypeInfo {
  h5: string;
  ctor: { new (n: number): NumericArray; new (b: ArrayBufferLike, o: number, n: number): NumericArray; BYTES_PER_ELEMENT: number };
  big: boolean;
  int: boolean;
}

export const DTYPES: Record<DType, DTypeInfo> = {
  float64: { h5: "<d", ctor: Float64Array, big: false, int: false },
  float32: { h5: "<f", ctor: Float32Array, big: false, int: false },
  int8: { h5: "<b", ctor: Int8Array, big: false, int: true },
  int16: { h5: "<h", ctor: Int16Array, big: false, int: true },
  int32: { h5: "<i", ctor: Int32Array, big: false, int: true },
  int64: { h5: "<q", ctor: BigInt64Array, big: true, int: true },
  uint8: { h5: "<B", ctor: Uint8Array, big: false, int: true },
  uint16: { h5: "<H", ctor: Uint16Array, big: false, int: true },
  uint32: { h5: "<I", ctor: Uint32Array, big: false, int: true },
  uint64: { h5: "<Q", ctor: BigUint64Array, big: true, int: true },
  bool: { h5: "<B", ctor: Uint8Array, big: false, int: true },
};

const ALIASES: Record<string, DType> = {
  float: "float64",
  double: "float64",
  f8: "float64",
  "<f8": "float64",
  f4: "float32",
  "<f4": "float32",
  int: "int64",
  i8: "int64",
  "<i8": "int64",
  i4: "int32",
  "<i4": "int32",
  i2: "int16",
  "<i2": "int16",
  i1: "int8",
  "|i1": "int8",
  u1: "uint8",
  "|u1": "uint8",
  u2: "uint16",
  "<u2": "uint16",
  u4: "uint32",
  "<u4": "uint32",
  u8: "uint64",
  "<u8": "uint64",
  boolean: "bool",
  "?": "bool",
  bigint: "int64",
};

/** A user's dtype name ("float32", "f4", "<i8", "int", "bool"…) → DType. */
export function parseDType(d: unknown, what: string): DType {
  if (typeof d === "string") {
    if (d in DTYPES) return d as DType;
    const a = ALIASES[d];
    if (a) return a;
  }
  throw new QuiverError("INVALID_VALUE", `${what}: unknown dtype ${JSON.stringify(d)}; use one of ${Object.keys(DTYPES).join(", ")}`);
}

export function dtypeOfArray(a: ArrayBufferView): DType | undefined {
  if (a instanceof Float64Array) return "float64";
  if (a instanceof Float32Array) return "float32";
  if (a instanceof Int32Array) return "int32";
  if (a instanceof Int16Array) return "int16";
  if (a instanceof Int8Array) return "int8";
  if (a instanceof Uint8Array || a instanceof Uint8ClampedArray) return "uint8";
  if (a instanceof Uint16Array) return "uint16";
  if (a instanceof Uint32Array) return "uint32";
  if (a instanceof BigInt64Array) return "int64";
  if (a instanceof BigUint64Array) return "uint64";
  return undefined;
}

/** DType of an HDF5 dataset's metadata (h5wasm Metadata: type 0 integer, 1 float). */
export function dtypeOfMetadata(m: { type: number; size: number; signed: boolean }): DType | undefined {
  if (m.type === 1) return m.size === 4 ? "float32" : m.size === 8 ? "float64" : undefined;
  if (m.type !== 0) return undefined;
  const bits = m.size * 8;
  const name = `${m.signed ? "int" : "uint"}${bits}`;
  return name in DTYPES ? (name as DType) : undefined;
}

/** HDF5's enum class (h5wasm Metadata.type). */
const H5T_ENUM = 8;

/**
 * h5py's Python bools (numpy `|b1`): a 1-byte enum of exactly FALSE = 0 and TRUE = 1. They read
 * as booleans and take logged booleans; h5wasm cannot prepare enum data for writing, so appends go
 * through `writeRawSlice`.
 */
export function isBoolEnum(m: { type: number; size: number; enum_type?: { members?: Record<string, number> } }): boolean {
  if (m.type !== H5T_ENUM || m.size !== 1) return false;
  const members = m.enum_type?.members ?? {};
  const keys = Object.keys(members).sort();
  return keys.length === 2 && keys[0] === "FALSE" && keys[1] === "TRUE" && members.FALSE === 0 && members.TRUE === 1;
}

/** What H5Logger reads a dataset as: our dtypes, plus h5py's bool enum as "bool". */
export function dtypeOfDataset(ds: Dataset): DType | undefined {
  const m = ds.metadata;
  return isBoolEnum(m) ? "bool" : dtypeOfMetadata(m);
}

const CLASSES = ["integer", "float", "time", "string", "bitfield", "opaque", "compound", "reference", "enum", "vlen", "array"];

/** An HDF5 type in words, for what H5Logger does not read: "compound {r, i}", "string (2 bytes)", "enum {A, B}". */
export function describeType(m: {
  type: number;
  size: number;
  vlen?: boolean;
  signed?: boolean;
  compound_type?: { members?: { name: string }[] };
  enum_type?: { members?: Record<string, number> };
}): string {
  if (isBoolEnum(m)) return "bool (h5py enum)";
  const cls = CLASSES[m.type] ?? `class ${m.type}`;
  if (m.type === 0 || m.type === 1) return `${cls} (${m.size} bytes${m.type === 0 ? (m.signed ? ", signed" : ", unsigned") : ""})`;
  if (m.type === 3) return m.vlen ? "string (variable length)" : `string (${m.size} bytes)`;
  if (m.type === 6) return `compound {${(m.compound_type?.members ?? []).map((x) => x.name).join(", ")}}`;
  if (m.type === 8) return `enum {${Object.keys(m.enum_type?.members ?? {}).join(", ")}}`;
  return m.vlen ? `${cls} (variable length)` : `${cls} (${m.size} bytes)`;
}

interface RawModule {
  _malloc(n: number): number;
  _free(p: number): void;
  HEAPU8: Uint8Array;
  set_dataset_data(file_id: bigint, path: string, count: bigint[], offset: bigint[], strides: bigint[], ptr: bigint): number;
}

/**
 * Writes rows [start, end) of `ds` from raw bytes in the dataset's own type: h5wasm's write_slice
 * refuses enum datasets ("data with type 8 can not be prepared for write").
 */
export function writeRawSlice(ds: Dataset, start: number, end: number, rest: readonly number[], bytes: Uint8Array): void {
  const M = Module as unknown as RawModule;
  const count = [BigInt(end - start), ...rest.map((d) => BigInt(d))];
  const offset = count.map((_, i) => (i === 0 ? BigInt(start) : 0n));
  const ptr = M._malloc(Math.max(1, bytes.byteLength));
  if (ptr === 0) throw new QuiverError("IO", `cannot write to ${ds.path}: out of wasm memory for ${bytes.byteLength} bytes`);
  try {
    M.HEAPU8.set(bytes, ptr);
    M.set_dataset_data(
      ds.file_id,
      ds.path,
      count,
      offset,
      count.map(() => 1n),
      BigInt(ptr),
    );
  } finally {
    M._free(ptr);
  }
}

/**
 * The HDF5 file for a user path: no extension → ".h5"; ".h5"/".hdf5" kept; anything else → INVALID_PATH.
 */
export function h5Path(path: unknown): string {
  if (typeof path !== "string" || path.length === 0 || path.includes("\u0000")) {
    throw new QuiverError("INVALID_PATH", `an HDF5 path must be a non-empty string without NUL, got ${JSON.stringify(path)}`);
  }
  const ext = extname(path).toLowerCase();
  if (ext === "") return resolve(path + ".h5");
  if (ext === ".h5" || ext === ".hdf5") return resolve(path);
  throw new QuiverError("INVALID_PATH", `${JSON.stringify(path)} has the extension ${ext}; HDF5 files end in .h5 or .hdf5 (or give no extension and .h5 is added)`);
}

const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

interface Superblock {
  version: number;
  /** File-consistency flags (superblock v2+; HDF5 enforces them from v3 on). */
  flags: number;
  /** End-of-file address the superblock records (bytes the file must have). */
  eof?: number;
  /** Root group object header address (v2+). */
  root?: number;
  size: number;
}

/** The superblock's version, flags and recorded length, or undefined for a non-HDF5 file. */
function superblock(path: string): Superblock | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(64);
    for (const base of [0, 512, 1024, 2048, 4096]) {
      if (readSync(fd, buf, 0, 64, base) < 16) return undefined;
      if (!SIGNATURE.every((b, i) => buf[i] === b)) continue;
      const version = buf[8]!;
      if (version >= 2) {
        const eof = buf.length >= 36 ? Number(buf.readBigUInt64LE(28)) : undefined;
        return { version, flags: buf[11]!, eof: eof === undefined ? undefined : base + eof, root: Number(buf.readBigUInt64LE(36)), size };
      }
      const at = version === 1 ? 28 : 24; // v0/v1: base, free-space, end-of-file, driver addresses
      return { version, flags: 0, eof: base + Number(buf.readBigUInt64LE(at + 16)), size };
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The superblock's "open for writing" flags where HDF5 enforces them (the 1.10 format of our
 * concurrentReaders files): left set when such a writer dies. Undefined for other files.
 */
export function consistencyFlags(path: string): number | undefined {
  const sb = superblock(path);
  return sb && sb.version >= 3 ? sb.flags : undefined;
}

/** The superblock version (3 and up: the 1.10 format SWMR needs), or undefined for a non-HDF5 file. */
export function superblockVersion(path: string): number | undefined {
  return superblock(path)?.version;
}

/** Why an existing file cannot be opened as HDF5, when the bytes tell; undefined otherwise. */
export function diagnose(path: string): string | undefined {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return undefined;
  }
  if (size === 0) return `${path} is empty (0 bytes): it holds no data. Delete it and open again`;
  const sb = superblock(path);
  if (!sb) return `${path} is not an HDF5 file (no HDF5 signature at its start); choose another path, or move that file away`;
  if (sb.eof !== undefined && sb.eof > size) {
    const empty = sb.root !== undefined && sb.root >= size;
    return (
      `${path} is cut short: its superblock records ${sb.eof} bytes but the file has ${size}. ` +
      (empty
        ? "Only the superblock was ever written, so it holds no data: its writer ended before its first flush (Quiver's h5 store and H5Logger up to 0.1 left such 48-byte files). No HDF5 tool can open it and h5clear cannot repair it; delete it and open again"
        : "Its writer was interrupted while growing it (killed mid-flush, or the disk filled up outside Quiver). No HDF5 tool can open it and h5clear cannot repair it; restore it from a copy, or delete it")
    );
  }
  return undefined;
}

/** Opens a file, turning h5wasm's failures (a negative file id, or a throw) into QuiverError. */
export function openFile(path: string, mode: "r" | "a" | "w" | "Sr", libver?: "v110"): File {
  let err: unknown;
  try {
    // A failed open prints HDF5's error stack; the error we throw says what happened instead.
    const f = silenced(() => new h5wasm.File(path, mode, libver ? { libver: [libver, libver] } : {}));
    if (f.file_id >= 0n) return f;
  } catch (e) {
    err = e;
  }
  if (!existsSync(path) && (mode === "r" || mode === "Sr")) throw new QuiverError("NOT_FOUND", `no HDF5 file at ${path}`, { cause: err });
  const why = existsSync(path) ? diagnose(path) : undefined;
  if (why) throw new QuiverError("IO", why, { cause: err });
  const flags = existsSync(path) ? consistencyFlags(path) : undefined;
  if (flags) {
    throw new QuiverError(
      "LOCKED",
      `${path} is marked open for writing by another process (HDF5 allows one writer). If no process writes it (a writer with concurrentReaders was killed), clear the mark with \`h5clear -s ${path}\`; readers can still use H5Logger.read`,
      { cause: err },
    );
  }
  // HDF5 only says it failed; the OS says why (read-only disk, permissions).
  if (mode === "a" || mode === "w") {
    try {
      closeSync(openSync(path, mode === "w" ? "w" : "r+"));
    } catch (e) {
      throw new QuiverError("IO", `cannot open ${path} for writing: ${ioReason(e)}; ${ioAdvice(e)}`, { cause: e });
    }
  }
  throw new QuiverError("IO", `cannot open ${path} as HDF5 (mode ${mode})${err ? `: ${String((err as Error).message ?? err).slice(0, 300)}` : ""}`, { cause: err });
}

/**
 * Creates a new, valid HDF5 file at `path` (replacing one there): written and flushed under a
 * temporary name, then renamed. HDF5 writes a new file's root group only at its first flush, so a
 * process ending between create and flush used to leave a 48-byte file no tool opens; now the path
 * holds either nothing or a complete empty file, however the process ends.
 */
export function createFile(path: string, libver?: "v110"): void {
  const tmp = `${path}.${process.pid}.new`;
  let f: File | undefined;
  const { guard, detach } = FileGuard.attach(tmp, { suspend: () => void f?.close(), resume: () => undefined });
  try {
    closeSync(openSync(tmp, "w")); // the OS's reason when the folder is not writable
    guard.run("cannot create", () => {
      f = openFile(tmp, "w", libver);
      if (h5flush(f) < 0) throw new QuiverError("IO", `cannot create ${path}: HDF5 could not write it`);
    });
    const c = f!.close();
    f = undefined;
    if (c < 0) throw new QuiverError("IO", `cannot create ${path}: HDF5 could not close it`);
    // No fsync: an empty file lost to a power cut holds no data, and flush()/close() fsync what does.
    // Removing the old file first: ext4 flushes a file renamed over another one (auto_da_alloc), 2–3 ms.
    rmSync(path, { force: true });
    renameSync(tmp, path);
  } catch (e) {
    try {
      f?.close();
    } catch {
      /* already failing */
    }
    rmSync(tmp, { force: true });
    if (e instanceof QuiverError) throw e;
    throw new QuiverError("IO", `cannot create ${path}: ${ioReason(e)}; ${ioAdvice(e)}`, { cause: e });
  } finally {
    detach();
  }
}

/** H5Fflush's status (h5wasm's File.flush() drops it): negative when HDF5 could not write. */
export function h5flush(f: File): number {
  return (Module as unknown as { flush(id: bigint): number }).flush(f.file_id);
}

/** Every dataset under a group, as "/"-joined names relative to the root. */
export function walkDatasets(group: Group, prefix = "", out: string[] = []): string[] {
  for (const k of group.keys()) {
    const child = group.get(k);
    if (child instanceof h5wasm.Dataset) out.push(prefix + k);
    else if (child instanceof h5wasm.Group) walkDatasets(child, prefix + k + "/", out);
  }
  return out;
}

/** Reads a string attribute, or undefined. */
export function attrString(obj: Dataset | Group, name: string): string | undefined {
  const a = obj.attrs[name];
  if (!a) return undefined;
  const v = a.value;
  return typeof v === "string" ? v : Array.isArray(v) && typeof v[0] === "string" ? v[0] : undefined;
}

/** Sets a string attribute (replacing an old one). */
export function setAttrString(obj: Dataset | Group, name: string, value: string): void {
  if (obj.attrs[name]) obj.delete_attribute(name);
  obj.create_attribute(name, value);
}
