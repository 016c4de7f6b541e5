// Goal: the package entry (dist/src/index.js, what `import ... from "txgrid"` loads) exports
// connect, open and the codes, and a client from it works against a server started the way
// the CLI starts one. Method: runServer on a temporary directory with an ephemeral TCP port,
// connect() to the tcpUrl it reports, a few calls, and the engine checked afterwards.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import * as txgrid from "./index.ts";
import { runServer } from "./server/index.ts";

test("the package entry connects to a running server", async () => {
  assert.equal(typeof txgrid.connect, "function");
  assert.equal(typeof txgrid.open, "function");
  assert.equal(txgrid.ResultCode.INSUFFICIENT_FUNDS, 8);
  assert.equal(txgrid.resultName(txgrid.ResultCode.OK), "OK");
  assert.equal(txgrid.ErrorCode.TIMEOUT, "TXG_ERR_TIMEOUT");
  const dataDir = mkdtempSync(join(tmpdir(), "txgrid-entry-"));
  const server = await runServer({
    host: "127.0.0.1",
    port: 0,
    tcpPort: 0,
    dataDir,
    fsyncPolicy: "batch",
  });
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(server.tcpUrl ?? "", /^txgrid:\/\/127\.0\.0\.1:\d+$/);
    const client = await txgrid.connect(server.tcpUrl ?? "");
    try {
      await client.createAccounts([{ id: "a", balance: 10n }, { id: "b" }]);
      const outcome = await client.createTransfer({
        id: "t",
        debitId: "a",
        creditId: "b",
        amount: 4n,
      });
      assert.equal(outcome.name, "OK");
      assert.equal((await client.lookupAccount("b"))?.balance, 4n);
      await assert.rejects(
        client.createTransfer({ id: "", debitId: "a", creditId: "b", amount: 1n }),
        (error) => txgrid.isTxgridError(error, txgrid.ErrorCode.BAD_REQUEST),
      );
    } finally {
      await client.close();
    }
    assert.deepEqual(server.shard.engine.checkInvariants(), []);
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
