// Goal: a body written by TransferListEncoder is byte for byte the body encodeFrame writes
// for the same transfers, its frame decodes to them, decodeTransferList reads them back like
// decodeRequest, and a bad transfer is refused without changing the list. Method: fast-check
// over random transfer batches (ids, i64 amounts at the limits, pending, timeouts), amounts
// given as bigint and, when safe, as numbers (both sign-extension paths); then each kind of
// bad field one by one. addSerial (ids from an IdTable) must write exactly what add() writes
// for the same ids, and refuse what add() refuses.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ID_BYTES_MAX } from "../constants.ts";
import { ErrorCode, isTxgridError } from "../stdx/index.ts";
import {
  decodeFrame,
  decodeRequest,
  decodeTransferList,
  encodeFrame,
  encodeTransferListFrame,
} from "./codec.ts";
import { BATCH_OPERATIONS_MAX, HEADER_BYTES, MessageKind } from "./layout.ts";
import { transferCreateArbitrary } from "./message-arbitraries.ts";
import type { TransferCreate } from "./messages.ts";
import { IdTable, TransferListEncoder } from "./transfer-list.ts";

const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);

function asNumberWhenSafe(amount: bigint): number | bigint {
  const number = Number(amount);
  return Number.isSafeInteger(number) ? number : amount;
}

test("an encoded list is the frame encoder's body, and decodes back", () => {
  const encoder = new TransferListEncoder();
  fc.assert(
    fc.property(
      fc.array(transferCreateArbitrary, { minLength: 1, maxLength: 60 }),
      fc.boolean(),
      fc.integer({ min: 1, max: 2 ** 40 }),
      (transfers, amountsAsNumbers, requestId) => {
        encoder.reset();
        for (const transfer of transfers) {
          const amount = amountsAsNumbers ? asNumberWhenSafe(transfer.amount) : transfer.amount;
          const { id, debitId, creditId, pending, timeoutMs } = transfer;
          encoder.add(id, debitId, creditId, amount, pending, timeoutMs);
        }
        assert.equal(encoder.count, transfers.length);
        const message = { kind: MessageKind.CREATE_TRANSFERS, transfers } as const;
        const expected = encodeFrame(requestId, message);
        const frame = encodeTransferListFrame(requestId, encoder.body());
        assert.deepEqual(frame, expected);
        assert.deepEqual(decodeRequest(decodeFrame(frame)), message);
        const made = decodeTransferList(
          frame.subarray(HEADER_BYTES),
          (id, debitId, creditId, amount, pending, timeoutMs): TransferCreate => ({
            id,
            debitId,
            creditId,
            amount,
            pending,
            timeoutMs,
          }),
        );
        assert.deepEqual(made, transfers);
      },
    ),
    { seed, numRuns: 300 },
  );
});

test("number amounts take both paths: 32-bit and wider, either sign", () => {
  const amounts = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 32, -(2 ** 32)];
  amounts.push(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1234567890123, -987654321098);
  const encoder = new TransferListEncoder();
  for (const amount of amounts) encoder.add(`t${encoder.count}`, "a", "b", amount);
  const decoded = decodeTransferList(encoder.body(), (_id, _debit, _credit, amount) => amount);
  assert.deepEqual(
    decoded,
    amounts.map((amount) => BigInt(amount)),
  );
});

test("a bad transfer is refused with BAD_REQUEST and leaves the list unchanged", () => {
  const encoder = new TransferListEncoder();
  encoder.add("t1", "a", "b", 5);
  const before = encoder.body().slice();
  const long = "x".repeat(ID_BYTES_MAX + 1);
  const bad: [string, string, string, number | bigint, boolean, number][] = [
    ["", "a", "b", 1, false, 0],
    [long, "a", "b", 1, false, 0],
    ["t2", "a b", "b", 1, false, 0],
    ["t2", "a", "bé", 1, false, 0],
    ["t2", "a", "b\u0141", 1, false, 0],
    ["t2", "a", "b", 1.5, false, 0],
    ["t2", "a", "b", 2 ** 53, false, 0],
    ["t2", "a", "b", 2n ** 63n, false, 0],
    ["t2", "a", "b", -(2n ** 63n) - 1n, false, 0],
    ["t2", "a", "b", 1, true, -1],
    ["t2", "a", "b", 1, true, 2 ** 32],
    ["t2", "a", "b", 1, true, 0.5],
  ];
  for (const [id, debitId, creditId, amount, pending, timeoutMs] of bad) {
    assert.throws(
      () => encoder.add(id, debitId, creditId, amount, pending, timeoutMs),
      (error) => isTxgridError(error, ErrorCode.BAD_REQUEST),
      `refuses ${JSON.stringify([id, debitId, creditId, String(amount), pending, timeoutMs])}`,
    );
    assert.equal(encoder.count, 1);
    assert.deepEqual(encoder.body(), before);
  }
  // Not a string at all (a caller without types):
  assert.throws(
    () => encoder.add(7 as unknown as string, "a", "b", 1),
    (error) => isTxgridError(error, ErrorCode.BAD_REQUEST),
  );
});

