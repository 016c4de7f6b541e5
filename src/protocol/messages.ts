// The messages of txgrid's binary protocol as TypeScript values: one type per message kind,
// each carrying its `kind`, so that `switch (message.kind)` narrows to the body. Field names
// are the field names of LAYOUTS (layout.ts); the byte layout of each is in docs/protocol.md.
//
// Conventions: amounts, balances and asset values are bigint (signed 64-bit on the wire);
// timestamps, counts and sequence numbers are numbers below 2^53; ids are strings of 1 to
// ID_BYTES_MAX characters of [A-Za-z0-9._:-]; null stands for "none" (no floor, no
// nickname, not found).
import type { ResultCode } from "../engine/index.ts";
import type { MessageKind, ReplyKind, RequestKind, TransferRecordState } from "./layout.ts";

export interface AccountCreate {
  readonly id: string;
  readonly balance: bigint;
  /** The lowest available balance allowed; null means no floor. */
  readonly floor: bigint | null;
  readonly nickname: string | null;
}

export interface TransferCreate {
  readonly id: string;
  readonly debitId: string;
  readonly creditId: string;
  readonly amount: bigint;
  /** A pending transfer reserves the amount until it is posted, voided or expires. */
  readonly pending: boolean;
  /** Pending only: milliseconds after which it voids itself; 0 = never. */
  readonly timeoutMs: number;
}

export interface AssetCreate {
  readonly id: string;
  readonly value: bigint;
}

export interface AssetUpdate {
  readonly id: string;
  readonly delta: bigint;
}

/** The outcome of one operation of a request, at the operation's position. */
export interface OperationResult {
  readonly code: ResultCode;
  /** The id was seen before: this is its first outcome, and nothing was applied again. */
  readonly duplicate: boolean;
  /** Assets: the value after the operation; null for every other operation. */
  readonly value: bigint | null;
}

export interface AccountRecord {
  readonly id: string;
  readonly nickname: string | null;
  readonly balance: bigint;
  readonly reserved: bigint;
  readonly available: bigint;
  readonly floor: bigint | null;
  readonly initial: bigint;
  readonly createdAtMs: number;
}

export interface TransferRecord {
  readonly id: string;
  readonly debitId: string;
  readonly creditId: string;
  readonly amount: bigint;
  readonly pending: boolean;
  readonly state: TransferRecordState;
  /** OK, or the first failure that a "failed" transfer id is pinned to. */
  readonly code: ResultCode;
  readonly timeoutMs: number;
  readonly createdAtMs: number;
  readonly resolvedAtMs: number | null;
  /** Position among stored transfers; null for a failed transfer. */
  readonly sequence: number | null;
}

export interface AssetRecord {
  readonly id: string;
  readonly value: bigint;
  /** How many updates were applied to the asset. */
  readonly updates: number;
}

type Kind<K extends MessageKind> = { readonly kind: K };
type Ids = { readonly ids: readonly string[] };

export type PingRequest = Kind<typeof MessageKind.PING>;
export type CreateAccountsRequest = Kind<typeof MessageKind.CREATE_ACCOUNTS> & {
  readonly accounts: readonly AccountCreate[];
};
export type CreateTransfersRequest = Kind<typeof MessageKind.CREATE_TRANSFERS> & {
  readonly transfers: readonly TransferCreate[];
};
export type PostTransfersRequest = Kind<typeof MessageKind.POST_TRANSFERS> & Ids;
export type VoidTransfersRequest = Kind<typeof MessageKind.VOID_TRANSFERS> & Ids;
export type LookupAccountsRequest = Kind<typeof MessageKind.LOOKUP_ACCOUNTS> & Ids;
export type LookupTransfersRequest = Kind<typeof MessageKind.LOOKUP_TRANSFERS> & Ids;
export type CreateAssetsRequest = Kind<typeof MessageKind.CREATE_ASSETS> & {
  readonly assets: readonly AssetCreate[];
};
export type UpdateAssetsRequest = Kind<typeof MessageKind.UPDATE_ASSETS> & {
  readonly updates: readonly AssetUpdate[];
};
export type LookupAssetsRequest = Kind<typeof MessageKind.LOOKUP_ASSETS> & Ids;

export type PongReply = Kind<typeof MessageKind.PONG>;
export type ResultsReply = Kind<typeof MessageKind.RESULTS> & {
  readonly results: readonly OperationResult[];
};
export type AccountsReply = Kind<typeof MessageKind.ACCOUNTS> & {
  readonly accounts: readonly (AccountRecord | null)[];
};
export type TransfersReply = Kind<typeof MessageKind.TRANSFERS> & {
  readonly transfers: readonly (TransferRecord | null)[];
};
export type AssetsReply = Kind<typeof MessageKind.ASSETS> & {
  readonly assets: readonly (AssetRecord | null)[];
};
/**
 * A control-plane failure; answers request `requestId` of its frame, or none when 0. `code`
 * is a TXG_ERR_ code: one of ErrorCode (stdx/errors.ts), or one added after this build,
 * which a client treats as a generic failure.
 */
export type ErrorReply = Kind<typeof MessageKind.ERROR> & {
  readonly code: string;
  readonly message: string;
};

export type Request =
  | PingRequest
  | CreateAccountsRequest
  | CreateTransfersRequest
  | PostTransfersRequest
  | VoidTransfersRequest
  | LookupAccountsRequest
  | LookupTransfersRequest
  | CreateAssetsRequest
  | UpdateAssetsRequest
  | LookupAssetsRequest;

export type Reply =
  | PongReply
  | ResultsReply
  | AccountsReply
  | TransfersReply
  | AssetsReply
  | ErrorReply;

export type Message = Request | Reply;

/** The message type of one kind, e.g. MessageOf<typeof MessageKind.RESULTS>. */
export type MessageOf<K extends MessageKind> = Extract<Message, { readonly kind: K }>;

// Compile-time pairing checks: the request and reply unions cover exactly their kinds.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const requestKindsCovered: Same<Request["kind"], RequestKind> = true;
const replyKindsCovered: Same<Reply["kind"], ReplyKind> = true;
void requestKindsCovered;
void replyKindsCovered;
