// Finds the newest usable snapshot at startup. Synchronous: the shard cannot serve before it
// has its state back.
//
// Files are tried newest first (by the lsn in the name); a file that is short, fails a
// checksum, or whose header lsn differs from its name is skipped and the next older one is
// tried. Leftover `.tmp` files (a write that crashed before its rename) are ignored. A valid
// header with an unknown format version stops the search with VERSION: falling back past a
// newer snapshot would silently need log records that may already be deleted.
import { join } from "node:path";
import type { Storage } from "../io/index.ts";
import { ErrorCode, TxgridError } from "../stdx/index.ts";
import {
  decodeSnapshotFile,
  parseSnapshotName,
  SNAPSHOT_FORMAT_VERSION,
  snapshotName,
} from "./format.ts";

/** Lsns of the finished snapshot files in `dir`, newest first. */
export function listSnapshotLsns(storage: Storage, dir: string): number[] {
  const lsns: number[] = [];
  for (const name of storage.list(dir)) {
    const lsn = parseSnapshotName(name);
    if (lsn !== null) lsns.push(lsn);
  }
  return lsns.sort((a, b) => b - a);
}

export function readLatestSnapshot(
  storage: Storage,
  dir: string,
): { lsn: number; body: Uint8Array } | null {
  for (const lsn of listSnapshotLsns(storage, dir)) {
    const path = join(dir, snapshotName(lsn));
    const decoded = decodeSnapshotFile(storage.read(path));
    if (decoded.kind === "version") {
      throw new TxgridError(
        ErrorCode.VERSION,
        `snapshot ${path} has format version ${decoded.version}, this build reads ` +
          `${SNAPSHOT_FORMAT_VERSION}`,
      );
    }
    if (decoded.kind === "valid" && decoded.lsn === lsn) {
      return { lsn, body: decoded.body };
    }
    // Damaged or misnamed: fall back to the next older snapshot.
  }
  return null;
}
