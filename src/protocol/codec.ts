// Encoding and decoding of txgrid protocol frames (layout.ts and docs/protocol.md give the
// byte tables). Hand-written DataView code, checked field by field against LAYOUTS by
// version.test.ts.
//
// Encoding measures the frame first, takes zeroed bytes of its exact size once and fills them;
// the caller owns the result's bytes (a socket may hold it until flushed). Small frames are
// cut from a shared slab (zeroedFrame), so a frame's `.buffer` may hold other frames: read it
// through byteOffset and length, as everything here does.
// Bad contents throw TxgridError: BAD_REQUEST for a malformed field (an invalid id, an
// integer out of range, a string with a lone surrogate), LIMIT_EXCEEDED for a count or size
// above a named limit. A bad request id is a programmer error and fails an assertion.
//
// Decoding treats every byte as hostile. It only ever throws TxgridError: DECODE for
// malformed bytes, VERSION for another protocol version, LIMIT_EXCEEDED for a frame or list
// above its limit, CORRUPT for a checksum mismatch. It never reads past the end, and checks
// every count against its limit and against the bytes present before building anything of
// that size. Encodings are canonical: reserved bits, padding and absent fields must be zero,
// so a frame that decodes re-encodes to the same bytes.
import { ID_BYTES_MAX } from "../constants.ts";
import { ResultCode } from "../engine/index.ts";
import {
  asciiString,
  assert,
  checksum,
  ErrorCode,
  ID_CHARACTER,
  TxgridError,
  unreachable,
} from "../stdx/index.ts";
import {
  AccountCreateFlag,
  AccountRecordFlag,
  AssetRecordFlag,
  BATCH_OPERATIONS_MAX,
  BODY_BYTES_MAX,
  CHECKSUM_START,
  ERROR_CODE_BYTES_MAX,
  ERROR_CODE_PATTERN,
  ERROR_MESSAGE_BYTES_MAX,
  HEADER_BYTES,
  HeaderOffset,
  ITEM_BYTES_MIN,
  ITEM_FIXED_BYTES,
  isMessageKind,
  isRequestKind,
  LIST_HEADER_BYTES,
  MAGIC,
  MessageKind,
  NICKNAME_BYTES_MAX,
  OperationResultFlag,
  PROTOCOL_VERSION,
  type RecordName,
  TransferCreateFlag,
  TransferRecordFlag,
  type TransferRecordState,
  TransferStateTag,
} from "./layout.ts";
import type {
  AccountCreate,
  AccountRecord,
  AssetCreate,
  AssetRecord,
  AssetUpdate,
  Message,
  MessageOf,
  OperationResult,
  Reply,
  Request,
  TransferCreate,
  TransferRecord,
} from "./messages.ts";

/** A complete frame as it came off the wire; `body` is a view, not a copy. */
export interface Frame {
  readonly kind: MessageKind;
  readonly requestId: number;
  readonly body: Uint8Array;
}

/** The validated fields of a frame header. */
export interface FrameHeader {
  readonly kind: MessageKind;
  readonly requestId: number;
  readonly bodyBytes: number;
  readonly checksum: number;
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
const U32_SPLIT = 2 ** 32;
/** A u53 stored as u64 has its top 11 bits clear: the high u32 stays below 2^21. */
const U53_HIGH_LIMIT = 2 ** 21;

/** 1 for the numbers that are ResultCodes. */
const RESULT_CODE = new Uint8Array(Math.max(...Object.values(ResultCode)) + 1);
for (const code of Object.values(ResultCode)) RESULT_CODE[code] = 1;

const stateByTag: (TransferRecordState | undefined)[] = [];
for (const [state, tag] of Object.entries(TransferStateTag)) {
  stateByTag[tag] = state as TransferRecordState;
}

function isErrorCodeShaped(code: string): boolean {
  return code.length <= ERROR_CODE_BYTES_MAX && ERROR_CODE_PATTERN.test(code);
}

const textEncoder = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF: without it the decoder would drop it, and a nickname
// that starts with one would not survive the round trip.
const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const errorMessageScratch = new Uint8Array(ERROR_MESSAGE_BYTES_MAX);

function decodeError(message: string): TxgridError {
  return new TxgridError(ErrorCode.DECODE, message);
}

function badRequest(message: string): TxgridError {
  return new TxgridError(ErrorCode.BAD_REQUEST, message);
}

// ---------------------------------------------------------------------------------------
// Encoding

/** Frames up to this size come from the shared slab; larger ones get their own buffer. */
const SLAB_FRAME_BYTES_MAX = 1024;
const SLAB_BYTES = 64 * 1024;
let slab = new Uint8Array(0);
let slabOffset = 0;

/**
 * `byteCount` zero bytes for one frame. Small frames (a reply to one transfer, a request of a
 * few) are cut from a zeroed slab whose bytes are handed out once and never written again: a
 * fresh ArrayBuffer per frame (and the DataView over it, which moves a small array's bytes
 * off V8's heap) cost more than the rest of the encoding, once per request and once per
 * reply. A slab lives as long as any frame cut from it, as Node's own Buffer pool does.
 */
function zeroedFrame(byteCount: number): Uint8Array {
  if (byteCount > SLAB_FRAME_BYTES_MAX) return new Uint8Array(byteCount);
  if (slabOffset + byteCount > slab.length) {
    slab = new Uint8Array(SLAB_BYTES);
    slabOffset = 0;
  }
  const start = slabOffset;
  slabOffset = start + byteCount;
  return slab.subarray(start, slabOffset);
}

/** Writes fields at increasing offsets into a buffer sized exactly by measureBody. */
class FrameWriter {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  offset = 0;

