// The commands the engine applies, and their binary encoding in the log.
//
// The log holds commands, not their effects (command logging, as VoltDB and TxTest do):
// the engine is deterministic, so replaying the same commands in the same order with the
// same batch timestamps rebuilds the same state on every replica. Every command is encoded
// as a u8 kind followed by its fields in declaration order (strings as u32 length + UTF-8,
// integers as i64, booleans and enums as u8). COMMAND_FORMAT_VERSION changes whenever that
// layout changes; the layout test in commands.test.ts fails if it changes without a bump.
//
// History of COMMAND_FORMAT_VERSION:
//   1  first layout.
//   2  transfer.list (tag 10): u32 count, u32 byte length, then the records as they came in a
//      CREATE_TRANSFERS body (layout in transfer-list.ts). Every version-1 command keeps its
//      bytes, so a version-1 log replays unchanged; a version-1 binary refuses a log holding
//      a list with DECODE ("unknown command tag 10") instead of misreading it.
import {
  type BytesReader,
  type BytesWriter,
  ErrorCode,
  TxgridError,
  unreachable,
} from "../stdx/index.ts";
import { readTransferList } from "./transfer-list.ts";
import type { CompareOperator, Condition, Operation } from "./txn.ts";
import { decodeRow, decodeValue, encodeRow, encodeValue } from "./values.ts";

export const COMMAND_FORMAT_VERSION = 2;

/** Where a transfer came from: TiMPE's phase-1 transfers are the ones /process finishes. */
export type TransferOrigin = "api" | "timpe";

export type Command =
  | {
      readonly kind: "account.create";
      readonly id: string;
      readonly balance: bigint;
      /** The lowest available balance allowed; null means no floor. */
      readonly floor: bigint | null;
      readonly nickname: string | null;
    }
  | {
      readonly kind: "transfer.create";
      readonly id: string;
      readonly debitId: string;
      readonly creditId: string;
      readonly amount: bigint;
      /** A pending transfer reserves the amount until it is posted, voided or expires. */
      readonly pending: boolean;
      /** Pending only: milliseconds after which it voids itself; 0 = never. */
      readonly timeoutMs: number;
      readonly origin: TransferOrigin;
    }
  | { readonly kind: "transfer.post"; readonly pendingId: string }
  | { readonly kind: "transfer.void"; readonly pendingId: string }
  | { readonly kind: "timpe.process" }
  | { readonly kind: "asset.create"; readonly id: string; readonly value: bigint }
  | { readonly kind: "asset.update"; readonly id: string; readonly delta: bigint }
  | { readonly kind: "table.create"; readonly name: string; readonly indexes: readonly string[] }
  | { readonly kind: "txn"; readonly operations: readonly Operation[] };

/**
 * Transfers of origin "api" as records in bytes (transfer-list.ts): the same as their
 * transfer.create commands in order, applied without an object per transfer.
 */
export interface TransferList {
  readonly kind: "transfer.list";
  readonly count: number;
  readonly records: Uint8Array;
}

/**
 * What the log holds and the engine applies: a command, or a list of transfers. (Command
 * alone is what the frozen reference engine, engine/reference/, understands.)
 */
export type LogCommand = Command | TransferList;

/** The command that creates a transfer (posted or pending). */
export type TransferCreate = Extract<Command, { kind: "transfer.create" }>;

export type CommandKind = LogCommand["kind"];

const kindTags: Record<CommandKind, number> = {
  "account.create": 1,
  "transfer.create": 2,
  "transfer.post": 3,
  "transfer.void": 4,
  "timpe.process": 5,
  "asset.create": 6,
  "asset.update": 7,
  "table.create": 8,
  txn: 9,
  "transfer.list": 10,
};
const kindsByTag = new Map<number, CommandKind>(
  Object.entries(kindTags).map(([kind, tag]) => [tag, kind as CommandKind]),
);

export function encodeCommand(writer: BytesWriter, command: LogCommand): void {
  writer.u8(kindTags[command.kind]);
  switch (command.kind) {
    case "account.create":
      writer.string(command.id);
      writer.i64(command.balance);
      encodeValue(writer, command.floor);
      encodeValue(writer, command.nickname);
      return;
    case "transfer.create":
      writer.string(command.id);
      writer.string(command.debitId);
      writer.string(command.creditId);
      writer.i64(command.amount);
      writer.u8(command.pending ? 1 : 0);
      writer.u53(command.timeoutMs);
      writer.u8(command.origin === "timpe" ? 1 : 0);
      return;
    case "transfer.list":
      writer.u32(command.count);
      writer.u32(command.records.length);
      writer.raw(command.records);
      return;
    case "transfer.post":
    case "transfer.void":
      writer.string(command.pendingId);
      return;
    case "timpe.process":
      return;
    case "asset.create":
      writer.string(command.id);
      writer.i64(command.value);
      return;
    case "asset.update":
      writer.string(command.id);
      writer.i64(command.delta);
      return;
    case "table.create":
      writer.string(command.name);
      writer.u16(command.indexes.length);
      for (const column of command.indexes) writer.string(column);
      return;
    case "txn":
      writer.u16(command.operations.length);
      for (const operation of command.operations) encodeOperation(writer, operation);
      return;
    default:
      unreachable(command);
  }
}

