// The wire layout of txgrid's binary TCP protocol: version, magic, limits, message kinds, and
// LAYOUTS, a table that describes the frame header and every message body field by field.
//
// LAYOUTS is the single description of the format. The hand-written codec (codec.ts) takes the
// header offsets, flag bits, state tags and record size bounds from it; version.test.ts hashes
// its canonical description (describeLayouts) against a literal per PROTOCOL_VERSION, and
// checks that the hand-written codec writes exactly the bytes a table-driven reference codec
// derives from LAYOUTS. So a layout change cannot go unnoticed: it fails either the
// conformance check (codec changed, table not) or the hash (table changed, version not).
//
// Frame header, 32 bytes, little-endian (docs/protocol.md has the full tables):
//
//   offset  size  field       meaning
//   0       4     magic       "TXGR" (0x52475854 read as u32 LE)
//   4       4     checksum    CRC-32 of frame bytes [8, 32 + bodyBytes): header tail + body
//   8       2     version     PROTOCOL_VERSION
//   10      2     kind        MessageKind
//   12      4     bodyBytes   body length, at most BODY_BYTES_MAX
//   16      8     requestId   u64, below 2^53; 0 only in an ERROR frame that answers no request
//   24      8     reserved    zero
//
// Magic, checksum and version keep their offsets in every version, so a peer can always tell
// a version mismatch from garbage. The checksum sits right after the magic so that it covers
// every other byte of the frame: a bit flip anywhere is caught (in the magic, by the magic).
//
// History of PROTOCOL_VERSION:
//   1  first layout: 32-byte header; PING, CREATE_ACCOUNTS, CREATE_TRANSFERS, POST_TRANSFERS,
//      VOID_TRANSFERS, LOOKUP_ACCOUNTS, LOOKUP_TRANSFERS, CREATE_ASSETS, UPDATE_ASSETS,
//      LOOKUP_ASSETS; PONG, RESULTS, ACCOUNTS, TRANSFERS, ASSETS, ERROR.
import {
  BATCH_COMMANDS_MAX,
  BATCH_OPERATIONS_MAX,
  ERROR_MESSAGE_BYTES_MAX,
  FRAME_BYTES_MAX,
  ID_BYTES_MAX,
  INFLIGHT_BYTES_PER_CONNECTION_MAX,
  INFLIGHT_REQUESTS_PER_CONNECTION_MAX,
  NICKNAME_LENGTH_MAX,
  PENDING_TIMEOUT_MS_MAX,
  QUEUE_COMMANDS_MAX,
  REQUEST_TRANSFERS_MAX,
} from "../constants.ts";
import {
  ResultCode,
  TRANSFER_RECORD_FIXED_BYTES,
  TransferListFlag,
  type TransferState,
} from "../engine/index.ts";
import { assert, ErrorCode } from "../stdx/index.ts";

export const PROTOCOL_VERSION = 1;

/** The first four bytes of every frame: "TXGR" in ASCII. */
export const MAGIC = 0x52475854;

// Limits: defined in src/constants.ts with every other limit, re-exported here beside the
// layout they bound (they are part of the layout description that version.test.ts hashes).
export {
  BATCH_OPERATIONS_MAX,
  ERROR_MESSAGE_BYTES_MAX,
  FRAME_BYTES_MAX,
  INFLIGHT_BYTES_PER_CONNECTION_MAX,
  INFLIGHT_REQUESTS_PER_CONNECTION_MAX,
};

/**
 * Longest nickname, in UTF-8 bytes: the UTF-8 size of the longest nickname the engine accepts
 * (NICKNAME_LENGTH_MAX UTF-16 units, each at most 3 bytes), so that every stored account can
 * be sent back. The engine, not the wire, enforces the limit in units.
 */
export const NICKNAME_BYTES_MAX = 3 * NICKNAME_LENGTH_MAX;