test("more than BATCH_OPERATIONS_MAX transfers are refused with LIMIT_EXCEEDED", () => {
  const encoder = new TransferListEncoder();
  for (let index = 0; index < BATCH_OPERATIONS_MAX; index++) {
    encoder.add(`t${index}`, "a", "b", 1);
  }
  assert.throws(
    () => encoder.add("one-more", "a", "b", 1),
    (error) => isTxgridError(error, ErrorCode.LIMIT_EXCEEDED),
  );
  assert.equal(encoder.count, BATCH_OPERATIONS_MAX);
  encoder.reset();
  assert.equal(encoder.count, 0);
  assert.equal(decodeTransferList(encoder.body(), () => 0).length, 0);
});

test("addSerial writes what add() writes for the same ids, and refuses what add() refuses", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          serial: fc.oneof(fc.nat({ max: 12 }), fc.constantFrom(9, 10, 99, 100, 2 ** 53 - 1)),
          debit: fc.nat({ max: 3 }),
          credit: fc.nat({ max: 3 }),
          amount: fc.oneof(fc.integer(), fc.constantFrom(2 ** 53 - 1, -(2 ** 53) + 1, 2 ** 32)),
        }),
        { minLength: 1, maxLength: 20 },
      ),
      (transfers) => {
        const prefixes = ["bt-x-", "p"];
        const accounts = ["a", "acct-1", "b.c:d_e-f", "x".repeat(ID_BYTES_MAX)];
        const byTable = new TransferListEncoder();
        const byStrings = new TransferListEncoder();
        const prefixTable = new IdTable(prefixes);
        const accountTable = new IdTable(accounts);
        for (const [index, transfer] of transfers.entries()) {
          const prefix = index % 2;
          const id = `${prefixes[prefix]}${transfer.serial}`;
          const debitId = accounts[transfer.debit] as string;
          const creditId = accounts[transfer.credit] as string;
          byStrings.add(id, debitId, creditId, transfer.amount);
          const { serial, debit, credit, amount } = transfer;
          byTable.addSerial(prefixTable, prefix, serial, accountTable, debit, credit, amount);
        }
        assert.deepEqual(byTable.body(), byStrings.body());
      },
    ),
    { seed, numRuns: 100 },
  );
  const list = new TransferListEncoder();
  const prefixes = new IdTable(["x".repeat(ID_BYTES_MAX - 1)]);
  const accounts = new IdTable(["a", "b"]);
  const refused = (add: () => void) => {
    assert.throws(add, (error) => isTxgridError(error) && error.code === ErrorCode.BAD_REQUEST);
  };
  refused(() => list.addSerial(prefixes, 0, 10, accounts, 0, 1, 1)); // id of 129 characters
  refused(() => list.addSerial(prefixes, 0, -1, accounts, 0, 1, 1));
  refused(() => list.addSerial(prefixes, 0, 1, accounts, 0, 2, 1));
  refused(() => list.addSerial(prefixes, 1, 1, accounts, 0, 1, 1));
  refused(() => list.addSerial(prefixes, 0, 1, accounts, 0, 1, 0.5));
  refused(() => new IdTable(["ok", "not ok"]));
  refused(() => new IdTable([""]));
  assert.equal(list.count, 0, "a refused transfer leaves the list as it was");
  list.addSerial(prefixes, 0, 9, accounts, 1, 0, 5);
  assert.equal(list.count, 1);
});
