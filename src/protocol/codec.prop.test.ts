// Goal: every message survives encodeFrame + decodeFrame + decodeBody unchanged (and
// re-encodes to the same bytes), the encoder refuses what the decoder would refuse, and
// hostile bytes only ever produce a TxgridError with an expected code. Method: fast-check
// properties over random valid messages of every kind (biased to the limits), the largest
// batches built once, and the negative space: random bytes, every truncation, every single
// bit flip, tampered headers, and body mutations with a recomputed checksum.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ID_BYTES_MAX, NICKNAME_LENGTH_MAX } from "../constants.ts";
import { isValidId, ResultCode } from "../engine/index.ts";
import { checksum, ErrorCode, isTxgridError } from "../stdx/index.ts";
import {
  decodeBody,
  decodeFrame,
  decodeHeader,
  decodeReply,
  decodeRequest,
  encodeFrame,
  operationCount,
} from "./codec.ts";
import {
  BATCH_OPERATIONS_MAX,
  BODY_BYTES_MAX,
  CHECKSUM_START,
  ERROR_MESSAGE_BYTES_MAX,
  FRAME_BYTES_MAX,
  HEADER_BYTES,
  HeaderOffset,
  isRequestKind,
  MessageKind,
  NICKNAME_BYTES_MAX,
  PROTOCOL_VERSION,
  REPLY_KINDS,
} from "./layout.ts";
import {
  framedMessageArbitrary,
  ID_CHARACTERS,
  largestMessages,
  longId,
  messageArbitraries,
  requestIdArbitrary,
} from "./message-arbitraries.ts";
import type { Message } from "./messages.ts";

const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);
const { BAD_REQUEST, CORRUPT, DECODE, LIMIT_EXCEEDED, VERSION } = ErrorCode;
const FRAME_FAILURES: readonly ErrorCode[] = [DECODE, VERSION, LIMIT_EXCEEDED, CORRUPT];
const BODY_FAILURES: readonly ErrorCode[] = [DECODE, LIMIT_EXCEEDED];

/** Runs `action`; if it throws, the error must be a TxgridError with one of `codes`. */
function failsOnlyWith(action: () => void, codes: readonly ErrorCode[]): boolean {
  try {
    action();
    return false;
  } catch (error) {
    if (!(isTxgridError(error) && codes.includes(error.code))) {
      assert.fail(`unexpected failure ${String(error)} (${(error as { code?: string }).code})`);
    }
    return true;
  }
}

function throwsCode(action: () => unknown, code: ErrorCode): void {
  assert.throws(action, (error) => isTxgridError(error, code));
}

/** Decodes a whole frame, asserting it holds `kind` and `requestId`. */
function roundTrip(requestId: number, message: Message): Uint8Array {
  const bytes = encodeFrame(requestId, message);
  assert.ok(bytes.length <= FRAME_BYTES_MAX);
  const frame = decodeFrame(bytes);
  assert.equal(frame.kind, message.kind);
  assert.equal(frame.requestId, requestId);
  const decoded = decodeBody(frame.kind, frame.body);
  assert.deepEqual(decoded, message);
  assert.equal(operationCount(decoded), operationCount(message));
  assert.deepEqual(encodeFrame(requestId, decoded), bytes, "the encoding is canonical");
  return bytes;
}

/** A copy of `bytes` changed by `edit`, with its checksum made valid again. */
function edited(bytes: Uint8Array, edit: (view: DataView, copy: Uint8Array) => void): Uint8Array {
  const copy = bytes.slice();
  const view = new DataView(copy.buffer);
  edit(view, copy);
  view.setUint32(HeaderOffset.checksum, checksum(copy, CHECKSUM_START), true);
  return copy;
}

const sampleFrames = fc
  .sample(framedMessageArbitrary, { seed, numRuns: 40 })
  .map(({ requestId, message }) => encodeFrame(requestId, message));

test("every message kind round-trips with random valid contents", () => {
  for (const [kind, arbitrary] of Object.entries(messageArbitraries)) {
    const framed = arbitrary.chain((message) =>
      requestIdArbitrary(message.kind).map((requestId) => ({ requestId, message })),
    );
    fc.assert(
      fc.property(framed, ({ requestId, message }) => {
        assert.equal(message.kind, Number(kind));
        roundTrip(requestId, message);
      }),
      { seed, numRuns: 150 },
    );
  }
});