export const MessageKind = {
  PING: 1,
  CREATE_ACCOUNTS: 2,
  CREATE_TRANSFERS: 3,
  POST_TRANSFERS: 4,
  VOID_TRANSFERS: 5,
  LOOKUP_ACCOUNTS: 6,
  LOOKUP_TRANSFERS: 7,
  CREATE_ASSETS: 8,
  UPDATE_ASSETS: 9,
  LOOKUP_ASSETS: 10,
  PONG: 128,
  RESULTS: 129,
  ACCOUNTS: 130,
  TRANSFERS: 131,
  ASSETS: 132,
  ERROR: 133,
} as const;

export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

const requestKinds = [
  MessageKind.PING,
  MessageKind.CREATE_ACCOUNTS,
  MessageKind.CREATE_TRANSFERS,
  MessageKind.POST_TRANSFERS,
  MessageKind.VOID_TRANSFERS,
  MessageKind.LOOKUP_ACCOUNTS,
  MessageKind.LOOKUP_TRANSFERS,
  MessageKind.CREATE_ASSETS,
  MessageKind.UPDATE_ASSETS,
  MessageKind.LOOKUP_ASSETS,
] as const;

export type RequestKind = (typeof requestKinds)[number];
export type ReplyKind = Exclude<MessageKind, RequestKind>;

/** The reply kind that answers each request kind (besides ERROR, which may answer any). */
export const REPLY_KINDS = {
  [MessageKind.PING]: MessageKind.PONG,
  [MessageKind.CREATE_ACCOUNTS]: MessageKind.RESULTS,
  [MessageKind.CREATE_TRANSFERS]: MessageKind.RESULTS,
  [MessageKind.POST_TRANSFERS]: MessageKind.RESULTS,
  [MessageKind.VOID_TRANSFERS]: MessageKind.RESULTS,
  [MessageKind.LOOKUP_ACCOUNTS]: MessageKind.ACCOUNTS,
  [MessageKind.LOOKUP_TRANSFERS]: MessageKind.TRANSFERS,
  [MessageKind.CREATE_ASSETS]: MessageKind.RESULTS,
  [MessageKind.UPDATE_ASSETS]: MessageKind.RESULTS,
  [MessageKind.LOOKUP_ASSETS]: MessageKind.ASSETS,
} as const satisfies Record<RequestKind, ReplyKind>;

const messageKinds = new Set<number>(Object.values(MessageKind));
const requestKindSet = new Set<number>(requestKinds);

export function isMessageKind(value: number): value is MessageKind {
  return messageKinds.has(value);
}

export function isRequestKind(kind: MessageKind): kind is RequestKind {
  return requestKindSet.has(kind);
}

// Flag bytes. A clear "found" bit means the record is absent and nothing follows its flags;
// a clear presence bit (floor, nickname, value, resolvedAtMs, sequence) means the field is
// null and its bytes are zero. Every other bit is reserved and must be zero.
export const AccountCreateFlag = { floor: 1, nickname: 2 } as const;
export const TransferCreateFlag = { pending: 1 } as const;
export const OperationResultFlag = { duplicate: 1, value: 2 } as const;
export const AccountRecordFlag = { found: 1, floor: 2, nickname: 4 } as const;
export const TransferRecordFlag = { found: 1, pending: 2, resolvedAtMs: 4, sequence: 8 } as const;
export const AssetRecordFlag = { found: 1 } as const;

/** A transfer's state on the wire; "failed" is a transfer id pinned to its first failure. */
export type TransferRecordState = TransferState | "failed";

export const TransferStateTag = {
  pending: 1,
  posted: 2,
  voided: 3,
  expired: 4,
  failed: 5,
} as const satisfies Record<TransferRecordState, number>;

