// The reference point for REST figures: a bare node:http server that answers every request
// the bench sends with a small fixed JSON body, doing no work. `txgrid bench --reference`
// runs the same load with the same client against it, so txgrid's figures can be quoted as a
// share of what Node's HTTP stack alone reaches on the same machine in the same session.
//
// Run as a child process: `node reference-server.js` prints its URL and serves until killed.
import { createServer } from "node:http";

const okBody = JSON.stringify({
  status: "success",
  data: {
    ok: true,
    problems: [],
    fsyncPolicy: "none (bare node:http)",
    replication: "none",
    balanceSum: "0",
    initialSum: "0",
    transferCount: 0,
    accountCount: 0,
  },
});
const okHeaders = {
  "content-type": "application/json; charset=utf-8",
  "content-length": Buffer.byteLength(okBody),
};

export function startReferenceServer(): void {
  const server = createServer((request, response) => {
    // Drain the body like a real handler must, then answer.
    request.on("data", () => {});
    request.on("end", () => {
      response.writeHead(200, okHeaders);
      response.end(okBody);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    process.stdout.write(`{"url":"http://127.0.0.1:${port}"}\n`);
  });
}

if (process.argv[1]?.endsWith("reference-server.js") === true) startReferenceServer();
