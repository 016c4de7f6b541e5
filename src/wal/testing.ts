// Helpers for the log's tests: deterministic payloads whose bytes say which lsn they belong
// to, reopening a log while collecting what it replays, and a Storage wrapper that counts
// calls. Not used by production code.
import type { Storage, StorageFile } from "../io/index.ts";
import { openWal, type ReplayReport, type Wal } from "./index.ts";

/** A payload for `lsn`: 0..~700 bytes, sometimes 3 KiB, content derived from the lsn. */
export function payloadFor(lsn: number, salt = 0): Uint8Array {
  const length = lsn % 11 === 0 ? 3000 + (lsn % 7) : (lsn * 37 + salt * 101) % 700;
  return Uint8Array.from({ length }, (_, index) => (lsn * 13 + salt + index) & 0xff);
}

export interface Replayed {
  readonly wal: Wal;
  readonly lsns: number[];
  readonly payloads: Uint8Array[];
  readonly replay: ReplayReport;
}

export function reopen(
  storage: Storage,
  dir: string,
  lsnAfter = 0,
  segmentBytesMax?: number,
): Replayed {
  const lsns: number[] = [];
  const payloads: Uint8Array[] = [];
  const options =
    segmentBytesMax === undefined ? { storage, dir } : { storage, dir, segmentBytesMax };
  const { wal, replay } = openWal(options, lsnAfter, (lsn, payload) => {
    lsns.push(lsn);
    payloads.push(payload.slice());
  });
  return { wal, lsns, payloads, replay };
}

/** The first replayed lsn whose payload is not payloadFor(lsn, saltOf(lsn)), or null. */
export function firstMismatch(
  replayed: Pick<Replayed, "lsns" | "payloads">,
  saltOf: (lsn: number) => number = () => 0,
): number | null {
  for (let index = 0; index < replayed.lsns.length; index++) {
    const lsn = replayed.lsns[index] as number;
    const expected = payloadFor(lsn, saltOf(lsn));
    const actual = replayed.payloads[index] as Uint8Array;
    if (actual.length !== expected.length || !actual.every((byte, at) => byte === expected[at])) {
      return lsn;
    }
  }
  return null;
}

/** Appends payloadFor(lsn) for each lsn in (wal.lsnLast, lsnLast], flushing after each. */
export async function appendThrough(wal: Wal, lsnLast: number, sync: boolean): Promise<void> {
  while (wal.lsnLast < lsnLast) {
    wal.append(payloadFor(wal.lsnLast + 1));
    await wal.flush(sync);
  }
}

/** Integers from `first` to `last`, inclusive. */
export function range(first: number, last: number): number[] {
  return Array.from({ length: Math.max(0, last - first + 1) }, (_, index) => first + index);
}

/** Wraps a Storage and counts write and datasync calls on its files. */
export class CountingStorage implements Storage {
  readonly inner: Storage;
  writeCount = 0;
  datasyncCount = 0;
  syncDirCount = 0;

  constructor(inner: Storage) {
    this.inner = inner;
  }

  mkdirp(dir: string): void {
    this.inner.mkdirp(dir);
  }
  list(dir: string): string[] {
    return this.inner.list(dir);
  }
  read(path: string): Uint8Array {
    return this.inner.read(path);
  }
  open(path: string, mode: "create" | "write"): StorageFile {
    const file = this.inner.open(path, mode);
    return {
      path: file.path,
      sizeBytes: () => file.sizeBytes(),
      write: (bytes, position) => {
        this.writeCount++;
        return file.write(bytes, position);
      },
      writeSync: (bytes, position) => {
        this.writeCount++;
        file.writeSync(bytes, position);
      },
      datasync: () => {
        this.datasyncCount++;
        return file.datasync();
      },
      datasyncSync: () => {
        this.datasyncCount++;
        file.datasyncSync();
      },
      truncate: (sizeBytes) => file.truncate(sizeBytes),
      close: () => file.close(),
    };
  }
  rename(pathSource: string, pathTarget: string): void {
    this.inner.rename(pathSource, pathTarget);
  }
  unlink(path: string): void {
    this.inner.unlink(path);
  }
  syncDir(dir: string): Promise<void> {
    this.syncDirCount++;
    return this.inner.syncDir(dir);
  }
  syncDirSync(dir: string): void {
    this.inner.syncDirSync(dir);
  }
}