test("the largest batch of every list kind round-trips and fits in a frame", () => {
  for (const message of largestMessages()) {
    assert.equal(operationCount(message), BATCH_OPERATIONS_MAX);
    roundTrip(Number.MAX_SAFE_INTEGER, message);
  }
});

test("one operation above BATCH_OPERATIONS_MAX is refused by the encoder and the decoder", () => {
  const ids = Array.from({ length: BATCH_OPERATIONS_MAX + 1 }, (_, index) => `id-${index}`);
  throwsCode(() => encodeFrame(1, { kind: MessageKind.LOOKUP_ACCOUNTS, ids }), LIMIT_EXCEEDED);
  const body = encodeFrame(1, { kind: MessageKind.LOOKUP_ACCOUNTS, ids: ids.slice(1) }).slice(
    HEADER_BYTES,
  );
  new DataView(body.buffer).setUint32(0, BATCH_OPERATIONS_MAX + 1, true);
  throwsCode(() => decodeBody(MessageKind.LOOKUP_ACCOUNTS, body), LIMIT_EXCEEDED);
  // A count within the limit but beyond the bytes present fails before anything is built.
  new DataView(body.buffer).setUint32(0, BATCH_OPERATIONS_MAX, true);
  throwsCode(() => decodeBody(MessageKind.LOOKUP_ACCOUNTS, body.subarray(0, 100)), DECODE);
});

test("the encoder refuses malformed fields", () => {
  const transfer = {
    id: "t1",
    debitId: "a",
    creditId: "b",
    amount: 1n,
    pending: false,
    timeoutMs: 0,
  };
  const transfers = (patch: object): Message => ({
    kind: MessageKind.CREATE_TRANSFERS,
    transfers: [{ ...transfer, ...patch }],
  });
  for (const id of ["", "x".repeat(ID_BYTES_MAX + 1), "a b", "é", "a/b", "\u0000"]) {
    throwsCode(() => encodeFrame(1, transfers({ id })), BAD_REQUEST);
  }
  for (const amount of [2n ** 63n, -(2n ** 63n) - 1n]) {
    throwsCode(() => encodeFrame(1, transfers({ amount })), BAD_REQUEST);
  }
  for (const timeoutMs of [-1, 2 ** 32, 1.5, Number.NaN]) {
    throwsCode(() => encodeFrame(1, transfers({ timeoutMs })), BAD_REQUEST);
  }
  const result = { code: 9999 as ResultCode, duplicate: false, value: null };
  throwsCode(() => encodeFrame(1, { kind: MessageKind.RESULTS, results: [result] }), BAD_REQUEST);
  const account = { id: "a", balance: 0n, floor: null, nickname: "\uD800x" };
  throwsCode(
    () => encodeFrame(1, { kind: MessageKind.CREATE_ACCOUNTS, accounts: [account] }),
    BAD_REQUEST,
  );
  for (const code of ["", "TXG_ERR_", "txg_err_x", "TXG_ERR_a", `TXG_ERR_${"X".repeat(57)}`]) {
    const error = { kind: MessageKind.ERROR, code, message: "" } as const;
    throwsCode(() => encodeFrame(0, error), BAD_REQUEST);
  }
  // A code this build does not know passes: servers may add codes without a new version.
  roundTrip(0, { kind: MessageKind.ERROR, code: "TXG_ERR_ADDED_LATER", message: "new" });
});

test("the encoder accepts exactly the ids the engine accepts", () => {
  const characters = `${ID_CHARACTERS} /é\u0000~`;
  fc.assert(
    fc.property(
      fc.string({ unit: fc.constantFrom(...characters), maxLength: ID_BYTES_MAX + 2 }),
      (id) => {
        const message: Message = { kind: MessageKind.POST_TRANSFERS, ids: [id] };
        const refused = failsOnlyWith(() => roundTrip(1, message), [BAD_REQUEST]);
        assert.equal(refused, !isValidId(id));
      },
    ),
    { seed, numRuns: 500 },
  );
});

