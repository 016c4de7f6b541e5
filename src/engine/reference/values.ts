// FROZEN PRE-REDESIGN REFERENCE (copied from src/engine at commit 90da411, before the
// columnar storage redesign). It exists only so that engine.reference.prop.test.ts can check
// that the redesigned engine gives identical results and byte-identical snapshots for the
// same command history. Not exported from index.ts; do not change it except to keep it
// compiling. Its original header follows.
//
// Column values and rows. Money and every other number is a bigint: there are no floats in
// the engine. Rows are immutable by convention: an update builds a new row object (copy on
// write), which is what lets a failed transaction roll back by restoring old references.
import { AMOUNT_MAX, BALANCE_MIN, ID_BYTES_MAX } from "../../constants.ts";
import { type BytesReader, type BytesWriter, ErrorCode, TxgridError } from "../../stdx/index.ts";

export type Value = bigint | string | boolean | null;
export type Row = Readonly<Record<string, Value>>;

const ValueTag = { NULL: 0, FALSE: 1, TRUE: 2, INTEGER: 3, STRING: 4 } as const;

/** Ids: 1..ID_BYTES_MAX characters of [A-Za-z0-9._:-] (ASCII, so characters = bytes). */
const idPattern = /^[A-Za-z0-9._:-]+$/;

export function isValidId(id: string): boolean {
  return id.length > 0 && id.length <= ID_BYTES_MAX && idPattern.test(id);
}

export function isInInt64Range(value: bigint): boolean {
  return value >= BALANCE_MIN && value <= AMOUNT_MAX;
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
