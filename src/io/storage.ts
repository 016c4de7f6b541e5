// The Storage interface: every filesystem call of the log (src/wal) and the snapshots
// (src/snapshot) goes through it, so that tests and the simulator can run them on a disk that
// crashes (MemoryStorage) instead of node:fs (NodeStorage).
//
// Calls are synchronous when they are cheap or only run at startup (list, read, open, rename,
// unlink, truncate), and asynchronous when they may wait on the device on a hot path (write,
// datasync, syncDir): those run on the libuv thread pool so the event loop keeps accepting
// requests that form the next batch (group commit). Both sync and async forms exist for the
// two flushes, because recovery is synchronous.
//
// Guarantees an implementation must give (and the only ones the log and snapshots rely on):
// - write() resolves once every byte is in the OS (a process crash keeps it; a power loss may
//   lose or tear it) and never writes a part of the bytes without saying so: it retries short
//   writes, or rejects.
// - datasync() resolves once the file's data and size are on stable storage (fdatasync).
// - A created, renamed or unlinked name is durable only after syncDir(dir) of its directory.
// - Every failure is a TxgridError with code STORAGE and the OS error as `cause`. After a
//   failed datasync the content of the file on disk is unknown (Linux may drop the dirty
//   pages), so callers treat it as fatal rather than retrying.
// - Paths are absolute or relative POSIX paths; a file's directory is `dirname(path)`.

/** An open file. Positions and sizes are in bytes. */
export interface StorageFile {
  readonly path: string;
  /** Current size as seen by reads (not necessarily durable). */
  sizeBytes(): number;
  /** Writes all of `bytes` at `position`. The caller must not modify `bytes` until settled. */
  write(bytes: Uint8Array, position: number): Promise<void>;
  /**
   * Writes all of `bytes` at `position`, blocking. A write into the page cache costs a few
   * microseconds, while a hop to the thread pool and back costs 100 µs or more on some
   * machines (docs/design/wal.md), so the log writes this way.
   */
  writeSync(bytes: Uint8Array, position: number): void;
  /** Makes the data and size durable (fdatasync), on the thread pool. */
  datasync(): Promise<void>;
  /** Makes the data and size durable (fdatasync), blocking. For recovery only. */
  datasyncSync(): void;
  /** Cuts or extends the file to `sizeBytes` (not durable until datasync). */
  truncate(sizeBytes: number): void;
  close(): void;
}

/** How to open a file: "create" fails if the name exists; "write" fails if it does not. */
export type OpenMode = "create" | "write";

export interface Storage {
  /** Creates `dir` and missing parents; each new directory entry is made durable. */
  mkdirp(dir: string): void;
  /** Names of the entries of `dir`, sorted by code unit. */
  list(dir: string): string[];
  /** The whole content of a file, as a buffer the caller owns. */
  read(path: string): Uint8Array;
  open(path: string, mode: OpenMode): StorageFile;
  /** Atomically replaces `pathTarget` with `pathSource` (same directory). */
  rename(pathSource: string, pathTarget: string): void;
  unlink(path: string): void;
  /** Makes the entries of `dir` (creates, renames, unlinks) durable, on the thread pool. */
  syncDir(dir: string): Promise<void>;
  /** Makes the entries of `dir` durable, blocking. For recovery only. */
  syncDirSync(dir: string): void;
}
