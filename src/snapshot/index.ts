// snapshot: atomic snapshot files. STUB: being written; the signatures are fixed.
import type { Storage } from "../io/index.ts";

export function readLatestSnapshot(
  storage: Storage,
  dir: string,
): { lsn: number; body: Uint8Array } | null {
  void storage;
  void dir;
  throw new Error("readLatestSnapshot: not implemented yet");
}

export async function writeSnapshot(
  storage: Storage,
  dir: string,
  lsn: number,
  body: Uint8Array,
): Promise<void> {
  void storage;
  void dir;
  void lsn;
  void body;
  throw new Error("writeSnapshot: not implemented yet");
}
