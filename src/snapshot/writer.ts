// Writes a snapshot atomically, then deletes the ones it makes obsolete.
//
//   <name>.tmp ──write header + body──► fdatasync ──► rename to <name> ──► fsync dir
//
// Asynchronous: the body (possibly hundreds of MB) is written and synced on the libuv thread
// pool, so the shard keeps serving meanwhile; the caller must not modify `body` until the
// returned promise settles. Writes to one directory of one Storage are serialized, so a
// snapshot requested while another is being written waits for it.
//
// Fault model: a crash before the rename leaves a `.tmp` file that readers ignore and the
// next write removes; a crash after the rename but before the directory fsync may lose the
// new name, and the previous snapshot is then used (the log still holds what follows it,
// because the shard trims the log only after this function returns). After the directory
// fsync the snapshot is durable. Then every snapshot older than the previous one is deleted
// (the previous one is kept as a fallback should the newest be damaged), as are other
// leftover `.tmp` files; those deletions need no fsync, since an older snapshot that comes
// back is never preferred over a newer valid one.
import { join } from "node:path";
import type { Storage } from "../io/index.ts";
import { assert } from "../stdx/index.ts";
import {
  encodeHeader,
  parseTmpName,
  SNAPSHOT_HEADER_BYTES,
  snapshotName,
  tmpName,
} from "./format.ts";
import { listSnapshotLsns } from "./reader.ts";

const writesInFlight = new WeakMap<Storage, Map<string, Promise<void>>>();

export async function writeSnapshot(
  storage: Storage,
  dir: string,
  lsn: number,
  body: Uint8Array,
): Promise<void> {
  assert(Number.isSafeInteger(lsn) && lsn >= 0, "snapshot lsn");
  let writes = writesInFlight.get(storage);
  if (writes === undefined) {
    writes = new Map();
    writesInFlight.set(storage, writes);
  }
  const previous = writes.get(dir) ?? Promise.resolve();
  const current = previous.catch(() => undefined).then(() => writeNow(storage, dir, lsn, body));
  writes.set(dir, current);
  try {
    await current;
  } finally {
    if (writes.get(dir) === current) writes.delete(dir);
  }
}

async function writeNow(
  storage: Storage,
  dir: string,
  lsn: number,
  body: Uint8Array,
): Promise<void> {
  const tmpPath = join(dir, tmpName(lsn));
  if (storage.list(dir).includes(tmpName(lsn))) storage.unlink(tmpPath);
  const file = storage.open(tmpPath, "create");
  try {
    await file.write(encodeHeader(lsn, body), 0);
    await file.write(body, SNAPSHOT_HEADER_BYTES);
    await file.datasync();
  } catch (error) {
    file.close();
    removeQuietly(storage, tmpPath);
    throw error;
  }
  file.close();
  storage.rename(tmpPath, join(dir, snapshotName(lsn)));
  await storage.syncDir(dir);
  removeObsolete(storage, dir, lsn);
}

/** Deletes snapshots older than the one before `lsn`, and every other leftover `.tmp`. */
function removeObsolete(storage: Storage, dir: string, lsn: number): void {
  const lsns = listSnapshotLsns(storage, dir);
  const lsnPrevious = lsns.find((found) => found < lsn);
  for (const found of lsns) {
    if (lsnPrevious !== undefined && found < lsnPrevious) {
      storage.unlink(join(dir, snapshotName(found)));
    }
  }
  // Writes are serialized, so no other `.tmp` belongs to a write in progress.
  for (const name of storage.list(dir)) {
    if (parseTmpName(name) !== null) storage.unlink(join(dir, name));
  }
}

function removeQuietly(storage: Storage, path: string): void {
  try {
    storage.unlink(path);
  } catch {
    // The write already failed; that error is the one to report.
  }
}
