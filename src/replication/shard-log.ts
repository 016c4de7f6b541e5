// ShardLog: a Shard seen through ReplicaLog, plus the epoch-marks file beside its data.
//
// The marks file (replication-epochs.json in the data directory) is replaced atomically:
// written to a temporary name, fdatasync'ed, renamed, directory fsync'ed; a crash leaves the
// old or the new file, never a mix. A missing file means no marks (a new replica). An
// in-memory shard (dir null) keeps its marks in memory only.
import { join } from "node:path";
import type { Storage } from "../io/index.ts";
import type { Shard } from "../shard/index.ts";
import { ErrorCode, TxgridError } from "../stdx/index.ts";
import { EpochHistory, type EpochMark } from "./epochs.ts";
import type { ReplicaLog } from "./replica.ts";

const marksFileName = "replication-epochs.json";

export function readEpochMarks(storage: Storage, dir: string | null): EpochMark[] {
  if (dir === null) return [];
  storage.mkdirp(dir);
  if (!storage.list(dir).includes(marksFileName)) return [];
  let marks: EpochMark[];
  try {
    const text = new TextDecoder().decode(storage.read(join(dir, marksFileName)));
    marks = (JSON.parse(text) as { marks: EpochMark[] }).marks;
  } catch (error) {
    throw new TxgridError(ErrorCode.CORRUPT, `${marksFileName} is unreadable`, { cause: error });
  }
  EpochHistory.check(marks);
  return marks;
}

export async function writeEpochMarks(
  storage: Storage,
  dir: string,
  marks: readonly EpochMark[],
): Promise<void> {
  const bytes = new TextEncoder().encode(JSON.stringify({ marks }));
  const tmpPath = join(dir, `${marksFileName}.tmp`);
  if (storage.list(dir).includes(`${marksFileName}.tmp`)) storage.unlink(tmpPath);
  const file = storage.open(tmpPath, "create");
  try {
    await file.write(bytes, 0);
    await file.datasync();
  } finally {
    file.close();
  }
  storage.rename(tmpPath, join(dir, marksFileName));
  await storage.syncDir(dir);
}

export class ShardLog implements ReplicaLog {
  readonly #shard: Shard;
  readonly #storage: Storage;
  readonly #dir: string | null;
  #saving: Promise<void> = Promise.resolve();

  constructor(shard: Shard, storage: Storage, dir: string | null) {
    this.#shard = shard;
    this.#storage = storage;
    this.#dir = dir;
  }

  lsnLogged(): number {
    return this.#shard.lsnLogged;
  }

  lsnDurable(): number {
    return this.#shard.lsnDurable;
  }

  append(lsn: number, payload: Uint8Array): Promise<void> {
    return this.#shard.applyReplicated(lsn, payload);
  }

  reset(lsn: number, body: Uint8Array): Promise<void> {
    return this.#shard.resetToSnapshot(lsn, body);
  }

  snapshot(): { lsn: number; body: Uint8Array } {
    const engine = this.#shard.engine;
    return { lsn: engine.lsn, body: engine.encodeSnapshot() };
  }

  saveMarks(marks: readonly EpochMark[]): Promise<void> {
    const dir = this.#dir;
    if (dir === null) return Promise.resolve();
    // One file write at a time, in the order asked.
    this.#saving = this.#saving.then(() => writeEpochMarks(this.#storage, dir, marks));
    return this.#saving;
  }

  lsnSnapshot(): number {
    return this.#shard.status().snapshotLsn;
  }

  promoted(): void {
    this.#shard.resumeTicks();
  }
}
