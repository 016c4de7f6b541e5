// MemoryStorage: the Storage interface on an in-memory disk that can crash, for tests and the
// simulator. Deterministic for a given seed; no real I/O, clocks or timers.
//
// Every file has two contents: what reads see (the page cache) and what survives a crash
// (the disk). Every directory has two sets of entries in the same way. The gap between them
// is a list of operations that are not yet durable, and crash() decides their fate.
//
// Fault model (what crash() may do; a correct log must recover from all of it):
// - File data written but not made durable by datasync() is, per 512-byte sector of the
//   file: kept, lost (the old bytes, or zeros past the old end, remain), torn (only a prefix
//   of the sector's new bytes is kept) or garbage (the sector is filled with random bytes).
//   Sectors are decided independently, so a later sector may survive an earlier lost one.
//   A truncate() not made durable is kept or lost. The file size follows the kept bytes.
// - Data made durable by datasync() is never lost or damaged by a crash.
// - Directory entries (create, rename, unlink) not made durable by syncDir(dir) are kept as
//   a prefix of the order they happened in: a random number of the oldest ones survive, the
//   rest are undone. A file's data and its name are independent: a file can survive with
//   all its data synced yet vanish because its name was not.
// - Directories made by mkdirp() are durable at once (NodeStorage syncs their parents).
// - crash("keep") models a process crash (the OS keeps everything written); crash("lose")
//   a power loss where nothing unsynced reached the disk; crash("random") the above.
// - Handles opened before a crash fail with STORAGE afterwards.
// crashNext(kind) crashes at the next call of that kind instead of doing it (the call fails),
// so a test can crash in the middle of a flush at a chosen step.
// Besides crashes, failNext(kind) makes the next call of that kind fail with STORAGE. A
// failed write changes nothing; a failed datasync leaves the data unsynced (a later crash
// may lose it), like Linux after an fsync error.
// Not modelled: read errors, silent corruption of durable data (tests flip bytes through
// the ordinary API instead), misdirected writes, full disks.
import { posix } from "node:path";
import { assert, ErrorCode, Prng, TxgridError } from "../stdx/index.ts";
import type { OpenMode, Storage, StorageFile } from "./storage.ts";

export type CrashMode = "random" | "keep" | "lose";
export type FaultKind = "open" | "write" | "datasync" | "rename" | "unlink" | "syncDir";

const sectorBytes = 512;

/** A growable byte array: the content of a file, in the cache or on the disk. */
class Content {
  bytes = new Uint8Array(0);
  sizeBytes = 0;

  clone(): Content {
    const copy = new Content();
    copy.bytes = this.bytes.slice(0, this.sizeBytes);
    copy.sizeBytes = this.sizeBytes;
    return copy;
  }

  write(bytes: Uint8Array, position: number): void {
    const end = position + bytes.length;
    if (end > this.bytes.length) {
      const grown = new Uint8Array(Math.max(end, this.bytes.length * 2));
      grown.set(this.bytes.subarray(0, this.sizeBytes));
      this.bytes = grown;
    }
    if (position > this.sizeBytes) this.bytes.fill(0, this.sizeBytes, position);
    this.bytes.set(bytes, position);
    this.sizeBytes = Math.max(this.sizeBytes, end);
  }

  truncate(sizeBytes: number): void {
    if (sizeBytes > this.sizeBytes)
      this.write(new Uint8Array(sizeBytes - this.sizeBytes), this.sizeBytes);
    this.sizeBytes = sizeBytes;
  }
}

type FileOperation =
  | { readonly kind: "write"; readonly bytes: Uint8Array; readonly position: number }
  | { readonly kind: "truncate"; readonly sizeBytes: number };

class MemoryNode {
  cached = new Content();
  durable = new Content();
  unsynced: FileOperation[] = [];

  sync(): void {
    for (const operation of this.unsynced) applyOperation(this.durable, operation);
    this.unsynced = [];
    assert(this.durable.sizeBytes === this.cached.sizeBytes, "a synced file reads as its disk");
  }
}

function applyOperation(content: Content, operation: FileOperation): void {
  if (operation.kind === "write") content.write(operation.bytes, operation.position);
  else content.truncate(operation.sizeBytes);
}

type DirOperation =
  | { readonly kind: "link"; readonly name: string; readonly node: MemoryNode }
  | { readonly kind: "unlink"; readonly name: string }
  | { readonly kind: "rename"; readonly source: string; readonly target: string };

function applyDirOperation(entries: Map<string, MemoryNode>, operation: DirOperation): void {
  if (operation.kind === "link") {
    entries.set(operation.name, operation.node);
  } else if (operation.kind === "unlink") {
    entries.delete(operation.name);
  } else {
    const node = entries.get(operation.source);
    assert(node !== undefined, "a durable rename has a durable source");
    entries.delete(operation.source);
    entries.set(operation.target, node);
  }
}