  constructor(frameBytes: number) {
    this.bytes = zeroedFrame(frameBytes);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, frameBytes);
  }

  u8(value: number): void {
    this.bytes[this.offset] = value;
    this.offset += 1;
  }

  u16(value: number): void {
    this.view.setUint16(this.offset, value, true);
    this.offset += 2;
  }

  u32(value: number): void {
    if (value >>> 0 !== value) throw badRequest(`${value} is not a u32`);
    this.view.setUint32(this.offset, value, true);
    this.offset += 4;
  }

  u53(value: number): void {
    if (!(Number.isSafeInteger(value) && value >= 0)) throw badRequest(`${value} is not a u53`);
    this.view.setUint32(this.offset, value % U32_SPLIT, true);
    this.view.setUint32(this.offset + 4, Math.floor(value / U32_SPLIT), true);
    this.offset += 8;
  }

  /** `byteCount` zero bytes: padding, or an absent field. The buffer starts zeroed. */
  zero(byteCount: number): void {
    this.offset += byteCount;
  }

  /** A nullable u53: null is eight zero bytes, told apart by a presence flag. */
  u53OrZero(value: number | null): void {
    if (value === null) this.zero(8);
    else this.u53(value);
  }

  i64(value: bigint): void {
    if (value < I64_MIN || value > I64_MAX) throw badRequest(`${value} is not an i64`);
    this.view.setBigInt64(this.offset, value, true);
    this.offset += 8;
  }

  /** A nullable i64: null is eight zero bytes, told apart by a presence flag. */
  i64OrZero(value: bigint | null): void {
    if (value === null) this.zero(8);
    else this.i64(value);
  }

  result(code: ResultCode): void {
    if (RESULT_CODE[code] !== 1) throw badRequest(`${code} is not a result code`);
    this.u16(code);
  }

  /** Its length was checked by measureId; its characters are checked here. */
  id(value: string): void {
    const length = value.length;
    const bytes = this.bytes;
    const start = this.offset + 1;
    bytes[this.offset] = length;
    for (let index = 0; index < length; index++) {
      const code = value.charCodeAt(index);
      if (code > 0x7f || ID_CHARACTER[code] !== 1) {
        throw badRequest(`invalid id ${JSON.stringify(value)}`);
      }
      bytes[start + index] = code;
    }
    this.offset = start + length;
  }

  /** UTF-8 text of `textBytes` bytes (as measured); null writes an empty text. */
  text(value: string | null, textBytes: number): void {
    this.u16(textBytes);
    if (value === null) return;
    const target = this.bytes.subarray(this.offset, this.offset + textBytes);
    const { written } = textEncoder.encodeInto(value, target);
    assert(written === textBytes, "text written as measured");
    this.offset += textBytes;
  }

  raw(source: Uint8Array): void {
    this.bytes.set(source, this.offset);
    this.offset += source.length;
  }

  list(count: number): void {
    this.u32(count);
    this.zero(4);
  }
}

function measureCount(count: number): void {
  if (count > BATCH_OPERATIONS_MAX) {
    throw new TxgridError(
      ErrorCode.LIMIT_EXCEEDED,
      `${count} operations exceed BATCH_OPERATIONS_MAX (${BATCH_OPERATIONS_MAX})`,
    );
  }
}

/** Characters of an id (ASCII, so also its bytes), after checking its length. */
function measureId(id: string): number {
  const length = id.length;
  if (length === 0 || length > ID_BYTES_MAX) {
    throw badRequest(`an id has 1 to ${ID_BYTES_MAX} characters, not ${length}`);
  }
  return length;
}

/** UTF-8 bytes of `text`, or -1 when it holds a lone surrogate (not encodable). */
function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code < 0xd800 || code > 0xdfff) bytes += 3;
    else if (code > 0xdbff) return -1;
    else {
      const low = text.charCodeAt(index + 1);
      if (!(low >= 0xdc00 && low <= 0xdfff)) return -1;
      bytes += 4;
      index++;
    }
  }
  return bytes;
}

function measureNickname(nickname: string | null): number {
  if (nickname === null) return 0;
  // Every UTF-16 unit takes at least one byte: a long string fails without a scan.
  const bytes = nickname.length > NICKNAME_BYTES_MAX ? NICKNAME_BYTES_MAX + 1 : utf8Bytes(nickname);
  if (bytes < 0) throw badRequest("a nickname holds a lone surrogate");
  if (bytes > NICKNAME_BYTES_MAX) {
    throw new TxgridError(
      ErrorCode.LIMIT_EXCEEDED,
      `a nickname exceeds NICKNAME_BYTES_MAX (${NICKNAME_BYTES_MAX}) bytes`,
    );
  }
  return bytes;
}

