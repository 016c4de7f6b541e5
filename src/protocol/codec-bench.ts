// A quick measurement of the codec's cost per operation on the largest batches: encodeFrame,
// decodeFrame + decodeBody, and the round trip, for a CREATE_TRANSFERS request of
// BATCH_OPERATIONS_MAX transfers and for its RESULTS reply; and FrameDecoder cutting that
// request out of 64 KiB chunks. Prints the best of many rounds (the least disturbed by other
// load). Not a test: run it by hand, and copy the figures into docs/protocol.md.
//
//   npx tsc -p . && node dist/src/protocol/codec-bench.js [seconds per case, default 1]
import { ResultCode } from "../engine/index.ts";
import { Prng } from "../stdx/index.ts";
import { decodeBody, decodeFrame, encodeFrame } from "./codec.ts";
import { FrameDecoder } from "./frame-decoder.ts";
import { BATCH_OPERATIONS_MAX, MessageKind } from "./layout.ts";
import type { Message, TransferCreate } from "./messages.ts";

const secondsPerCase = Number(process.argv[2] ?? 1);
const count = BATCH_OPERATIONS_MAX;
const prng = new Prng(42);

function hex(length: number): string {
  let text = "";
  while (text.length < length) text += prng.nextUint32().toString(16).padStart(8, "0");
  return text.slice(0, length);
}

// Transfer ids like UUIDs (36 characters), accounts among a thousand short ids.
const transfers: TransferCreate[] = Array.from({ length: count }, (_, index) => ({
  id: `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`,
  debitId: `account-${prng.nextInt(1000)}`,
  creditId: `account-${prng.nextInt(1000)}`,
  amount: BigInt(1 + prng.nextInt(1_000_000)),
  pending: index % 4 === 0,
  timeoutMs: index % 4 === 0 ? 60_000 : 0,
}));
const request: Message = { kind: MessageKind.CREATE_TRANSFERS, transfers };
const reply: Message = {
  kind: MessageKind.RESULTS,
  results: transfers.map((_, index) => ({
    code: index % 10 === 0 ? ResultCode.INSUFFICIENT_FUNDS : ResultCode.OK,
    duplicate: false,
    value: null,
  })),
};

/** Best time per operation over rounds of `action`, in nanoseconds. */
function measure(action: () => void): number {
  for (let warmup = 0; warmup < 20; warmup++) action();
  let best = Number.POSITIVE_INFINITY;
  const deadline = performance.now() + secondsPerCase * 1000;
  while (performance.now() < deadline) {
    const start = performance.now();
    action();
    best = Math.min(best, performance.now() - start);
  }
  return (best * 1e6) / count;
}

function report(name: string, nanoseconds: number): void {
  process.stdout.write(`${name.padEnd(44)} ${nanoseconds.toFixed(0).padStart(6)} ns/op\n`);
}

function decode(bytes: Uint8Array): void {
  const frame = decodeFrame(bytes);
  decodeBody(frame.kind, frame.body);
}

function cutFrames(bytes: Uint8Array): void {
  const decoder = new FrameDecoder();
  for (let offset = 0; offset < bytes.length; offset += 65_536) {
    decoder.push(bytes.subarray(offset, offset + 65_536));
  }
  if (decoder.pull() === null) throw new Error("no frame");
}

const requestBytes = encodeFrame(1, request);
const replyBytes = encodeFrame(1, reply);
process.stdout.write(
  `${count} transfers: request ${requestBytes.length} bytes, reply ${replyBytes.length} bytes\n`,
);
report(
  "CREATE_TRANSFERS encode",
  measure(() => encodeFrame(1, request)),
);
report(
  "CREATE_TRANSFERS decode",
  measure(() => decode(requestBytes)),
);
report(
  "CREATE_TRANSFERS encode + decode",
  measure(() => decode(encodeFrame(1, request))),
);
report(
  "RESULTS encode + decode",
  measure(() => decode(encodeFrame(1, reply))),
);
report(
  "FrameDecoder, request in 64 KiB chunks",
  measure(() => cutFrames(requestBytes)),
);
