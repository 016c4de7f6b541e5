// stdx: the small standard library every other module may use. No I/O, no state.
export { asciiString } from "./ascii.ts";
export { AssertionFailure, assert, maybe, must, unreachable } from "./assert.ts";
export { BusyPoll, type BusyPollOptions } from "./busy-poll.ts";
export { BytesReader, BytesWriter } from "./bytes.ts";
export { checksum, createDigest, type Digest, digestHex } from "./checksum.ts";
export { type Clock, ManualClock, type Timers } from "./clock.ts";
export { ErrorCode, isTxgridError, TxgridError } from "./errors.ts";
export { hasIdCharactersOnly, ID_CHARACTER } from "./id-alphabet.ts";
export { MinHeap } from "./min-heap.ts";
export { Prng } from "./prng.ts";
