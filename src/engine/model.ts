// A slow, obviously-correct reference model of the ledger and assets, written without the
// generic transaction mechanism, tables or indexes. Property tests run the same commands
// through Engine and Model and require identical result codes and balances; a bug must then
// be made twice, in two different shapes, to go unnoticed.
import {
  AMOUNT_MAX,
  BALANCE_MIN,
  PENDING_TIMEOUT_MS_MAX,
  PENDING_TRANSFERS_MAX,
} from "../constants.ts";
import type { Command } from "./commands.ts";
import { ResultCode } from "./results.ts";
import { isValidId } from "./values.ts";

interface ModelAccount {
  balance: bigint;
  reserved: bigint;
  readonly floor: bigint | null;
  readonly initial: bigint;
  readonly nickname: string | null;
}

interface ModelTransfer {
  readonly fields: string;
  readonly code: ResultCode;
  readonly debit: string;
  readonly credit: string;
  readonly amount: bigint;
  readonly pending: boolean;
  readonly timpe: boolean;
  state: "pending" | "posted" | "voided" | "expired" | "failed";
  readonly deadlineMs: number | null;
  readonly order: number;
}

const inRange = (value: bigint) => value >= BALANCE_MIN && value <= AMOUNT_MAX;

export class Model {
  readonly accounts = new Map<string, ModelAccount>();
  readonly transfers = new Map<string, ModelTransfer>();
  readonly assets = new Map<string, { value: bigint; updates: bigint }>();
  nowMs = 0;
  #order = 0;

  applyBatch(timestampMs: number, commands: readonly Command[]): ResultCode[] {
    this.nowMs = timestampMs;
    this.#expire();
    return commands.map((command) => this.#apply(command));
  }

  #expire(): void {
    const due = [...this.transfers.entries()]
      .filter(
        ([, t]) => t.state === "pending" && t.deadlineMs !== null && t.deadlineMs <= this.nowMs,
      )
      .sort(
        ([, a], [, b]) => (a.deadlineMs as number) - (b.deadlineMs as number) || a.order - b.order,
      );
    for (const [id] of due) this.#resolve(id, "expired");
  }

