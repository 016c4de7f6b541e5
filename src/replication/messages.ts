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
  BytesReader,
  BytesWriter,
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

/** Bytes the body of `message` takes at most after the id (u53s are 8 bytes, u32s 4). */
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

const zeroHeader = new Uint8Array(REPLICATION_HEADER_BYTES);

/** Encodes one message as a whole frame (a fresh buffer the caller owns). */
export function encodeReplicationFrame(message: ReplicationMessage): Uint8Array {
  // Sized up front (the id at its UTF-8 worst case): one buffer, never grown, never copied;
  // a frame is built for every batch shipped and every ack.
  const bytesMax =
    REPLICATION_HEADER_BYTES + 4 + 3 * message.from.length + bodyBytesAfterId(message);
  const writer = new BytesWriter(
    Math.min(bytesMax, REPLICATION_FRAME_BYTES_MAX),
    REPLICATION_FRAME_BYTES_MAX,
  );
  writer.raw(zeroHeader);
  writer.string(message.from);
  writer.u53(message.epoch);
  writer.u53(message.incarnation);
  switch (message.kind) {
    case "hello":
      writer.u53(message.lsnLast);
      writer.u53(message.lsnDurable);
      writer.u53(message.epochLast);
      break;
    case "entries":
      if (message.entries.length > REPLICATION_ENTRIES_MAX) {
        throw limitError(`${message.entries.length} entries exceed REPLICATION_ENTRIES_MAX`);
      }
      writer.u53(message.epochPrev);
      writer.u53(message.lsnFirst);
      writer.u32(message.entries.length);
      for (const entry of message.entries) {
        writer.u53(entry.lsn);
        writer.u53(entry.epoch);
        writer.u32(entry.payload.length);
        writer.raw(entry.payload);
      }
      break;
    case "ack":
      writer.u53(message.lsnReceived);
      writer.u53(message.lsnDurable);
      break;
    case "snapshot":
      writer.u53(message.lsn);
      if (message.marks.length > EPOCH_MARKS_MAX) throw limitError("too many epoch marks");
      writer.u32(message.marks.length);
      for (const mark of message.marks) {
        writer.u53(mark.epoch);
        writer.u53(mark.lsnFirst);
      }
      writer.u32(message.body.length);
      writer.raw(message.body);
      break;
    case "refuse":
      break;
    default:
      unreachable(message);
  }
  const frame = writer.view();
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  view.setUint32(0, REPLICATION_MAGIC, true);
  view.setUint16(8, REPLICATION_PROTOCOL_VERSION, true);
  view.setUint16(10, MessageTag[message.kind], true);
  view.setUint32(12, frame.length - REPLICATION_HEADER_BYTES, true);
  view.setUint32(4, checksum(frame, 8), true);
  return frame;
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
  if (from.length === 0 || Buffer.byteLength(from) > ID_BYTES_MAX) throw decodeError("bad id");
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
