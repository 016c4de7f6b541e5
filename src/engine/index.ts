// engine: the deterministic state machine (tables, the one transaction mechanism, the
// ledger and assets built on it) and the encoding of its commands. Pure: no I/O, no clock.
export {
  COMMAND_FORMAT_VERSION,
  type Command,
  type CommandKind,
  decodeCommand,
  encodeCommand,
  type LogCommand,
  type TransferCreate,
  type TransferList,
  type TransferOrigin,
} from "./commands.ts";
export {
  ENGINE_SNAPSHOT_VERSION,
  Engine,
  type EngineStats,
  type SteppedEncoding,
  type TransferStamp,
} from "./engine.ts";
export { type CommandResult, isResultCode, ResultCode, resultName } from "./results.ts";
export type { TransferState } from "./state.ts";
export {
  isListable,
  TRANSFER_CODE_DUPLICATE,
  TRANSFER_RECORD_FIXED_BYTES,
  TransferListFlag,
  transferListOf,
} from "./transfer-list.ts";
export type { CompareOperator, Condition, Operation } from "./txn.ts";
export { isValidId, type Row, type Value } from "./values.ts";