function measureIds(ids: readonly string[]): number {
  measureCount(ids.length);
  let bytes = LIST_HEADER_BYTES + ids.length * ITEM_FIXED_BYTES.id;
  for (const id of ids) bytes += measureId(id);
  return bytes;
}

/** Fixed bytes per item plus the characters of each item's ids. */
function measureRecords<T>(
  items: readonly T[],
  record: RecordName,
  measureItem: (item: T) => number,
): number {
  measureCount(items.length);
  let bytes = LIST_HEADER_BYTES + items.length * ITEM_FIXED_BYTES[record];
  for (const item of items) bytes += measureItem(item);
  return bytes;
}

/** Like measureRecords, for replies where a null item is its flags byte alone. */
function measureFound<T>(
  items: readonly (T | null)[],
  record: RecordName,
  measureItem: (item: T) => number,
): number {
  measureCount(items.length);
  let bytes = LIST_HEADER_BYTES;
  for (const item of items) {
    bytes += item === null ? 1 : ITEM_FIXED_BYTES[record] + measureItem(item);
  }
  return bytes;
}

function measureTransferIds(transfer: {
  readonly id: string;
  readonly debitId: string;
  readonly creditId: string;
}): number {
  return measureId(transfer.id) + measureId(transfer.debitId) + measureId(transfer.creditId);
}

function measureAccount(account: { readonly id: string; readonly nickname: string | null }) {
  return measureId(account.id) + measureNickname(account.nickname);
}

function measureAsset(asset: { readonly id: string }): number {
  return measureId(asset.id);
}

/** The error message cut to ERROR_MESSAGE_BYTES_MAX at a character boundary, as UTF-8. */
function errorMessageBytes(message: string): Uint8Array {
  const { written } = textEncoder.encodeInto(message, errorMessageScratch);
  return errorMessageScratch.subarray(0, written);
}

/** Body bytes of `message`; `errorText` is the encoded ERROR message. */
function measureBody(message: Message, errorText: Uint8Array): number {
  switch (message.kind) {
    case MessageKind.PING:
    case MessageKind.PONG:
      return 0;
    case MessageKind.CREATE_ACCOUNTS:
      return measureRecords(message.accounts, "accountCreate", measureAccount);
    case MessageKind.CREATE_TRANSFERS:
      return measureRecords(message.transfers, "transferCreate", measureTransferIds);
    case MessageKind.POST_TRANSFERS:
    case MessageKind.VOID_TRANSFERS:
    case MessageKind.LOOKUP_ACCOUNTS:
    case MessageKind.LOOKUP_TRANSFERS:
    case MessageKind.LOOKUP_ASSETS:
      return measureIds(message.ids);
    case MessageKind.CREATE_ASSETS:
      return measureRecords(message.assets, "assetCreate", measureAsset);
    case MessageKind.UPDATE_ASSETS:
      return measureRecords(message.updates, "assetUpdate", measureAsset);
    case MessageKind.RESULTS:
      return measureRecords(message.results, "operationResult", () => 0);
    case MessageKind.ACCOUNTS:
      return measureFound(message.accounts, "accountRecord", measureAccount);
    case MessageKind.TRANSFERS:
      return measureFound(message.transfers, "transferRecord", measureTransferIds);
    case MessageKind.ASSETS:
      return measureFound(message.assets, "assetRecord", measureAsset);
    case MessageKind.ERROR:
      if (!isErrorCodeShaped(message.code)) throw badRequest(`bad error code ${message.code}`);
      return 1 + message.code.length + 2 + errorText.length;
    default:
      return unreachable(message);
  }
}

function writeAccountCreate(writer: FrameWriter, account: AccountCreate): void {
  let flags = 0;
  if (account.floor !== null) flags |= AccountCreateFlag.floor;
  if (account.nickname !== null) flags |= AccountCreateFlag.nickname;
  writer.u8(flags);
  writer.id(account.id);
  writer.i64(account.balance);
  writer.i64OrZero(account.floor);
  writer.text(account.nickname, measureNickname(account.nickname));
}

function writeTransferCreate(writer: FrameWriter, transfer: TransferCreate): void {
  writer.u8(transfer.pending ? TransferCreateFlag.pending : 0);
  writer.id(transfer.id);
  writer.id(transfer.debitId);
  writer.id(transfer.creditId);
  writer.i64(transfer.amount);
  writer.u32(transfer.timeoutMs);
}

function writeId(writer: FrameWriter, id: string): void {
  writer.id(id);
}

function writeAssetCreate(writer: FrameWriter, asset: AssetCreate): void {
  writer.id(asset.id);
  writer.i64(asset.value);
}

function writeAssetUpdate(writer: FrameWriter, update: AssetUpdate): void {
  writer.id(update.id);
  writer.i64(update.delta);
}

function writeOperationResult(writer: FrameWriter, result: OperationResult): void {
  writer.result(result.code);
  let flags = result.duplicate ? OperationResultFlag.duplicate : 0;
  if (result.value !== null) flags |= OperationResultFlag.value;
  writer.u8(flags);
  writer.zero(5);
  writer.i64OrZero(result.value);
}