export function decodeCommand(reader: BytesReader): LogCommand {
  const tag = reader.u8();
  const kind = kindsByTag.get(tag);
  if (kind === undefined) throw new TxgridError(ErrorCode.DECODE, `unknown command tag ${tag}`);
  switch (kind) {
    case "account.create":
      return {
        kind,
        id: reader.string(),
        balance: reader.i64(),
        floor: decodeTyped(reader, "bigint"),
        nickname: decodeTyped(reader, "string"),
      };
    case "transfer.create":
      return {
        kind,
        id: reader.string(),
        debitId: reader.string(),
        creditId: reader.string(),
        amount: reader.i64(),
        pending: decodeBoolean(reader),
        timeoutMs: reader.u53(),
        origin: decodeBoolean(reader) ? "timpe" : "api",
      };
    case "transfer.list":
      return readTransferList(reader);
    case "transfer.post":
    case "transfer.void":
      return { kind, pendingId: reader.string() };
    case "timpe.process":
      return { kind };
    case "asset.create":
      return { kind, id: reader.string(), value: reader.i64() };
    case "asset.update":
      return { kind, id: reader.string(), delta: reader.i64() };
    case "table.create": {
      const name = reader.string();
      const indexes: string[] = [];
      for (let count = reader.u16(); count > 0; count--) indexes.push(reader.string());
      return { kind, name, indexes };
    }
    case "txn": {
      const operations: Operation[] = [];
      for (let count = reader.u16(); count > 0; count--) operations.push(decodeOperation(reader));
      return { kind, operations };
    }
    default:
      return unreachable(kind);
  }
}

function decodeBoolean(reader: BytesReader): boolean {
  const byte = reader.u8();
  if (byte > 1) throw new TxgridError(ErrorCode.DECODE, `bad boolean ${byte}`);
  return byte === 1;
}

function decodeTyped<T extends "bigint" | "string">(
  reader: BytesReader,
  type: T,
): (T extends "bigint" ? bigint : string) | null {
  const value = decodeValue(reader);
  if (value !== null && typeof value !== type) {
    throw new TxgridError(ErrorCode.DECODE, `expected ${type} or null`);
  }
  return value as (T extends "bigint" ? bigint : string) | null;
}

const operationTags = { insert: 1, update: 2, delete: 3, read: 4 } as const;
const conditionTags = { exists: 1, absent: 2, compare: 3, floor: 4 } as const;
const operators: readonly CompareOperator[] = ["eq", "ne", "lt", "le", "gt", "ge"];

function encodeOperation(writer: BytesWriter, operation: Operation): void {
  writer.u8(operationTags[operation.kind]);
  writer.string(operation.table);
  writer.string(operation.key);
  const conditions = operation.conditions ?? [];
  writer.u16(conditions.length);
  for (const condition of conditions) encodeCondition(writer, condition);
  if (operation.kind === "insert") encodeRow(writer, operation.values);
  if (operation.kind === "update") {
    encodeRow(writer, operation.set ?? {});
    const increment = operation.increment ?? {};
    const columns = Object.keys(increment);
    writer.u16(columns.length);
    for (const column of columns) {
      writer.string(column);
      writer.i64(increment[column] as bigint);
    }
  }
}

function decodeOperation(reader: BytesReader): Operation {
  const tag = reader.u8();
  const table = reader.string();
  const key = reader.string();
  const conditions: Condition[] = [];
  for (let count = reader.u16(); count > 0; count--) conditions.push(decodeCondition(reader));
  switch (tag) {
    case operationTags.insert:
      return { kind: "insert", table, key, conditions, values: decodeRow(reader) };
    case operationTags.update: {
      const set = decodeRow(reader);
      const increment: Record<string, bigint> = {};
      for (let count = reader.u16(); count > 0; count--) increment[reader.string()] = reader.i64();
      return { kind: "update", table, key, conditions, set, increment };
    }
    case operationTags.delete:
      return { kind: "delete", table, key, conditions };
    case operationTags.read:
      return { kind: "read", table, key, conditions };
    default:
      throw new TxgridError(ErrorCode.DECODE, `unknown operation tag ${tag}`);
  }
}

function encodeCondition(writer: BytesWriter, condition: Condition): void {
  writer.u8(conditionTags[condition.kind]);
  if (condition.kind === "compare") {
    writer.string(condition.column);
    writer.u8(operators.indexOf(condition.operator));
    encodeValue(writer, condition.value);
  } else if (condition.kind === "floor") {
    writer.string(condition.column);
    writer.i64(condition.minimum);
  }
}

function decodeCondition(reader: BytesReader): Condition {
  const tag = reader.u8();
  switch (tag) {
    case conditionTags.exists:
      return { kind: "exists" };
    case conditionTags.absent:
      return { kind: "absent" };
    case conditionTags.compare: {
      const column = reader.string();
      const operator = operators[reader.u8()];
      if (operator === undefined) throw new TxgridError(ErrorCode.DECODE, "bad operator");
      return { kind: "compare", column, operator, value: decodeValue(reader) };
    }
    case conditionTags.floor:
      return { kind: "floor", column: reader.string(), minimum: reader.i64() };
    default:
      throw new TxgridError(ErrorCode.DECODE, `unknown condition tag ${tag}`);
  }
}
