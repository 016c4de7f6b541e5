// Little-endian byte writer and reader over DataView, for log records and wire frames.
//
// BytesWriter grows its buffer by doubling up to `capacityBytesMax` and throws a
// LIMIT_EXCEEDED TxgridError beyond it, so a caller can never build an unbounded record. A
// streaming writer (one with a sink) hands what it holds to the sink at record boundaries
// that the caller marks, so a long encoding (a state digest) needs one bounded buffer instead
// of the whole encoding in memory; `capacityBytesMax` then bounds what is held between two
// boundaries.
// BytesReader checks every read against the end of its window and throws a DECODE
// TxgridError on a short or malformed input: decoding hostile bytes fails cleanly, it never
// reads past the end and never crashes the process.
import { asciiString, isShortAscii, writeShortAscii } from "./ascii.ts";
import { ErrorCode, TxgridError } from "./errors.ts";

const textEncoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is data, not a byte-order mark; dropping it would make a replayed
// value differ from the one logged.
const textDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export class BytesWriter {
  #bytes: Uint8Array;
  #view: DataView;
  #offset = 0;
  readonly capacityBytesMax: number;
  readonly #sink: ((bytes: Uint8Array) => void) | null;
  readonly #sinkBytesMin: number;

  /**
   * With a `sink`, endRecord() hands the held bytes to it once they reach half the initial
   * capacity; the sink must be done with them when it returns (they are overwritten next).
   */
  constructor(
    capacityBytesInitial: number,
    capacityBytesMax: number,
    sink: ((bytes: Uint8Array) => void) | null = null,
  ) {
    if (!(capacityBytesInitial > 0 && capacityBytesInitial <= capacityBytesMax)) {
      throw new RangeError("BytesWriter: bad capacity");
    }
    this.#bytes = new Uint8Array(capacityBytesInitial);
    this.#view = new DataView(this.#bytes.buffer);
    this.capacityBytesMax = capacityBytesMax;
    this.#sink = sink;
    this.#sinkBytesMin = Math.max(1, capacityBytesInitial >>> 1);
  }

  /**
   * Marks a point between records: nothing written so far will be patched again. A streaming
   * writer may hand what it holds to its sink here and start again at offset 0.
   */
  endRecord(): void {
    if (this.#sink !== null && this.#offset >= this.#sinkBytesMin) this.flush();
  }

  /** Hands everything held to the sink (a streaming writer's end). */
  flush(): void {
    if (this.#sink === null) throw new RangeError("BytesWriter: flush without a sink");
    if (this.#offset > 0) this.#sink(this.view());
    this.#offset = 0;
  }

  get offset(): number {
    return this.#offset;
  }

  /** Forgets everything written; keeps the buffer for reuse. */
  reset(): void {
    this.#offset = 0;
  }

  /** The written bytes, as a view that the next write may overwrite. */
  view(): Uint8Array {
    return this.#bytes.subarray(0, this.#offset);
  }

  /** A copy of the written bytes that the writer will not touch again. */
  copy(): Uint8Array {
    return this.#bytes.slice(0, this.#offset);
  }

  // Callers must call #reserve before reading #view or #bytes: growing replaces both.
  #reserve(byteCount: number): number {
    const start = this.#offset;
    const end = start + byteCount;
    if (end > this.#bytes.length) this.#grow(end);
    this.#offset = end;
    return start;
  }

  #grow(bytesNeeded: number): void {
    if (bytesNeeded > this.capacityBytesMax) {
      throw new TxgridError(
        ErrorCode.LIMIT_EXCEEDED,
        `record of at least ${bytesNeeded} bytes exceeds the limit of ${this.capacityBytesMax}`,
      );
    }
    let capacity = this.#bytes.length * 2;
    while (capacity < bytesNeeded) capacity *= 2;
    const grown = new Uint8Array(Math.min(capacity, this.capacityBytesMax));
    grown.set(this.#bytes.subarray(0, this.#offset));
    this.#bytes = grown;
    this.#view = new DataView(grown.buffer);
  }

  u8(value: number): void {
    const at = this.#reserve(1);
    this.#view.setUint8(at, value);
  }

  u16(value: number): void {
    const at = this.#reserve(2);
    this.#view.setUint16(at, value, true);
  }

  u32(value: number): void {
    const at = this.#reserve(4);
    this.#view.setUint32(at, value, true);
  }

  /** An unsigned integer below 2^53 stored in 8 bytes. */
  u53(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`u53 out of range`);
    const at = this.#reserve(8);
    this.#view.setUint32(at, value % 2 ** 32, true);
    this.#view.setUint32(at + 4, Math.floor(value / 2 ** 32), true);
  }

  i64(value: bigint): void {
    const at = this.#reserve(8);
    this.#view.setBigInt64(at, value, true);
  }

  u64(value: bigint): void {
    const at = this.#reserve(8);
    this.#view.setBigUint64(at, value, true);
  }

  /** Overwrites a u32 written earlier (for lengths and checksums known only at the end). */
  patchU32(at: number, value: number): void {
    if (!(at >= 0 && at + 4 <= this.#offset)) throw new RangeError("patchU32 out of range");
    this.#view.setUint32(at, value, true);
  }

  raw(bytes: Uint8Array): void {
    const at = this.#reserve(bytes.length);
    this.#bytes.set(bytes, at);
  }

  /**
   * `source[start, end)` as string() would write it when every byte is ASCII (the bytes are
   * then their own UTF-8): u32 length, then the bytes, copied one by one (these are short ids;
   * a subarray per copy would cost more than the copy). False, with nothing written, when a
   * byte is not ASCII.
   */
  asciiBytes(source: Uint8Array, start: number, end: number): boolean {
    const length = end - start;
    const lengthAt = this.#reserve(4 + length);
    const bytes = this.#bytes;
    let to = lengthAt + 4;
    for (let at = start; at < end; at++) {
      const byte = source[at] as number;
      if (byte >= 0x80) {
        this.#offset = lengthAt;
        return false;
      }
      bytes[to++] = byte;
    }
    this.#view.setUint32(lengthAt, length, true);
    return true;
  }

  /** A UTF-8 string prefixed by its byte length as u32. */
  string(value: string): void {
    // Reserve the worst case (3 bytes per UTF-16 unit), then give back what was not used.
    // The view is read only after both reservations, which may replace the buffer.
    const lengthAt = this.#reserve(4);
    const bytesMax = value.length * 3;
    const start = this.#reserve(bytesMax);
    let written = writeShortAscii(this.#bytes, start, value);
    if (written < 0) {
      written = textEncoder.encodeInto(
        value,
        this.#bytes.subarray(start, start + bytesMax),
      ).written;
    }
    this.#offset = start + written;
    this.#view.setUint32(lengthAt, written, true);
  }

  /** Pads with zero bytes up to a multiple of `alignment`. */
  align(alignment: number): void {
    const padding = (alignment - (this.#offset % alignment)) % alignment;
    const at = this.#reserve(padding);
    this.#bytes.fill(0, at, at + padding);
  }
}

export class BytesReader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  #offset: number;
  readonly #end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    if (!(start >= 0 && start <= end && end <= bytes.length)) {
      throw new RangeError("BytesReader: bad window");
    }
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#offset = start;
    this.#end = end;
  }

  get offset(): number {
    return this.#offset;
  }

  get remaining(): number {
    return this.#end - this.#offset;
  }

  #take(byteCount: number): number {
    const at = this.#offset;
    if (byteCount > this.#end - at) {
      throw new TxgridError(ErrorCode.DECODE, `truncated input: need ${byteCount} bytes at ${at}`);
    }
    this.#offset = at + byteCount;
    return at;
  }

  u8(): number {
    return this.#view.getUint8(this.#take(1));
  }

  u16(): number {
    return this.#view.getUint16(this.#take(2), true);
  }

  u32(): number {
    return this.#view.getUint32(this.#take(4), true);
  }

  u53(): number {
    const at = this.#take(8);
    const high = this.#view.getUint32(at + 4, true);
    if (high >= 2 ** 21) throw new TxgridError(ErrorCode.DECODE, "u53 out of range");
    return high * 2 ** 32 + this.#view.getUint32(at, true);
  }

  i64(): bigint {
    return this.#view.getBigInt64(this.#take(8), true);
  }

  u64(): bigint {
    return this.#view.getBigUint64(this.#take(8), true);
  }

  raw(byteCount: number): Uint8Array {
    const at = this.#take(byteCount);
    return this.#bytes.subarray(at, at + byteCount);
  }

  string(): string {
    const byteCount = this.u32();
    const at = this.#take(byteCount);
    if (isShortAscii(this.#bytes, at, at + byteCount)) {
      return asciiString(this.#bytes, at, at + byteCount);
    }
    try {
      return textDecoder.decode(this.#bytes.subarray(at, at + byteCount));
    } catch (error) {
      throw new TxgridError(ErrorCode.DECODE, "invalid UTF-8 in string", { cause: error });
    }
  }

  skip(byteCount: number): void {
    this.#take(byteCount);
  }

  /** Skips the zero padding up to a multiple of `alignment`, checking that it is zero. */
  align(alignment: number): void {
    const padding = (alignment - (this.#offset % alignment)) % alignment;
    const at = this.#take(padding);
    for (let index = at; index < at + padding; index++) {
      if (this.#bytes[index] !== 0) throw new TxgridError(ErrorCode.DECODE, "non-zero padding");
    }
  }
}