function writeAccountRecord(writer: FrameWriter, account: AccountRecord | null): void {
  if (account === null) {
    writer.u8(0);
    return;
  }
  let flags = AccountRecordFlag.found;
  if (account.floor !== null) flags |= AccountRecordFlag.floor;
  if (account.nickname !== null) flags |= AccountRecordFlag.nickname;
  writer.u8(flags);
  writer.id(account.id);
  writer.i64(account.balance);
  writer.i64(account.reserved);
  writer.i64(account.available);
  writer.i64OrZero(account.floor);
  writer.i64(account.initial);
  writer.u53(account.createdAtMs);
  writer.text(account.nickname, measureNickname(account.nickname));
}

function writeTransferRecord(writer: FrameWriter, transfer: TransferRecord | null): void {
  if (transfer === null) {
    writer.u8(0);
    return;
  }
  let flags = TransferRecordFlag.found;
  if (transfer.pending) flags |= TransferRecordFlag.pending;
  if (transfer.resolvedAtMs !== null) flags |= TransferRecordFlag.resolvedAtMs;
  if (transfer.sequence !== null) flags |= TransferRecordFlag.sequence;
  writer.u8(flags);
  writer.id(transfer.id);
  writer.id(transfer.debitId);
  writer.id(transfer.creditId);
  writer.i64(transfer.amount);
  const stateTag = TransferStateTag[transfer.state];
  if (stateTag === undefined) throw badRequest(`unknown transfer state ${transfer.state}`);
  writer.u8(stateTag);
  writer.result(transfer.code);
  writer.u32(transfer.timeoutMs);
  writer.u53(transfer.createdAtMs);
  writer.u53OrZero(transfer.resolvedAtMs);
  writer.u53OrZero(transfer.sequence);
}

function writeAssetRecord(writer: FrameWriter, asset: AssetRecord | null): void {
  if (asset === null) {
    writer.u8(0);
    return;
  }
  writer.u8(AssetRecordFlag.found);
  writer.id(asset.id);
  writer.i64(asset.value);
  writer.u53(asset.updates);
}

function writeList<T>(
  writer: FrameWriter,
  items: readonly T[],
  writeItem: (writer: FrameWriter, item: T) => void,
): void {
  writer.list(items.length);
  for (const item of items) writeItem(writer, item);
}

function writeBody(writer: FrameWriter, message: Message, errorText: Uint8Array): void {
  switch (message.kind) {
    case MessageKind.PING:
    case MessageKind.PONG:
      return;
    case MessageKind.CREATE_ACCOUNTS:
      writeList(writer, message.accounts, writeAccountCreate);
      return;
    case MessageKind.CREATE_TRANSFERS:
      writeList(writer, message.transfers, writeTransferCreate);
      return;
    case MessageKind.POST_TRANSFERS:
    case MessageKind.VOID_TRANSFERS:
    case MessageKind.LOOKUP_ACCOUNTS:
    case MessageKind.LOOKUP_TRANSFERS:
    case MessageKind.LOOKUP_ASSETS:
      writeList(writer, message.ids, writeId);
      return;
    case MessageKind.CREATE_ASSETS:
      writeList(writer, message.assets, writeAssetCreate);
      return;
    case MessageKind.UPDATE_ASSETS:
      writeList(writer, message.updates, writeAssetUpdate);
      return;
    case MessageKind.RESULTS:
      writeList(writer, message.results, writeOperationResult);
      return;
    case MessageKind.ACCOUNTS:
      writeList(writer, message.accounts, writeAccountRecord);
      return;
    case MessageKind.TRANSFERS:
      writeList(writer, message.transfers, writeTransferRecord);
      return;
    case MessageKind.ASSETS:
      writeList(writer, message.assets, writeAssetRecord);
      return;
    case MessageKind.ERROR:
      writer.u8(message.code.length);
      for (let index = 0; index < message.code.length; index++) {
        writer.u8(message.code.charCodeAt(index));
      }
      writer.u16(errorText.length);
      writer.raw(errorText);
      return;
    default:
      unreachable(message);
  }
}

/**
 * One frame holding `message`, answering or asking request `requestId` (at least 1; 0 only
 * for an ERROR that answers no request). The caller owns the returned bytes.
 */
export function encodeFrame(requestId: number, message: Message): Uint8Array {
  assert(Number.isSafeInteger(requestId), "a request id is a safe integer");
  assert(requestId >= 0, "a request id is not negative");
  assert(requestId > 0 || message.kind === MessageKind.ERROR, "request id 0 is for ERROR only");
  const errorText =
    message.kind === MessageKind.ERROR ? errorMessageBytes(message.message) : new Uint8Array(0);
  const bodyBytes = measureBody(message, errorText);
  if (bodyBytes > BODY_BYTES_MAX) {
    throw new TxgridError(
      ErrorCode.LIMIT_EXCEEDED,
      `a body of ${bodyBytes} bytes exceeds BODY_BYTES_MAX (${BODY_BYTES_MAX})`,
    );
  }
  const writer = new FrameWriter(HEADER_BYTES + bodyBytes);
  writeHeader(writer.view, message.kind, bodyBytes, requestId);
  writer.offset = HEADER_BYTES;
  writeBody(writer, message, errorText);
  assert(writer.offset === HEADER_BYTES + bodyBytes, "body written as measured");
  writer.view.setUint32(HeaderOffset.checksum, checksum(writer.bytes, CHECKSUM_START), true);
  return writer.bytes;
}

