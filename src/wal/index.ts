// wal: the segmented write-ahead log. STUB: being written; the signatures are fixed.
import type { Storage } from "../io/index.ts";

export type FsyncPolicy = "always" | "batch" | "lazy";

export interface Wal {
  readonly lsnLast: number;
  readonly lsnDurable: number;
  append(payload: Uint8Array): number;
  flush(sync: boolean): Promise<void>;
  close(): Promise<void>;
  removeSegmentsThrough(lsn: number): void;
}

export interface ReplayReport {
  readonly recordCount: number;
  readonly truncatedBytes: number;
}

export function openWal(
  options: { readonly storage: Storage; readonly dir: string },
  lsnAfter: number,
  apply: (lsn: number, payload: Uint8Array) => void,
): { wal: Wal; replay: ReplayReport } {
  void options;
  void lsnAfter;
  void apply;
  throw new Error("openWal: not implemented yet");
}
