// One process per data directory. The lock is a file holding the owner's pid, created with
// O_EXCL; a lock left behind by a process that no longer exists (a SIGKILL, a power cut) is
// taken over, since its owner cannot be writing any more.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode, TxgridError } from "../stdx/index.ts";

export interface DataDirLock {
  release(): void;
}

export function lockDataDir(dir: string): DataDirLock {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "LOCK");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, "wx");
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return { release: () => rmSync(path, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const ownerPid = Number.parseInt(readFileSync(path, "utf8"), 10);
      if (Number.isInteger(ownerPid) && ownerPid !== process.pid && isAlive(ownerPid)) {
        throw new TxgridError(
          ErrorCode.LOCKED,
          `data directory ${dir} is in use by process ${ownerPid}`,
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new TxgridError(ErrorCode.LOCKED, `could not lock data directory ${dir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