/**
 * One field of a header, record or body:
 * - u8, u16, u32: unsigned integers (numbers); u53: a u64 below 2^53 (a number);
 *   i64: a signed 64-bit integer (a bigint). A "?" suffix: nullable, presence in the flags.
 * - id: u8 length + 1..ID_BYTES_MAX ASCII bytes of [A-Za-z0-9._:-].
 * - text: u16 length + at most `bytesMax` bytes of UTF-8.
 * - flags: a u8 bit set, bits named in `bits`; pad: `bytes` zero bytes.
 * - result: a u16 ResultCode (a known one); state: a u8 TransferStateTag; errorCode: u8
 *   length + ASCII matching ERROR_CODE_PATTERN (any such code, known to this build or not).
 * - list: u32 count (at most BATCH_OPERATIONS_MAX) + 4 zero bytes + `count` items of `of`
 *   (a RECORDS name, or "id").
 */
export type Field =
  | {
      readonly name: string;
      readonly type:
        | "u8"
        | "u16"
        | "u32"
        | "u53"
        | "u53?"
        | "i64"
        | "i64?"
        | "id"
        | "result"
        | "state"
        | "errorCode";
    }
  | { readonly name: string; readonly type: "text" | "text?"; readonly bytesMax: number }
  | {
      readonly name: string;
      readonly type: "flags";
      readonly bits: Readonly<Record<string, number>>;
    }
  | { readonly name: string; readonly type: "pad"; readonly bytes: number }
  | { readonly name: string; readonly type: "list"; readonly of: string };

export type RecordName = keyof typeof RECORDS;

export const HEADER_FIELDS = [
  { name: "magic", type: "u32" },
  { name: "checksum", type: "u32" },
  { name: "version", type: "u16" },
  { name: "kind", type: "u16" },
  { name: "bodyBytes", type: "u32" },
  { name: "requestId", type: "u53" },
  { name: "reserved", type: "pad", bytes: 8 },
] as const satisfies readonly Field[];

export const RECORDS = {
  accountCreate: [
    { name: "flags", type: "flags", bits: AccountCreateFlag },
    { name: "id", type: "id" },
    { name: "balance", type: "i64" },
    { name: "floor", type: "i64?" },
    { name: "nickname", type: "text?", bytesMax: NICKNAME_BYTES_MAX },
  ],
  transferCreate: [
    { name: "flags", type: "flags", bits: TransferCreateFlag },
    { name: "id", type: "id" },
    { name: "debitId", type: "id" },
    { name: "creditId", type: "id" },
    { name: "amount", type: "i64" },
    { name: "timeoutMs", type: "u32" },
  ],
  assetCreate: [
    { name: "id", type: "id" },
    { name: "value", type: "i64" },
  ],
  assetUpdate: [
    { name: "id", type: "id" },
    { name: "delta", type: "i64" },
  ],
  operationResult: [
    { name: "code", type: "result" },
    { name: "flags", type: "flags", bits: OperationResultFlag },
    { name: "padding", type: "pad", bytes: 5 },
    { name: "value", type: "i64?" },
  ],
  accountRecord: [
    { name: "flags", type: "flags", bits: AccountRecordFlag },
    { name: "id", type: "id" },
    { name: "balance", type: "i64" },
    { name: "reserved", type: "i64" },
    { name: "available", type: "i64" },
    { name: "floor", type: "i64?" },
    { name: "initial", type: "i64" },
    { name: "createdAtMs", type: "u53" },
    { name: "nickname", type: "text?", bytesMax: NICKNAME_BYTES_MAX },
  ],
  transferRecord: [
    { name: "flags", type: "flags", bits: TransferRecordFlag },
    { name: "id", type: "id" },
    { name: "debitId", type: "id" },
    { name: "creditId", type: "id" },
    { name: "amount", type: "i64" },
    { name: "state", type: "state" },
    { name: "code", type: "result" },
    { name: "timeoutMs", type: "u32" },
    { name: "createdAtMs", type: "u53" },
    { name: "resolvedAtMs", type: "u53?" },
    { name: "sequence", type: "u53?" },
  ],
  assetRecord: [
    { name: "flags", type: "flags", bits: AssetRecordFlag },
    { name: "id", type: "id" },
    { name: "value", type: "i64" },
    { name: "updates", type: "u53" },
  ],
} as const satisfies Record<string, readonly Field[]>;

