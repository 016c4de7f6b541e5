// Goal: invariant 1 at the log level. Whatever a crash does to data and names that were not
// yet durable, reopening never fails, replays exactly a prefix of what was appended (no lsn
// skipped, no payload altered), and that prefix holds every record a completed flush(true)
// reported durable. Method: seeded random workloads on MemoryStorage with small segments,
// mixing synced and lazy flushes, snapshots (log trimming), crashes between and during
// flushes, and crash modes "random", "lose" and "keep". SEED=n reruns one case.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type CrashMode, type FaultKind, MemoryStorage } from "../io/index.ts";
import { Prng } from "../stdx/index.ts";
import { firstMismatch, payloadFor, range, reopen } from "./testing.ts";

const dir = "/node/wal";
const segmentBytesMax = 1024;
const seedFirst = Number(process.env.SEED ?? Date.now() % 2 ** 31);
const seedCount = process.env.SEED === undefined ? 150 : 1;
const crashModes: readonly CrashMode[] = ["random", "random", "random", "lose", "keep"];
const flushSteps: readonly FaultKind[] = ["write", "datasync", "open", "syncDir"];
const mode = (prng: Prng) => crashModes[prng.nextInt(crashModes.length)] as CrashMode;

/** What the test knows: the payload salt of every lsn, and the highest lsn acknowledged. */
interface Model {
  salts: number[];
  lsnAcknowledged: number;
  lsnSnapshot: number;
}

async function runCase(caseSeed: number): Promise<void> {
  const prng = new Prng(caseSeed);
  const storage = new MemoryStorage({ seed: caseSeed });
  storage.mkdirp(dir);
  const model: Model = { salts: [0], lsnAcknowledged: 0, lsnSnapshot: 0 };
  let epochOpened = -1;
  for (let cycle = 0; cycle < 6; cycle++) {
    if (storage.epoch === epochOpened) storage.crash(mode(prng));
    epochOpened = storage.epoch;
    const opened = reopen(storage, dir, model.lsnSnapshot, segmentBytesMax);
    const { wal, lsns } = opened;
    const lsnLast = wal.lsnLast;
    assert.ok(lsnLast >= model.lsnAcknowledged, `lost acknowledged records (seed ${caseSeed})`);
    assert.deepEqual(lsns, range(model.lsnSnapshot + 1, lsnLast));
    assert.equal(
      firstMismatch(opened, (lsn) => model.salts[lsn] ?? -1),
      null,
    );
    model.salts.length = lsnLast + 1;
    for (let step = 0, steps = prng.nextInt(12); step < steps; step++) {
      const appendCount = 1 + prng.nextInt(3);
      for (let index = 0; index < appendCount; index++) {
        const salt = cycle * 10 + 1;
        model.salts[wal.append(payloadFor(wal.lsnLast + 1, salt))] = salt;
      }
      const sync = prng.chance(0.6);
      if (prng.chance(0.1)) {
        // Crash in the middle of a flush, at one of its steps: it is never acknowledged.
        storage.crashNext(flushSteps[prng.nextInt(flushSteps.length)] as FaultKind, mode(prng));
        const epoch = storage.epoch;
        await wal.flush(sync).catch(() => undefined);
        storage.clearFaults();
        if (storage.epoch !== epoch) break;
      }
      await wal.flush(sync);
      model.lsnAcknowledged = Math.max(model.lsnAcknowledged, wal.lsnDurable);
      if (prng.chance(0.15)) {
        // A snapshot of the applied state, then the log is trimmed as the shard does.
        model.lsnSnapshot = model.lsnSnapshot + prng.nextInt(wal.lsnLast - model.lsnSnapshot + 1);
        model.lsnAcknowledged = Math.max(model.lsnAcknowledged, model.lsnSnapshot);
        if (wal.lsnDurable >= model.lsnSnapshot) wal.removeSegmentsThrough(model.lsnSnapshot);
      }
    }
  }
}

test("after any crash the log replays a prefix holding every acknowledged record", async () => {
  for (let index = 0; index < seedCount; index++) {
    const caseSeed = (seedFirst + index) % 2 ** 31;
    try {
      await runCase(caseSeed);
    } catch (error) {
      throw new Error(`crash case failed; rerun with SEED=${caseSeed}: ${String(error)}`, {
        cause: error,
      });
    }
  }
});