class MemoryDir {
  entries = new Map<string, MemoryNode>();
  entriesDurable = new Map<string, MemoryNode>();
  unsynced: DirOperation[] = [];

  apply(operation: DirOperation): void {
    applyDirOperation(this.entries, operation);
    this.unsynced.push(operation);
  }

  sync(): void {
    for (const operation of this.unsynced) applyDirOperation(this.entriesDurable, operation);
    this.unsynced = [];
  }
}

function storageError(message: string): TxgridError {
  return new TxgridError(ErrorCode.STORAGE, message);
}

class MemoryFile implements StorageFile {
  readonly path: string;
  readonly #storage: MemoryStorage;
  readonly #node: MemoryNode;
  readonly #epoch: number;
  #closed = false;

  constructor(storage: MemoryStorage, path: string, node: MemoryNode, epoch: number) {
    this.#storage = storage;
    this.path = path;
    this.#node = node;
    this.#epoch = epoch;
  }

  #check(kind: FaultKind | null): void {
    assert(!this.#closed, `file ${this.path} used after close`);
    if (this.#epoch !== this.#storage.epoch) {
      throw storageError(`${this.path}: handle opened before a crash`);
    }
    if (kind !== null) this.#storage.takeFault(kind, this.path);
  }

  sizeBytes(): number {
    this.#check(null);
    return this.#node.cached.sizeBytes;
  }

