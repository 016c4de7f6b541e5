// Test support, imported only by the protocol tests: fast-check arbitraries for every message
// kind, biased towards the limits (ids of ID_BYTES_MAX characters, nicknames of exactly
// NICKNAME_BYTES_MAX bytes, the extreme i64s and u32s, the largest request id), and helpers
// that build the largest valid batches and streams of frames. Every generated message is valid, so it must survive
// encodeFrame and decodeBody unchanged.
import fc from "fast-check";
import { ID_BYTES_MAX } from "../constants.ts";
import { ResultCode } from "../engine/index.ts";
import { ErrorCode } from "../stdx/index.ts";
import {
  BATCH_OPERATIONS_MAX,
  ERROR_MESSAGE_BYTES_MAX,
  MessageKind,
  NICKNAME_BYTES_MAX,
  type TransferRecordState,
  TransferStateTag,
} from "./layout.ts";
import type {
  AccountCreate,
  AccountRecord,
  AssetRecord,
  Message,
  OperationResult,
  TransferCreate,
  TransferRecord,
} from "./messages.ts";

/** The characters an id may hold. */
export const ID_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-";

const record = { noNullPrototype: true } as const;
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });

export const idArbitrary: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: fc.constantFrom(...ID_CHARACTERS), minLength: 1 }) },
  {
    weight: 1,
    arbitrary: fc.string({
      unit: fc.constantFrom(...ID_CHARACTERS),
      minLength: ID_BYTES_MAX,
      maxLength: ID_BYTES_MAX,
    }),
  },
);

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

export const i64Arbitrary: fc.Arbitrary<bigint> = fc.oneof(
  fc.bigInt({ min: I64_MIN, max: I64_MAX }),
  fc.constantFrom(I64_MIN, I64_MAX, 0n, -1n, 1n),
);

const u32Arbitrary = fc.oneof(fc.nat(), fc.constantFrom(0, 2 ** 32 - 1));
const u53Arbitrary = fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER));

/** True if `text` has no lone surrogate (it survives UTF-8) and fits in `bytesMax` bytes. */
function fitsUtf8(text: string, bytesMax: number): boolean {
  const bytes = utf8Encoder.encode(text);
  return bytes.length <= bytesMax && utf8Decoder.decode(bytes) === text;
}

/** Any text of at most `bytesMax` UTF-8 bytes, including exactly `bytesMax`. */
function textArbitrary(bytesMax: number): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: "binary", maxLength: 40 }).filter((text) => fitsUtf8(text, bytesMax)),
    fc.string({ unit: "grapheme", maxLength: 40 }).filter((text) => fitsUtf8(text, bytesMax)),
    fc.constantFrom("", "\uFEFFbom", "é".repeat(bytesMax / 2), "a".repeat(bytesMax)),
    fc.constant("😀".repeat(bytesMax / 4)),
  );
}

export const nicknameArbitrary = textArbitrary(NICKNAME_BYTES_MAX);
const resultCodeArbitrary = fc.constantFrom(...Object.values(ResultCode));
const stateArbitrary = fc.constantFrom(...(Object.keys(TransferStateTag) as TransferRecordState[]));

export const accountCreateArbitrary: fc.Arbitrary<AccountCreate> = fc.record(
  {
    id: idArbitrary,
    balance: i64Arbitrary,
    floor: fc.option(i64Arbitrary),
    nickname: fc.option(nicknameArbitrary),
  },
  record,
);

export const transferCreateArbitrary: fc.Arbitrary<TransferCreate> = fc.record(
  {
    id: idArbitrary,
    debitId: idArbitrary,
    creditId: idArbitrary,
    amount: i64Arbitrary,
    pending: fc.boolean(),
    timeoutMs: u32Arbitrary,
  },
  record,
);

const operationResultArbitrary: fc.Arbitrary<OperationResult> = fc.record(
  { code: resultCodeArbitrary, duplicate: fc.boolean(), value: fc.option(i64Arbitrary) },
  record,
);

