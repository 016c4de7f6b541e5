// The alphabet of ids, the one definition every face uses: [A-Za-z0-9._:-]. Ids are ASCII, so
// one character is one byte on the wire and in the log. Lengths are checked by the callers
// against ID_BYTES_MAX (constants.ts), which stdx does not import.
//
// A table lookup per character costs about a third of /^[A-Za-z0-9._:-]+$/.test on every id
// of every transfer.

/** 1 at the character (= byte) codes an id may hold, 0 elsewhere; 256 entries. */
export const ID_CHARACTER = new Uint8Array(256);
for (const character of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") {
  ID_CHARACTER[character.charCodeAt(0)] = 1;
}

/** Whether every character of `value` is in the id alphabet (an empty string passes). */
export function hasIdCharactersOnly(value: string): boolean {
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    if (code > 0xff || ID_CHARACTER[code] !== 1) return false;
  }
  return true;
}
