// Goal: the byte writer and reader round-trip every field type, and hostile or short input
// fails with a DECODE TxgridError, never a crash or a read past the end.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { BytesReader, BytesWriter } from "./bytes.ts";
import { ErrorCode, isTxgridError } from "./errors.ts";

const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);

test("fields round-trip", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 255 }),
      fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      fc.maxSafeNat(),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.string({ unit: "grapheme" }),
      (u8, u32, u53, i64, text) => {
        const writer = new BytesWriter(1, 1 << 20);
        writer.u8(u8);
        writer.u32(u32);
        writer.u53(u53);
        writer.i64(i64);
        writer.string(text);
        writer.align(8);
        assert.equal(writer.offset % 8, 0);
        const reader = new BytesReader(writer.copy());
        assert.equal(reader.u8(), u8);
        assert.equal(reader.u32(), u32);
        assert.equal(reader.u53(), u53);
        assert.equal(reader.i64(), i64);
        assert.equal(reader.string(), text);
        reader.align(8);
        assert.equal(reader.remaining, 0);
      },
    ),
    { seed, numRuns: 500 },
  );
});

test("truncated input fails with DECODE", () => {
  const writer = new BytesWriter(16, 1024);
  writer.string("hello, world");
  const bytes = writer.copy();
  for (let end = 0; end < bytes.length; end++) {
    const reader = new BytesReader(bytes, 0, end);
    assert.throws(
      () => reader.string(),
      (error) => isTxgridError(error, ErrorCode.DECODE),
    );
  }
});

test("writer refuses to grow past its limit", () => {
  const writer = new BytesWriter(4, 8);
  writer.u32(1);
  writer.u32(2);
  assert.throws(
    () => writer.u8(3),
    (error) => isTxgridError(error, ErrorCode.LIMIT_EXCEEDED),
  );
});

test("invalid UTF-8 fails with DECODE", () => {
  const bytes = new Uint8Array([2, 0, 0, 0, 0xff, 0xfe]);
  assert.throws(
    () => new BytesReader(bytes).string(),
    (error) => isTxgridError(error, ErrorCode.DECODE),
  );
});

test("a leading U+FEFF survives the round trip", () => {
  // Regression: the decoder treated U+FEFF as a byte-order mark and dropped it, so a value
  // replayed from the log differed from the value logged.
  const writer = new BytesWriter(16, 1024);
  writer.string("\uFEFFbob");
  assert.equal(new BytesReader(writer.copy()).string(), "\uFEFFbob");
});

test("strings are stored as exactly the UTF-8 bytes, on the short ASCII path and off it", () => {
  // The short ASCII path must not change the log format: the bytes after the length must be
  // TextEncoder's, and decoding them must give the string back, for ASCII, non-ASCII, and
  // lengths on both sides of the short limit.
  const encoder = new TextEncoder();
  const text = fc.oneof(
    fc.string({ unit: fc.constantFrom("a", "Z", "0", "-", "\u0000", "\u007f"), maxLength: 80 }),
    fc.string({ unit: "grapheme", maxLength: 80 }),
    fc.string({ unit: fc.constantFrom("a", "\u0080", "\ufeff", "é"), maxLength: 70 }),
  );
  fc.assert(
    fc.property(text, (value) => {
      const writer = new BytesWriter(1, 1 << 20);
      writer.string(value);
      const bytes = writer.copy();
      const expected = encoder.encode(value);
      assert.equal(new DataView(bytes.buffer).getUint32(0, true), expected.length);
      assert.deepEqual(bytes.subarray(4), expected);
      assert.equal(new BytesReader(bytes).string(), value);
    }),
    { seed, numRuns: 1000 },
  );
});

test("a streaming writer hands its sink exactly the bytes a plain writer holds", () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.string(), fc.integer({ min: 0, max: 2 ** 32 - 1 })), { maxLength: 60 }),
      fc.integer({ min: 2, max: 64 }),
      (records, chunkBytes) => {
        const plain = new BytesWriter(8, 1 << 20);
        const chunks: Uint8Array[] = [];
        const streaming = new BytesWriter(chunkBytes, 1 << 20, (bytes) => {
          assert.ok(bytes.length > 0, "the sink is never handed nothing");
          chunks.push(bytes.slice());
        });
        for (const record of records) {
          for (const writer of [plain, streaming]) {
            if (typeof record === "string") writer.string(record);
            else writer.u32(record);
            writer.endRecord();
          }
        }
        streaming.flush();
        assert.equal(streaming.offset, 0);
        assert.deepEqual(Buffer.concat(chunks), Buffer.from(plain.view()));
        // Bounded: a chunk holds at most half the initial capacity plus one record.
        const recordBytesMax = Math.max(
          4,
          ...records.map((r) => (typeof r === "string" ? 4 + 3 * r.length : 4)),
        );
        for (const chunk of chunks) assert.ok(chunk.length < (chunkBytes >> 1) + recordBytesMax);
      },
    ),
    { seed },
  );
});

test("only a streaming writer flushes; a plain writer's endRecord keeps everything", () => {
  const plain = new BytesWriter(4, 64);
  plain.u32(7);
  plain.endRecord();
  plain.u32(8);
  plain.endRecord();
  assert.equal(plain.offset, 8);
  assert.throws(() => plain.flush(), RangeError);
});

test("asciiBytes writes what string() writes for ASCII, and nothing for other bytes", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(), (source, cut) => {
      const start = source.length === 0 ? 0 : cut % source.length;
      const text = String.fromCharCode(...source.subarray(start));
      const expected = new BytesWriter(4, 1 << 12);
      expected.u8(9);
      expected.string(text);
      const actual = new BytesWriter(4, 1 << 12);
      actual.u8(9);
      const ascii = source.subarray(start).every((byte) => byte < 0x80);
      assert.equal(actual.asciiBytes(source, start, source.length), ascii);
      if (ascii) assert.deepEqual(actual.view(), expected.view());
      else assert.equal(actual.offset, 1, "nothing written");
    }),
    { seed },
  );
});
