// Goal: NodeStorage does what the Storage interface promises on a real file system, and its
// failures are STORAGE TxgridErrors. Method: exercise every call in a temporary directory.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ErrorCode, isTxgridError } from "../stdx/index.ts";
import { NodeStorage } from "./storage-node.ts";

test("files: create, write, sync, read, truncate, rename, unlink, list", async () => {
  const root = mkdtempSync(join(tmpdir(), "txgrid-io-"));
  try {
    const storage = new NodeStorage();
    const dir = join(root, "a", "b");
    storage.mkdirp(dir);
    storage.mkdirp(dir);
    const file = storage.open(join(dir, "f.tmp"), "create");
    const bytes = Uint8Array.from({ length: 100_000 }, (_, index) => index & 0xff);
    await file.write(bytes, 0);
    await file.write(bytes.subarray(0, 10), 100_000);
    await file.datasync();
    file.datasyncSync();
    assert.equal(file.sizeBytes(), 100_010);
    file.truncate(99_999);
    file.close();
    storage.rename(join(dir, "f.tmp"), join(dir, "f"));
    await storage.syncDir(dir);
    storage.syncDirSync(dir);
    const read = storage.read(join(dir, "f"));
    assert.deepEqual(read, bytes.subarray(0, 99_999));
    storage.open(join(dir, "e"), "create").close();
    assert.deepEqual(storage.list(dir), ["e", "f"]);
    assert.throws(
      () => storage.open(join(dir, "e"), "create"),
      (error) => isTxgridError(error, ErrorCode.STORAGE),
    );
    storage.unlink(join(dir, "e"));
    assert.throws(
      () => storage.open(join(dir, "e"), "write"),
      (error) => isTxgridError(error, ErrorCode.STORAGE),
    );
    assert.throws(
      () => storage.list(join(root, "missing")),
      (error) => isTxgridError(error, ErrorCode.STORAGE),
    );
    await assert.rejects(storage.syncDir(join(root, "missing")), (error) =>
      isTxgridError(error, ErrorCode.STORAGE),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
