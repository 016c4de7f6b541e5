// The records every Coordinator implementation stores, their keys and their checks, in one
// place so that etcd and the simulator's fake accept and refuse exactly the same values.
//
// Guarantees: a NodeInfo or ShardRoleValue that passes these checks has a node id of at most
// COORD_NODE_ID_LENGTH_MAX characters from [A-Za-z0-9_.-], a shard id within
// [0, COORD_SHARD_ID_MAX], a non-negative integer epoch, a primary that is one of at most
// COORD_REPLICAS_MAX distinct replicas, and a JSON form of at most COORD_VALUE_BYTES_MAX
// bytes. A value read back from the store that fails them is CORRUPT (someone else wrote it).
import {
  COORD_NODE_ID_LENGTH_MAX,
  COORD_REPLICAS_MAX,
  COORD_SHARD_ID_MAX,
  COORD_VALUE_BYTES_MAX,
  LEASE_TTL_MS_MAX,
  LEASE_TTL_MS_MIN,
} from "../constants.ts";
import { ErrorCode, TxgridError } from "../stdx/index.ts";
import {
  type NodeInfo,
  type ShardRole,
  type ShardRoleValue,
  VACANT_PRIMARY_ID,
} from "./coordinator.ts";

const NODE_ID_PATTERN = /^[A-Za-z0-9_.-]+$/;

export function nodesPrefix(prefix: string): string {
  return `${prefix}/nodes/`;
}

/**
 * A node's key is per session (lease): `{prefix}/nodes/{nodeId}/{leaseId}`. A put under an
 * older lease of the node (a join or publish it gave up on, served late by a slow etcd) then
 * lands on that older session's own key, which goes with the older lease, and can never move
 * or delete the current session's key: the current key disappears only when the current
 * lease ends, which is what the fencing argument needs (docs/design/coordination.md).
 */
export function nodeKey(prefix: string, nodeId: string, leaseId: string): string {
  return `${nodesPrefix(prefix)}${nodeId}/${leaseId}`;
}

/**
 * One NodeInfo per node from the node keys of a range, each given with its mod revision: a
 * node may briefly have a key of an older session as well; the newest write wins.
 */
export function newestPerNode(
  entries: readonly { readonly info: NodeInfo; readonly revision: number }[],
): NodeInfo[] {
  const newest = new Map<string, { info: NodeInfo; revision: number }>();
  for (const entry of entries) {
    const seen = newest.get(entry.info.nodeId);
    if (seen === undefined || entry.revision > seen.revision) newest.set(entry.info.nodeId, entry);
  }
  return [...newest.values()]
    .map((entry) => entry.info)
    .sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}

export function roleKey(prefix: string, shardId: number): string {
  return `${prefix}/shards/${shardId}/role`;
}

export function checkNodeId(nodeId: unknown): string {
  if (typeof nodeId !== "string" || !NODE_ID_PATTERN.test(nodeId)) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, `bad node id ${JSON.stringify(nodeId)}`);
  }
  if (nodeId.length > COORD_NODE_ID_LENGTH_MAX) {
    throw new TxgridError(
      ErrorCode.LIMIT_EXCEEDED,
      `node id longer than ${COORD_NODE_ID_LENGTH_MAX} characters`,
    );
  }
  return nodeId;
}

export function checkShardId(shardId: unknown): number {
  if (!Number.isSafeInteger(shardId) || (shardId as number) < 0) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, `bad shard id ${String(shardId)}`);
  }
  if ((shardId as number) > COORD_SHARD_ID_MAX) {
    throw new TxgridError(ErrorCode.LIMIT_EXCEEDED, `shard id above ${COORD_SHARD_ID_MAX}`);
  }
  return shardId as number;
}

