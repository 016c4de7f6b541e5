// snapshot: the engine's state in self-checking files, written atomically (tmp, fdatasync,
// rename, fsync dir). Recovery loads the newest valid one and replays the log after its lsn.
// Format and fault model: format.ts, writer.ts, docs/design/wal.md.
export { SNAPSHOT_FORMAT_VERSION } from "./format.ts";
export { readLatestSnapshot } from "./reader.ts";
export { writeSnapshot } from "./writer.ts";
