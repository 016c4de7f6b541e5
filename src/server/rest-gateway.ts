// `txgrid gateway`: a stateless REST entry point for a replicated shard. It learns the
// shard's primary from etcd (the role record and the node keys, through EtcdCoordinator's
// watches) and forwards every HTTP request to that primary's REST face, streaming the body
// both ways. Any number of gateways can run side by side behind a load balancer (TiMPE's
// shared-nothing app nodes): they hold no state beyond the watched role.
//
// Guarantees:
// - A request goes to the primary of the newest role record the gateway has seen; while there
//   is none (no role yet, a vacant epoch, the primary's node key gone), it is answered at once
//   with 503 and code TXG_ERR_UNAVAILABLE, never queued.
// - The gateway never retries a request: a transfer forwarded to a primary that died may or
//   may not have been applied, and only the caller knows whether resending is safe (the /v1
//   routes' client ids make it safe; TiMPE's routes do not). A connection failure before the
//   answer started gives 502 with code TXG_ERR_UNAVAILABLE.
// - At most GATEWAY_INFLIGHT_MAX requests are forwarded at a time; one more is answered 503
//   with TXG_ERR_OVERLOADED (backpressure, no unbounded queue). Request bodies above
//   HTTP_BODY_BYTES_MAX are refused with 413 before anything is forwarded.
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  GATEWAY_INFLIGHT_MAX,
  GATEWAY_UPSTREAM_TIMEOUT_MS,
  HTTP_BODY_BYTES_MAX,
} from "../constants.ts";
import {
  type Coordinator,
  createEtcdCoordinator,
  type NodeInfo,
  type ShardRole,
  VACANT_PRIMARY_ID,
} from "../coord/index.ts";
import { ErrorCode } from "../stdx/index.ts";

export interface RestGatewayOptions {
  readonly coordinator: Coordinator;
  readonly host: string;
  readonly port: number;
  readonly shardId: number;
}

export interface RestGateway {
  readonly url: string;
  /** host:port of the primary's REST face, or null while none is known. */
  primaryHttpAddress(): string | null;
  close(): Promise<void>;
}

export async function startRestGateway(options: RestGatewayOptions): Promise<RestGateway> {
  let role: ShardRole | null = null;
  let nodes: readonly NodeInfo[] = [];
  const unwatchRole = options.coordinator.watchRole(options.shardId, (next) => {
    role = next;
  });
  const unwatchNodes = options.coordinator.watchNodes((next) => {
    nodes = next;
  });
  const primaryHttpAddress = (): string | null => {
    const current = role as ShardRole | null;
    if (current === null || current.primaryId === VACANT_PRIMARY_ID) return null;
    const node = nodes.find((candidate) => candidate.nodeId === current.primaryId);
    return node === undefined || node.httpAddress === "" ? null : node.httpAddress;
  };
  let inflight = 0;
  const server = createServer((incoming, outgoing) => {
    const target = primaryHttpAddress();
    if (target === null) {
      fail(outgoing, 503, ErrorCode.UNAVAILABLE, "no primary is known for the shard right now");
      incoming.resume();
      return;
    }
    if (inflight >= GATEWAY_INFLIGHT_MAX) {
      fail(outgoing, 503, ErrorCode.OVERLOADED, `${GATEWAY_INFLIGHT_MAX} requests in flight`);
      incoming.resume();
      return;
    }
    if (Number(incoming.headers["content-length"] ?? 0) > HTTP_BODY_BYTES_MAX) {
      fail(
        outgoing,
        413,
        ErrorCode.LIMIT_EXCEEDED,
        `bodies are at most ${HTTP_BODY_BYTES_MAX} bytes`,
      );
      incoming.resume();
      return;
    }
    inflight++;
    outgoing.once("close", () => {
      inflight--;
    });
    forward(incoming, outgoing, target);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${address.port}`,
    primaryHttpAddress,
    close: async () => {
      unwatchRole();
      unwatchNodes();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A gateway over its own EtcdCoordinator, closed with it (what `txgrid gateway` runs). */
export async function startEtcdRestGateway(options: {
  readonly endpoints: readonly string[];
  readonly prefix: string;
  readonly host: string;
  readonly port: number;
  readonly shardId: number;
}): Promise<RestGateway> {
  const coordinator = await createEtcdCoordinator({
    endpoints: options.endpoints,
    prefix: options.prefix,
  });
  try {
    const gateway = await startRestGateway({ ...options, coordinator });
    return {
      url: gateway.url,
      primaryHttpAddress: gateway.primaryHttpAddress,
      close: async () => {
        await gateway.close();
        await coordinator.close();
      },
    };
  } catch (error) {
    await coordinator.close();
    throw error;
  }
}

function forward(incoming: IncomingMessage, outgoing: ServerResponse, target: string): void {
  const separator = target.lastIndexOf(":");
  const upstream = request({
    host: target.slice(0, separator),
    port: Number(target.slice(separator + 1)),
    method: incoming.method,
    path: incoming.url,
    headers: { ...incoming.headers, host: target },
    timeout: GATEWAY_UPSTREAM_TIMEOUT_MS,
  });
  upstream.on("response", (answer) => {
    outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(outgoing);
  });
  upstream.on("timeout", () => upstream.destroy(new Error("upstream timeout")));
  upstream.on("error", (error) => {
    if (outgoing.headersSent) {
      outgoing.destroy();
      return;
    }
    fail(outgoing, 502, ErrorCode.UNAVAILABLE, `the primary at ${target}: ${error.message}`);
  });
  incoming.pipe(upstream);
}

/** The API's failure envelope (docs/api.md), so clients read one shape everywhere. */
function fail(outgoing: ServerResponse, statusCode: number, code: string, msg: string): void {
  if (outgoing.headersSent) return;
  const body = JSON.stringify({ status: "failed", code, msg });
  outgoing.writeHead(statusCode, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  });
  outgoing.end(body);
}
