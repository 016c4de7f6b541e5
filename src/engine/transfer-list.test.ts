// Goal: the log encoding of transfer lists (COMMAND_FORMAT_VERSION 2) round-trips, refuses
// damaged lists with DECODE instead of applying them, and leaves every version-1 command's
// bytes as they were (a version-1 log replays unchanged); a list applied by the engine gives
// the codes and the state of its transfers as single commands. Method: examples, with the
// bytes of a version-1 transfer.create written out by hand.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BytesReader, BytesWriter, ErrorCode, isTxgridError } from "../stdx/index.ts";
import { type Command, decodeCommand, encodeCommand, type TransferList } from "./commands.ts";
import { Engine } from "./engine.ts";
import { ResultCode } from "./results.ts";
import { TRANSFER_CODE_DUPLICATE, transferListOf } from "./transfer-list.ts";

type TransferCreate = Extract<Command, { kind: "transfer.create" }>;

function transfer(id: string, debitId: string, creditId: string, amount: bigint): TransferCreate {
  const fields = { amount, pending: false, timeoutMs: 0, origin: "api" as const };
  return { kind: "transfer.create", id, debitId, creditId, ...fields };
}

function encoded(command: Command | TransferList): Uint8Array {
  const writer = new BytesWriter(256, 1 << 20);
  encodeCommand(writer, command);
  return writer.copy();
}

function decodeError(bytes: Uint8Array): boolean {
  try {
    decodeCommand(new BytesReader(bytes));
  } catch (error) {
    return isTxgridError(error) && error.code === ErrorCode.DECODE;
  }
  return false;
}

test("a version-1 transfer.create keeps its bytes and decodes as before", () => {
  const command: TransferCreate = {
    kind: "transfer.create",
    id: "t1",
    debitId: "a",
    creditId: "b",
    amount: 5n,
    pending: true,
    timeoutMs: 300,
    origin: "timpe",
  };
  const version1 = "02020000007431010000006101000000620500000000000000012c0100000000000001";
  assert.equal(Buffer.from(encoded(command)).toString("hex"), version1);
  assert.deepEqual(decodeCommand(new BytesReader(Buffer.from(version1, "hex"))), command);
});

test("a transfer list round-trips through the log encoding; damaged ones are refused", () => {
  const pending = { ...transfer("t2", "b", "a", -(2n ** 63n)), pending: true, timeoutMs: 7 };
  const list = transferListOf([transfer("t1", "a", "b", 5n), pending]);
  const bytes = encoded(list);
  assert.equal(bytes[0], 10, "tag 10");
  assert.deepEqual(decodeCommand(new BytesReader(bytes)), list);
  // Truncated records, a reserved flag bit, bytes after the records, a count too high.
  const cut = encoded({ ...list, records: list.records.subarray(0, list.records.length - 1) });
  assert.ok(decodeError(cut));
  const flagged = bytes.slice();
  flagged[9] = 2;
  assert.ok(decodeError(flagged));
  const trailing = encoded({ ...list, records: Uint8Array.from([...list.records, 0]) });
  assert.ok(decodeError(trailing));
  assert.ok(decodeError(encoded({ ...list, count: 3 })));
});

test("a list gives the codes and state of its transfers applied one by one", () => {
  const accounts: Command[] = ["a", "b", "c"].map((id) => ({
    kind: "account.create",
    id,
    balance: 10n,
    floor: 0n,
    nickname: null,
  }));
  const transfers = [
    transfer("t1", "a", "b", 4n),
    transfer("t2", "a", "c", 7n), // insufficient funds: pinned to t2
    transfer("t1", "a", "b", 4n), // exact retry: duplicate
    transfer("t3", "c", "c", 1n), // same accounts
    transfer("t4", "zz", "a", 1n), // no such debit
    transfer("t5", "b", "a", 2n ** 52n), // beyond number arithmetic: the checked path
    transfer("bad id", "b", "a", 1n),
    transfer("t2", "b", "a", 1n), // conflicts with the pinned failure
    transfer("t6", "b", "a", 14n),
  ];
  const single = new Engine();
  const listed = new Engine();
  single.applyBatch(1, 1_000, accounts);
  listed.applyBatch(1, 1_000, accounts);
  const expected = single.applyBatch(2, 1_001, transfers);
  const [result] = listed.applyBatch(2, 1_001, [transferListOf(transfers)]);
  const codes = [...(result?.transferCodes ?? [])];
  assert.deepEqual(
    codes,
    expected.map((one) => one.code + (one.duplicate === true ? TRANSFER_CODE_DUPLICATE : 0)),
  );
  assert.deepEqual(codes.slice(0, 4), [
    ResultCode.OK,
    ResultCode.INSUFFICIENT_FUNDS,
    ResultCode.OK + TRANSFER_CODE_DUPLICATE,
    ResultCode.ACCOUNTS_MUST_BE_DIFFERENT,
  ]);
  assert.equal(listed.digest(), single.digest());
});
