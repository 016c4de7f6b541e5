// Goal: no byte stream, however damaged, makes FrameDecoder or decodeBody do anything but
// return frames and messages or throw a TxgridError with an expected code; and whatever does
// decode is canonical (it re-encodes to the same bytes). Method: for a time budget (3 s by
// default, FUZZ_SECONDS to change it, SEED to replay), build streams from valid frames,
// damage them (bit flips, byte writes, truncation, insertion, deletion, duplication, header
// fields and body bytes changed behind a recomputed checksum, or pure noise), feed them to a
// FrameDecoder in random chunks and decode every frame that comes out.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { checksum, ErrorCode, isTxgridError, Prng } from "../stdx/index.ts";
import { decodeBody, encodeFrame, type Frame } from "./codec.ts";
import { FrameDecoder } from "./frame-decoder.ts";
import { CHECKSUM_START, HEADER_BYTES, HeaderOffset } from "./layout.ts";
import { concat, framedMessageArbitrary } from "./message-arbitraries.ts";
import type { Message } from "./messages.ts";

const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);
const budgetMs = Number(process.env.FUZZ_SECONDS ?? 3) * 1000;
const { CORRUPT, DECODE, LIMIT_EXCEEDED, VERSION } = ErrorCode;
const FRAME_FAILURES: readonly string[] = [DECODE, VERSION, LIMIT_EXCEEDED, CORRUPT];
const BODY_FAILURES: readonly string[] = [DECODE, LIMIT_EXCEEDED];

interface Stats {
  streams: number;
  frames: number;
  messages: number;
  failures: Record<string, number>;
}

function count(stats: Stats, code: string): void {
  stats.failures[code] = (stats.failures[code] ?? 0) + 1;
}

function randomBytes(prng: Prng, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) bytes[index] = prng.nextInt(256);
  return bytes;
}

/** A frame with one header field or body byte changed and its checksum made valid again. */
function tamperBehindChecksum(prng: Prng, frame: Uint8Array): Uint8Array {
  const copy = frame.slice();
  const view = new DataView(copy.buffer);
  const choice = prng.nextInt(5);
  if (choice === 0) view.setUint16(HeaderOffset.kind, prng.nextInt(140), true);
  else if (choice === 1) view.setUint32(HeaderOffset.bodyBytes, prng.nextUint32(), true);
  else if (choice === 2) view.setUint32(HeaderOffset.requestId + 4, prng.nextInt(2 ** 22), true);
  else if (copy.length > HEADER_BYTES) {
    const index = HEADER_BYTES + prng.nextInt(copy.length - HEADER_BYTES);
    copy[index] = prng.nextInt(256);
  }
  view.setUint32(HeaderOffset.checksum, checksum(copy, CHECKSUM_START), true);
  return copy;
}

/** Damages `stream` in place or returns a damaged copy. */
function damage(prng: Prng, stream: Uint8Array): Uint8Array {
  if (stream.length === 0) return stream;
  const at = prng.nextInt(stream.length);
  switch (prng.nextInt(6)) {
    case 0:
      stream[at] = (stream[at] as number) ^ (1 << prng.nextInt(8));
      return stream;
    case 1:
      stream[at] = prng.nextInt(256);
      return stream;
    case 2:
      return stream.subarray(0, at);
    case 3: {
      const inserted = randomBytes(prng, 1 + prng.nextInt(40));
      return concat([stream.subarray(0, at), inserted, stream.subarray(at)]);
    }
    case 4:
      return concat([stream.subarray(0, at), stream.subarray(at + 1 + prng.nextInt(64))]);
    default:
      return concat([stream.subarray(0, at), stream.subarray(prng.nextInt(stream.length))]);
  }
}

/** Decodes one frame; a decoded message must re-encode to the frame's own bytes. */
function decodeOne(frame: Frame, stats: Stats): void {
  let message: Message;
  try {
    message = decodeBody(frame.kind, frame.body);
  } catch (error) {
    assert.ok(isTxgridError(error) && BODY_FAILURES.includes(error.code), String(error));
    count(stats, error.code);
    return;
  }
  stats.messages++;
  const bytes = encodeFrame(frame.requestId, message);
  assert.equal(bytes.length, HEADER_BYTES + frame.body.length);
  assert.deepEqual(bytes.subarray(HEADER_BYTES), frame.body);
}

/** Feeds `stream` in random chunks, pulling after each; returns the frames that came out. */
function feed(prng: Prng, stream: Uint8Array, stats: Stats): Frame[] {
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  const chunkBytesMax = prng.chance(0.5) ? 8 : 4096;
  try {
    for (let offset = 0; offset < stream.length; ) {
      const size = 1 + prng.nextInt(chunkBytesMax);
      decoder.push(stream.subarray(offset, offset + size));
      offset += size;
      for (let frame = decoder.pull(); frame !== null; frame = decoder.pull()) {
        frames.push(frame);
        stats.frames++;
        decodeOne(frame, stats);
      }
    }
  } catch (error) {
    assert.ok(isTxgridError(error) && FRAME_FAILURES.includes(error.code), String(error));
    count(stats, error.code);
    assert.equal(decoder.failed, true);
  }
  return frames;
}

test("damaged streams yield frames, canonical messages or expected TxgridErrors", (context) => {
  const pool = fc
    .sample(framedMessageArbitrary, { seed, numRuns: 300 })
    .map(({ requestId, message }) => encodeFrame(requestId, message));
  const prng = new Prng(seed);
  const stats: Stats = { streams: 0, frames: 0, messages: 0, failures: {} };
  const deadline = performance.now() + budgetMs;
  while (performance.now() < deadline) {
    stats.streams++;
    const frames = Array.from(
      { length: 1 + prng.nextInt(4) },
      () => pool[prng.nextInt(pool.length)] as Uint8Array,
    );
    const tampered = frames.slice();
    if (prng.chance(0.3)) {
      const index = prng.nextInt(frames.length);
      tampered[index] = tamperBehindChecksum(prng, frames[index] as Uint8Array);
    }
    let stream = prng.chance(0.05) ? randomBytes(prng, prng.nextInt(512)) : concat(tampered);
    const damageCount = prng.nextInt(4);
    for (let round = 0; round < damageCount; round++) stream = damage(prng, stream);
    const pulled = feed(prng, stream, stats);
    maybeIntact(pulled, frames, stream);
  }
  context.diagnostic(`seed ${seed}: ${JSON.stringify(stats)}`);
  assert.ok(stats.streams > 100, "the budget allows a useful number of streams");
  assert.ok(stats.messages > 100, "many frames decode: the fuzzer reaches the body decoder");
});

/** A stream that came through undamaged must give back exactly its frames. */
function maybeIntact(pulled: readonly Frame[], frames: readonly Uint8Array[], stream: Uint8Array) {
  const intact = concat(frames);
  if (intact.length !== stream.length || !intact.every((byte, index) => byte === stream[index])) {
    return;
  }
  assert.equal(pulled.length, frames.length);
  for (const [index, frame] of pulled.entries()) {
    assert.deepEqual(frame.body, (frames[index] as Uint8Array).subarray(HEADER_BYTES));
  }
}