  #apply(command: Command): ResultCode {
    switch (command.kind) {
      case "account.create":
        return this.#createAccount(command);
      case "transfer.create":
        return this.#createTransfer(command);
      case "transfer.post":
        return this.#resolve(command.pendingId, "posted");
      case "transfer.void":
        return this.#resolve(command.pendingId, "voided");
      case "timpe.process": {
        for (const [id, t] of [...this.transfers])
          if (t.timpe && t.state === "pending") this.#resolve(id, "posted");
        return ResultCode.OK;
      }
      case "asset.create":
        if (!isValidId(command.id)) return ResultCode.ID_INVALID;
        if (this.assets.has(command.id)) return ResultCode.ASSET_EXISTS;
        this.assets.set(command.id, { value: command.value, updates: 0n });
        return ResultCode.OK;
      case "asset.update": {
        if (!isValidId(command.id)) return ResultCode.ID_INVALID;
        const asset = this.assets.get(command.id);
        if (asset === undefined) return ResultCode.ASSET_NOT_FOUND;
        if (!inRange(asset.value + command.delta)) return ResultCode.OVERFLOW;
        asset.value += command.delta;
        asset.updates += 1n;
        return ResultCode.OK;
      }
      default:
        throw new Error(`model does not cover ${command.kind}`);
    }
  }

  #createAccount(command: Extract<Command, { kind: "account.create" }>): ResultCode {
    if (!isValidId(command.id)) return ResultCode.ID_INVALID;
    if (
      command.nickname !== null &&
      (command.nickname.length === 0 || command.nickname.length > 256)
    ) {
      return ResultCode.ID_INVALID;
    }
    const existing = this.accounts.get(command.id);
    if (existing !== undefined) {
      const same =
        existing.initial === command.balance &&
        existing.floor === command.floor &&
        existing.nickname === command.nickname;
      return same ? ResultCode.OK : ResultCode.ACCOUNT_EXISTS;
    }
    if (command.nickname !== null) {
      for (const account of this.accounts.values()) {
        if (account.nickname === command.nickname) return ResultCode.NICKNAME_TAKEN;
      }
    }
    if (command.floor !== null && command.balance < command.floor)
      return ResultCode.BALANCE_INVALID;
    this.accounts.set(command.id, {
      balance: command.balance,
      reserved: 0n,
      floor: command.floor,
      initial: command.balance,
      nickname: command.nickname,
    });
    return ResultCode.OK;
  }

  #createTransfer(command: Extract<Command, { kind: "transfer.create" }>): ResultCode {
    const fields = JSON.stringify([
      command.debitId,
      command.creditId,
      String(command.amount),
      command.pending,
      command.timeoutMs,
      command.origin,
    ]);
    const stored = this.transfers.get(command.id);
    if (stored !== undefined)
      return stored.fields === fields ? stored.code : ResultCode.TRANSFER_EXISTS;
    const code = this.#transferCode(command);
    if (code === ResultCode.ID_INVALID) return code;
    const pendingOk = code === ResultCode.OK && command.pending;
    this.transfers.set(command.id, {
      fields,
      code,
      debit: command.debitId,
      credit: command.creditId,
      amount: command.amount,
      pending: command.pending,
      timpe: command.origin === "timpe",
      state: code !== ResultCode.OK ? "failed" : command.pending ? "pending" : "posted",
      deadlineMs: pendingOk && command.timeoutMs > 0 ? this.nowMs + command.timeoutMs : null,
      order: this.#order++,
    });
    if (code === ResultCode.OK) {
      const debit = this.accounts.get(command.debitId) as ModelAccount;
      const credit = this.accounts.get(command.creditId) as ModelAccount;
      if (command.pending) debit.reserved += command.amount;
      else {
        debit.balance -= command.amount;
        credit.balance += command.amount;
      }
    }
    return code;
  }

  #transferCode(command: Extract<Command, { kind: "transfer.create" }>): ResultCode {
    if (!isValidId(command.id) || !isValidId(command.debitId) || !isValidId(command.creditId)) {
      return ResultCode.ID_INVALID;
    }
    if (command.amount <= 0n || command.amount > AMOUNT_MAX) return ResultCode.AMOUNT_INVALID;
    if (command.debitId === command.creditId) return ResultCode.ACCOUNTS_MUST_BE_DIFFERENT;
    if (command.timeoutMs < 0 || command.timeoutMs > PENDING_TIMEOUT_MS_MAX)
      return ResultCode.TIMEOUT_INVALID;
    if (!command.pending && command.timeoutMs !== 0) return ResultCode.TIMEOUT_INVALID;
    const pendingCount = [...this.transfers.values()].filter((t) => t.state === "pending").length;
    if (command.pending && pendingCount >= PENDING_TRANSFERS_MAX)
      return ResultCode.PENDING_LIMIT_REACHED;
    const debit = this.accounts.get(command.debitId);
    if (debit === undefined) return ResultCode.DEBIT_ACCOUNT_NOT_FOUND;
    const amount = command.amount;
    const available = debit.balance - debit.reserved;
    if (command.pending ? !inRange(debit.reserved + amount) : !inRange(debit.balance - amount)) {
      return ResultCode.OVERFLOW;
    }
    if (!inRange(available - amount)) return ResultCode.OVERFLOW;
    if (debit.floor !== null && available - amount < debit.floor)
      return ResultCode.INSUFFICIENT_FUNDS;
    const credit = this.accounts.get(command.creditId);
    if (credit === undefined) return ResultCode.CREDIT_ACCOUNT_NOT_FOUND;
    if (!command.pending) {
      const creditAvailable = credit.balance - credit.reserved;
      if (!inRange(credit.balance + amount) || !inRange(creditAvailable + amount))
        return ResultCode.OVERFLOW;
    }
    return ResultCode.OK;
  }

  #resolve(id: string, resolution: "posted" | "voided" | "expired"): ResultCode {
    if (!isValidId(id)) return ResultCode.ID_INVALID;
    const transfer = this.transfers.get(id);
    if (transfer === undefined || transfer.state === "failed") return ResultCode.PENDING_NOT_FOUND;
    if (!transfer.pending) return ResultCode.NOT_PENDING;
    if (transfer.state !== "pending") {
      if (transfer.state === resolution) return ResultCode.OK;
      if (transfer.state === "expired") return ResultCode.PENDING_EXPIRED;
      return transfer.state === "posted"
        ? ResultCode.PENDING_ALREADY_POSTED
        : ResultCode.PENDING_ALREADY_VOIDED;
    }
    const debit = this.accounts.get(transfer.debit) as ModelAccount;
    const credit = this.accounts.get(transfer.credit) as ModelAccount;
    if (resolution === "posted") {
      if (!inRange(debit.balance - transfer.amount)) return ResultCode.OVERFLOW;
      const creditAvailable = credit.balance - credit.reserved;
      if (
        !inRange(credit.balance + transfer.amount) ||
        !inRange(creditAvailable + transfer.amount)
      ) {
        return ResultCode.OVERFLOW;
      }
      debit.balance -= transfer.amount;
      credit.balance += transfer.amount;
    }
    debit.reserved -= transfer.amount;
    transfer.state = resolution;
    return ResultCode.OK;
  }
}
