// The messages replicas exchange, and their binary frames (the replication stream is its own
// protocol beside docs/protocol.md: same conventions, separate magic and version, so neither
// can be mistaken for the other).
//
// Frame header, 24 bytes, little-endian:
//
//   offset  size  field      meaning
//   0       4     magic      "TXRP" (0x50525854 read as u32 LE)
//   4       4     checksum   CRC-32 of bytes [8, 24 + bodyBytes): header tail + body
//   8       2     version    REPLICATION_PROTOCOL_VERSION
//   10      2     kind       MessageTag below
//   12      4     bodyBytes  at most REPLICATION_FRAME_BYTES_MAX - 24
//   16      8     reserved   zero
//
// Bodies (strings are u32 length + UTF-8, lsns and epochs u53):
//   hello     from, epoch, incarnation, lsnLast, lsnDurable, epochLast
//   entries   from, epoch, incarnation, epochPrev, count u32, then per entry: lsn, epoch,
//             payload (u32 length + bytes)
//   ack       from, epoch, incarnation, lsnReceived, lsnDurable
//   snapshot  from, epoch, incarnation, lsn, markCount u32, marks (epoch, lsnFirst), body
//             (u32 length + bytes)
//   refuse    from, epoch (the refuser's newer epoch), incarnation (0)
// The incarnation numbers a standby's handshakes: it grows whenever the standby's log may
// have gone back (a snapshot, a failed consistency check, a new primary), and the primary
// answers with it, so nothing sent for an older handshake is ever taken for current.
//
// Guarantees: decode() accepts exactly what encode() writes; anything else (bad magic,
// checksum, version, kind, length, trailing bytes, a limit exceeded) is a TxgridError
// (CORRUPT, VERSION, DECODE or LIMIT_EXCEEDED), never a crash and never a partial message.
// History of REPLICATION_PROTOCOL_VERSION:
//   1  hello, entries, ack, snapshot, refuse.
import {
  EPOCH_MARKS_MAX,
  ID_BYTES_MAX,
  REPLICATION_ENTRIES_MAX,
  REPLICATION_FRAME_BYTES_MAX,
  WAL_RECORD_BYTES_MAX,
} from "../constants.ts";
import {
  assert,
  BytesReader,
  checksum,
  ErrorCode,
  TxgridError,
  unreachable,
} from "../stdx/index.ts";
import type { EpochMark } from "./epochs.ts";

export const REPLICATION_PROTOCOL_VERSION = 1;
export const REPLICATION_MAGIC = 0x50525854;
export const REPLICATION_HEADER_BYTES = 24;

/** One log batch as it travels: its position, the epoch whose primary wrote it, its bytes. */
export interface Entry {
  readonly lsn: number;
  readonly epoch: number;
  readonly payload: Uint8Array;
}

export type ReplicationMessage =
  /** Standby to primary: where my log ends, so the primary knows what to send. */
  | {
      readonly kind: "hello";
      readonly from: string;
      readonly epoch: number;
      readonly incarnation: number;
      readonly lsnLast: number;
      readonly lsnDurable: number;
      readonly epochLast: number;
    }
  /** Primary to standby: consecutive log entries (none: the handshake is answered). */
  | {
      readonly kind: "entries";
      readonly from: string;
      readonly epoch: number;
      readonly incarnation: number;
      /** Epoch of the entry just before the first one (the standby checks it has it). */
      readonly epochPrev: number;
      /** Where the entries start (the first entry's lsn; given even when there is none). */
      readonly lsnFirst: number;
      readonly entries: readonly Entry[];
    }
  /** Standby to primary: how far my log is received and durable. */
  | {
      readonly kind: "ack";
      readonly from: string;
      readonly epoch: number;
      readonly incarnation: number;
      readonly lsnReceived: number;
      readonly lsnDurable: number;
    }
  /** Primary to standby: replace your state by mine at `lsn` (entries after it follow). */
  | {
      readonly kind: "snapshot";
      readonly from: string;
      readonly epoch: number;
      readonly incarnation: number;
      readonly lsn: number;
      readonly marks: readonly EpochMark[];
      readonly body: Uint8Array;
    }
  /** Either way: your epoch is older than mine; I ignored your message. */
  | {
      readonly kind: "refuse";
      readonly from: string;
      readonly epoch: number;
      readonly incarnation: number;
    };

export type ReplicationMessageKind = ReplicationMessage["kind"];

const MessageTag = { hello: 1, entries: 2, ack: 3, snapshot: 4, refuse: 5 } as const;
const kindsByTag = new Map<number, ReplicationMessageKind>(
  Object.entries(MessageTag).map(([kind, tag]) => [tag, kind as ReplicationMessageKind]),
);

function limitError(message: string): TxgridError {
  return new TxgridError(ErrorCode.LIMIT_EXCEEDED, message);
}

