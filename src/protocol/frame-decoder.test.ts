// Goal: FrameDecoder turns any chunking of a valid stream into the same frames, in order,
// copying as little as it can, and fails a hostile stream as soon as a header shows it.
// Method: a stream of random frames split at every byte boundary, in random chunkings and in
// one coalesced chunk; a large frame in small chunks; garbage, hostile lengths, wrong versions
// and corrupt checksums, checking which frames come out before the error.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ErrorCode, isTxgridError } from "../stdx/index.ts";
import { decodeBody, encodeFrame, type Frame } from "./codec.ts";
import { FrameDecoder } from "./frame-decoder.ts";
import { BODY_BYTES_MAX, HEADER_BYTES, HeaderOffset, MessageKind } from "./layout.ts";
import { concat, framedMessageArbitrary, largestMessages } from "./message-arbitraries.ts";

const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);

interface Expected {
  readonly kind: MessageKind;
  readonly requestId: number;
  readonly body: Uint8Array;
}

function sampleStream(
  count: number,
  runSeed: number,
): { stream: Uint8Array; expected: Expected[] } {
  const framed = fc.sample(framedMessageArbitrary, { seed: runSeed, numRuns: count });
  const frames = framed.map(({ requestId, message }) => encodeFrame(requestId, message));
  const expected = frames.map((bytes, index) => ({
    kind: (framed[index] as (typeof framed)[number]).message.kind,
    requestId: (framed[index] as (typeof framed)[number]).requestId,
    body: bytes.subarray(HEADER_BYTES),
  }));
  return { stream: concat(frames), expected };
}

function pullAll(decoder: FrameDecoder): Frame[] {
  const frames: Frame[] = [];
  for (let frame = decoder.pull(); frame !== null; frame = decoder.pull()) frames.push(frame);
  return frames;
}

function assertFrames(actual: readonly Frame[], expected: readonly Expected[]): void {
  assert.equal(actual.length, expected.length);
  for (const [index, frame] of actual.entries()) {
    const want = expected[index] as Expected;
    assert.equal(frame.kind, want.kind);
    assert.equal(frame.requestId, want.requestId);
    assert.deepEqual(frame.body, want.body);
  }
}

function throwsCode(action: () => unknown, code: ErrorCode): void {
  assert.throws(action, (error) => isTxgridError(error, code));
}

test("a stream split at every byte boundary gives the same frames", () => {
  const { stream, expected } = sampleStream(12, seed);
  for (let split = 0; split <= stream.length; split++) {
    const decoder = new FrameDecoder();
    decoder.push(stream.subarray(0, split));
    const frames = pullAll(decoder);
    decoder.push(stream.subarray(split));
    frames.push(...pullAll(decoder));
    assertFrames(frames, expected);
    assert.equal(decoder.bufferedBytes, 0);
  }
});

test("random chunkings, pulled after every push, give the same frames", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 40 }),
      (streamSeed, sizes) => {
        const { stream, expected } = sampleStream(8, streamSeed);
        const decoder = new FrameDecoder();
        const frames: Frame[] = [];
        for (let offset = 0, index = 0; offset < stream.length; index++) {
          const size = sizes[index % sizes.length] as number;
          decoder.push(stream.subarray(offset, offset + size));
          offset += size;
          frames.push(...pullAll(decoder));
        }
        assertFrames(frames, expected);
      },
    ),
    { seed, numRuns: 100 },
  );
});

test("frames coalesced in one chunk come out as views, without copies", () => {
  const { stream, expected } = sampleStream(40, seed);
  const decoder = new FrameDecoder();
  decoder.push(stream);
  const frames = pullAll(decoder);
  assertFrames(frames, expected);
  for (const frame of frames) assert.equal(frame.body.buffer, stream.buffer);
});

