// Reads an HTTP/1.1 request head for the front (http1-front.ts), byte by byte, strictly: it
// accepts only heads it is sure how node:http (llhttp) reads, and returns null for anything
// else, which the front then hands to node:http untouched. It never decides that a request is
// bad; it only decides that a request is plainly a `POST … HTTP/1.1` with headers it can
// read, and reports what FastPath.routeFor needs.
//
// Accepted: request line `POST <target> HTTP/1.1` with single spaces and a target of visible
// ASCII; header lines `name:value` with a token name (RFC 9110), optional spaces or tabs
// around a value of visible ASCII, spaces and tabs; CRLF line ends only. Refused (null): any
// other method or version, bare CR or LF, obs-fold, bytes outside ASCII, an empty name, a
// repeated Content-Length or Content-Type, a Content-Length that is not 1-10 digits, a Host
// count other than one, `Connection` other than keep-alive, and any `Expect` or `Upgrade`.
// Cost: no regular expression, no split, two short strings (target, Content-Type).
import type { HotHead } from "./fast-path.ts";

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const COLON = 0x3a;

/** 1 for the token characters of header names (RFC 9110 5.6.2). */
const TOKEN_BYTE = new Uint8Array(256);
for (const char of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN_BYTE[char.charCodeAt(0)] = 1;
}
/** ASCII letters folded to lower case; every other byte as it is. */
const LOWER = new Uint8Array(256);
for (let byte = 0; byte < 256; byte++) {
  LOWER[byte] = byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte;
}

const REQUEST_LINE_START = Buffer.from("POST ", "latin1");
const REQUEST_LINE_END = Buffer.from(" HTTP/1.1\r\n", "latin1");
const KEEP_ALIVE = Buffer.from("keep-alive", "latin1");

// The header names the reader looks at, by what it does with them.
const OTHER = 0;
const HOST = 1;
const CONTENT_TYPE = 2;
const CONTENT_LENGTH = 3;
const TRANSFER_ENCODING = 4;
const CONTENT_ENCODING = 5;
const ACCEPT_VERSION = 6;
const CONNECTION = 7;
const REFUSED = 8;

const NAMES: readonly (readonly [Buffer, number])[] = [
  [Buffer.from("host"), HOST],
  [Buffer.from("content-type"), CONTENT_TYPE],
  [Buffer.from("content-length"), CONTENT_LENGTH],
  [Buffer.from("transfer-encoding"), TRANSFER_ENCODING],
  [Buffer.from("content-encoding"), CONTENT_ENCODING],
  [Buffer.from("accept-version"), ACCEPT_VERSION],
  [Buffer.from("connection"), CONNECTION],
  [Buffer.from("expect"), REFUSED],
  [Buffer.from("upgrade"), REFUSED],
];

/**
 * Reads the head in buffer[start, end), where `end` is the offset of the CRLFCRLF that ends it
 * (the first CRLF of it closes the last header line). Null: not a head the front takes.
 */
export function readHotHead(buffer: Buffer, start: number, end: number): HotHead | null {
  if (!startsWith(buffer, start, REQUEST_LINE_START)) return null;
  const targetStart = start + REQUEST_LINE_START.length;
  let at = targetStart;
  while (at < end && buffer[at] !== SPACE) {
    const byte = buffer[at] as number;
    if (byte <= SPACE || byte >= 0x7f) return null;
    at++;
  }
  if (at === targetStart) return null;
  const url = buffer.toString("latin1", targetStart, at);
  // The request line's CRLF may be the head's last CRLF (a head without headers).
  if (!startsWith(buffer, at, REQUEST_LINE_END) && !isBareVersionEnd(buffer, at, end)) {
    return null;
  }
  at += REQUEST_LINE_END.length;
  let hosts = 0;
  let contentType: string | undefined;
  let contentLength = Number.NaN;
  let hasTransferEncoding = false;
  let hasContentEncoding = false;
  let hasAcceptVersion = false;
  // Each header line: at <= end; a line ends at CRLF, and the line ending at `end` is the last.
  while (at < end + 2) {
    const nameStart = at;
    while (at < end && TOKEN_BYTE[buffer[at] as number] === 1) at++;
    if (at === nameStart || at >= end || buffer[at] !== COLON) return null;
    const name = nameOf(buffer, nameStart, at);
    at++;
    while (at < end && (buffer[at] === SPACE || buffer[at] === TAB)) at++;
    const valueStart = at;
    while (at < end) {
      const byte = buffer[at] as number;
      if (byte === CR) break;
      if (byte !== TAB && (byte < SPACE || byte >= 0x7f)) return null;
      at++;
    }
    // `at` is at the CR of this line's CRLF: either `end` or a CR followed by LF.
    if (at < end && buffer[at + 1] !== LF) return null;
    let valueEnd = at;
    while (
      valueEnd > valueStart &&
      (buffer[valueEnd - 1] === SPACE || buffer[valueEnd - 1] === TAB)
    ) {
      valueEnd--;
    }
    switch (name) {
      case HOST:
        hosts++;
        break;
      case CONTENT_TYPE:
        if (contentType !== undefined) return null;
        contentType = buffer.toString("latin1", valueStart, valueEnd);
        break;
      case CONTENT_LENGTH:
        if (!Number.isNaN(contentLength)) return null;
        contentLength = digits(buffer, valueStart, valueEnd);
        if (Number.isNaN(contentLength)) return null;
        break;
      case TRANSFER_ENCODING:
        hasTransferEncoding = true;
        break;
      case CONTENT_ENCODING:
        hasContentEncoding = true;
        break;
      case ACCEPT_VERSION:
        hasAcceptVersion = true;
        break;
      case CONNECTION:
        if (!equalsLower(buffer, valueStart, valueEnd, KEEP_ALIVE)) return null;
        break;
      case REFUSED:
        return null;
      case OTHER:
        break;
    }
    at += 2;
  }
  if (hosts !== 1) return null;
  return {
    method: "POST",
    url,
    contentType,
    contentLength,
    hasTransferEncoding,
    hasContentEncoding,
    hasAcceptVersion,
  };
}

/** " HTTP/1.1" ending exactly at `end` (a head with no header lines). */
function isBareVersionEnd(buffer: Buffer, at: number, end: number): boolean {
  const versionBytes = REQUEST_LINE_END.length - 2;
  return (
    end - at === versionBytes && startsWith(buffer, at, REQUEST_LINE_END.subarray(0, versionBytes))
  );
}

function startsWith(buffer: Buffer, at: number, expected: Buffer): boolean {
  if (at + expected.length > buffer.length) return false;
  for (let index = 0; index < expected.length; index++) {
    if (buffer[at + index] !== expected[index]) return false;
  }
  return true;
}

function equalsLower(buffer: Buffer, start: number, end: number, lower: Buffer): boolean {
  if (end - start !== lower.length) return false;
  for (let index = 0; index < lower.length; index++) {
    if (LOWER[buffer[start + index] as number] !== lower[index]) return false;
  }
  return true;
}

function nameOf(buffer: Buffer, start: number, end: number): number {
  for (const [name, kind] of NAMES) {
    if (equalsLower(buffer, start, end, name)) return kind;
  }
  return OTHER;
}

/** 1 to 10 ASCII digits as a number; NaN for anything else. */
function digits(buffer: Buffer, start: number, end: number): number {
  if (end <= start || end - start > 10) return Number.NaN;
  let value = 0;
  for (let at = start; at < end; at++) {
    const digit = (buffer[at] as number) - 0x30;
    if (digit < 0 || digit > 9) return Number.NaN;
    value = value * 10 + digit;
  }
  return value;
}