test("a nickname holds at most NICKNAME_BYTES_MAX bytes of UTF-8", () => {
  const accounts = (nickname: string): Message => ({
    kind: MessageKind.CREATE_ACCOUNTS,
    accounts: [{ id: "a", balance: 0n, floor: null, nickname }],
  });
  roundTrip(1, accounts("a".repeat(NICKNAME_BYTES_MAX)));
  // Every nickname the engine accepts fits, even one of 3-byte characters only.
  roundTrip(1, accounts("\uFFFD".repeat(NICKNAME_LENGTH_MAX)));
  roundTrip(1, accounts("😀".repeat(NICKNAME_BYTES_MAX / 4)));
  throwsCode(() => encodeFrame(1, accounts("a".repeat(NICKNAME_BYTES_MAX + 1))), LIMIT_EXCEEDED);
  throwsCode(
    () => encodeFrame(1, accounts("😀".repeat(NICKNAME_BYTES_MAX / 4 + 1))),
    LIMIT_EXCEEDED,
  );
  throwsCode(
    () => encodeFrame(1, accounts("é".repeat(NICKNAME_BYTES_MAX / 2 + 1))),
    LIMIT_EXCEEDED,
  );
});

test("an ERROR message is cut to ERROR_MESSAGE_BYTES_MAX at a character boundary", () => {
  const message = `x${"😀".repeat(ERROR_MESSAGE_BYTES_MAX)}`;
  const frame = decodeFrame(encodeFrame(0, { kind: MessageKind.ERROR, code: DECODE, message }));
  const decoded = decodeBody(MessageKind.ERROR, frame.body);
  assert.equal(decoded.code, DECODE);
  assert.ok(message.startsWith(decoded.message));
  assert.equal(decoded.message.length, 1 + 2 * Math.floor((ERROR_MESSAGE_BYTES_MAX - 1) / 4));
});

test("random bytes decode only to TxgridError, as frames and as bodies of every kind", () => {
  const kinds = Object.values(MessageKind);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(...kinds), (bytes, kind) => {
      failsOnlyWith(() => decodeFrame(bytes), FRAME_FAILURES);
      failsOnlyWith(() => decodeBody(kind, bytes), BODY_FAILURES);
      // The same bytes behind a valid header, so decodeFrame lets them through to the body.
      const header = encodeFrame(1, { kind: MessageKind.PING });
      const frame = new Uint8Array(HEADER_BYTES + bytes.length);
      frame.set(header);
      frame.set(bytes, HEADER_BYTES);
      const wrapped = edited(frame, (view) => {
        view.setUint16(HeaderOffset.kind, kind, true);
        view.setUint32(HeaderOffset.bodyBytes, bytes.length, true);
      });
      const { body } = decodeFrame(wrapped);
      failsOnlyWith(() => decodeBody(kind, body), BODY_FAILURES);
    }),
    { seed, numRuns: 2000 },
  );
});

test("every truncation of a valid frame or body fails with DECODE", () => {
  for (const bytes of sampleFrames) {
    const frame = decodeFrame(bytes);
    for (let end = 0; end < bytes.length; end++) {
      throwsCode(() => decodeFrame(bytes.subarray(0, end)), DECODE);
    }
    for (let end = 0; end < frame.body.length; end++) {
      throwsCode(() => decodeBody(frame.kind, frame.body.subarray(0, end)), DECODE);
    }
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    throwsCode(() => decodeFrame(longer), DECODE);
    const longerBody = new Uint8Array(frame.body.length + 1);
    longerBody.set(frame.body);
    throwsCode(() => decodeBody(frame.kind, longerBody), DECODE);
  }
});

test("a single bit flip anywhere in a frame is detected", () => {
  for (const bytes of sampleFrames.filter((frame) => frame.length <= 1024)) {
    for (let bit = 0; bit < bytes.length * 8; bit++) {
      const flipped = bytes.slice();
      flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7));
      assert.ok(
        failsOnlyWith(() => decodeFrame(flipped), FRAME_FAILURES),
        `bit ${bit}`,
      );
    }
  }
});

