// The typed surface shared by the TCP client (connect) and embedded mode (open): TxgridApi,
// its inputs, and its results. Money is bigint everywhere; ids are 1 to 128 characters of
// [A-Za-z0-9._:-]. Every call resolves with one result or record per input, in input order.
import type { ResultCode } from "../engine/index.ts";
import type {
  AccountRecord,
  AssetRecord,
  TransferListEncoder,
  TransferRecord,
} from "../protocol/index.ts";

export type { AccountRecord, AssetRecord, TransferRecord };

export interface NewAccount {
  readonly id: string;
  /** Initial balance; default 0. */
  readonly balance?: bigint;
  /** The lowest available balance allowed; default 0 (no overdraft); null: no floor. */
  readonly floor?: bigint | null;
  /** Unique among accounts when set; default none. */
  readonly nickname?: string | null;
}

export interface NewTransfer {
  /** Chosen by the caller: sending the same transfer again never applies it twice. */
  readonly id: string;
  readonly debitId: string;
  readonly creditId: string;
  /** Positive; the engine answers AMOUNT_INVALID otherwise. */
  readonly amount: bigint;
  /** Reserve the amount until postTransfer, voidTransfer or the timeout; default false. */
  readonly pending?: boolean;
  /** Pending only: void by itself after this many ms; default 0 = never. */
  readonly timeoutMs?: number;
}

export interface NewAsset {
  readonly id: string;
  readonly value: bigint;
}

export interface AssetUpdate {
  readonly id: string;
  /** Added to the asset's value (negative to subtract). */
  readonly delta: bigint;
}

/** The outcome of one operation. Refusals are outcomes, not exceptions. */
export interface OperationOutcome {
  /** A ResultCode: 0 (OK) or the reason the operation was refused. */
  readonly code: ResultCode;
  /** The code's stable name, e.g. "OK", "INSUFFICIENT_FUNDS". */
  readonly name: string;
  /** The id was seen before: this is its first outcome and nothing was applied again. */
  readonly duplicate: boolean;
  /** Assets only: the asset's value after the operation. */
  readonly value?: bigint;
}

export interface CallOptions {
  /** Overrides the client's timeout for this call (ms). */
  readonly timeoutMs?: number;
}

/**
 * txgrid's data API: the same for a network client (connect) and an embedded engine (open).
 * Calls fail (reject) only with a TxgridError: BAD_REQUEST (malformed input: nothing was
 * sent), TIMEOUT, OVERLOADED, SHUTTING_DOWN, STORAGE, or INTERNAL (the connection broke
 * while a request that cannot be resent safely was in flight: its outcome is unknown).
 */
export interface TxgridApi {
  createAccounts(
    accounts: readonly NewAccount[],
    options?: CallOptions,
  ): Promise<OperationOutcome[]>;
  createAccount(account: NewAccount, options?: CallOptions): Promise<OperationOutcome>;
  createTransfers(
    transfers: readonly NewTransfer[],
    options?: CallOptions,
  ): Promise<OperationOutcome[]>;
  createTransfer(transfer: NewTransfer, options?: CallOptions): Promise<OperationOutcome>;
  /** Transfers encoded as they were added to `list` (bulk loads); one frame, one outcome each. */
  createTransferList(list: TransferListEncoder, options?: CallOptions): Promise<OperationOutcome[]>;
  /** Completes pending transfers: the reserved amount moves to the credit account. */
  postTransfers(ids: readonly string[], options?: CallOptions): Promise<OperationOutcome[]>;
  postTransfer(id: string, options?: CallOptions): Promise<OperationOutcome>;
  /** Cancels pending transfers: the reserved amount returns to the debit account. */
  voidTransfers(ids: readonly string[], options?: CallOptions): Promise<OperationOutcome[]>;
  voidTransfer(id: string, options?: CallOptions): Promise<OperationOutcome>;
  createAssets(assets: readonly NewAsset[], options?: CallOptions): Promise<OperationOutcome[]>;
  createAsset(asset: NewAsset, options?: CallOptions): Promise<OperationOutcome>;
  /** Not idempotent: an update carries no id, so it is never resent after a disconnect. */
  updateAssets(updates: readonly AssetUpdate[], options?: CallOptions): Promise<OperationOutcome[]>;
  updateAsset(update: AssetUpdate, options?: CallOptions): Promise<OperationOutcome>;
  lookupAccounts(ids: readonly string[], options?: CallOptions): Promise<(AccountRecord | null)[]>;
  lookupAccount(id: string, options?: CallOptions): Promise<AccountRecord | null>;
  lookupTransfers(
    ids: readonly string[],
    options?: CallOptions,
  ): Promise<(TransferRecord | null)[]>;
  lookupTransfer(id: string, options?: CallOptions): Promise<TransferRecord | null>;
  lookupAssets(ids: readonly string[], options?: CallOptions): Promise<(AssetRecord | null)[]>;
  lookupAsset(id: string, options?: CallOptions): Promise<AssetRecord | null>;
  /** One round trip; resolves with its duration in ms. */
  ping(options?: CallOptions): Promise<number>;
  /** Refuses new calls, waits for the outstanding ones (bounded by their timeouts), closes. */
  close(): Promise<void>;
}