/** Bytes of the body of `message` after the id (u53s are 8 bytes, u32s 4). */
function bodyBytesAfterId(message: ReplicationMessage): number {
  switch (message.kind) {
    case "hello":
      return 40;
    case "entries": {
      let bytes = 36;
      for (const entry of message.entries) bytes += 20 + entry.payload.length;
      return bytes;
    }
    case "ack":
      return 32;
    case "snapshot":
      return 32 + 16 * message.marks.length + message.body.length;
    case "refuse":
      return 16;
    default:
      return unreachable(message);
  }
}

/** Writes a u53 as 8 bytes LE at `at`; returns the offset after it. */
function putU53(frame: Buffer, at: number, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError("u53 out of range");
  frame.writeUInt32LE(value % 2 ** 32, at);
  frame.writeUInt32LE(Math.floor(value / 2 ** 32), at + 4);
  return at + 8;
}

/** Writes a u32 length and `bytes` at `at`; returns the offset after them. */
function putBytes(frame: Buffer, at: number, bytes: Uint8Array): number {
  frame.writeUInt32LE(bytes.length, at);
  frame.set(bytes, at + 4);
  return at + 4 + bytes.length;
}

let lastId = "";
let lastIdBytes = Buffer.alloc(0);

/** A sender id's UTF-8 bytes; a node sends with its own id only, so one is kept (per frame). */
function idBytes(id: string): Buffer {
  if (id !== lastId) {
    lastIdBytes = Buffer.from(id, "utf8");
    lastId = id;
  }
  return lastIdBytes;
}

/**
 * Encodes one message as a whole frame (bytes the caller owns). Sized exactly up front and
 * written into one buffer from Node's pool when small: a frame is built for every batch
 * shipped and every ack, and a fresh ArrayBuffer per frame (plus a growing writer and a final
 * copy, as before) cost more than the rest of the encoding on this project's VM.
 */
export function encodeReplicationFrame(message: ReplicationMessage): Uint8Array {
  const id = idBytes(message.from);
  const bytes = REPLICATION_HEADER_BYTES + 4 + id.length + bodyBytesAfterId(message);
  if (bytes > REPLICATION_FRAME_BYTES_MAX) {
    throw limitError(`replication frame of ${bytes} bytes is over the limit`);
  }
  if (message.kind === "entries" && message.entries.length > REPLICATION_ENTRIES_MAX) {
    throw limitError(`${message.entries.length} entries exceed REPLICATION_ENTRIES_MAX`);
  }
  if (message.kind === "snapshot" && message.marks.length > EPOCH_MARKS_MAX) {
    throw limitError("too many epoch marks");
  }
  // Every byte is written below (allocUnsafe's old contents never leave).
  const frame = Buffer.allocUnsafe(bytes);
  frame.writeUInt32LE(REPLICATION_MAGIC, 0);
  frame.writeUInt16LE(REPLICATION_PROTOCOL_VERSION, 8);
  frame.writeUInt16LE(MessageTag[message.kind], 10);
  frame.writeUInt32LE(bytes - REPLICATION_HEADER_BYTES, 12);
  frame.writeUInt32LE(0, 16);
  frame.writeUInt32LE(0, 20);
  let at = putBytes(frame, REPLICATION_HEADER_BYTES, id);
  at = putU53(frame, at, message.epoch);
  at = putU53(frame, at, message.incarnation);
  switch (message.kind) {
    case "hello":
      at = putU53(frame, at, message.lsnLast);
      at = putU53(frame, at, message.lsnDurable);
      at = putU53(frame, at, message.epochLast);
      break;
    case "entries":
      at = putU53(frame, at, message.epochPrev);
      at = putU53(frame, at, message.lsnFirst);
      frame.writeUInt32LE(message.entries.length, at);
      at += 4;
      for (const entry of message.entries) {
        at = putU53(frame, at, entry.lsn);
        at = putU53(frame, at, entry.epoch);
        at = putBytes(frame, at, entry.payload);
      }
      break;
    case "ack":
      at = putU53(frame, at, message.lsnReceived);
      at = putU53(frame, at, message.lsnDurable);
      break;
    case "snapshot":
      at = putU53(frame, at, message.lsn);
      frame.writeUInt32LE(message.marks.length, at);
      at += 4;
      for (const mark of message.marks) {
        at = putU53(frame, at, mark.epoch);
        at = putU53(frame, at, mark.lsnFirst);
      }
      at = putBytes(frame, at, message.body);
      break;
    case "refuse":
      break;
    default:
      unreachable(message);
  }
  assert(at === bytes, "a frame is exactly as long as computed");
  frame.writeUInt32LE(checksum(frame, 8), 4);
  // A plain Uint8Array over the same bytes: Buffer's slice() would be a view, not a copy.
  return new Uint8Array(frame.buffer, frame.byteOffset, bytes);
}