test("header checks: magic, version, kind, length, reserved bytes, request id", () => {
  const ping = encodeFrame(7, { kind: MessageKind.PING });
  const header = (edit: (view: DataView, copy: Uint8Array) => void) => edited(ping, edit);
  throwsCode(() => decodeFrame(header((view) => view.setUint32(0, 0x50545448, true))), DECODE);
  for (const version of [0, PROTOCOL_VERSION + 1, 0xffff]) {
    const bytes = header((view) => view.setUint16(HeaderOffset.version, version, true));
    throwsCode(() => decodeFrame(bytes), VERSION);
  }
  for (const kind of [0, 11, 127, 134, 0xffff]) {
    throwsCode(() => decodeFrame(header((view) => view.setUint16(10, kind, true))), DECODE);
  }
  for (const bodyBytes of [BODY_BYTES_MAX + 1, 2 ** 32 - 1]) {
    const bytes = header((view) => view.setUint32(HeaderOffset.bodyBytes, bodyBytes, true));
    throwsCode(() => decodeHeader(bytes, 0), LIMIT_EXCEEDED);
  }
  for (let index = 0; index < 8; index++) {
    const bytes = header((_, copy) => {
      copy[HeaderOffset.reserved + index] = 1;
    });
    throwsCode(() => decodeFrame(bytes), DECODE);
  }
  const tooLarge = header((view) => view.setUint32(HeaderOffset.requestId + 4, 2 ** 21, true));
  throwsCode(() => decodeFrame(tooLarge), DECODE);
  const largest = header((view) => {
    view.setUint32(HeaderOffset.requestId, 2 ** 32 - 1, true);
    view.setUint32(HeaderOffset.requestId + 4, 2 ** 21 - 1, true);
  });
  assert.equal(decodeFrame(largest).requestId, Number.MAX_SAFE_INTEGER);
  const zero = header((view) => view.setUint32(HeaderOffset.requestId, 0, true));
  throwsCode(() => decodeFrame(zero), DECODE);
  const error = encodeFrame(0, {
    kind: MessageKind.ERROR,
    code: ErrorCode.OVERLOADED,
    message: "",
  });
  assert.equal(decodeFrame(error).requestId, 0);
  throwsCode(() => decodeHeader(ping.subarray(0, HEADER_BYTES - 1), 0), DECODE);
  throwsCode(
    () => decodeFrame(header((view) => view.setUint32(4, 0, true)).fill(0, 4, 8)),
    CORRUPT,
  );
});

test("mutated bodies with a valid checksum decode canonically or fail with DECODE", () => {
  const framed = fc.constantFrom(...sampleFrames.filter((bytes) => bytes.length > HEADER_BYTES));
  const edit = fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }));
  let decodedCount = 0;
  fc.assert(
    fc.property(framed, fc.array(edit, { minLength: 1, maxLength: 4 }), (bytes, edits) => {
      const mutated = edited(bytes, (_, copy) => {
        for (const [position, value] of edits) {
          copy[HEADER_BYTES + (position % (copy.length - HEADER_BYTES))] = value;
        }
      });
      const frame = decodeFrame(mutated);
      let decoded: Message | undefined;
      failsOnlyWith(() => {
        decoded = decodeBody(frame.kind, frame.body);
      }, BODY_FAILURES);
      if (decoded === undefined) return;
      decodedCount++;
      assert.deepEqual(encodeFrame(frame.requestId, decoded), mutated);
    }),
    // 6000 runs: about one mutated body in ten still decodes, so the floor of 300 below holds
    // with margin for every seed (at 3000 runs some seeds decoded only 259).
    { seed, numRuns: 6000 },
  );
  // Many edits hit an amount or a character and still decode: the canonical check has teeth.
  assert.ok(decodedCount > 300, `only ${decodedCount} mutated bodies decoded`);
});

test("requests and replies are told apart, and each request kind has its reply kind", () => {
  const ping = decodeFrame(encodeFrame(1, { kind: MessageKind.PING }));
  const pong = decodeFrame(encodeFrame(1, { kind: MessageKind.PONG }));
  assert.deepEqual(decodeRequest(ping), { kind: MessageKind.PING });
  assert.deepEqual(decodeReply(pong), { kind: MessageKind.PONG });
  throwsCode(() => decodeReply(ping), DECODE);
  throwsCode(() => decodeRequest(pong), DECODE);
  for (const kind of Object.values(MessageKind)) {
    if (!isRequestKind(kind)) continue;
    assert.equal(isRequestKind(REPLY_KINDS[kind]), false);
  }
  assert.equal(longId(3).length, ID_BYTES_MAX);
  assert.equal(ResultCode.OK, 0);
});
