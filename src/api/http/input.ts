// Turning validated request fields into engine values. The schemas (schemas.ts) have already
// checked shapes and types; what is left here is what a JSON Schema cannot say exactly: that
// a number is a safe integer, that a decimal string fits in 64 bits, that an amount is > 0.
// Every refusal is an HttpError (400) thrown before anything is submitted to the shard, so
// bad input never reaches the log.
import { AMOUNT_MAX, BALANCE_MIN, TEXT_BYTES_MAX } from "../../constants.ts";
import { ResultCode, type Value } from "../../engine/index.ts";
import { badInput, badRequest } from "./errors.ts";

/** A signed 64-bit integer from a decimal string or a safe JSON integer; null otherwise. */
export function parseInt64(value: string | number): bigint | null {
  if (typeof value === "number") return Number.isSafeInteger(value) ? BigInt(value) : null;
  // The schema's pattern admits only an optional minus and 1..20 digits.
  const parsed = BigInt(value);
  return parsed >= BALANCE_MIN && parsed <= AMOUNT_MAX ? parsed : null;
}

/** An amount: an integer in 1..AMOUNT_MAX, or 400 AMOUNT_INVALID naming `field`. */
export function parseAmount(value: string | number, field: string): bigint {
  const amount = parseInt64(value);
  if (amount === null || amount <= 0n) {
    throw badInput(ResultCode.AMOUNT_INVALID, `'${field}' must be an integer > 0 and <= 2^63-1`);
  }
  return amount;
}

/** Any signed 64-bit integer (balances, floors, asset values), or 400 naming `field`. */
export function parseSigned(value: string | number, field: string): bigint {
  const parsed = parseInt64(value);
  if (parsed === null) {
    throw badRequest(`'${field}' must be an integer in -2^63..2^63-1 (a safe integer as a number)`);
  }
  return parsed;
}

/** A TiMPE amount: a JSON number that is a safe integer > 0 (minor units). */
export function parseTimpeAmount(value: number): bigint {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw badInput(ResultCode.AMOUNT_INVALID, "'amount' must be an integer > 0 and <= 2^53-1.");
  }
  return BigInt(value);
}

/** A column value of a generic transaction: strings, booleans, null, integers. */
export function parseValue(value: unknown, field: string): Value {
  if (value === null || typeof value === "boolean") return value;
  if (typeof value === "string") {
    if (Buffer.byteLength(value, "utf8") > TEXT_BYTES_MAX) {
      throw badRequest(`'${field}' is longer than ${TEXT_BYTES_MAX} UTF-8 bytes`);
    }
    return value;
  }
  if (typeof value === "number") return parseSigned(value, field);
  // The schema leaves only {"int": "<decimal>"}.
  return parseSigned((value as { int: string }).int, field);
}
