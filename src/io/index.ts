// io: the Storage interface (every filesystem call of the log and snapshots goes through it),
// its node:fs implementation and an in-memory disk that crashes, for tests and simulation.
export type { OpenMode, Storage, StorageFile } from "./storage.ts";
export { type CrashMode, type FaultKind, MemoryStorage } from "./storage-memory.ts";
export { NodeStorage } from "./storage-node.ts";
