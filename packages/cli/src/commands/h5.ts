/** `quiver h5 ls|show`: HDF5 files written by H5Logger, read through `H5Logger.read`. */
import { existsSync } from "node:fs";
import { QuiverError, type Row } from "@quiver/core";
import { bool, parseCommand, str, usageError } from "../args.js";
import type { Command, CommandGroup } from "../context.js";
import { printRows, printSummary } from "../output.js";
import { renderImage } from "../picture.js";
import { requirePackage } from "../stores.js";

/** What the CLI uses of @quiver/store-h5 (declared here so the CLI builds and loads without it). */
export interface H5Dataset {
  shape: number[];
  dtype: string;
  length: number;
  slice(start: number, end: number): unknown;
  /** The HDF5 element type in words (store-h5 ≥ 0.1 with h5py types); never throws. */
  readonly hdf5Type?: string;
}
export interface H5Reader {
  keys(): string[] | Promise<string[]>;
  get(name: string): H5Dataset | undefined | Promise<H5Dataset | undefined>;
  close(): void | Promise<void>;
}
interface H5Module {
  H5Logger: { read(path: string): Promise<H5Reader> };
}

async function withFile<T>(file: string, fn: (r: H5Reader) => Promise<T>): Promise<T> {
  if (!existsSync(file)) throw new QuiverError("NOT_FOUND", `${file}: no such file`);
  const { H5Logger } = await requirePackage<H5Module>("@quiver/store-h5", "reading HDF5 files");
  const reader = await H5Logger.read(file);
  try {
    return await fn(reader);
  } finally {
    await reader.close();
  }
}

async function dataset(r: H5Reader, name: string, file: string): Promise<H5Dataset> {
  const keys = await r.keys();
  const d = keys.includes(name) ? await r.get(name) : undefined;
  if (!d) throw new QuiverError("NOT_FOUND", `${file} has no dataset ${JSON.stringify(name)}; datasets: ${keys.join(", ") || "(none)"}`);
  return d;
}

/** Parses "a:b" (Python-style: negative from the end, either side may be empty) or "a". */
export function parseSlice(text: string | undefined, length: number, def: [number, number]): [number, number] {
  if (text === undefined) return [Math.min(def[0], length), Math.min(def[1], length)];
  const m = /^\s*(-?\d*)\s*(?::\s*(-?\d*)\s*)?$/.exec(text);
  if (!m || (m[1] === "" && m[2] === undefined)) throw new QuiverError("INVALID_VALUE", `--slice must look like 10:20, :5, -3: or 7, got ${JSON.stringify(text)}`);
  const norm = (s: string | undefined, d: number) => {
    if (s === undefined || s === "") return d;
    const n = Number(s);
    return Math.max(0, Math.min(length, n < 0 ? length + n : n));
  };
  const a = norm(m[1], 0);
  const b = m[2] === undefined ? Math.min(length, a + 1) : norm(m[2], length);
  return [a, Math.max(a, b)];
}

/** Splits what `slice` returned into one value per entry. */
export function frames(values: unknown, shape: number[], count: number): unknown[] {
  if (Array.isArray(values)) return values;
  const per = shape.slice(1).reduce((a, b) => a * b, 1);
  let data: unknown = values;
  if (values && typeof values === "object" && !ArrayBuffer.isView(values) && "data" in values) data = (values as { data: unknown }).data;
  if (ArrayBuffer.isView(data)) {
    const a = data as unknown as { length: number; subarray(s: number, e: number): unknown; [i: number]: number | bigint };
    if (shape.length <= 1) return Array.from({ length: a.length }, (_, i) => a[i]);
    return Array.from({ length: Math.min(count, Math.floor(a.length / per)) }, (_, i) => a.subarray(i * per, (i + 1) * per));
  }
  return [values];
}

function entrySummary(v: unknown, frameShape: number[]): Row {
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean" || typeof v === "string") return { value: v };
  let arr: ArrayLike<number | bigint> | undefined;
  if (ArrayBuffer.isView(v) || Array.isArray(v)) arr = v as unknown as ArrayLike<number>;
  else if (v && typeof v === "object" && "data" in v) arr = (v as { data: ArrayLike<number> }).data;
  if (!arr) return { value: String(v) };
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < arr.length; i++) {
    const x = Number(arr[i]);
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
  }
  return { shape: frameShape.join("×") || String(arr.length), min, max, mean: arr.length ? sum / arr.length : NaN };
}

function messageOf(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0]!;
}

/**
 * The datasets of an H5Logger file, as `h5 ls` lists them (shapes as arrays in JSON). A dataset
 * H5Logger cannot read (an h5py string or compound, a dataset whose metadata fails) is still
 * listed, with what could be read and a `note` saying what could not: one odd dataset never hides
 * the rest of the file.
 */
