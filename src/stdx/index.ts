// stdx: the small standard library every other module may use. No I/O, no state.
export { AssertionFailure, assert, maybe, must, unreachable } from "./assert.ts";
export { BytesReader, BytesWriter } from "./bytes.ts";
export { checksum } from "./checksum.ts";
export { type Clock, ManualClock } from "./clock.ts";
export { ErrorCode, isTxgridError, TxgridError } from "./errors.ts";
export { Prng } from "./prng.ts";
