/**
 * Types for the rows a user declares: `Tracker.open<Row>()`, `session.track<Point>(name)` and
 * the read methods carry them, so what comes back is typed as core's "read back as" table says.
 * Types only: at run time rows are plain objects (Row), exactly as without a declared type.
 */
import type {
  Binary,
  Bool,
  DataType,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Int64,
  List,
  Struct,
  Table,
  TimestampMicrosecond,
  Uint8,
  Uint16,
  Uint32,
  Uint64,
  Utf8,
} from "apache-arrow";
import type { NdArray, Row, TypedArray } from "../arrow/values.js";

/** A value that is a column of its own (not a nested object, which is flattened to "a.b"). */
type Leaf = number | bigint | boolean | string | Date | TypedArray | NdArray | readonly unknown[] | null | undefined;

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/** Whether T is an open record (Row, Record<string, …>): nothing is known about its keys. */
type IsOpen<T> = string extends keyof T ? true : false;

/** Whether a value is stored in a column of its own (unknown too: nothing says it is an object). */
type IsLeaf<V> = unknown extends V ? true : NonNullable<V> extends Leaf ? true : false;

/** Nested plain objects flattened to "a.b" keys, as log() and append() store them (4 levels deep). */
export type Flatten<T, P extends string = "", D extends unknown[] = []> = D["length"] extends 4
  ? { [K in keyof T as K extends string ? `${P}${K}` : never]: T[K] }
  : { [K in keyof T as K extends string ? (IsLeaf<T[K]> extends true ? `${P}${K}` : never) : never]: T[K] } & UnionToIntersection<
      { [K in keyof T & string]-?: IsLeaf<T[K]> extends true ? never : Nested<T[K], `${P}${K}.`, D> }[keyof T & string]
    >;

/** The flattened columns of a nested object: optional when the object may be absent. */
type Nested<V, P extends string, D extends unknown[]> = undefined extends V ? Partial<Flatten<NonNullable<V>, P, [...D, 0]>> : Flatten<NonNullable<V>, P, [...D, 0]>;

/** What a logged value reads back as (Float64Array → number[], Uint8ClampedArray → Uint8Array, tensors' data typed). */
export type ReadValue<V> = V extends null | undefined
  ? null
  : V extends Float64Array
    ? number[]
    : V extends Uint8ClampedArray
      ? Uint8Array
      : V extends TypedArray
        ? V
        : V extends NdArray
          ? { data: TypedArray; shape: number[] }
          : V extends readonly (infer E)[]
            ? ReadValue<E>[]
            : V extends Date
              ? Date
              : V extends number
                ? number
                : V extends bigint
                  ? bigint
                  : V extends boolean
                    ? boolean
                    : V extends string
                      ? V
                      : unknown;

/** The columns Tracker adds to every row. */
export interface RunColumns {
  timestamp: Date;
  track_id: string;
}

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** A row as log() stored it: flattened, with timestamp and track_id (values as logged). */
export type LoggedRow<R> = IsOpen<R> extends true ? Row : Simplify<Flatten<R> & RunColumns>;

/** A row read back (toRows, head, tail): declared columns; one logged as absent is null (or missing while no row has it). */
export type StoredRow<R> = IsOpen<R> extends true ? Row : Simplify<ReadColumns<Flatten<R>> & RunColumns>;

type ReadColumns<F> = { [K in keyof F]: ReadValue<F[K]> | (undefined extends F[K] ? null : never) };

/** A track point as append() takes it: the declared fields, and `_ts` (optional unless declared). */
export type PointInput<P> = IsOpen<P> extends true ? Row : P & { _ts?: number };

/** The fields of a track point read back: nulls are left out, so a field that may be absent is optional. */
export type PointData<P> = IsOpen<P> extends true ? Row & { _ts: number } : Simplify<{ [K in keyof Flatten<P>]: ReadValue<Exclude<Flatten<P>[K], undefined>> } & { _ts: number }>;

/** The Arrow type a value of type V is stored as (numbers: Int64 while whole, else Float64). */
export type ArrowTypeOf<V> = [V] extends [null | undefined]
  ? DataType
  : NonNullable<V> extends infer T
    ? T extends Uint8Array
      ? Binary
      : T extends Float64Array
        ? List<Float64>
        : T extends Float32Array
          ? List<Float32>
          : T extends Int8Array
            ? List<Int8>
            : T extends Int16Array
              ? List<Int16>
              : T extends Int32Array
                ? List<Int32>
                : T extends Uint8ClampedArray
                  ? List<Uint8>
                  : T extends Uint16Array
                    ? List<Uint16>
                    : T extends Uint32Array
                      ? List<Uint32>
                      : T extends BigInt64Array
                        ? List<Int64>
                        : T extends BigUint64Array
                          ? List<Uint64>
                          : T extends NdArray
                            ? Struct<{ data: List; shape: List<Int32> }>
                            : T extends readonly (infer E)[]
                              ? List<ArrowTypeOf<E>>
                              : T extends Date
                                ? TimestampMicrosecond
                                : T extends number
                                  ? Float64 | Int64
                                  : T extends bigint
                                    ? Int64
                                    : T extends boolean
                                      ? Bool
                                      : T extends string
                                        ? Utf8
                                        : DataType
    : never;

/** The Arrow table of rows of type R (any table when R is an open record). */
export type RowTable<R, Extra = RunColumns> = IsOpen<R> extends true ? Table : Table<Simplify<{ [K in keyof (Flatten<R> & Extra)]-?: ArrowTypeOf<(Flatten<R> & Extra)[K]> }>>;