/** Every header field but the checksum, which covers the body and is written last. */
function writeHeader(view: DataView, kind: MessageKind, bodyBytes: number, requestId: number) {
  view.setUint32(HeaderOffset.magic, MAGIC, true);
  view.setUint16(HeaderOffset.version, PROTOCOL_VERSION, true);
  view.setUint16(HeaderOffset.kind, kind, true);
  view.setUint32(HeaderOffset.bodyBytes, bodyBytes, true);
  view.setUint32(HeaderOffset.requestId, requestId % U32_SPLIT, true);
  view.setUint32(HeaderOffset.requestId + 4, Math.floor(requestId / U32_SPLIT), true);
}

/**
 * A CREATE_TRANSFERS frame around a body written by TransferListEncoder (already checked
 * field by field there); the body is copied, so its encoder may be reused at once.
 */
export function encodeTransferListFrame(requestId: number, body: Uint8Array): Uint8Array {
  assert(Number.isSafeInteger(requestId) && requestId > 0, "a request id is a positive integer");
  assert(body.length >= LIST_HEADER_BYTES, "a list body has its header");
  if (body.length > BODY_BYTES_MAX) {
    throw new TxgridError(
      ErrorCode.LIMIT_EXCEEDED,
      `a body of ${body.length} bytes exceeds BODY_BYTES_MAX (${BODY_BYTES_MAX})`,
    );
  }
  const bytes = zeroedFrame(HEADER_BYTES + body.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  writeHeader(view, MessageKind.CREATE_TRANSFERS, body.length, requestId);
  bytes.set(body, HEADER_BYTES);
  view.setUint32(HeaderOffset.checksum, checksum(bytes, CHECKSUM_START), true);
  return bytes;
}

// ---------------------------------------------------------------------------------------
// Decoding

/**
 * The header at `bytes[offset, offset + HEADER_BYTES)`, validated: magic, version, kind,
 * body length, reserved bytes and request id. The checksum is checked by the caller once
 * the body is present (verifyChecksum).
 */
export function decodeHeader(bytes: Uint8Array, offset: number): FrameHeader {
  assert(Number.isInteger(offset) && offset >= 0, "a header offset is a natural number");
  if (bytes.length - offset < HEADER_BYTES) throw decodeError("truncated frame header");
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, HEADER_BYTES);
  if (view.getUint32(HeaderOffset.magic, true) !== MAGIC) {
    throw decodeError("bad magic: not a txgrid frame");
  }
  const version = view.getUint16(HeaderOffset.version, true);
  if (version !== PROTOCOL_VERSION) {
    throw new TxgridError(
      ErrorCode.VERSION,
      `protocol version ${version}, this build speaks ${PROTOCOL_VERSION}`,
    );
  }
  const kind = view.getUint16(HeaderOffset.kind, true);
  if (!isMessageKind(kind)) throw decodeError(`unknown message kind ${kind}`);
  const bodyBytes = view.getUint32(HeaderOffset.bodyBytes, true);
  if (bodyBytes > BODY_BYTES_MAX) {
    throw new TxgridError(
      ErrorCode.LIMIT_EXCEEDED,
      `a body of ${bodyBytes} bytes exceeds BODY_BYTES_MAX (${BODY_BYTES_MAX})`,
    );
  }
  const reservedLow = view.getUint32(HeaderOffset.reserved, true);
  const reservedHigh = view.getUint32(HeaderOffset.reserved + 4, true);
  if (reservedLow !== 0 || reservedHigh !== 0) throw decodeError("non-zero reserved header bytes");
  const requestIdHigh = view.getUint32(HeaderOffset.requestId + 4, true);
  if (requestIdHigh >= U53_HIGH_LIMIT) throw decodeError("request id above 2^53");
  const requestId = requestIdHigh * U32_SPLIT + view.getUint32(HeaderOffset.requestId, true);
  if (requestId === 0 && kind !== MessageKind.ERROR) throw decodeError("request id 0");
  const checksumExpected = view.getUint32(HeaderOffset.checksum, true);
  return { kind, requestId, bodyBytes, checksum: checksumExpected };
}

/** Checks the checksum of the whole frame at `bytes[start, start + frameBytes)`. */
export function verifyChecksum(bytes: Uint8Array, start: number, header: FrameHeader): void {
  const end = start + HEADER_BYTES + header.bodyBytes;
  assert(end <= bytes.length, "the whole frame is present");
  if (checksum(bytes, start + CHECKSUM_START, end) !== header.checksum) {
    throw new TxgridError(ErrorCode.CORRUPT, "frame checksum mismatch");
  }
}