const accountRecordArbitrary: fc.Arbitrary<AccountRecord> = fc.record(
  {
    id: idArbitrary,
    nickname: fc.option(nicknameArbitrary),
    balance: i64Arbitrary,
    reserved: i64Arbitrary,
    available: i64Arbitrary,
    floor: fc.option(i64Arbitrary),
    initial: i64Arbitrary,
    createdAtMs: u53Arbitrary,
  },
  record,
);

const transferRecordArbitrary: fc.Arbitrary<TransferRecord> = fc.record(
  {
    id: idArbitrary,
    debitId: idArbitrary,
    creditId: idArbitrary,
    amount: i64Arbitrary,
    pending: fc.boolean(),
    state: stateArbitrary,
    code: resultCodeArbitrary,
    timeoutMs: u32Arbitrary,
    createdAtMs: u53Arbitrary,
    resolvedAtMs: fc.option(u53Arbitrary),
    sequence: fc.option(u53Arbitrary),
  },
  record,
);

const assetRecordArbitrary: fc.Arbitrary<AssetRecord> = fc.record(
  { id: idArbitrary, value: i64Arbitrary, updates: u53Arbitrary },
  record,
);

function batch<T>(item: fc.Arbitrary<T>): fc.Arbitrary<T[]> {
  return fc.array(item, { maxLength: 12 });
}

/** A message of `kind` with the given field arbitraries (the round trip checks the shape). */
function message(
  kind: MessageKind,
  body: Readonly<Record<string, fc.Arbitrary<unknown>>>,
): fc.Arbitrary<Message> {
  return fc.record({ kind: fc.constant(kind), ...body }, record) as fc.Arbitrary<Message>;
}

/** One arbitrary per message kind, so that a test can cover every kind on purpose. */
export const messageArbitraries: Readonly<Record<MessageKind, fc.Arbitrary<Message>>> = {
  [MessageKind.PING]: message(MessageKind.PING, {}),
  [MessageKind.CREATE_ACCOUNTS]: message(MessageKind.CREATE_ACCOUNTS, {
    accounts: batch(accountCreateArbitrary),
  }),
  [MessageKind.CREATE_TRANSFERS]: message(MessageKind.CREATE_TRANSFERS, {
    transfers: batch(transferCreateArbitrary),
  }),
  [MessageKind.POST_TRANSFERS]: message(MessageKind.POST_TRANSFERS, { ids: batch(idArbitrary) }),
  [MessageKind.VOID_TRANSFERS]: message(MessageKind.VOID_TRANSFERS, { ids: batch(idArbitrary) }),
  [MessageKind.LOOKUP_ACCOUNTS]: message(MessageKind.LOOKUP_ACCOUNTS, { ids: batch(idArbitrary) }),
  [MessageKind.LOOKUP_TRANSFERS]: message(MessageKind.LOOKUP_TRANSFERS, {
    ids: batch(idArbitrary),
  }),
  [MessageKind.CREATE_ASSETS]: message(MessageKind.CREATE_ASSETS, {
    assets: batch(fc.record({ id: idArbitrary, value: i64Arbitrary }, record)),
  }),
  [MessageKind.UPDATE_ASSETS]: message(MessageKind.UPDATE_ASSETS, {
    updates: batch(fc.record({ id: idArbitrary, delta: i64Arbitrary }, record)),
  }),
  [MessageKind.LOOKUP_ASSETS]: message(MessageKind.LOOKUP_ASSETS, { ids: batch(idArbitrary) }),
  [MessageKind.PONG]: message(MessageKind.PONG, {}),
  [MessageKind.RESULTS]: message(MessageKind.RESULTS, { results: batch(operationResultArbitrary) }),
  [MessageKind.ACCOUNTS]: message(MessageKind.ACCOUNTS, {
    accounts: batch(fc.option(accountRecordArbitrary)),
  }),
  [MessageKind.TRANSFERS]: message(MessageKind.TRANSFERS, {
    transfers: batch(fc.option(transferRecordArbitrary)),
  }),
  [MessageKind.ASSETS]: message(MessageKind.ASSETS, {
    assets: batch(fc.option(assetRecordArbitrary)),
  }),
  [MessageKind.ERROR]: message(MessageKind.ERROR, {
    code: fc.oneof(
      fc.constantFrom(...Object.values(ErrorCode)),
      fc
        .string({ unit: fc.constantFrom(..."ABCXYZ0189_"), minLength: 1, maxLength: 56 })
        .map((suffix) => `TXG_ERR_${suffix}`),
    ),
    message: textArbitrary(ERROR_MESSAGE_BYTES_MAX),
  }),
};