/** The body of every message kind, as a list of fields. */
export const BODIES = {
  [MessageKind.PING]: [],
  [MessageKind.CREATE_ACCOUNTS]: [{ name: "accounts", type: "list", of: "accountCreate" }],
  [MessageKind.CREATE_TRANSFERS]: [{ name: "transfers", type: "list", of: "transferCreate" }],
  [MessageKind.POST_TRANSFERS]: [{ name: "ids", type: "list", of: "id" }],
  [MessageKind.VOID_TRANSFERS]: [{ name: "ids", type: "list", of: "id" }],
  [MessageKind.LOOKUP_ACCOUNTS]: [{ name: "ids", type: "list", of: "id" }],
  [MessageKind.LOOKUP_TRANSFERS]: [{ name: "ids", type: "list", of: "id" }],
  [MessageKind.CREATE_ASSETS]: [{ name: "assets", type: "list", of: "assetCreate" }],
  [MessageKind.UPDATE_ASSETS]: [{ name: "updates", type: "list", of: "assetUpdate" }],
  [MessageKind.LOOKUP_ASSETS]: [{ name: "ids", type: "list", of: "id" }],
  [MessageKind.PONG]: [],
  [MessageKind.RESULTS]: [{ name: "results", type: "list", of: "operationResult" }],
  [MessageKind.ACCOUNTS]: [{ name: "accounts", type: "list", of: "accountRecord" }],
  [MessageKind.TRANSFERS]: [{ name: "transfers", type: "list", of: "transferRecord" }],
  [MessageKind.ASSETS]: [{ name: "assets", type: "list", of: "assetRecord" }],
  [MessageKind.ERROR]: [
    { name: "code", type: "errorCode" },
    { name: "message", type: "text", bytesMax: ERROR_MESSAGE_BYTES_MAX },
  ],
} as const satisfies Record<MessageKind, readonly Field[]>;

export const LAYOUTS = { header: HEADER_FIELDS, records: RECORDS, bodies: BODIES } as const;

/** Bytes of a list's count (u32) and padding (u32) before its items. */
export const LIST_HEADER_BYTES = 8;
/** Longest error code in an ERROR frame. */
export const ERROR_CODE_BYTES_MAX = 64;
/**
 * The shape of an error code in an ERROR frame. Error codes are checked by shape, not against
 * this build's ErrorCode table, so that a server may add a code without a protocol version:
 * a client treats a code it does not know as a generic failure. Result codes are different:
 * they are numbers that mean nothing without the table, so the table is part of the layout.
 */
export const ERROR_CODE_PATTERN = /^TXG_ERR_[A-Z0-9_]+$/;

const fixedBytes = { u8: 1, u16: 2, u32: 4, u53: 8, "u53?": 8, i64: 8, "i64?": 8 } as const;

/** The smallest and largest encoding of one field; a list counts only its header here. */
function fieldBytes(field: Field): { readonly min: number; readonly max: number } {
  switch (field.type) {
    case "u8":
    case "u16":
    case "u32":
    case "u53":
    case "u53?":
    case "i64":
    case "i64?":
      return { min: fixedBytes[field.type], max: fixedBytes[field.type] };
    case "flags":
    case "state":
      return { min: 1, max: 1 };
    case "result":
      return { min: 2, max: 2 };
    case "pad":
      return { min: field.bytes, max: field.bytes };
    case "id":
      return { min: 1 + 1, max: 1 + ID_BYTES_MAX };
    case "text":
    case "text?":
      return { min: 2, max: 2 + field.bytesMax };
    case "errorCode":
      return { min: 1 + 1, max: 1 + ERROR_CODE_BYTES_MAX };
    case "list":
      return { min: LIST_HEADER_BYTES, max: LIST_HEADER_BYTES };
  }
}

