// txgrid's package entry (`import { connect, open } from "txgrid"`): the TCP client, embedded
// mode, the shared TxgridApi and its types, result codes and error codes. Everything a
// program needs to use txgrid; servers are started with the `txgrid serve` command.
export {
  type AccountRecord,
  type AssetRecord,
  type AssetUpdate,
  type CallOptions,
  type Client,
  type ClientOptions,
  type ClientStats,
  connect,
  type NewAccount,
  type NewAsset,
  type NewTransfer,
  type OperationOutcome,
  type TcpAddress,
  TransferListEncoder,
  type TransferRecord,
  type TxgridApi,
} from "./client/index.ts";
export { type Embedded, type OpenOptions, open } from "./embedded/index.ts";
export { ResultCode, resultName } from "./engine/index.ts";
export { ErrorCode, isTxgridError, TxgridError } from "./stdx/index.ts";
