// Helpers for the shard's tests: the engine commands of an account and
// of a transfer from "a" to "b", with only what a test varies as parameters. Not used by
// production code.
import type { Command } from "../engine/index.ts";

/** An account.create of `id` with `balance` and a floor of 0. */
export const account = (id: string, balance: bigint): Command => ({
  kind: "account.create",
  id,
  balance,
  floor: 0n,
  nickname: null,
});

/** A posted transfer.create of `amount` from "a" to "b"; `extra` overrides any field. */
export const transfer = (id: string, amount: bigint, extra: Partial<Command> = {}): Command =>
  ({
    kind: "transfer.create",
    id,
    debitId: "a",
    creditId: "b",
    amount,
    pending: false,
    timeoutMs: 0,
    origin: "api",
    ...extra,
  }) as Command;