/** Exactly one complete frame: header, body of the announced length, checksum. */
export function decodeFrame(bytes: Uint8Array): Frame {
  const header = decodeHeader(bytes, 0);
  const frameBytes = HEADER_BYTES + header.bodyBytes;
  if (bytes.length < frameBytes) throw decodeError("truncated frame body");
  if (bytes.length > frameBytes) throw decodeError("bytes after the frame");
  verifyChecksum(bytes, 0, header);
  const body = bytes.subarray(HEADER_BYTES, frameBytes);
  return { kind: header.kind, requestId: header.requestId, body };
}

/** Reads fields at increasing offsets, checking each against the end of the body. */
class BodyReader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  offset = 0;
  readonly end: number;

  constructor(body: Uint8Array) {
    this.bytes = body;
    this.view = new DataView(body.buffer, body.byteOffset, body.byteLength);
    this.end = body.length;
  }

  /** The offset of `byteCount` more bytes, which are now consumed. */
  take(byteCount: number): number {
    const at = this.offset;
    if (byteCount > this.end - at) throw decodeError(`truncated body at byte ${at}`);
    this.offset = at + byteCount;
    return at;
  }

  u8(): number {
    return this.bytes[this.take(1)] as number;
  }

  u16(): number {
    return this.view.getUint16(this.take(2), true);
  }

  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  u53(): number {
    const at = this.take(8);
    const high = this.view.getUint32(at + 4, true);
    if (high >= U53_HIGH_LIMIT) throw decodeError(`integer above 2^53 at byte ${at}`);
    return high * U32_SPLIT + this.view.getUint32(at, true);
  }

  i64(): bigint {
    return this.view.getBigInt64(this.take(8), true);
  }

  /** `byteCount` bytes that must be zero: padding, or an absent field. */
  zero(byteCount: number): void {
    const at = this.take(byteCount);
    for (let index = at; index < at + byteCount; index++) {
      if (this.bytes[index] !== 0) throw decodeError(`non-zero padding at byte ${index}`);
    }
  }

  flags(allowed: number): number {
    const flags = this.u8();
    if ((flags & ~allowed) !== 0) throw decodeError(`reserved flag bits set: ${flags}`);
    return flags;
  }

  result(): ResultCode {
    const code = this.u16();
    if (RESULT_CODE[code] !== 1) throw decodeError(`unknown result code ${code}`);
    return code as ResultCode;
  }

  state(): TransferRecordState {
    const tag = this.u8();
    const state = stateByTag[tag];
    if (state === undefined) throw decodeError(`unknown transfer state ${tag}`);
    return state;
  }

  id(): string {
    const start = this.checkedId();
    return asciiString(this.bytes, start, this.offset);
  }

  /** Consumes an id, checked as id() checks it, without building its string; its start. */
  checkedId(): number {
    const length = this.u8();
    if (length === 0 || length > ID_BYTES_MAX) throw decodeError(`id of ${length} bytes`);
    const start = this.take(length);
    const bytes = this.bytes;
    for (let index = start; index < start + length; index++) {
      if (ID_CHARACTER[bytes[index] as number] !== 1)
        throw decodeError(`invalid id byte at ${index}`);
    }
    return start;
  }

  text(bytesMax: number): string {
    const length = this.u16();
    if (length > bytesMax) throw decodeError(`text of ${length} bytes exceeds ${bytesMax}`);
    const start = this.take(length);
    try {
      return textDecoder.decode(this.bytes.subarray(start, start + length));
    } catch (error) {
      throw new TxgridError(ErrorCode.DECODE, "invalid UTF-8 text", { cause: error });
    }
  }

  /** The count of a list of `record` items, checked against the limit and the bytes left. */
  count(record: RecordName | "id"): number {
    const count = this.u32();
    if (count > BATCH_OPERATIONS_MAX) {
      throw new TxgridError(
        ErrorCode.LIMIT_EXCEEDED,
        `${count} operations exceed BATCH_OPERATIONS_MAX (${BATCH_OPERATIONS_MAX})`,
      );
    }
    this.zero(4);
    if (count * ITEM_BYTES_MIN[record] > this.end - this.offset) {
      throw decodeError(`${count} items do not fit in the body`);
    }
    return count;
  }

  finish(): void {
    if (this.offset !== this.end) throw decodeError(`${this.end - this.offset} bytes after body`);
  }
}

function readList<T>(
  reader: BodyReader,
  record: RecordName | "id",
  readItem: (reader: BodyReader) => T,
): T[] {
  const count = reader.count(record);
  const items: T[] = [];
  for (let index = 0; index < count; index++) items.push(readItem(reader));
  return items;
}

function readId(reader: BodyReader): string {
  return reader.id();
}

function readOptionalI64(reader: BodyReader, present: boolean): bigint | null {
  if (present) return reader.i64();
  reader.zero(8);
  return null;
}

function readOptionalU53(reader: BodyReader, present: boolean): number | null {
  if (present) return reader.u53();
  reader.zero(8);
  return null;
}

function readOptionalText(reader: BodyReader, present: boolean, bytesMax: number): string | null {
  if (present) return reader.text(bytesMax);
  reader.zero(2);
  return null;
}