export async function h5Datasets(file: string, json: boolean): Promise<Row[]> {
  return withFile(file, async (r) => {
    const rows: Row[] = [];
    for (const name of [...(await r.keys())].sort()) {
      let d: H5Dataset | undefined;
      try {
        d = await r.get(name);
      } catch (e) {
        rows.push({ name, dtype: null, shape: null, length: null, note: `cannot open: ${messageOf(e)}` });
        continue;
      }
      if (!d) continue;
      let note: string | undefined;
      let dtype: string | null = null;
      let shape: Row[string] = null;
      let length: number | null = null;
      try {
        shape = json ? d.shape : `(${d.shape.join(", ")}${d.shape.length === 1 ? "," : ""})`;
        length = d.length;
      } catch (e) {
        note = `shape unreadable: ${messageOf(e)}`;
      }
      try {
        dtype = d.dtype;
      } catch {
        let type: string | undefined;
        try {
          type = d.hdf5Type;
        } catch {
          /* an older store-h5 */
        }
        note = `${type ?? "an element type"}: not read by H5Logger`;
      }
      const row: Row = { name, dtype, shape, length };
      if (note !== undefined) row.note = note;
      rows.push(row);
    }
    return rows;
  });
}

/** The columns `h5 ls` prints: `note` only when some dataset needs one. */
export function h5Columns(rows: Row[]): string[] {
  const cols = ["name", "dtype", "shape", "length"];
  return rows.some((r) => r.note !== undefined) ? [...cols, "note"] : cols;
}

const lsCmd: Command = {
  spec: {
    usage: "h5 ls FILE [--json]",
    summary: "Lists the datasets of an HDF5 file written by H5Logger (or h5py): name, dtype, shape and length. A dataset H5Logger cannot read is listed with a note saying why.",
    options: { json: { type: "boolean" } },
    optionHelp: { json: "one JSON object per line ({name, dtype, shape, length}, plus note for a dataset not fully shown)" },
    details: "Example:\n  quiver h5 ls logging_data.h5",
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    if (p.positionals.length !== 1) throw usageError(this.spec, "expected FILE");
    const json = bool(p, "json");
    const rows = await h5Datasets(p.positionals[0]!, json);
    printRows(ctx.out, rows, { json, columns: json ? undefined : h5Columns(rows) });
    const odd = rows.filter((r) => r.note !== undefined).length;
    if (odd && !json) ctx.out.write(`${odd} of ${rows.length} datasets are not fully shown (see note); h5dump -d /NAME ${p.positionals[0]} shows them\n`);
  },
};

const showCmd: Command = {
  spec: {
    usage: "h5 show FILE NAME [--slice a:b] [--json]",
    summary: "Prints entries of one dataset without loading the rest: values of scalar streams, shape/min/max/mean of array streams (full arrays with --json).",
    options: { slice: { type: "string" }, json: { type: "boolean" }, image: { type: "boolean", short: "i" } },
    optionHelp: {
      slice: "entries to show, Python-style: 10:20, :5, -3: (default 0:10)",
      json: "one JSON object per entry: {index, value}, then {summary: {from, to, length, dtype, shape}}",
      image: "draw 2-D entries (e.g. 64×64 frames) as pictures in the terminal",
    },
    details:
      "Examples:\n  quiver h5 show logging_data.h5 number --slice 0:5\n  quiver h5 show logging_data.h5 image --slice -1: --image\n  quiver h5 show logging_data.h5 image --slice -1: --json",
  },
  async run(argv, ctx) {
    const p = parseCommand(argv, this.spec);
    if (p.positionals.length !== 2) throw usageError(this.spec, "expected FILE NAME");
    const [file, name] = p.positionals as [string, string];
    await withFile(file, async (r) => {
      const d = await dataset(r, name, file);
      const [a, b] = parseSlice(str(p, "slice"), d.length, [0, 10]);
      const vals = b > a ? frames(await d.slice(a, b), d.shape, b - a) : [];
      const json = bool(p, "json");
      const summary = { from: a, to: b, length: d.length, dtype: d.dtype, shape: d.shape };
      const footer = `entries ${a}..${b} of ${d.length} (${d.dtype}, shape (${d.shape.join(", ")}))`;
      if (json) {
        printRows(
          ctx.out,
          vals.map((v, i) => ({ index: a + i, value: v })),
          { json: true },
        );
        printSummary(ctx.out, true, footer, summary);
        return;
      }
      const frameShape = d.shape.slice(1);
      if (bool(p, "image")) {
        if (frameShape.length !== 2) throw new QuiverError("INVALID_VALUE", `--image draws 2-D entries; ${name} entries have shape (${frameShape.join(", ")})`);
        vals.forEach((v, i) => {
          const data = (v && typeof v === "object" && "data" in v ? (v as { data: ArrayLike<number> }).data : v) as ArrayLike<number>;
          ctx.out.write(`[${a + i}] ${frameShape.join("×")}\n` + renderImage(data, frameShape[0]!, frameShape[1]!, { color: ctx.color, maxWidth: Math.min(96, ctx.columns - 2) }));
        });
        return;
      }
      printRows(
        ctx.out,
        vals.map((v, i) => ({ index: a + i, ...entrySummary(v, frameShape) })),
      );
      printSummary(ctx.out, false, footer, summary);
    });
  },
};

export const h5Group: CommandGroup = {
  summary: "HDF5 files written by H5Logger",
  commands: { ls: lsCmd, show: showCmd },
};