export const messageArbitrary: fc.Arbitrary<Message> = fc.oneof(
  ...Object.values(messageArbitraries),
);

/** A request id of a frame carrying `message`; 0 only for an ERROR answering no request. */
export function requestIdArbitrary(kind: MessageKind): fc.Arbitrary<number> {
  const least = kind === MessageKind.ERROR ? 0 : 1;
  return fc.oneof(
    fc.integer({ min: least, max: Number.MAX_SAFE_INTEGER }),
    fc.constantFrom(least, 1, 2 ** 32, Number.MAX_SAFE_INTEGER),
  );
}

export const framedMessageArbitrary: fc.Arbitrary<{ requestId: number; message: Message }> =
  messageArbitrary.chain((message) =>
    requestIdArbitrary(message.kind).map((requestId) => ({ requestId, message })),
  );

/** The bytes of `parts`, one after the other (a stream of frames). */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

/** An id of exactly ID_BYTES_MAX characters, distinct for each `index`. */
export function longId(index: number): string {
  return `${index}:`.padEnd(ID_BYTES_MAX, "x");
}

/** The largest message of every list kind: BATCH_OPERATIONS_MAX items of the largest size. */
export function largestMessages(): Message[] {
  const count = BATCH_OPERATIONS_MAX;
  const ids = Array.from({ length: count }, (_, index) => longId(index));
  const nickname = "😀".repeat(NICKNAME_BYTES_MAX / 4);
  return [
    {
      kind: MessageKind.CREATE_ACCOUNTS,
      accounts: ids.map((id) => ({ id, balance: I64_MAX, floor: I64_MIN, nickname })),
    },
    {
      kind: MessageKind.CREATE_TRANSFERS,
      transfers: ids.map((id, index) => ({
        id,
        debitId: longId(index + 1),
        creditId: longId(index + 2),
        amount: I64_MIN,
        pending: true,
        timeoutMs: 2 ** 32 - 1,
      })),
    },
    { kind: MessageKind.POST_TRANSFERS, ids },
    { kind: MessageKind.LOOKUP_ASSETS, ids },
    { kind: MessageKind.UPDATE_ASSETS, updates: ids.map((id) => ({ id, delta: I64_MAX })) },
    {
      kind: MessageKind.RESULTS,
      results: ids.map((_, index) => ({
        code: ResultCode.INSUFFICIENT_FUNDS,
        duplicate: index % 2 === 0,
        value: index % 3 === 0 ? null : I64_MIN,
      })),
    },
    {
      kind: MessageKind.ACCOUNTS,
      accounts: ids.map((id) => ({
        id,
        nickname,
        balance: I64_MAX,
        reserved: I64_MIN,
        available: I64_MAX,
        floor: I64_MIN,
        initial: I64_MAX,
        createdAtMs: Number.MAX_SAFE_INTEGER,
      })),
    },
    {
      kind: MessageKind.TRANSFERS,
      transfers: ids.map((id) => ({
        id,
        debitId: id,
        creditId: id,
        amount: I64_MAX,
        pending: true,
        state: "failed" as const,
        code: ResultCode.INSUFFICIENT_FUNDS,
        timeoutMs: 2 ** 32 - 1,
        createdAtMs: Number.MAX_SAFE_INTEGER,
        resolvedAtMs: Number.MAX_SAFE_INTEGER,
        sequence: Number.MAX_SAFE_INTEGER,
      })),
    },
  ];
}