export function checkLeaseTtlMs(ttlMs: number): number {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < LEASE_TTL_MS_MIN || ttlMs > LEASE_TTL_MS_MAX) {
    throw new TxgridError(
      ErrorCode.LIMIT_EXCEEDED,
      `lease TTL must be an integer from ${LEASE_TTL_MS_MIN} to ${LEASE_TTL_MS_MAX} ms (got ${ttlMs})`,
    );
  }
  return ttlMs;
}

/** Checks a NodeInfo and returns its JSON form (what the store keeps). */
export function encodeNodeInfo(info: NodeInfo): string {
  checkNodeId(info.nodeId);
  if (typeof info.tcpAddress !== "string" || typeof info.httpAddress !== "string") {
    throw new TxgridError(ErrorCode.BAD_REQUEST, "node addresses must be strings");
  }
  if (typeof info.shardLsns !== "object" || info.shardLsns === null) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, "shardLsns must be an object");
  }
  for (const [shard, lsn] of Object.entries(info.shardLsns)) {
    checkShardId(Number(shard));
    if (!Number.isSafeInteger(lsn) || lsn < 0) {
      throw new TxgridError(ErrorCode.BAD_REQUEST, `bad lsn ${String(lsn)} of shard ${shard}`);
    }
  }
  const value: NodeInfo = {
    nodeId: info.nodeId,
    tcpAddress: info.tcpAddress,
    httpAddress: info.httpAddress,
    shardLsns: { ...info.shardLsns },
  };
  return checkSize(JSON.stringify(value));
}

/** Checks the next role of `shardId` and returns its JSON form. */
export function encodeRoleValue(shardId: number, next: ShardRoleValue): string {
  checkShardId(shardId);
  if (next.shardId !== shardId) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, `role of shard ${next.shardId} for ${shardId}`);
  }
  if (!Number.isSafeInteger(next.epoch) || next.epoch < 0) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, `bad epoch ${String(next.epoch)}`);
  }
  if (!Array.isArray(next.replicaIds) || next.replicaIds.length === 0) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, "a role needs at least one replica");
  }
  if (next.replicaIds.length > COORD_REPLICAS_MAX) {
    throw new TxgridError(ErrorCode.LIMIT_EXCEEDED, `more than ${COORD_REPLICAS_MAX} replicas`);
  }
  for (const id of next.replicaIds) checkNodeId(id);
  if (new Set(next.replicaIds).size !== next.replicaIds.length) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, "replica ids must be distinct");
  }
  const vacant = next.primaryId === VACANT_PRIMARY_ID;
  if (!vacant && !next.replicaIds.includes(checkNodeId(next.primaryId))) {
    throw new TxgridError(ErrorCode.BAD_REQUEST, "the primary must be one of the replicas");
  }
  const value: ShardRoleValue = {
    shardId,
    epoch: next.epoch,
    primaryId: next.primaryId,
    replicaIds: [...next.replicaIds],
  };
  return checkSize(JSON.stringify(value));
}

/** Parses a stored NodeInfo; CORRUPT when it is not one. */
export function decodeNodeInfo(json: string): NodeInfo {
  return reread(json, (value) => {
    const info = value as NodeInfo;
    encodeNodeInfo(info);
    return info;
  });
}

/** Parses a stored role, adding the store's revision of it; CORRUPT when it is not one. */
export function decodeRole(json: string, revision: number): ShardRole {
  return reread(json, (value) => {
    const role = value as ShardRoleValue;
    encodeRoleValue(role.shardId, role);
    return { ...role, revision };
  });
}

function reread<T>(json: string, check: (value: unknown) => T): T {
  try {
    return check(JSON.parse(json));
  } catch (error) {
    throw new TxgridError(ErrorCode.CORRUPT, `malformed coordination record: ${json}`, {
      cause: error,
    });
  }
}

function checkSize(json: string): string {
  if (Buffer.byteLength(json) > COORD_VALUE_BYTES_MAX) {
    throw new TxgridError(
      ErrorCode.LIMIT_EXCEEDED,
      `coordination record larger than ${COORD_VALUE_BYTES_MAX} bytes`,
    );
  }
  return json;
}
