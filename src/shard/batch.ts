// The payload of one log record: a batch of commands with the timestamp the executor
// stamped on it. Layout (little-endian):
//
//   offset  size  field
//   0       8     timestampMs (u53)  wall-clock stamp, non-decreasing along the log
//   8       4     commandCount (u32) 1..BATCH_COMMANDS_MAX, or 0 for a tick (timeouts only)
//   12      ...   commands, each as engine/commands.ts encodes it (a transfer.list counts as
//                 one command here; BATCH_COMMANDS_MAX bounds the transfers it holds too)
import { BATCH_COMMANDS_MAX, WAL_RECORD_BYTES_MAX } from "../constants.ts";
import { decodeCommand, encodeCommand, type LogCommand } from "../engine/index.ts";
import { BytesReader, BytesWriter, ErrorCode, TxgridError } from "../stdx/index.ts";

export interface Batch {
  readonly timestampMs: number;
  readonly commands: readonly LogCommand[];
}

export class BatchEncoder {
  readonly #writer = new BytesWriter(64 * 1024, WAL_RECORD_BYTES_MAX);

  /** Encodes a batch; the returned view is valid until the next call. */
  encode(timestampMs: number, commands: readonly LogCommand[]): Uint8Array {
    const writer = this.#writer;
    writer.reset();
    writer.u53(timestampMs);
    writer.u32(commands.length);
    for (const command of commands) encodeCommand(writer, command);
    return writer.view();
  }
}

export function decodeBatch(payload: Uint8Array): Batch {
  const reader = new BytesReader(payload);
  const timestampMs = reader.u53();
  const commandCount = reader.u32();
  if (commandCount > BATCH_COMMANDS_MAX) {
    throw new TxgridError(ErrorCode.CORRUPT, `batch of ${commandCount} commands is over the limit`);
  }
  const commands: LogCommand[] = [];
  for (let index = 0; index < commandCount; index++) commands.push(decodeCommand(reader));
  if (reader.remaining !== 0) throw new TxgridError(ErrorCode.CORRUPT, "batch has trailing bytes");
  return { timestampMs, commands };
}