// The record readers below build their object literals in wire order: a literal's
// properties are evaluated in source order, which is the order of the reads.

function readAccountCreate(reader: BodyReader): AccountCreate {
  const flags = reader.flags(AccountCreateFlag.floor | AccountCreateFlag.nickname);
  const id = reader.id();
  const balance = reader.i64();
  const floor = readOptionalI64(reader, (flags & AccountCreateFlag.floor) !== 0);
  const present = (flags & AccountCreateFlag.nickname) !== 0;
  const nickname = readOptionalText(reader, present, NICKNAME_BYTES_MAX);
  return { id, balance, floor, nickname };
}

/** Builds what a caller keeps of one transfer of a CREATE_TRANSFERS body. */
export type TransferMaker<T> = (
  id: string,
  debitId: string,
  creditId: string,
  amount: bigint,
  pending: boolean,
  timeoutMs: number,
) => T;

const transferCreateOf: TransferMaker<TransferCreate> = (
  id,
  debitId,
  creditId,
  amount,
  pending,
  timeoutMs,
) => ({ id, debitId, creditId, amount, pending, timeoutMs });

/**
 * The transfers of a CREATE_TRANSFERS body, each built by `make` straight from the bytes (the
 * TCP server builds engine commands without a TransferCreate in between). Checks exactly
 * what decodeRequest checks, and throws the same errors.
 */
export function decodeTransferList<T>(body: Uint8Array, make: TransferMaker<T>): T[] {
  const reader = new BodyReader(body);
  const items = readTransferList(reader, make);
  reader.finish();
  return items;
}

/**
 * Checks a CREATE_TRANSFERS body exactly as decodeTransferList does (same errors) without
 * building anything, and returns its transfer count: the server then hands the records,
 * bytes after LIST_HEADER_BYTES, to the log and the engine as they are (a transfer.list).
 */
export function checkTransferList(body: Uint8Array): number {
  const reader = new BodyReader(body);
  const count = reader.count("transferCreate");
  for (let index = 0; index < count; index++) {
    reader.flags(TransferCreateFlag.pending);
    reader.checkedId();
    reader.checkedId();
    reader.checkedId();
    reader.take(12);
  }
  reader.finish();
  return count;
}

function readTransferList<T>(reader: BodyReader, make: TransferMaker<T>): T[] {
  const count = reader.count("transferCreate");
  const items: T[] = new Array(count);
  for (let index = 0; index < count; index++) {
    const flags = reader.flags(TransferCreateFlag.pending);
    const id = reader.id();
    const debitId = reader.id();
    const creditId = reader.id();
    const amount = reader.i64();
    const timeoutMs = reader.u32();
    items[index] = make(
      id,
      debitId,
      creditId,
      amount,
      (flags & TransferCreateFlag.pending) !== 0,
      timeoutMs,
    );
  }
  return items;
}

function readAssetCreate(reader: BodyReader): AssetCreate {
  return { id: reader.id(), value: reader.i64() };
}

function readAssetUpdate(reader: BodyReader): AssetUpdate {
  return { id: reader.id(), delta: reader.i64() };
}

function readOperationResult(reader: BodyReader): OperationResult {
  const code = reader.result();
  const flags = reader.flags(OperationResultFlag.duplicate | OperationResultFlag.value);
  reader.zero(5);
  const value = readOptionalI64(reader, (flags & OperationResultFlag.value) !== 0);
  return { code, duplicate: (flags & OperationResultFlag.duplicate) !== 0, value };
}

const accountRecordFlags =
  AccountRecordFlag.found | AccountRecordFlag.floor | AccountRecordFlag.nickname;
const transferRecordFlags =
  TransferRecordFlag.found |
  TransferRecordFlag.pending |
  TransferRecordFlag.resolvedAtMs |
  TransferRecordFlag.sequence;

/** The flags of a record that may be absent, or null when absent (no other bit may be set). */
function readFoundFlags(reader: BodyReader, allowed: number, found: number): number | null {
  const flags = reader.flags(allowed);
  if ((flags & found) !== 0) return flags;
  if (flags !== 0) throw decodeError(`flags ${flags} on an absent record`);
  return null;
}

function readAccountRecord(reader: BodyReader): AccountRecord | null {
  const flags = readFoundFlags(reader, accountRecordFlags, AccountRecordFlag.found);
  if (flags === null) return null;
  const id = reader.id();
  const balance = reader.i64();
  const reserved = reader.i64();
  const available = reader.i64();
  const floor = readOptionalI64(reader, (flags & AccountRecordFlag.floor) !== 0);
  const initial = reader.i64();
  const createdAtMs = reader.u53();
  const present = (flags & AccountRecordFlag.nickname) !== 0;
  const nickname = readOptionalText(reader, present, NICKNAME_BYTES_MAX);
  return { id, nickname, balance, reserved, available, floor, initial, createdAtMs };
}

