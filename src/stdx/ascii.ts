// Short ASCII strings to and from bytes without TextEncoder/TextDecoder's fixed cost per call.
//
// Ids and most log strings are short ASCII; on node 20 a TextEncoder.encodeInto or
// TextDecoder.decode call costs about 250 ns whatever the length, which is more than the copy
// itself for up to about 64 characters. Beyond that length, or for non-ASCII text, callers use
// the text codecs. Both functions give exactly the bytes/characters the UTF-8 codecs would.

/** Strings up to this many characters take the copying path. */
export const ASCII_SHORT_LENGTH_MAX = 64;

/** One array per length, so that String.fromCharCode.apply gets exactly the characters. */
const scratchByLength = Array.from({ length: ASCII_SHORT_LENGTH_MAX + 1 }, (_, length) =>
  new Array<number>(length).fill(0),
);
const latin1Decoder = new TextDecoder("latin1");

/** A string from bytes already checked to be ASCII (< 0x80): one byte is one character. */
export function asciiString(bytes: Uint8Array, start: number, end: number): string {
  // Measured on node 20: up to about 64 characters, copying into a plain array and calling
  // String.fromCharCode beats TextDecoder by 2x for 24 characters; apply() on the typed array
  // itself is slower than both.
  const length = end - start;
  const scratch = scratchByLength[length];
  if (scratch === undefined) return latin1Decoder.decode(bytes.subarray(start, end));
  for (let index = 0; index < length; index++) scratch[index] = bytes[start + index] as number;
  return String.fromCharCode.apply(null, scratch);
}

/** True when `bytes[start, end)` is short ASCII that asciiString may decode. */
export function isShortAscii(bytes: Uint8Array, start: number, end: number): boolean {
  if (end - start > ASCII_SHORT_LENGTH_MAX) return false;
  for (let index = start; index < end; index++) {
    if ((bytes[index] as number) >= 0x80) return false;
  }
  return true;
}

/**
 * Writes `value` at `bytes[at]` if it is short ASCII and returns the byte count, or -1 (and
 * writes nothing that matters) when the caller must use the UTF-8 encoder instead.
 */
export function writeShortAscii(bytes: Uint8Array, at: number, value: string): number {
  const length = value.length;
  if (length > ASCII_SHORT_LENGTH_MAX) return -1;
  for (let index = 0; index < length; index++) {
    const code = value.charCodeAt(index);
    if (code >= 0x80) return -1;
    bytes[at + index] = code;
  }
  return length;
}
