// Test support for real-process tests: starts `txgrid serve` through the same helper that
// `txgrid bench --spawn` uses, and sends JSON requests with a timeout.
import { type ServerProcess, startServerProcess } from "../../src/bench/index.ts";

export type { ServerProcess };

export function startServer(dataDir: string, fsync: string): Promise<ServerProcess> {
  return startServerProcess({ dataDir, fsync });
}

export async function requestJson(
  url: string,
  method: "GET" | "POST",
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}
