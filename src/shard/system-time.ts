// The real clock and timers, the defaults of a shard outside the simulator. This file and
// src/io/*-node.ts are the only places below src/server that touch process time.
import { performance } from "node:perf_hooks";
import type { Clock, Timers } from "../stdx/index.ts";

export const systemClock: Clock = {
  monotonicNowMs: () => performance.now(),
  wallNowMs: () => Date.now(),
};

export const systemTimers: Timers = {
  defer: (callback) => {
    setImmediate(callback);
  },
  after: (delayMs, callback) => {
    const handle = setTimeout(callback, delayMs);
    handle.unref();
    return () => clearTimeout(handle);
  },
};