test("the largest frame arrives in small chunks and decodes", () => {
  const message = largestMessages()[1];
  assert.ok(message !== undefined && message.kind === MessageKind.CREATE_TRANSFERS);
  const bytes = encodeFrame(9, message);
  for (const chunkBytes of [1000, 65_536]) {
    const decoder = new FrameDecoder();
    for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
      decoder.push(bytes.subarray(offset, offset + chunkBytes));
      if (offset + chunkBytes < bytes.length) {
        assert.equal(decoder.pull(), null);
        assert.equal(decoder.bufferedBytes, Math.min(offset + chunkBytes, bytes.length));
      }
    }
    const frame = decoder.pull();
    assert.ok(frame !== null);
    assert.deepEqual(decodeBody(frame.kind, frame.body), message);
    assert.equal(decoder.bufferedBytes, 0);
  }
});

// A quadratic assembly (concatenating on every push) would take minutes on this megabyte;
// the timeout is generous so that only that kind of slowness fails it.
test("a large frame arriving one byte at a time is assembled without quadratic copying", {
  timeout: 10_000,
}, () => {
  const message = largestMessages()[2];
  assert.ok(message !== undefined);
  const bytes = encodeFrame(9, message);
  const decoder = new FrameDecoder();
  for (let offset = 0; offset < bytes.length; offset++) {
    decoder.push(bytes.subarray(offset, offset + 1));
  }
  const frame = decoder.pull();
  assert.ok(frame !== null);
  assert.deepEqual(frame.body, bytes.subarray(HEADER_BYTES));
});

test("garbage fails as soon as 32 bytes are in", () => {
  const decoder = new FrameDecoder();
  const garbage = new TextEncoder().encode("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  decoder.push(garbage.subarray(0, HEADER_BYTES - 1));
  assert.equal(decoder.pull(), null);
  decoder.push(garbage.subarray(HEADER_BYTES - 1));
  throwsCode(() => decoder.pull(), ErrorCode.DECODE);
  assert.equal(decoder.failed, true);
});

test("a hostile length fails on its header, before any body byte is kept", () => {
  const bytes = encodeFrame(1, { kind: MessageKind.PING });
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(
    HeaderOffset.bodyBytes,
    BODY_BYTES_MAX + 1,
    true,
  );
  const decoder = new FrameDecoder();
  decoder.push(bytes);
  assert.equal(decoder.bufferedBytes, 0);
  throwsCode(() => decoder.pull(), ErrorCode.LIMIT_EXCEEDED);
  decoder.push(new Uint8Array(1024));
  assert.equal(decoder.bufferedBytes, 0, "pushes after a failure are dropped");
});

test("frames before a bad frame come out first; then the error, every time", () => {
  const good = encodeFrame(1, { kind: MessageKind.PING });
  const wrongVersion = encodeFrame(2, { kind: MessageKind.PING });
  new DataView(wrongVersion.buffer, wrongVersion.byteOffset).setUint16(
    HeaderOffset.version,
    2,
    true,
  );
  const corrupt = encodeFrame(3, { kind: MessageKind.LOOKUP_ACCOUNTS, ids: ["a", "b"] });
  corrupt[corrupt.length - 1] = 0x41;
  for (const [bad, code] of [
    [wrongVersion, ErrorCode.VERSION],
    [corrupt, ErrorCode.CORRUPT],
  ] as const) {
    const decoder = new FrameDecoder();
    decoder.push(concat([good, good, bad, good]));
    assert.equal(decoder.pull()?.requestId, 1);
    assert.equal(decoder.pull()?.requestId, 1);
    throwsCode(() => decoder.pull(), code);
    throwsCode(() => decoder.pull(), code);
  }
});

test("thousands of frames in one chunk are pulled in order", () => {
  const frames = Array.from({ length: 3000 }, (_, index) =>
    encodeFrame(index + 1, { kind: MessageKind.PING }),
  );
  const decoder = new FrameDecoder();
  decoder.push(concat(frames));
  const pulled = pullAll(decoder);
  assert.deepEqual(
    pulled.map((frame) => frame.requestId),
    frames.map((_, index) => index + 1),
  );
});