function readTransferRecord(reader: BodyReader): TransferRecord | null {
  const flags = readFoundFlags(reader, transferRecordFlags, TransferRecordFlag.found);
  if (flags === null) return null;
  return {
    id: reader.id(),
    debitId: reader.id(),
    creditId: reader.id(),
    amount: reader.i64(),
    pending: (flags & TransferRecordFlag.pending) !== 0,
    state: reader.state(),
    code: reader.result(),
    timeoutMs: reader.u32(),
    createdAtMs: reader.u53(),
    resolvedAtMs: readOptionalU53(reader, (flags & TransferRecordFlag.resolvedAtMs) !== 0),
    sequence: readOptionalU53(reader, (flags & TransferRecordFlag.sequence) !== 0),
  };
}

function readAssetRecord(reader: BodyReader): AssetRecord | null {
  const flags = readFoundFlags(reader, AssetRecordFlag.found, AssetRecordFlag.found);
  if (flags === null) return null;
  return { id: reader.id(), value: reader.i64(), updates: reader.u53() };
}

function readErrorCode(reader: BodyReader): string {
  const length = reader.u8();
  if (length > ERROR_CODE_BYTES_MAX) throw decodeError(`error code of ${length} bytes`);
  const start = reader.take(length);
  const code = asciiString(reader.bytes, start, start + length);
  if (!isErrorCodeShaped(code)) throw decodeError("malformed error code");
  return code;
}

function readBody(kind: MessageKind, reader: BodyReader): Message {
  switch (kind) {
    case MessageKind.PING:
    case MessageKind.PONG:
      return { kind };
    case MessageKind.CREATE_ACCOUNTS:
      return { kind, accounts: readList(reader, "accountCreate", readAccountCreate) };
    case MessageKind.CREATE_TRANSFERS:
      return { kind, transfers: readTransferList(reader, transferCreateOf) };
    case MessageKind.POST_TRANSFERS:
    case MessageKind.VOID_TRANSFERS:
    case MessageKind.LOOKUP_ACCOUNTS:
    case MessageKind.LOOKUP_TRANSFERS:
    case MessageKind.LOOKUP_ASSETS:
      return { kind, ids: readList(reader, "id", readId) };
    case MessageKind.CREATE_ASSETS:
      return { kind, assets: readList(reader, "assetCreate", readAssetCreate) };
    case MessageKind.UPDATE_ASSETS:
      return { kind, updates: readList(reader, "assetUpdate", readAssetUpdate) };
    case MessageKind.RESULTS:
      return { kind, results: readList(reader, "operationResult", readOperationResult) };
    case MessageKind.ACCOUNTS:
      return { kind, accounts: readList(reader, "accountRecord", readAccountRecord) };
    case MessageKind.TRANSFERS:
      return { kind, transfers: readList(reader, "transferRecord", readTransferRecord) };
    case MessageKind.ASSETS:
      return { kind, assets: readList(reader, "assetRecord", readAssetRecord) };
    case MessageKind.ERROR:
      return {
        kind,
        code: readErrorCode(reader),
        message: reader.text(ERROR_MESSAGE_BYTES_MAX),
      };
    default:
      return unreachable(kind);
  }
}

/** The message in `body`, a frame body of kind `kind`. Throws only TxgridError. */
export function decodeBody<K extends MessageKind>(kind: K, body: Uint8Array): MessageOf<K> {
  assert(isMessageKind(kind), "decodeBody takes a kind from a validated header");
  const reader = new BodyReader(body);
  const message = readBody(kind, reader);
  reader.finish();
  return message as MessageOf<K>;
}

/** The request in `frame`; a reply kind is a DECODE error (the peer is not a client). */
export function decodeRequest(frame: Frame): Request {
  if (!isRequestKind(frame.kind)) throw decodeError(`kind ${frame.kind} is not a request`);
  return decodeBody(frame.kind, frame.body) as Request;
}

/** The reply in `frame`; a request kind is a DECODE error (the peer is not a server). */
export function decodeReply(frame: Frame): Reply {
  if (isRequestKind(frame.kind)) throw decodeError(`kind ${frame.kind} is not a reply`);
  return decodeBody(frame.kind, frame.body) as Reply;
}

/** How many operations (and so result entries or records) a message carries. */
export function operationCount(message: Message): number {
  switch (message.kind) {
    case MessageKind.PING:
    case MessageKind.PONG:
    case MessageKind.ERROR:
      return 0;
    case MessageKind.CREATE_ACCOUNTS:
    case MessageKind.ACCOUNTS:
      return message.accounts.length;
    case MessageKind.CREATE_TRANSFERS:
    case MessageKind.TRANSFERS:
      return message.transfers.length;
    case MessageKind.POST_TRANSFERS:
    case MessageKind.VOID_TRANSFERS:
    case MessageKind.LOOKUP_ACCOUNTS:
    case MessageKind.LOOKUP_TRANSFERS:
    case MessageKind.LOOKUP_ASSETS:
      return message.ids.length;
    case MessageKind.CREATE_ASSETS:
    case MessageKind.ASSETS:
      return message.assets.length;
    case MessageKind.UPDATE_ASSETS:
      return message.updates.length;
    case MessageKind.RESULTS:
      return message.results.length;
    default:
      return unreachable(message);
  }
}
