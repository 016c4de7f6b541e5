// Goal: EtcdCoordinator keeps the Coordinator contract against a real etcd, including while
// etcd is paused (SIGSTOP) and across an etcd restart on the same data. Method: one etcd on
// 127.0.0.1:9610/9611 in a temporary directory; the implementation-independent cases of
// coord/coordinator-contract.ts run through a harness on real time, with a 2 s lease TTL and
// a 1 s call timeout.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type EtcdProcess, startEtcd } from "../../src/cluster/index.ts";
import {
  type ContractHarness,
  coordinatorContract,
  createEtcdCoordinator,
  EtcdNodeSession,
  systemClock,
} from "../../src/coord/index.ts";

const dir = mkdtempSync(join(tmpdir(), "txgrid-coord-"));
const etcdOptions = { dataDir: join(dir, "etcd"), clientPort: 9610, peerPort: 9611 };
let etcd: EtcdProcess | null = null;

before(async () => {
  etcd = await startEtcd(etcdOptions);
});

after(async () => {
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const callTimeoutMs = 1_000;
const harness: ContractHarness = {
  clock: systemClock,
  sleep: (ms) => sleep(ms),
  makeCoordinator: async () =>
    createEtcdCoordinator({
      endpoints: [`http://127.0.0.1:${etcdOptions.clientPort}`],
      prefix: "/txgrid-test",
      callTimeoutMs,
    }),
  leaseTtlMs: 2_000,
  // etcd looks for expired leases every 500 ms, and a leader may add its election time.
  expiryGraceMs: 3_000,
  callTimeoutMs,
  stopKeepalives: (session) => {
    if (!(session instanceof EtcdNodeSession)) throw new Error("not an etcd session");
    session.suspendKeepalives();
  },
  store: {
    pause: async () => await etcd?.pause(),
    resume: async () => etcd?.resume(),
    restart: async () => {
      await etcd?.stop();
      etcd = await startEtcd(etcdOptions);
    },
  },
};

for (const contractCase of coordinatorContract(harness)) {
  test(contractCase.name, { timeout: contractCase.timeoutMs }, (t) => contractCase.run(t));
}
