// Column values and rows. Money and every other number is a bigint: there are no floats in
// the engine. A Row object is immutable by convention: object tables replace a row whole on
// update (copy on write), column tables hand out a fresh copy of the stored columns, so a row
// a caller holds never changes under it.
import { AMOUNT_MAX, BALANCE_MIN, ID_BYTES_MAX } from "../constants.ts";
import {
  assert,
  type BytesReader,
  type BytesWriter,
  ErrorCode,
  TxgridError,
} from "../stdx/index.ts";

export type Value = bigint | string | boolean | null;
export type Row = Readonly<Record<string, Value>>;

const ValueTag = { NULL: 0, FALSE: 1, TRUE: 2, INTEGER: 3, STRING: 4 } as const;
/** The tag encodeValue writes before a string (for encoders that write the string's bytes). */
export const STRING_VALUE_TAG = ValueTag.STRING;

/** 1 at the character codes ids may hold: [A-Za-z0-9._:-]. */
export const idCharacters = new Uint8Array(128);
for (const character of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") {
  idCharacters[character.charCodeAt(0)] = 1;
}

/**
 * Ids: 1..ID_BYTES_MAX characters of [A-Za-z0-9._:-] (ASCII, so characters = bytes). The same
 * as /^[A-Za-z0-9._:-]+$/ plus the length bounds (values.test.ts checks), in a loop that costs
 * a third of the regular expression on every id of every transfer.
 */
export function isValidId(id: string): boolean {
  if (id.length === 0 || id.length > ID_BYTES_MAX) return false;
  for (let index = 0; index < id.length; index++) {
    const code = id.charCodeAt(index);
    if (code >= 128 || idCharacters[code] !== 1) return false;
  }
  return true;
}

// isInInt64Range relies on the limits being exactly the signed 64-bit range.
assert(BALANCE_MIN === -(2n ** 63n), "BALANCE_MIN is the int64 minimum");
assert(AMOUNT_MAX === 2n ** 63n - 1n, "AMOUNT_MAX is the int64 maximum");

/** BALANCE_MIN <= value <= AMOUNT_MAX. */
export function isInInt64Range(value: bigint): boolean {
  // V8 compiles asIntN(64) and === to 64-bit integer operations; <= and >= against the
  // limits are generic BigInt comparisons, several times slower.
  return BigInt.asIntN(64, value) === value;
}

export function encodeValue(writer: BytesWriter, value: Value): void {
  if (value === null) writer.u8(ValueTag.NULL);
  else if (value === false) writer.u8(ValueTag.FALSE);
  else if (value === true) writer.u8(ValueTag.TRUE);
  else if (typeof value === "bigint") {
    writer.u8(ValueTag.INTEGER);
    writer.i64(value);
  } else {
    writer.u8(ValueTag.STRING);
    writer.string(value);
  }
}

export function decodeValue(reader: BytesReader): Value {
  const tag = reader.u8();
  switch (tag) {
    case ValueTag.NULL:
      return null;
    case ValueTag.FALSE:
      return false;
    case ValueTag.TRUE:
      return true;
    case ValueTag.INTEGER:
      return reader.i64();
    case ValueTag.STRING:
      return reader.string();
    default:
      throw new TxgridError(ErrorCode.DECODE, `unknown value tag ${tag}`);
  }
}

export function encodeRow(writer: BytesWriter, row: Row): void {
  const columns = Object.keys(row);
  writer.u16(columns.length);
  for (const column of columns) {
    writer.string(column);
    encodeValue(writer, row[column] ?? null);
  }
}

export function decodeRow(reader: BytesReader): Row {
  const columnCount = reader.u16();
  const row: Record<string, Value> = {};
  for (let index = 0; index < columnCount; index++) {
    const column = reader.string();
    row[column] = decodeValue(reader);
  }
  return row;
}

/** A total order over values: null < false < true < integers < strings. */
export function compareValues(left: Value, right: Value): number {
  const rankLeft = valueRank(left);
  const rankRight = valueRank(right);
  if (rankLeft !== rankRight) return rankLeft - rankRight;
  if (typeof left === "bigint" && typeof right === "bigint") {
    return left < right ? -1 : left > right ? 1 : 0;
  }
  if (typeof left === "string" && typeof right === "string") {
    return left < right ? -1 : left > right ? 1 : 0;
  }
  return 0;
}

function valueRank(value: Value): number {
  if (value === null) return 0;
  if (value === false) return 1;
  if (value === true) return 2;
  return typeof value === "bigint" ? 3 : 4;
}
