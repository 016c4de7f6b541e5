// Goal: the wire layout cannot change without a PROTOCOL_VERSION bump. Method: (1) hash the
// canonical description of LAYOUTS, kinds, flags, codes and limits (describeLayouts) and
// compare it with the literal recorded for this version; (2) encode random messages of every
// kind both with the hand-written codec and with a small table-driven encoder written here
// from LAYOUTS alone, and require identical bytes. A codec change that forgets the table
// fails (2); a table change that forgets the version fails (1).
//
// If the hash test fails, the wire layout changed: bump PROTOCOL_VERSION in layout.ts, add a
// line to its history comment and to docs/protocol.md, and record the new hash below.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { crc32 } from "node:zlib";
import fc from "fast-check";
import { encodeFrame } from "./codec.ts";
import {
  BODIES,
  CHECKSUM_START,
  describeLayouts,
  type Field,
  HEADER_FIELDS,
  MAGIC,
  PROTOCOL_VERSION,
  RECORDS,
  TransferStateTag,
} from "./layout.ts";
import { framedMessageArbitrary } from "./message-arbitraries.ts";
import type { Message } from "./messages.ts";

const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);

/** sha256 of describeLayouts(), per PROTOCOL_VERSION. */
const LAYOUT_HASHES: Readonly<Record<number, string>> = {
  1: "163becb7753fd23824bd93fe09f6a6ab551d296e6617123a9d96b06e4ece2595",
};

test("the layout description matches the hash recorded for PROTOCOL_VERSION", () => {
  const hash = createHash("sha256").update(describeLayouts()).digest("hex");
  assert.equal(
    hash,
    LAYOUT_HASHES[PROTOCOL_VERSION],
    "the wire layout changed: bump PROTOCOL_VERSION, add a history line, update the hash",
  );
});

// A reference encoder that knows nothing but LAYOUTS. Deliberately different in shape from
// codec.ts: it appends to a plain byte array, splits integers with BigInt arithmetic and
// computes flags from the bit tables by name.

type Value = Readonly<Record<string, unknown>>;

function pushInteger(out: number[], value: bigint, byteCount: number): void {
  let rest = BigInt.asUintN(byteCount * 8, value);
  for (let index = 0; index < byteCount; index++) {
    out.push(Number(rest & 0xffn));
    rest >>= 8n;
  }
}

function pushAscii(out: number[], text: string): void {
  out.push(text.length);
  for (const character of text) out.push(character.charCodeAt(0));
}

const integerBytes: Readonly<Record<string, number>> = {
  u8: 1,
  u16: 2,
  u32: 4,
  u53: 8,
  "u53?": 8,
  i64: 8,
  "i64?": 8,
  result: 2,
};

function flagsOf(bits: Readonly<Record<string, number>>, fields: readonly Field[], value: Value) {
  let flags = 0;
  for (const [name, bit] of Object.entries(bits)) {
    const field = fields.find((candidate) => candidate.name === name);
    const nullable = field?.type.endsWith("?") === true;
    const set = name === "found" ? true : nullable ? value[name] !== null : value[name] === true;
    if (set) flags |= bit;
  }
  return flags;
}

function pushField(out: number[], field: Field, fields: readonly Field[], value: Value): void {
  const item = value[field.name];
  if (field.type in integerBytes) {
    const bytes = integerBytes[field.type] as number;
    pushInteger(out, item === null ? 0n : BigInt(item as bigint | number), bytes);
  } else if (field.type === "flags") {
    out.push(flagsOf(field.bits, fields, value));
  } else if (field.type === "pad") {
    for (let index = 0; index < field.bytes; index++) out.push(0);
  } else if (field.type === "id" || field.type === "errorCode") {
    pushAscii(out, item as string);
  } else if (field.type === "text" || field.type === "text?") {
    const bytes = item === null ? [] : [...new TextEncoder().encode(item as string)];
    pushInteger(out, BigInt(bytes.length), 2);
    out.push(...bytes);
  } else if (field.type === "state") {
    out.push(TransferStateTag[item as keyof typeof TransferStateTag]);
  } else if (field.type === "list") {
    pushList(out, field.of, item as readonly unknown[]);
  } else {
    assert.fail(`no reference encoding for ${field.type}`);
  }
}

function pushList(out: number[], of: string, items: readonly unknown[]): void {
  pushInteger(out, BigInt(items.length), 4);
  pushInteger(out, 0n, 4);
  for (const item of items) {
    if (of === "id") {
      pushAscii(out, item as string);
      continue;
    }
    const fields: readonly Field[] = RECORDS[of as keyof typeof RECORDS];
    if (item === null) {
      out.push(0);
      continue;
    }
    for (const field of fields) pushField(out, field, fields, item as Value);
  }
}

function referenceFrame(requestId: number, message: Message): Uint8Array {
  const body: number[] = [];
  const bodyFields: readonly Field[] = BODIES[message.kind];
  for (const field of bodyFields) pushField(body, field, bodyFields, message as Value);
  const header: number[] = [];
  const headerValues: Value = {
    magic: MAGIC,
    checksum: 0,
    version: PROTOCOL_VERSION,
    kind: message.kind,
    bodyBytes: body.length,
    requestId,
  };
  for (const field of HEADER_FIELDS) pushField(header, field, HEADER_FIELDS, headerValues);
  const frame = Uint8Array.from([...header, ...body]);
  const crc = crc32(frame.subarray(CHECKSUM_START));
  new DataView(frame.buffer).setUint32(4, crc, true);
  return frame;
}

test("the hand-written encoder writes exactly the bytes LAYOUTS describes", () => {
  fc.assert(
    fc.property(framedMessageArbitrary, ({ requestId, message }) => {
      assert.deepEqual(encodeFrame(requestId, message), referenceFrame(requestId, message));
    }),
    { seed, numRuns: 1000 },
  );
});