function hasFoundBit(fields: readonly Field[]): boolean {
  const first = fields[0];
  return first !== undefined && first.type === "flags" && "found" in first.bits;
}

function recordBounds(fields: readonly Field[]): { readonly min: number; readonly max: number } {
  let min = 0;
  let max = 0;
  for (const field of fields) {
    assert(field.type !== "list", "records do not nest lists");
    min += fieldBytes(field).min;
    max += fieldBytes(field).max;
  }
  // An absent record is its flags byte alone.
  return { min: hasFoundBit(fields) ? 1 : min, max };
}

/** Bytes of a present record apart from the characters of its ids and texts. */
function recordFixedBytes(fields: readonly Field[]): number {
  let bytes = 0;
  for (const field of fields) {
    if (field.type === "id" || field.type === "errorCode") bytes += 1;
    else if (field.type === "text" || field.type === "text?") bytes += 2;
    else bytes += fieldBytes(field).max;
  }
  return bytes;
}

/** Smallest and largest encoding of one list item, by record name (and "id"). */
export const ITEM_BYTES_MIN = {} as Record<RecordName | "id", number>;
export const ITEM_BYTES_MAX = {} as Record<RecordName | "id", number>;
/** Bytes of a present record besides its id and text characters (the encoder's sizing). */
export const ITEM_FIXED_BYTES = {} as Record<RecordName | "id", number>;
ITEM_BYTES_MIN.id = fieldBytes({ name: "id", type: "id" }).min;
ITEM_BYTES_MAX.id = fieldBytes({ name: "id", type: "id" }).max;
ITEM_FIXED_BYTES.id = 1;
for (const [name, fields] of Object.entries(RECORDS) as [RecordName, readonly Field[]][]) {
  ITEM_BYTES_MIN[name] = recordBounds(fields).min;
  ITEM_BYTES_MAX[name] = recordBounds(fields).max;
  ITEM_FIXED_BYTES[name] = recordFixedBytes(fields);
}

/** Offsets of the header fields, derived from HEADER_FIELDS. */
export const HeaderOffset = {} as Record<(typeof HEADER_FIELDS)[number]["name"], number>;
let headerBytes = 0;
for (const field of HEADER_FIELDS) {
  const bytes = fieldBytes(field);
  assert(bytes.min === bytes.max, "header fields have a fixed size");
  HeaderOffset[field.name] = headerBytes;
  headerBytes += bytes.max;
}

export const HEADER_BYTES = headerBytes;
/** Largest body: what is left of FRAME_BYTES_MAX after the header. */
export const BODY_BYTES_MAX = FRAME_BYTES_MAX - HEADER_BYTES;
/** The checksum covers the frame from here to its end. */
export const CHECKSUM_START = HeaderOffset.checksum + 4;

/** The canonical description of the protocol that version.test.ts hashes. */
export function describeLayouts(): string {
  return JSON.stringify({
    magic: MAGIC,
    headerBytes: HEADER_BYTES,
    headerOffsets: HeaderOffset,
    checksum: { algorithm: "crc32", start: CHECKSUM_START, end: "frame end" },
    kinds: MessageKind,
    replyKinds: REPLY_KINDS,
    layouts: LAYOUTS,
    listHeaderBytes: LIST_HEADER_BYTES,
    transferStates: TransferStateTag,
    resultCodes: ResultCode,
    errorCodePattern: ERROR_CODE_PATTERN.source,
    limits: {
      frameBytesMax: FRAME_BYTES_MAX,
      batchOperationsMax: BATCH_OPERATIONS_MAX,
      inflightRequestsPerConnectionMax: INFLIGHT_REQUESTS_PER_CONNECTION_MAX,
      inflightBytesPerConnectionMax: INFLIGHT_BYTES_PER_CONNECTION_MAX,
      idBytesMax: ID_BYTES_MAX,
      nicknameBytesMax: NICKNAME_BYTES_MAX,
      errorMessageBytesMax: ERROR_MESSAGE_BYTES_MAX,
      errorCodeBytesMax: ERROR_CODE_BYTES_MAX,
    },
  });
}

