/**
 * Values as text-format parameters. Every value reaches PostgreSQL as a bound parameter (`$n`)
 * in its text input form, cast in the statement to the type it is compared with or stored in:
 * nothing is ever spliced into SQL text.
 */
import { QuiverError } from "@quiver/core";
import type { Elem, Storage } from "./types.js";

function pad(n: number, w: number): string {
  return String(n).padStart(w, "0");
}

/** A time (µs since 1970, or a Date) as timestamptz input text, exact to the µs. */
export function timeText(v: Date | number | bigint): string {
  let us: bigint = v instanceof Date ? BigInt(v.getTime()) * 1000n : BigInt(v);
  let micro = us % 1000000n;
  if (micro < 0n) micro += 1000000n;
  us -= micro;
  const d = new Date(Number(us / 1000n));
  const y = d.getUTCFullYear();
  if (y < 1 || y > 9999) throw new QuiverError("INVALID_VALUE", `${d.toISOString()} is outside the years 1-9999`);
  return `${pad(y, 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)} ${pad(d.getUTCHours(), 2)}:${pad(d.getUTCMinutes(), 2)}:${pad(d.getUTCSeconds(), 2)}.${pad(Number(micro), 6)}+00`;
}

/** A double as float8 input text: shortest exact form, -0, NaN and ±Infinity kept. */
export function floatText(v: number): string {
  if (Object.is(v, -0)) return "-0";
  return String(v);
}

function hex(b: Uint8Array): string {
  return "\\x" + Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
}

/** One scalar value as input text of `e`. */
export function scalarText(e: Elem, v: unknown): string {
  switch (e) {
    case "float4":
    case "float8":
      return floatText(Number(v));
    case "bool":
      return v ? "t" : "f";
    case "bytea":
      return typeof v === "string" ? hex(Buffer.from(v, "utf8")) : hex(v as Uint8Array);
    case "timestamptz":
      return timeText(v as Date);
    case "text":
      return v as string;
    default:
      return String(typeof v === "boolean" ? Number(v) : v);
  }
}

function quoteElem(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** A one-dimensional array as array input text (every element quoted). */
export function arrayText(e: Elem, v: ArrayLike<unknown>): string {
  const parts: string[] = [];
  for (let i = 0; i < v.length; i++) parts.push(v[i] == null ? "NULL" : quoteElem(scalarText(e, v[i])));
  return `{${parts.join(",")}}`;
}

/** A value of a column as the text parameter its storage reads (null stays null). */
export function valueText(v: unknown, s: Storage, json: (v: unknown) => string): string | null {
  if (v === null || v === undefined) return null;
  switch (s.kind) {
    case "scalar":
      return scalarText(s.elem, v);
    case "array":
      return arrayText(s.elem, v as ArrayLike<unknown>);
    case "json":
      return json(v);
    default:
      return null;
  }
}
