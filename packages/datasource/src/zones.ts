/**
 * Datetimes that keep their time zone (DagsHub stores a datetime as UTC plus the offset it was
 * given, and gives it back in that offset). A `ZonedDate` is a `Date` (the instant: queries,
 * ordering and the Arrow table use it) with a `timeZone` offset such as "+05:30". The offset is
 * kept in a hidden companion field `<field>\uE000tz` (a string, versioned with the value), which
 * `fields()` and results never show: rows and datapoints get `ZonedDate`s back, CSV writes and
 * reads `2022-04-05T15:30:00.999+05:30`. A plain `Date` is UTC, as before.
 */
import { QuiverError } from "@quiver/core";
import { type ChangeSet, changeSize } from "./events.js";

/** Suffix of the companion field holding a datetime field's offsets (U+E000: private use, refused in user names). */
export const TZ = "\uE000tz";
const OFFSET = /^([+-])(\d{2}):?(\d{2})$/;
const TRAILING = /(Z|[+-]\d{2}:?\d{2})$/i;

/** Minutes east of UTC of "+05:30" / "-0800" / "Z". */
export function offsetMinutes(tz: string): number {
  if (tz === "Z" || tz === "z") return 0;
  const m = OFFSET.exec(tz);
  if (!m || Number(m[2]) > 23 || Number(m[3]) > 59) throw new QuiverError("INVALID_VALUE", `time zone ${JSON.stringify(tz)} is not an offset like "+05:30" or "-08:00"`);
  return (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

function canonical(tz: string): string {
  const m = offsetMinutes(tz);
  const a = Math.abs(m);
  return `${m < 0 ? "-" : "+"}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
}

export class ZonedDate extends Date {
  /** The offset it was given, "+HH:MM" / "-HH:MM". */
  readonly timeZone: string;

  /**
   * `new ZonedDate("2022-04-05T15:30:00+05:30")` takes the offset from the text; a Date or a
   * millisecond time needs it given: `new ZonedDate(date, "+05:30")`.
   */
  constructor(value: string | number | Date, timeZone?: string) {
    super(value instanceof Date ? value.getTime() : value);
    const fromText = typeof value === "string" ? TRAILING.exec(value.trim())?.[1] : undefined;
    const tz = timeZone ?? fromText;
    if (tz === undefined) throw new QuiverError("INVALID_VALUE", `a ZonedDate needs its offset: in the text ("…+05:30") or as new ZonedDate(value, "+05:30")`);
    if (Number.isNaN(this.getTime())) throw new QuiverError("INVALID_VALUE", `invalid date ${JSON.stringify(String(value))}`);
    this.timeZone = canonical(tz);
  }

  /** The local time in its zone with the offset: "2022-04-05T15:30:00.999+05:30". */
  toZonedISOString(): string {
    const local = new Date(this.getTime() + offsetMinutes(this.timeZone) * 60_000).toISOString();
    return local.slice(0, -1) + this.timeZone;
  }

  override toJSON(): string {
    return this.toZonedISOString();
  }
}

/** A datetime text with an explicit offset (not Z) as a ZonedDate; other texts as plain Dates (UTC). */
export function zonedOrPlain(d: Date, text: string): Date {
  const z = TRAILING.exec(text.trim())?.[1];
  return z && z.toUpperCase() !== "Z" ? new ZonedDate(d, z) : d;
}

/** Refuses user field names with the companion marker. */
export function checkNoMarker(names: Iterable<string>): void {
  for (const n of names)
    if (n.includes("\uE000")) throw new QuiverError("INVALID_NAME", `metadata field name ${JSON.stringify(n)} uses U+E000, which is reserved; choose another name`);
}

/**
 * Adds the companion offsets of a change's datetime values: a ZonedDate sets its offset, a plain
 * Date or a clear clears it (when the field has offsets); clearing a field clears its offsets.
 */
export function addZones(change: ChangeSet, known: ReadonlySet<string>): void {
  checkNoMarker(change.fields.keys());
  const n = changeSize(change);
  for (const [name, values] of [...change.fields]) {
    if (!Array.isArray(values)) continue;
    const has = known.has(name + TZ);
    if (!has && !values.some((v) => v instanceof ZonedDate)) continue;
    const z = new Array<unknown>(n);
    for (let i = 0; i < n; i++) {
      const v = values[i];
      z[i] = v instanceof ZonedDate ? v.timeZone : v === undefined ? undefined : v instanceof Date || v === null ? (has ? null : undefined) : undefined;
    }
    change.fields.set(name + TZ, z);
  }
  if (change.unset)
    change.unset = change.unset.map((u) => {
      const extra = u?.filter((f) => known.has(f + TZ)).map((f) => f + TZ);
      return extra?.length ? [...u!, ...extra] : u;
    });
}

/** An Arrow timestamp type's zone when it is an offset ("+05:30"): the column's values keep it. */
export function arrowOffset(t: { timezone?: string | null }): string | undefined {
  const z = t.timezone;
  return z && OFFSET.test(z) && offsetMinutes(z) !== 0 ? z : undefined;
}

/** Companion fields among a list of field names. */
export function isCompanion(name: string): boolean {
  return name.endsWith(TZ);
}
