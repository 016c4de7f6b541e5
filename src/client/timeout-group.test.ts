// Goal: calls that share one timer (TimeoutGroup: the calls of one tick with the client's
// default timeout) keep the promises of a timer per call: each fails with TIMEOUT no earlier
// than its own timeout after it was made, a call of a later tick is not swept out with an
// earlier tick's group, a settled call is not failed, and once every call settled no timer is
// left to keep the process alive. Method: ApiCore over a transport that never answers, or
// that answers some frames; Call objects directly; Node's list of active resources.
import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { test } from "node:test";
import { MessageKind } from "../protocol/index.ts";
import { ErrorCode, isTxgridError } from "../stdx/index.ts";
import { ApiCore, type Transport } from "./api.ts";
import { Call, type Outgoing, TimeoutGroup } from "./outgoing.ts";

class SilentTransport implements Transport {
  readonly queuedOperations = 0;
  readonly sent: Outgoing[] = [];
  send(outgoing: Outgoing): void {
    this.sent.push(outgoing);
  }
  prune(): void {}
  async close(): Promise<void> {}
}

const transfer = (id: string) => ({ id, debitId: "a", creditId: "b", amount: 1n });
const isTimeout = (error: unknown) => isTxgridError(error, ErrorCode.TIMEOUT);
const timeoutCount = () =>
  process.getActiveResourcesInfo().filter((name) => name === "Timeout").length;

test("calls of later ticks time out on their own clock, not with an earlier tick's group", async () => {
  const api = new ApiCore(new SilentTransport(), { timeoutMs: 80 });
  const firstMadeMs = performance.now();
  const first = Promise.allSettled([api.createTransfer(transfer("a1")), api.ping()]);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const laterMadeMs = performance.now();
  const later = api.createTransfer(transfer("a2")).then(
    () => assert.fail("no answer was sent"),
    (error: unknown) => {
      assert.ok(isTimeout(error));
      return performance.now();
    },
  );
  const firstOutcomes = await first;
  const firstFailedMs = performance.now();
  for (const outcome of firstOutcomes) {
    assert.equal(outcome.status, "rejected");
    assert.ok(isTimeout((outcome as PromiseRejectedResult).reason));
  }
  assert.ok(firstFailedMs - firstMadeMs >= 79, "not before the timeout");
  const laterFailedMs = await later;
  assert.ok(laterFailedMs - laterMadeMs >= 79, "the later call got its own full timeout");
});

test("a settled call is not failed; a settled group leaves no timer behind", async () => {
  const timersBefore = timeoutCount();
  const group = new TimeoutGroup(60_000);
  const outcomes: string[] = [];
  const calls = [0, 1, 2].map(
    (index) =>
      new Call(MessageKind.PING, [], 0, true, {
        resolve: () => outcomes.push(`ok ${index}`),
        reject: () => outcomes.push(`failed ${index}`),
        onSettled: () => {},
      }),
  );
  for (const call of calls) call.joinTimeoutGroup(group);
  assert.equal(timeoutCount(), timersBefore + 1, "one timer for the group");
  for (const call of calls) call.complete("done");
  assert.deepEqual(outcomes, ["ok 0", "ok 1", "ok 2"]);
  assert.equal(timeoutCount(), timersBefore, "the group's timer is cleared with its last call");

  const short = new TimeoutGroup(20);
  const answered = new Call(MessageKind.PING, [], 0, true, {
    resolve: () => outcomes.push("answered"),
    reject: () => outcomes.push("answered call failed"),
    onSettled: () => {},
  });
  const silent = new Call(MessageKind.PING, [], 0, true, {
    resolve: () => outcomes.push("silent call resolved"),
    reject: (error) => outcomes.push(isTimeout(error) ? "timed out" : String(error)),
    onSettled: () => {},
  });
  answered.joinTimeoutGroup(short);
  silent.joinTimeoutGroup(short);
  answered.complete("done");
  await new Promise((resolve) => setTimeout(resolve, 60));
  assert.deepEqual(outcomes.slice(3), ["answered", "timed out"]);
  assert.equal(timeoutCount(), timersBefore);
});