/**
 * Reads a frame header; returns the whole frame's length. Throws before any body byte is
 * needed when the header is not a replication frame of this version or is over the limit.
 */
export function replicationFrameBytes(header: Uint8Array): number {
  const view = new DataView(header.buffer, header.byteOffset, REPLICATION_HEADER_BYTES);
  if (view.getUint32(0, true) !== REPLICATION_MAGIC) {
    throw new TxgridError(ErrorCode.CORRUPT, "not a replication frame (bad magic)");
  }
  const version = view.getUint16(8, true);
  if (version !== REPLICATION_PROTOCOL_VERSION) {
    throw new TxgridError(
      ErrorCode.VERSION,
      `replication protocol version ${version}; this build speaks ${REPLICATION_PROTOCOL_VERSION}`,
    );
  }
  const bodyBytes = view.getUint32(12, true);
  if (bodyBytes > REPLICATION_FRAME_BYTES_MAX - REPLICATION_HEADER_BYTES) {
    throw limitError(`replication frame body of ${bodyBytes} bytes is over the limit`);
  }
  return REPLICATION_HEADER_BYTES + bodyBytes;
}

function decodeError(message: string): TxgridError {
  return new TxgridError(ErrorCode.DECODE, message);
}

/**
 * Decodes one whole frame. Entry payloads are views into `frame` (a copy per batch cost more
 * than the rest of the decode), so the caller must not reuse the frame's bytes; a snapshot's
 * body is a copy.
 */
export function decodeReplicationFrame(frame: Uint8Array): ReplicationMessage {
  if (frame.length < REPLICATION_HEADER_BYTES) throw decodeError("short replication frame");
  if (replicationFrameBytes(frame) !== frame.length) throw decodeError("frame length mismatch");
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (view.getUint32(4, true) !== checksum(frame, 8)) {
    throw new TxgridError(ErrorCode.CORRUPT, "replication frame checksum mismatch");
  }
  if (view.getUint32(16, true) !== 0 || view.getUint32(20, true) !== 0) {
    throw decodeError("reserved header bytes are not zero");
  }
  const kind = kindsByTag.get(view.getUint16(10, true));
  if (kind === undefined) throw decodeError("unknown replication message kind");
  const reader = new BytesReader(frame, REPLICATION_HEADER_BYTES);
  try {
    const message = decodeBody(reader, kind);
    if (reader.remaining !== 0) throw decodeError("trailing bytes in a replication frame");
    return message;
  } catch (error) {
    if (error instanceof TxgridError) throw error;
    throw decodeError(`malformed replication frame: ${String(error)}`);
  }
}

function decodeBody(reader: BytesReader, kind: ReplicationMessageKind): ReplicationMessage {
  const from = reader.string();
  // UTF-8 takes at most 3 bytes per UTF-16 unit: short ids need no byte count (per frame).
  const idTooLong = from.length * 3 > ID_BYTES_MAX && Buffer.byteLength(from) > ID_BYTES_MAX;
  if (from.length === 0 || idTooLong) throw decodeError("bad id");
  const epoch = reader.u53();
  const incarnation = reader.u53();
  switch (kind) {
    case "hello": {
      const lsnLast = reader.u53();
      const lsnDurable = reader.u53();
      const epochLast = reader.u53();
      return { kind, from, epoch, incarnation, lsnLast, lsnDurable, epochLast };
    }
    case "entries": {
      const epochPrev = reader.u53();
      const lsnFirst = reader.u53();
      const count = reader.u32();
      if (count > REPLICATION_ENTRIES_MAX) throw limitError("too many entries");
      const entries: Entry[] = [];
      for (let index = 0; index < count; index++) {
        const lsn = reader.u53();
        const entryEpoch = reader.u53();
        const length = reader.u32();
        if (length > WAL_RECORD_BYTES_MAX) throw limitError("entry larger than a log record");
        entries.push({ lsn, epoch: entryEpoch, payload: reader.raw(length) });
      }
      return { kind, from, epoch, incarnation, epochPrev, lsnFirst, entries };
    }
    case "ack": {
      const lsnReceived = reader.u53();
      return { kind, from, epoch, incarnation, lsnReceived, lsnDurable: reader.u53() };
    }
    case "snapshot": {
      const lsn = reader.u53();
      const markCount = reader.u32();
      if (markCount > EPOCH_MARKS_MAX) throw limitError("too many epoch marks");
      const marks: EpochMark[] = [];
      for (let index = 0; index < markCount; index++) {
        marks.push({ epoch: reader.u53(), lsnFirst: reader.u53() });
      }
      const body = reader.raw(reader.u32()).slice();
      return { kind, from, epoch, incarnation, lsn, marks, body };
    }
    case "refuse":
      return { kind, from, epoch, incarnation };
    default:
      return unreachable(kind);
  }
}
