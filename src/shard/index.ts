// shard: the engine, its log and snapshots composed into one executor with group commit.
export { decodeBatch } from "./batch.ts";
export {
  Shard,
  type ShardEvent,
  type ShardOptions,
  type ShardReplication,
  type ShardStatus,
} from "./shard.ts";
export { systemClock, systemTimers } from "./system-time.ts";
