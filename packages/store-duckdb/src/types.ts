/**
 * Arrow ⇄ DuckDB column types.
 *
 * Arrow Timestamp(µs, "UTC") is stored as DuckDB TIMESTAMP (µs since the epoch, UTC by
 * convention): plain SQL then sees wall-clock UTC values without any session time zone
 * applied. TIMESTAMPTZ columns (made by users) read back as Timestamp(µs, "UTC") too.
 * A column that so far holds only nulls has no type yet: it is stored as VARCHAR with the
 * comment "quiver:null" and re-typed on its first value.
 */
import type { DuckDBType } from "@duckdb/node-api";
import {
  BIGINT,
  BLOB,
  BOOLEAN,
  DOUBLE,
  DuckDBTypeId,
  FLOAT,
  INTEGER,
  LIST,
  SMALLINT,
  STRUCT,
  TIMESTAMP,
  TINYINT,
  UBIGINT,
  UINTEGER,
  USMALLINT,
  UTINYINT,
  VARCHAR,
} from "./duck.js";
import type { DuckDBListType, DuckDBStructType } from "@duckdb/node-api";
import {
  Binary,
  Bool,
  type DataType,
  Field,
  Float32,
  Float64,
  Int8,
  Int16,
  Int32,
  Int64,
  List,
  Null,
  Struct,
  TimestampMicrosecond,
  Type,
  Uint8,
  Uint16,
  Uint32,
  Uint64,
  Utf8,
} from "apache-arrow";
import { QuiverError, typeName } from "@quiver/core";

export const NULL_COMMENT = "quiver:null";

/** The DuckDB type that stores an Arrow type. */
export function duckTypeOf(t: DataType, column: string): DuckDBType {
  switch (t.typeId) {
    case Type.Null:
      return VARCHAR;
    case Type.Int: {
      const it = t as Int64;
      const s = it.isSigned;
      switch (it.bitWidth as number) {
        case 8:
          return s ? TINYINT : UTINYINT;
        case 16:
          return s ? SMALLINT : USMALLINT;
        case 32:
          return s ? INTEGER : UINTEGER;
        default:
          return s ? BIGINT : UBIGINT;
      }
    }
    case Type.Float:
      return (t as Float64).precision === 2 ? DOUBLE : FLOAT;
    case Type.Bool:
      return BOOLEAN;
    case Type.Utf8:
    case Type.LargeUtf8:
      return VARCHAR;
    case Type.Binary:
    case Type.LargeBinary:
      return BLOB;
    case Type.Timestamp:
    case Type.Date:
      return TIMESTAMP;
    case Type.List:
      return LIST(duckTypeOf(t.children[0]!.type as DataType, column));
    case Type.Struct: {
      const entries: Record<string, DuckDBType> = {};
      for (const f of t.children as Field[]) entries[f.name] = duckTypeOf(f.type, column);
      return STRUCT(entries);
    }
    default:
      throw new QuiverError("UNSUPPORTED", `column ${JSON.stringify(column)}: duckdb: cannot store ${typeName(t)} values`);
  }
}

/** SQL text of a DuckDB type, as used in CREATE/ALTER TABLE. */
export function sqlTypeOf(t: DataType, column: string): string {
  return duckTypeOf(t, column).toString();
}

function listOf(t: DataType): List {
  return new List(new Field("item", t, true));
}

/**
 * The Arrow type a DuckDB column reads back as. Types Quiver never writes (DECIMAL, DATE,
 * HUGEINT, UUID, INTERVAL, …) come from user SQL; they map to the closest Arrow type.
 */
export function arrowTypeOf(t: DuckDBType): DataType {
  switch (t.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return new Bool();
    case DuckDBTypeId.TINYINT:
      return new Int8();
    case DuckDBTypeId.SMALLINT:
      return new Int16();
    case DuckDBTypeId.INTEGER:
      return new Int32();
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.HUGEINT:
      return new Int64();
    case DuckDBTypeId.UTINYINT:
      return new Uint8();
    case DuckDBTypeId.USMALLINT:
      return new Uint16();
    case DuckDBTypeId.UINTEGER:
      return new Uint32();
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.UHUGEINT:
      return new Uint64();
    case DuckDBTypeId.FLOAT:
      return new Float32();
    case DuckDBTypeId.DOUBLE:
    case DuckDBTypeId.DECIMAL:
      return new Float64();
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
    case DuckDBTypeId.DATE:
      return new TimestampMicrosecond("UTC");
    case DuckDBTypeId.BLOB:
      return new Binary();
    case DuckDBTypeId.SQLNULL:
      return new Null();
    case DuckDBTypeId.LIST:
    case DuckDBTypeId.ARRAY:
      return listOf(arrowTypeOf((t as DuckDBListType).valueType));
    case DuckDBTypeId.STRUCT: {
      const st = t as DuckDBStructType;
      return new Struct(st.entryNames.map((n, i) => new Field(n, arrowTypeOf(st.entryTypes[i]!), true)));
    }
    default:
      return new Utf8();
  }
}

/** Arrow types whose DuckDB vectors are fixed-width values we copy as typed arrays. */
export function fixedWidthCtor(t: DuckDBType): { new (buf: ArrayBuffer, off: number, n: number): ArrayBufferView & ArrayLike<unknown> } | undefined {
  switch (t.typeId) {
    case DuckDBTypeId.TINYINT:
      return Int8Array;
    case DuckDBTypeId.SMALLINT:
      return Int16Array;
    case DuckDBTypeId.INTEGER:
      return Int32Array;
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
      return BigInt64Array;
    case DuckDBTypeId.UTINYINT:
      return Uint8Array;
    case DuckDBTypeId.USMALLINT:
      return Uint16Array;
    case DuckDBTypeId.UINTEGER:
      return Uint32Array;
    case DuckDBTypeId.UBIGINT:
      return BigUint64Array;
    case DuckDBTypeId.FLOAT:
      return Float32Array;
    case DuckDBTypeId.DOUBLE:
      return Float64Array;
    default:
      return undefined;
  }
}