  write(bytes: Uint8Array, position: number): Promise<void> {
    try {
      this.writeSync(bytes, position);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve();
  }

  writeSync(bytes: Uint8Array, position: number): void {
    assert(Number.isSafeInteger(position) && position >= 0, "write position");
    this.#check("write");
    const operation: FileOperation = { kind: "write", bytes: bytes.slice(), position };
    applyOperation(this.#node.cached, operation);
    this.#node.unsynced.push(operation);
  }

  datasync(): Promise<void> {
    try {
      this.datasyncSync();
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve();
  }

  datasyncSync(): void {
    this.#check("datasync");
    this.#node.sync();
  }

  truncate(sizeBytes: number): void {
    assert(Number.isSafeInteger(sizeBytes) && sizeBytes >= 0, "truncate size");
    this.#check(null);
    const operation: FileOperation = { kind: "truncate", sizeBytes };
    applyOperation(this.#node.cached, operation);
    this.#node.unsynced.push(operation);
  }

  close(): void {
    assert(!this.#closed, `file ${this.path} closed twice`);
    this.#closed = true;
  }
}

export class MemoryStorage implements Storage {
  readonly #dirs = new Map<string, MemoryDir>();
  readonly #faults = new Map<FaultKind, number>();
  readonly #prng: Prng;
  #crashArmed: { readonly kind: FaultKind; readonly mode: CrashMode } | null = null;
  #epoch = 0;

  constructor(options: { readonly seed?: number } = {}) {
    this.#prng = new Prng(options.seed ?? 1);
  }

  /** Incremented by every crash; handles from an older epoch fail. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Makes the next `count` calls of `kind` fail with STORAGE. */
  failNext(kind: FaultKind, count = 1): void {
    assert(count >= 1, "fault count");
    this.#faults.set(kind, (this.#faults.get(kind) ?? 0) + count);
  }

  /**
   * Crashes the storage (in `mode`) at the next call of `kind`, instead of doing it; the call
   * fails with STORAGE. Models a process or machine dying at that point: the caller's code
   * after the call never runs against the storage, since the call threw.
   */
  crashNext(kind: FaultKind, mode: CrashMode = "random"): void {
    this.#crashArmed = { kind, mode };
  }

  /** Disarms every fault and crash armed by failNext and crashNext. */
  clearFaults(): void {
    this.#faults.clear();
    this.#crashArmed = null;
  }

  /** Throws the injected fault of `kind` if one is armed. Used by the file handles. */
  takeFault(kind: FaultKind, path: string): void {
    const armed = this.#crashArmed;
    if (armed !== null && armed.kind === kind) {
      this.#crashArmed = null;
      this.crash(armed.mode);
      throw storageError(`${kind} ${path}: crashed`);
    }
    const count = this.#faults.get(kind) ?? 0;
    if (count === 0) return;
    this.#faults.set(kind, count - 1);
    throw storageError(`${kind} ${path}: injected fault`);
  }

  /** Loses, keeps or damages everything not yet durable (see the fault model above). */
  crash(mode: CrashMode = "random"): void {
    this.#epoch += 1;
    const nodes = new Set<MemoryNode>();
    for (const dir of this.#dirs.values()) {
      for (const node of dir.entries.values()) nodes.add(node);
      for (const node of dir.entriesDurable.values()) nodes.add(node);
      for (const operation of dir.unsynced)
        if (operation.kind === "link") nodes.add(operation.node);
    }
    for (const node of nodes) this.#crashFile(node, mode);
    for (const dir of this.#dirs.values()) this.#crashDir(dir, mode);
  }

  #crashFile(node: MemoryNode, mode: CrashMode): void {
    const content = node.durable.clone();
    for (const operation of node.unsynced) {
      if (mode === "keep") applyOperation(content, operation);
      else if (mode === "random" && operation.kind === "truncate") {
        if (this.#prng.chance(0.5)) applyOperation(content, operation);
      } else if (mode === "random" && operation.kind === "write") {
        this.#crashWrite(content, operation.bytes, operation.position);
      }
    }
    node.cached = content;
    node.durable = content.clone();
    node.unsynced = [];
  }

  /** Applies an unsynced write sector by sector: kept, lost, torn or garbage. */
  #crashWrite(content: Content, bytes: Uint8Array, position: number): void {
    const end = position + bytes.length;
    for (let start = position; start < end; ) {
      const sectorEnd = Math.min(end, (Math.floor(start / sectorBytes) + 1) * sectorBytes);
      const sector = bytes.subarray(start - position, sectorEnd - position);
      const roll = this.#prng.nextInt(100);
      if (roll < 45) {
        content.write(sector, start);
      } else if (roll < 90) {
        // Lost: the old bytes stay.
      } else if (roll < 95) {
        content.write(sector.subarray(0, this.#prng.nextInt(sector.length + 1)), start);
      } else {
        const garbage = new Uint8Array(sector.length);
        for (let index = 0; index < garbage.length; index++)
          garbage[index] = this.#prng.nextInt(256);
        content.write(garbage, start);
      }
      start = sectorEnd;
    }
  }

  #crashDir(dir: MemoryDir, mode: CrashMode): void {
    const keptCount =
      mode === "keep"
        ? dir.unsynced.length
        : mode === "lose"
          ? 0
          : this.#prng.nextInt(dir.unsynced.length + 1);
    for (const operation of dir.unsynced.slice(0, keptCount)) {
      applyDirOperation(dir.entriesDurable, operation);
    }
    dir.unsynced = [];
    dir.entries = new Map(dir.entriesDurable);
  }

  #dir(path: string): MemoryDir {
    const dir = this.#dirs.get(normalize(path));
    if (dir === undefined) throw storageError(`${path}: no such directory`);
    return dir;
  }

  #locate(path: string): { dir: MemoryDir; name: string } {
    const normalized = normalize(path);
    return { dir: this.#dir(posix.dirname(normalized)), name: posix.basename(normalized) };
  }

  mkdirp(dir: string): void {
    for (let path = normalize(dir); ; path = posix.dirname(path)) {
      if (!this.#dirs.has(path)) this.#dirs.set(path, new MemoryDir());
      if (path === posix.dirname(path)) break;
    }
  }

  list(dir: string): string[] {
    const names = [...this.#dir(dir).entries.keys()];
    const parent = normalize(dir);
    for (const path of this.#dirs.keys()) {
      if (path !== parent && posix.dirname(path) === parent) names.push(posix.basename(path));
    }
    return names.sort();
  }

  read(path: string): Uint8Array {
    const { dir, name } = this.#locate(path);
    const node = dir.entries.get(name);
    if (node === undefined) throw storageError(`read ${path}: no such file`);
    return node.cached.bytes.slice(0, node.cached.sizeBytes);
  }

  open(path: string, mode: OpenMode): StorageFile {
    this.takeFault("open", path);
    const { dir, name } = this.#locate(path);
    let node = dir.entries.get(name);
    if (mode === "create") {
      if (node !== undefined) throw storageError(`open(create) ${path}: file exists`);
      node = new MemoryNode();
      dir.apply({ kind: "link", name, node });
    } else if (node === undefined) {
      throw storageError(`open(write) ${path}: no such file`);
    }
    return new MemoryFile(this, path, node, this.#epoch);
  }

  rename(pathSource: string, pathTarget: string): void {
    this.takeFault("rename", pathSource);
    const source = this.#locate(pathSource);
    const target = this.#locate(pathTarget);
    assert(source.dir === target.dir, "rename stays in one directory");
    if (!source.dir.entries.has(source.name)) {
      throw storageError(`rename ${pathSource}: no such file`);
    }
    source.dir.apply({ kind: "rename", source: source.name, target: target.name });
  }

  unlink(path: string): void {
    this.takeFault("unlink", path);
    const { dir, name } = this.#locate(path);
    if (!dir.entries.has(name)) throw storageError(`unlink ${path}: no such file`);
    dir.apply({ kind: "unlink", name });
  }

  syncDir(dir: string): Promise<void> {
    try {
      this.syncDirSync(dir);
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve();
  }

  syncDirSync(dir: string): void {
    this.takeFault("syncDir", dir);
    this.#dir(dir).sync();
  }
}

function normalize(path: string): string {
  const normalized = posix.normalize(path);
  return normalized.length > 1 && normalized.endsWith("/") ? normalized.slice(0, -1) : normalized;
}
