// The shard's current engine for route handlers. A standby's shard REPLACES its engine when it
// is reset to a primary's snapshot (Shard.resetToSnapshot), so a handler must never keep the
// engine it saw at registration: it would serve the pre-reset state for the rest of the
// process (a replica's /v1/verify stayed at its old lsn after a snapshot catch-up and made the
// fault test report that it "did not converge"). liveEngine(shard) looks shard.engine up on
// every use; it is only for REST reads, where one lookup per call costs nothing measurable.
import type { Engine } from "../../engine/index.ts";
import type { Shard } from "../../shard/index.ts";

export function liveEngine(shard: Shard): Engine {
  return new Proxy({} as Engine, {
    get(_, property) {
      const engine = shard.engine;
      const value: unknown = Reflect.get(engine, property, engine);
      return typeof value === "function" ? value.bind(engine) : value;
    },
  });
}
