// FrameDecoder: cuts the byte stream of one TCP connection into frames.
//
//   push(chunk) ──► header complete? ──► decodeHeader: magic, version, kind, length, request id
//                        │                  (checked before a single body byte is kept)
//                        ▼
//                  whole frame inside this chunk? ── yes ──► checksum ──► queue a view (no copy)
//                        │ no
//                        ▼
//                  assembly buffer: grows by doubling, never beyond the frame's length nor
//                  beyond max(64 KiB, twice the bytes received): a hostile length field
//                  makes it allocate nothing in proportion to that length
//                        │ complete
//                        ▼
//                  checksum ──► queue ──► pull() returns frames in order
//
// Guarantees:
// - Frames come out in stream order. A bad frame (any TxgridError from decodeHeader or the
//   checksum) ends the stream: the frames before it are still pulled, then pull() throws
//   that error, every time; later pushes are dropped. A protocol error cannot be recovered
//   from, because the frame boundaries after it are unknown.
// - A hostile or garbage stream fails as soon as its first 32 bytes are in; a length above
//   BODY_BYTES_MAX fails before any body byte is buffered.
// - Each received byte is copied at most a bounded number of times: not at all when a frame
//   lies inside one chunk, otherwise into the assembly buffer (amortized at most twice, by
//   doubling). Many small chunks and one large frame in many chunks are both O(n).
// - Frame bodies are views into pushed chunks or assembly buffers. The decoder never writes
//   to them again; the caller must not modify a chunk after pushing it.
import { assert, isTxgridError, type TxgridError } from "../stdx/index.ts";
import { decodeHeader, type Frame, type FrameHeader, verifyChecksum } from "./codec.ts";
import { HEADER_BYTES } from "./layout.ts";

/** The first assembly buffer of a frame split across chunks is at most this large. */
const ASSEMBLY_BYTES_INITIAL = 64 * 1024;
/** Pulled slots at the front of the queue are dropped once there are this many. */
const QUEUE_COMPACT_THRESHOLD = 1024;

export class FrameDecoder {
  /** Complete frames not yet pulled, from #queueHead on. */
  #queue: (Frame | undefined)[] = [];
  #queueHead = 0;
  #failure: TxgridError | null = null;
  /** The start of a header split across chunks. */
  readonly #headerScratch = new Uint8Array(HEADER_BYTES);
  #headerFilled = 0;
  /** The frame being assembled across chunks: its header, and its bytes so far. */
  #header: FrameHeader | null = null;
  #assembly = new Uint8Array(0);
  #assemblyFilled = 0;

  /** Bytes received and not yet part of a complete frame. */
  get bufferedBytes(): number {
    return this.#headerFilled + this.#assemblyFilled;
  }

  /** True once a protocol error ended the stream. */
  get failed(): boolean {
    return this.#failure !== null;
  }

