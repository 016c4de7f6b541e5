// sim: the seeded deterministic simulator of a replica group (docs/design/replication.md).

export { runSeed, type SimOptions, type SimReport } from "./cluster.ts";
export { FakeCoordinatorClient, FakeEtcd, FakeSession } from "./fake-coordinator.ts";
export { Scheduler, settle } from "./scheduler.ts";
