/**
 * Track points staged column by column: no object per point while buffering (the buffered
 * values sit in plain arrays, unboxed for numbers), which keeps Track.append cheap and the
 * garbage collector idle. `_ts` first, then columns in order of first appearance — the column
 * order rowsToBatch gives the same points as rows.
 */
import type { Row } from "../arrow/batches.js";
import { isInt64Number } from "../arrow/types.js";
import { isWellFormed } from "../arrow/values.js";

/**
 * What a column's non-null values are so far: -1 none yet, 0 not all numbers, 1 Int64 numbers
 * (safe integers, no -0), 2 numbers with another one (a fraction, -0, NaN, beyond ±2^53).
 */
interface NumberState {
  s: number;
}

function noteValue(st: NumberState, v: unknown): void {
  if (v == null || st.s === 0) return;
  if (typeof v !== "number") st.s = 0;
  else if (st.s !== 2 && !isInt64Number(v)) st.s = 2;
  else if (st.s === -1) st.s = 1;
}

function primitiveType(v: unknown): string {
  const t = typeof v;
  return t === "number" || t === "string" || t === "boolean" ? t : "";
}

export class PointColumns {
  readonly ts: number[] = [];
  readonly cols = new Map<string, unknown[]>();
  private readonly states = new Map<string, NumberState>();
  private lastKeys: string[] = [];
  private lastCols: unknown[][] = [];
  private lastStates: NumberState[] = [];
  /** typeof of the last point's value per column of lastKeys, "" when not a number/string/boolean. */
  private lastTypes: string[] = [];

  /**
   * 1 when every non-null value of the column is an Int64 number (isInt64Number), 2 when they are
   * numbers and one is not (what type inference would find), else 0 (-1: no value yet).
   */
  numberState(name: string): number {
    return this.states.get(name)?.s ?? 0;
  }

  get length(): number {
    return this.ts.length;
  }

  /**
   * Adds `row` in one pass if it has the previous point's shape — the same keys in the same
   * order, each a number, string or boolean of the same JS type as before, so it is flat, valid
   * and type-checked already — taking its
   * `_ts` from `resolveTs(row._ts)` once the shape is confirmed; returns false (nothing added,
   * resolveTs not called) otherwise. An error from resolveTs leaves the staging unchanged.
   */
  addIfSameShape(row: Row, resolveTs: (raw: unknown) => number): boolean {
    const n = this.ts.length;
    if (n === 0) return false;
    const keys = this.lastKeys;
    const cols = this.lastCols;
    const states = this.lastStates;
    let k = 0;
    let ok = true;
    let floats = 0; // columns (k < 30) whose state turns from integers to floats with this row
    let floatsBeyond = false;
    for (const key in row) {
      if (key === "_ts") continue;
      if (keys[k] !== key) {
        ok = false;
        break;
      }
      const v = row[key];
      const t = typeof v;
      // lastTypes[k] is the type of this column's previous value (only number/string/boolean count)
      if (t !== this.lastTypes[k]) {
        ok = false;
        break;
      }
      // A string with a lone surrogate takes the generic path, which refuses it.
      if (t === "string" && !isWellFormed(v as string)) {
        ok = false;
        break;
      }
      const col = cols[k]!;
      if (t === "number" && states[k]!.s === 1 && !isInt64Number(v as number)) {
        if (k < 30) floats |= 1 << k;
        else floatsBeyond = true;
      }
      col[n] = v;
      k++;
    }
    if (ok && k === keys.length) {
      try {
        this.ts.push(resolveTs(row._ts));
        // Only now that the point is in: widen the states it changed.
        for (let j = 0; floats !== 0; j++, floats >>>= 1) if (floats & 1) states[j]!.s = 2;
        if (floatsBeyond) for (let j = 30; j < k; j++) noteValue(states[j]!, cols[j]![n]);
        return true;
      } catch (err) {
        for (let j = 0; j < k; j++) cols[j]!.length = n;
        throw err;
      }
    }
    for (let j = 0; j < k; j++) cols[j]!.length = n;
    return false;
  }

  /** Adds one point: its `_ts` and its fields (a `_ts` key among them is ignored). */
  add(ts: number, row: Row): void {
    const n = this.ts.length;
    this.ts.push(ts);
    const keys = this.lastKeys;
    let k = 0;
    let same = true;
    for (const key in row) {
      if (key === "_ts") continue;
      const v = row[key];
      if (same && keys[k] === key) {
        this.lastCols[k]![n] = v;
        noteValue(this.lastStates[k]!, v);
        k++;
        continue;
      }
      same = false;
      let col = this.cols.get(key);
      if (!col) {
        col = new Array(n);
        this.cols.set(key, col);
        this.states.set(key, { s: -1 });
      }
      col[n] = v;
      noteValue(this.states.get(key)!, v);
    }
    if (!same || k !== keys.length) {
      this.lastKeys = Object.keys(row).filter((x) => x !== "_ts");
      this.lastCols = this.lastKeys.map((x) => this.cols.get(x)!);
      this.lastStates = this.lastKeys.map((x) => this.states.get(x)!);
    }
    this.lastTypes = this.lastKeys.map((x) => primitiveType(row[x]));
  }

  /** Point i as the row Track used to buffer: `{ _ts, ...fields }` (fields absent stay absent). */
  row(i: number): Row {
    const r: Row = { _ts: this.ts[i] };
    for (const [key, col] of this.cols) if (i in col) r[key] = col[i];
    return r;
  }

  rows(): Row[] {
    return Array.from({ length: this.ts.length }, (_, i) => this.row(i));
  }

  /** `_ts` strictly increasing: no two points to merge. */
  increasing(): boolean {
    const ts = this.ts;
    for (let i = 1; i < ts.length; i++) if (!(ts[i]! > ts[i - 1]!)) return false;
    return true;
  }

  /** The points of `a` then `b`, as one staging. */
  static concat(a: PointColumns, b: PointColumns): PointColumns {
    const out = new PointColumns();
    for (const p of [a, b]) for (let i = 0; i < p.length; i++) out.add(p.ts[i]!, p.row(i));
    return out;
  }
}
