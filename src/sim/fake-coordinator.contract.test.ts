// Goal: the simulator's fake etcd keeps the same Coordinator contract as the real etcd (the
// cases of coord/coordinator-contract.ts, which test/integration/coord-etcd.process.test.ts
// runs against a real etcd), so that what the seeded simulations prove holds for the real
// store. Method: the implementation-independent cases run on simulated time: a driver moves
// the scheduler forward one event per macrotask turn (settling promises in between), and the
// harness's sleep is a scheduler timer. The store-fault cases (pause, restart) need a real
// process and are not given here; a partition is the simulator's own fault.
import { after, test } from "node:test";
import { type ContractHarness, coordinatorContract } from "../coord/index.ts";
import { FakeEtcd, FakeSession } from "./fake-coordinator.ts";
import { Scheduler } from "./scheduler.ts";

const scheduler = new Scheduler();
const etcd = new FakeEtcd(scheduler);
let clientCount = 0;

// Simulated time runs as fast as the cases allow: each turn runs the events of the next 5 ms.
let driving = true;
const drive = (): void => {
  if (!driving) return;
  void scheduler
    .run(scheduler.monotonicNowMs() + 5, Number.POSITIVE_INFINITY, () => {})
    .then(() => setImmediate(drive));
};
drive();
after(() => {
  driving = false;
});

const harness: ContractHarness = {
  clock: scheduler,
  sleep: (ms) => new Promise((resolve) => scheduler.at(ms, () => resolve())),
  makeCoordinator: async () => {
    clientCount += 1;
    return etcd.client(`contract-client-${clientCount}`);
  },
  leaseTtlMs: 2_000,
  // The fake expires a lease exactly at its deadline; leave room for its rpc delays.
  expiryGraceMs: 500,
  callTimeoutMs: 1_000,
  stopKeepalives: (session) => {
    if (!(session instanceof FakeSession)) throw new Error("not a fake session");
    session.suspendKeepalives();
  },
};

for (const contractCase of coordinatorContract(harness)) {
  test(`fake etcd: ${contractCase.name}`, { timeout: contractCase.timeoutMs }, (t) =>
    contractCase.run(t),
  );
}
