// A request the fast path took, whichever transport carries it (node:http's request objects in
// fast-path.ts, the HTTP/1.1 front's connections in http1-front.ts): what the fast path needs
// of it (route, arrival time, a way to send the answer), and the route's AnswerSink, so that
// the route's answer comes back to it without a promise. Its own module so that both
// transports can extend it without an import cycle at load time.
import type { FastPath, PreparedRoute } from "./fast-path.ts";
import type { AnswerSink } from "./hot-routes.ts";
import type { RouteAnswer } from "./replies.ts";

export abstract class TakenRequest implements AnswerSink {
  readonly fastPath: FastPath;
  readonly prepared: PreparedRoute;
  /** performance.now() at arrival, when there is an observer to report the latency to. */
  readonly startedMs: number;

  constructor(fastPath: FastPath, prepared: PreparedRoute, startedMs: number) {
    this.fastPath = fastPath;
    this.prepared = prepared;
    this.startedMs = startedMs;
  }

  answered(answer: RouteAnswer): void {
    this.fastPath.answered(this, answer);
  }

  failed(error: unknown): void {
    this.fastPath.fail(this, error, false);
  }

  /**
   * Sends the answer: status, header names and values in wire order (the transport adds
   * Date and the connection headers as node:http does; a `connection: close` pair among them
   * closes the connection after the answer). False when the client is gone and nothing was
   * sent.
   */
  abstract deliver(statusCode: number, headers: string[], text: string): boolean;
}
