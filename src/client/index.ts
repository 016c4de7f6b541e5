// client: txgrid's TypeScript client. connect() gives a TxgridApi over the binary protocol
// (docs/client.md): typed calls, automatic batching of concurrent calls into frames,
// pipelining, a timeout on every call, reconnection, and safe resending of creations.
// ApiCore and Transport let embedded mode offer the same API without the network.

export {
  CALL_TIMEOUT_MS_DEFAULT,
  CALL_TIMEOUT_MS_MAX,
  CLIENT_PRIMARY_RETRIES_MAX,
  CLIENT_QUEUED_OPERATIONS_MAX,
  CONNECT_TIMEOUT_MS_DEFAULT,
  RECONNECT_DELAY_MS_MAX,
  RECONNECT_DELAY_MS_MIN,
  TCP_PORT_DEFAULT,
} from "../constants.ts";
export { IdTable, TransferListEncoder } from "../protocol/index.ts";
export { ApiCore, type ApiOptions, type Transport } from "./api.ts";
// Test support: the whole-API scenario both faces are tested with.
export { checkScenarioState, runApiScenario } from "./api-scenario.ts";
export type {
  AccountRecord,
  AssetRecord,
  AssetUpdate,
  CallOptions,
  NewAccount,
  NewAsset,
  NewTransfer,
  OperationOutcome,
  TransferRecord,
  TxgridApi,
} from "./api-types.ts";
export {
  type Client,
  type ClientOptions,
  type ClientStats,
  connect,
  parseAddress,
  parseAddresses,
} from "./connect.ts";
export { errorOfReply, type Outgoing } from "./outgoing.ts";
export { primaryAddressOf, type TcpAddress } from "./tcp-transport.ts";
