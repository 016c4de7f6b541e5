// Input checks of the client API, shared by both transports: every item a caller passes is
// checked and normalized (defaults filled in) into the protocol's record before anything is
// queued, so one malformed call fails alone with TXG_ERR_BAD_REQUEST (naming the field)
// instead of breaking the frame it would have been merged into. What is checked is exactly
// what the wire cannot carry: ids outside [A-Za-z0-9._:-]{1,128}, integers outside their
// range, nicknames that are not UTF-8-encodable or longer than NICKNAME_BYTES_MAX bytes.
// Rules of meaning (a positive amount, an existing account) are the engine's: result codes.
import { ID_BYTES_MAX } from "../constants.ts";
import type { AccountCreate, AssetCreate, AssetUpdate, TransferCreate } from "../protocol/index.ts";
import { NICKNAME_BYTES_MAX } from "../protocol/index.ts";
import { ErrorCode, hasIdCharactersOnly, TxgridError } from "../stdx/index.ts";
import type { NewAccount, NewTransfer } from "./api-types.ts";

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const U32_MAX = 2 ** 32 - 1;
/** With the u flag, a surrogate pair is one code point: this matches lone surrogates only. */
const loneSurrogate = /\p{Surrogate}/u;

/** Where an input sits, for messages only: built when something is wrong, never otherwise. */
export interface Place {
  readonly label: string;
  /** Position in the caller's list, or -1 for a single item. */
  readonly index: number;
}

function bad(place: Place, field: string, what: string): TxgridError {
  const item = place.index < 0 ? place.label : `${place.label}[${place.index}]`;
  return new TxgridError(ErrorCode.BAD_REQUEST, `${item}${field} ${what}`);
}

export function checkId(value: unknown, place: Place, field = ""): string {
  if (typeof value !== "string" || value.length === 0 || value.length > ID_BYTES_MAX) {
    throw bad(place, field, `must be a string of 1 to ${ID_BYTES_MAX} characters`);
  }
  if (!hasIdCharactersOnly(value)) throw bad(place, field, "may hold only A-Z a-z 0-9 . _ : -");
  return value;
}

function checkI64(value: unknown, place: Place, field: string): bigint {
  if (typeof value !== "bigint" || value < I64_MIN || value > I64_MAX) {
    throw bad(place, field, "must be a bigint from -2^63 to 2^63 - 1");
  }
  return value;
}

function checkNickname(value: unknown, place: Place): string | null {
  if (value === null || value === undefined) return null;
  const field = ".nickname";
  if (typeof value !== "string") throw bad(place, field, "must be a string or null");
  if (loneSurrogate.test(value)) throw bad(place, field, "holds a lone surrogate");
  if (Buffer.byteLength(value, "utf8") > NICKNAME_BYTES_MAX) {
    throw bad(place, field, `exceeds NICKNAME_BYTES_MAX (${NICKNAME_BYTES_MAX}) UTF-8 bytes`);
  }
  return value;
}

function checkObject(value: unknown, place: Place): Record<string, unknown> {
  if (typeof value !== "object" || value === null) throw bad(place, "", "must be an object");
  return value as Record<string, unknown>;
}

/** The items of a list argument, each checked and normalized by `check`. */
export function checkList<T>(
  value: unknown,
  label: string,
  check: (item: never, place: Place) => T,
): T[] {
  if (!Array.isArray(value)) throw bad({ label, index: -1 }, "", "must be an array");
  const items: T[] = new Array(value.length);
  const place = { label, index: 0 };
  for (let index = 0; index < value.length; index++) {
    place.index = index;
    items[index] = check(value[index] as never, place);
  }
  return items;
}

export function accountCreate(input: NewAccount, place: Place): AccountCreate {
  const item = checkObject(input, place);
  const floor = item.floor;
  return {
    id: checkId(item.id, place, ".id"),
    balance: item.balance === undefined ? 0n : checkI64(item.balance, place, ".balance"),
    floor: floor === undefined ? 0n : floor === null ? null : checkI64(floor, place, ".floor"),
    nickname: checkNickname(item.nickname, place),
  };
}

export function transferCreate(input: NewTransfer, place: Place): TransferCreate {
  const item = checkObject(input, place);
  const pending = item.pending ?? false;
  if (typeof pending !== "boolean") throw bad(place, ".pending", "must be a boolean");
  const timeoutMs = item.timeoutMs ?? 0;
  if (typeof timeoutMs !== "number" || !(timeoutMs >= 0 && timeoutMs <= U32_MAX)) {
    throw bad(place, ".timeoutMs", `must be an integer from 0 to ${U32_MAX}`);
  }
  if (!Number.isInteger(timeoutMs)) throw bad(place, ".timeoutMs", "must be an integer");
  return {
    id: checkId(item.id, place, ".id"),
    debitId: checkId(item.debitId, place, ".debitId"),
    creditId: checkId(item.creditId, place, ".creditId"),
    amount: checkI64(item.amount, place, ".amount"),
    pending,
    timeoutMs,
  };
}

export function assetCreate(input: AssetCreate, place: Place): AssetCreate {
  const item = checkObject(input, place);
  return { id: checkId(item.id, place, ".id"), value: checkI64(item.value, place, ".value") };
}

export function assetUpdate(input: AssetUpdate, place: Place): AssetUpdate {
  const item = checkObject(input, place);
  return { id: checkId(item.id, place, ".id"), delta: checkI64(item.delta, place, ".delta") };
}
