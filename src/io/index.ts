// io: the Storage interface (every filesystem call of the log and snapshots goes through it)
// and its node:fs implementation. STUB: being written; the interface is fixed.
export interface Storage {
  mkdirp(dir: string): void;
}
export class NodeStorage implements Storage {
  mkdirp(dir: string): void {
    void dir;
    throw new Error("NodeStorage: not implemented yet");
  }
}
