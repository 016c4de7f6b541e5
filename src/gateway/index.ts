// gateway: what a binary protocol request means to a shard. Turns decoded requests into
// engine commands (writes, one submitMany per request) or engine reads, and engine results
// and rows into protocol replies. Shared by the TCP server and embedded mode so that both
// faces behave identically. Pure translation plus one call into the shard: no sockets.
export {
  answerRead,
  isWriteRequest,
  type ReadReply,
  type ReadRequest,
  requestCommands,
  resultsReply,
  submitTransferCommandsWith,
  submitTransferList,
  submitWrite,
  transferListCommands,
  type WriteRequest,
} from "./gateway.ts";
export { accountRecord, assetRecord, operationResult, transferRecord } from "./records.ts";