  /** Takes in the next bytes of the stream. The decoder keeps views into `chunk`. */
  push(chunk: Uint8Array): void {
    if (this.#failure !== null) return;
    try {
      this.#consume(chunk);
    } catch (error) {
      if (!isTxgridError(error)) throw error;
      this.#failure = error;
      this.#headerFilled = 0;
      this.#header = null;
      this.#assembly = new Uint8Array(0);
      this.#assemblyFilled = 0;
    }
  }

  /** The next complete frame, or null if none is complete yet. Throws after a bad frame. */
  pull(): Frame | null {
    if (this.#queueHead < this.#queue.length) {
      const frame = this.#queue[this.#queueHead];
      assert(frame !== undefined, "queued frames are not pulled twice");
      this.#queue[this.#queueHead] = undefined;
      this.#queueHead++;
      if (this.#queueHead === this.#queue.length) {
        this.#queue = [];
        this.#queueHead = 0;
      } else if (this.#queueHead >= QUEUE_COMPACT_THRESHOLD) {
        this.#queue.splice(0, this.#queueHead);
        this.#queueHead = 0;
      }
      return frame;
    }
    if (this.#failure !== null) throw this.#failure;
    return null;
  }

  #consume(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#header !== null) {
        offset = this.#assemble(chunk, offset);
      } else if (this.#headerFilled === 0 && chunk.length - offset >= HEADER_BYTES) {
        offset = this.#frameAt(chunk, offset);
      } else {
        offset = this.#collectHeader(chunk, offset);
      }
    }
    assert(offset === chunk.length, "a chunk is consumed whole");
  }

  /** A frame that starts at `offset` with its whole header in `chunk`. */
  #frameAt(chunk: Uint8Array, offset: number): number {
    const header = decodeHeader(chunk, offset);
    const frameBytes = HEADER_BYTES + header.bodyBytes;
    if (chunk.length - offset >= frameBytes) {
      verifyChecksum(chunk, offset, header);
      const body = chunk.subarray(offset + HEADER_BYTES, offset + frameBytes);
      this.#queue.push({ kind: header.kind, requestId: header.requestId, body });
      return offset + frameBytes;
    }
    this.#startAssembly(header, chunk.length - offset);
    return this.#assemble(chunk, offset);
  }

  /** Gathers a header split across chunks; once complete, starts assembling its frame. */
  #collectHeader(chunk: Uint8Array, offset: number): number {
    const byteCount = Math.min(HEADER_BYTES - this.#headerFilled, chunk.length - offset);
    this.#headerScratch.set(chunk.subarray(offset, offset + byteCount), this.#headerFilled);
    this.#headerFilled += byteCount;
    if (this.#headerFilled < HEADER_BYTES) return offset + byteCount;
    const header = decodeHeader(this.#headerScratch, 0);
    this.#headerFilled = 0;
    this.#startAssembly(header, HEADER_BYTES);
    this.#append(this.#headerScratch);
    if (header.bodyBytes === 0) this.#finishAssembly();
    return offset + byteCount;
  }

  /** Allocates for the bytes at hand (`bytesReceived`), not for the announced length. */
  #startAssembly(header: FrameHeader, bytesReceived: number): void {
    assert(this.#header === null, "one frame is assembled at a time");
    assert(this.#assemblyFilled === 0, "the assembly buffer starts empty");
    const frameBytes = HEADER_BYTES + header.bodyBytes;
    assert(bytesReceived <= frameBytes, "a partial frame is shorter than the frame");
    this.#header = header;
    this.#assembly = new Uint8Array(
      Math.min(frameBytes, Math.max(ASSEMBLY_BYTES_INITIAL, bytesReceived)),
    );
  }

  /** Appends the part of `chunk` from `offset` that belongs to the frame in assembly. */
  #assemble(chunk: Uint8Array, offset: number): number {
    const header = this.#header;
    assert(header !== null, "a frame is in assembly");
    const frameBytes = HEADER_BYTES + header.bodyBytes;
    const byteCount = Math.min(frameBytes - this.#assemblyFilled, chunk.length - offset);
    this.#append(chunk.subarray(offset, offset + byteCount));
    if (this.#assemblyFilled === frameBytes) this.#finishAssembly();
    return offset + byteCount;
  }

  #append(bytes: Uint8Array): void {
    const header = this.#header;
    assert(header !== null, "a frame is in assembly");
    const needed = this.#assemblyFilled + bytes.length;
    assert(needed <= HEADER_BYTES + header.bodyBytes, "assembly stays within the frame");
    if (needed > this.#assembly.length) {
      const capacity = Math.min(
        HEADER_BYTES + header.bodyBytes,
        Math.max(needed, this.#assembly.length * 2),
      );
      const grown = new Uint8Array(capacity);
      grown.set(this.#assembly.subarray(0, this.#assemblyFilled));
      this.#assembly = grown;
    }
    this.#assembly.set(bytes, this.#assemblyFilled);
    this.#assemblyFilled = needed;
  }

  #finishAssembly(): void {
    const header = this.#header;
    assert(header !== null, "a frame is in assembly");
    const frameBytes = HEADER_BYTES + header.bodyBytes;
    assert(this.#assemblyFilled === frameBytes, "the frame is complete");
    assert(this.#assembly.length === frameBytes, "the buffer grew to the frame's length exactly");
    verifyChecksum(this.#assembly, 0, header);
    const body = this.#assembly.subarray(HEADER_BYTES, frameBytes);
    this.#queue.push({ kind: header.kind, requestId: header.requestId, body });
    this.#header = null;
    this.#assembly = new Uint8Array(0);
    this.#assemblyFilled = 0;
  }
}
