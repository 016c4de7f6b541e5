// The replication side of a node (`txgrid node`): the etcd coordinator, the replica state
// machine as the shard's replication hook, and its TCP network. server.ts composes it with the
// shard and the faces; this file only wires real time, real etcd and real sockets into
// src/replication's pure pieces.
//
// Order of start (why): the Replica exists before the shard opens (it is the shard's hook),
// is attached once the shard has replayed its log, and starts (joins etcd, publishes
// NodeInfo with its TCP address) only after the listeners are up, so that nobody is told an
// address where nothing listens. Stop: the replica leaves (its lease is revoked, so a
// successor need not wait for the TTL), then the network and the coordinator close.
//
// Guarantees: everything the replica reports (promotion, step-down, membership, reset,
// errors) is one log line; nothing is logged per batch.
import type { Socket } from "node:net";
import type { Logger } from "pino";
import { COORD_CALL_TIMEOUT_MS_DEFAULT } from "../constants.ts";
import {
  type Coordinator,
  checkLeaseTtlMs,
  checkNodeId,
  createEtcdCoordinator,
  type NodeInfo,
} from "../coord/index.ts";
import type { Storage } from "../io/index.ts";
import type { ReplicationLagSample, ReplicationRoleSample } from "../metrics/index.ts";
import {
  isReplicationStream,
  Replica,
  type ReplicaEvent,
  type ReplicationMode,
  readEpochMarks,
  ShardLog,
  TcpReplicaNetwork,
} from "../replication/index.ts";
import { type Shard, systemClock, systemTimers } from "../shard/index.ts";

export interface ReplicaNodeOptions {
  readonly nodeId: string;
  /** etcd client URLs (http://host:port). */
  readonly etcdEndpoints: readonly string[];
  /** Replicas of the shard, this node included (N of the replica group). */
  readonly replicas: number;
  /** Preferred primary at cold start (ties of log position go to it). */
  readonly preferredPrimaryId: string | null;
  readonly mode: ReplicationMode;
  readonly leaseTtlMs: number;
  /** Start a cold cluster without waiting for `replicas` live nodes (operator's decision). */
  readonly force?: boolean;
  readonly shardId?: number;
  /** etcd key prefix (COORD_PREFIX_DEFAULT). */
  readonly prefix?: string;
}

export interface ReplicaNode {
  readonly replica: Replica;
  readonly network: TcpReplicaNetwork;
  readonly coordinator: Coordinator;
  /** What the TCP server needs to hand replication connections over. */
  readonly tcpHook: {
    isReplicationStream(head: Uint8Array): boolean;
    accept(socket: Socket, head: Uint8Array): void;
  };
  /** Replication I/O is reported here (the server's idle busy polling). */
  setActivityHook(hook: () => void): void;
  /** Connects the opened shard; then start() once the listeners are up. */
  attach(shard: Shard): void;
  start(): void;
  lagSamples(): ReplicationLagSample[];
  /** The shard's role record as this replica knows it; null before the first one. */
  roleSample(): ReplicationRoleSample | null;
  stop(): Promise<void>;
}

export function createReplicaNode(
  options: ReplicaNodeOptions,
  addresses: { readonly tcpAddress: string; readonly httpAddress: string },
  dataDir: string,
  storage: Storage,
  logger: Logger,
): ReplicaNode {
  const shardId = options.shardId ?? 0;
  checkNodeId(options.nodeId);
  checkLeaseTtlMs(options.leaseTtlMs);
  const coordinator = createEtcdCoordinator({
    endpoints: [...options.etcdEndpoints],
    callTimeoutMs: COORD_CALL_TIMEOUT_MS_DEFAULT,
    ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
  });
  let nodes: readonly NodeInfo[] = [];
  const unwatch = coordinator.watchNodes((live) => {
    nodes = live;
  });
  let replica: Replica | null = null;
  let onActivity: (() => void) | null = null;
  const network = new TcpReplicaNetwork({
    resolve: (nodeId) => nodes.find((node) => node.nodeId === nodeId)?.tcpAddress ?? null,
    onMessage: (message) => replica?.receive(message),
    onActivity: () => onActivity?.(),
  });
  replica = new Replica({
    nodeId: options.nodeId,
    shardId,
    replicaCount: options.replicas,
    mode: options.mode,
    preferredPrimaryId: options.preferredPrimaryId,
    force: options.force === true,
    leaseTtlMs: options.leaseTtlMs,
    tcpAddress: addresses.tcpAddress,
    httpAddress: addresses.httpAddress,
    clock: systemClock,
    timers: systemTimers,
    coordinator,
    network,
    marks: readEpochMarks(storage, dataDir),
    onEvent: (event) => logReplicaEvent(logger, event),
  });
  const own = replica;
  return {
    replica: own,
    network,
    coordinator,
    tcpHook: {
      isReplicationStream,
      accept: (socket, head) => network.accept(socket, head),
    },
    attach: (shard) => own.attach(new ShardLog(shard, storage, dataDir)),
    setActivityHook: (hook) => {
      onActivity = hook;
    },
    start: () => own.start(),
    lagSamples: () =>
      own.peerPositions().map((peer) => ({
        shard: String(shardId),
        standby: peer.id,
        lagBatches: Math.max(0, own.lsnLast - peer.lsnReceived),
        lagSeconds: null,
      })),
    roleSample: () => {
      const role = own.role;
      if (role === null) return null;
      return {
        shard: String(shardId),
        epoch: role.epoch,
        primaryId: role.primaryId,
        primaryHttpAddress: own.primaryAddress()?.httpAddress || null,
        replicaIds: role.replicaIds,
        selfId: own.nodeId,
      };
    },
    stop: async () => {
      await own.stop();
      unwatch();
      network.close();
      await coordinator.close();
    },
  };
}

function logReplicaEvent(logger: Logger, event: ReplicaEvent): void {
  switch (event.kind) {
    case "role":
      if (event.role !== null) {
        const { epoch, primaryId, replicaIds } = event.role;
        logger.info({ epoch, primaryId, replicaIds }, `role: epoch ${epoch}, primary ${primaryId}`);
      }
      return;
    case "promoted":
      logger.info({ epoch: event.epoch, lsn: event.lsn }, `primary of epoch ${event.epoch}`);
      return;
    case "stepped-down":
      logger.warn({ epoch: event.epoch, reason: event.reason }, "stepped down");
      return;
    case "members":
      logger.info({ epoch: event.epoch, replicaIds: event.replicaIds }, "replicas changed");
      return;
    case "reset":
      logger.warn({ lsn: event.lsn }, "state replaced by the primary's snapshot");
      return;
    case "error":
      logger.warn({ context: event.context, err: event.error }, `replication: ${event.context}`);
      return;
  }
}
