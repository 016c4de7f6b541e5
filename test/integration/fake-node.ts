// A stand-in for `txgrid node` in cluster tests: it accepts exactly the flags that
// `txgrid cluster up` passes (the contract in docs/cli.md; an unknown or missing flag makes it
// exit 2), joins etcd under --id with lsn 5 for shard 0, answers every HTTP request on --port
// with `{"node": ID}` (so a test can see which node a gateway forwarded to), and runs until
// SIGTERM.
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { createEtcdCoordinator } from "../../src/coord/index.ts";

const { values } = parseArgs({
  options: {
    id: { type: "string" },
    "data-dir": { type: "string" },
    port: { type: "string" },
    "tcp-port": { type: "string" },
    etcd: { type: "string" },
    replicas: { type: "string" },
    preferred: { type: "string" },
    "busy-poll-us": { type: "string" },
  },
  strict: true,
});
for (const name of ["id", "data-dir", "port", "tcp-port", "etcd", "replicas", "preferred"]) {
  if (values[name as keyof typeof values] === undefined) {
    process.stderr.write(`fake-node: --${name} missing\n`);
    process.exit(2);
  }
}
// Optional flags are echoed to the log, so a test can see they were passed.
if (values["busy-poll-us"] !== undefined) {
  process.stdout.write(`fake-node busy-poll-us=${values["busy-poll-us"]}\n`);
}
const http = createServer((request, response) => {
  request.resume();
  response.writeHead(200, { "content-type": "application/json" });
  response.end(JSON.stringify({ node: values.id }));
});
await new Promise<void>((resolve) => http.listen(Number(values.port), "127.0.0.1", resolve));
const coordinator = createEtcdCoordinator({ endpoints: [values.etcd as string] });
const session = await coordinator.join(
  {
    nodeId: values.id as string,
    tcpAddress: `127.0.0.1:${values["tcp-port"]}`,
    httpAddress: `127.0.0.1:${values.port}`,
    shardLsns: { "0": 5 },
  },
  2_000,
);
process.on("SIGTERM", () => {
  void session
    .close()
    .then(() => coordinator.close())
    .then(() => {
      http.closeAllConnections(); // a gateway's kept-alive connections would hold close()
      return new Promise((resolve) => http.close(resolve));
    })
    .then(() => process.exit(0));
});