// Relationships between the limits and the layout, checked when the module loads.
assert(HEADER_BYTES === 32, "the header is 32 bytes");
assert(HEADER_BYTES % 8 === 0, "the header keeps 8-byte alignment");
assert(HeaderOffset.magic === 0, "the magic opens the frame");
assert(HeaderOffset.checksum === 4, "the checksum follows the magic and covers the rest");
assert(HeaderOffset.version === 8, "the version keeps its offset in every version");
assert(HeaderOffset.requestId % 8 === 0, "the request id is 8-byte aligned");
assert(ITEM_BYTES_MAX.operationResult === 16, "a result entry is 16 fixed bytes");
assert(ITEM_BYTES_MIN.operationResult === 16, "a result entry is 16 fixed bytes");
assert(BATCH_OPERATIONS_MAX === REQUEST_TRANSFERS_MAX, "TCP and /v1 batches have one limit");
assert(BATCH_OPERATIONS_MAX <= BATCH_COMMANDS_MAX, "a full request fits in one logged batch");
assert(BATCH_OPERATIONS_MAX <= QUEUE_COMMANDS_MAX, "a full request fits in the shard queue");
assert(BATCH_OPERATIONS_MAX <= 2 ** 32 - 1, "a list count fits its u32");
assert(PENDING_TIMEOUT_MS_MAX <= 2 ** 32 - 1, "every valid timeout fits the u32 timeoutMs");
assert(ID_BYTES_MAX <= 255, "an id length fits its u8");
// A CREATE_TRANSFERS body's records are logged and applied as they are (engine transfer.list).
assert(TransferCreateFlag.pending === TransferListFlag.pending, "one pending flag bit");
assert(
  ITEM_FIXED_BYTES.transferCreate === TRANSFER_RECORD_FIXED_BYTES,
  "a transferCreate record is an engine transfer record",
);
assert(NICKNAME_BYTES_MAX <= 2 ** 16 - 1, "a nickname length fits its u16");
assert(ERROR_MESSAGE_BYTES_MAX <= 2 ** 16 - 1, "an error message length fits its u16");
assert(FRAME_BYTES_MAX <= 2 ** 32 - 1, "a body length fits its u32");
assert(INFLIGHT_REQUESTS_PER_CONNECTION_MAX > 0, "a connection can have a request in flight");
assert(INFLIGHT_BYTES_PER_CONNECTION_MAX >= FRAME_BYTES_MAX, "the largest frame can be in flight");
for (const code of Object.values(ErrorCode)) {
  assert(code.length <= ERROR_CODE_BYTES_MAX, `error code ${code} fits an ERROR frame`);
  assert(ERROR_CODE_PATTERN.test(code), `error code ${code} has the shape of an ERROR code`);
}
for (const [kind, fields] of Object.entries(BODIES)) {
  for (const field of fields as readonly Field[]) {
    if (field.type !== "list") continue;
    assert(field.of in ITEM_BYTES_MAX, `list ${field.name} names a known record`);
    const itemBytesMax = ITEM_BYTES_MAX[field.of as RecordName | "id"];
    const bodyBytesMax = LIST_HEADER_BYTES + BATCH_OPERATIONS_MAX * itemBytesMax;
    assert(bodyBytesMax <= BODY_BYTES_MAX, `a full batch of kind ${kind} fits in a frame`);
  }
}
for (const [, code] of Object.entries(ResultCode)) {
  assert(code >= 0 && code <= 2 ** 16 - 1, "a result code fits its u16");
}
