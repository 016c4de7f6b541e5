// `txgrid bench`: TiMPE's user-to-user load against a running txgrid over REST, in a closed
// loop of `concurrency` keep-alive connections, each with one request in flight.
//
//   setup    create `accountCount` accounts (POST /v1/accounts/batch; not timed)
//   load     `transferCount` transfers, or until `durationMs` passes, whichever is first:
//            -i   POST /transactions/immediately (both phases in one request)
//            else POST /transactions (phase 1), then one POST /transactions/process (timed
//                 on its own)
//            --api v1: POST /v1/transfers with a client id (exactly-once)
//   verify   GET /v1/verify before and after: every invariant holds and the sum of balances
//            equals the sum of initial balances; the server recorded exactly as many
//            transfers as were acknowledged.
//
// Every figure is reported with the server's durability setting (read from GET /v1/status)
// and the machine, because a number without them means nothing.
import { cpus, totalmem } from "node:os";
import { performance } from "node:perf_hooks";
import { REQUEST_TRANSFERS_MAX } from "../constants.ts";
import { HttpConnection } from "./http-connection.ts";
import { LatencyRecorder, type LatencySummary } from "./latency.ts";
import { Workload } from "./workload.ts";

export type BenchApi = "timpe" | "v1";

export interface BenchOptions {
  readonly url: string;
  readonly transferCount: number;
  readonly concurrency: number;
  readonly immediate: boolean;
  readonly api: BenchApi;
  readonly accountCount: number;
  readonly hotPercent: number;
  readonly durationMs: number;
  readonly seed: number;
  readonly requestTimeoutMs: number;
  /** The target is the bare node:http reference server: no ledger, so no money checks. */
  readonly reference?: boolean;
  readonly onProgress?: (doneCount: number, totalCount: number) => void;
}

export interface Machine {
  readonly cpuModel: string;
  readonly coreCount: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
}

interface ServerTotals {
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly balanceSum: string;
  readonly initialSum: string;
  readonly transferCount: number;
  readonly accountCount: number;
}

export interface BenchReport {
  readonly options: Omit<BenchOptions, "onProgress">;
  readonly route: string;
  readonly durability: { readonly fsync: string; readonly replication: string };
  readonly machine: Machine;
  readonly startedAt: string;
  readonly okCount: number;
  readonly refusedCount: number;
  readonly errorCount: number;
  readonly errorSamples: readonly string[];
  readonly elapsedMs: number;
  readonly transfersPerSecond: number;
  readonly latency: LatencySummary;
  readonly percentileCurve: readonly { percentile: number; latencyUs: number }[];
  /** Completed requests in each second of the load phase. */
  readonly completedPerSecond: readonly number[];
  readonly process: { readonly durationMs: number; readonly failedCount: number } | null;
  readonly verify: ServerTotals;
  readonly recordedTransferCount: number;
  readonly moneyConserved: boolean;
}

export function describeMachine(): Machine {
  const cores = cpus();
  return {
    cpuModel: cores[0]?.model.trim() ?? "unknown",
    coreCount: cores.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

async function getJson(url: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const json = (await response.json()) as Record<string, unknown>;
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${JSON.stringify(json)}`);
  return (json.data ?? json) as Record<string, unknown>;
}

async function postJson(url: string, body: unknown, timeoutMs: number) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function readTotals(baseUrl: string, timeoutMs: number): Promise<ServerTotals> {
  const data = await getJson(`${baseUrl}/v1/verify`, timeoutMs);
  return {
    ok: data.ok === true,
    problems: (data.problems as string[] | undefined) ?? [],
    balanceSum: String(data.balanceSum),
    initialSum: String(data.initialSum),
    transferCount: Number(data.transferCount),
    accountCount: Number(data.accountCount),
  };
}

const accountBalanceInitial = "10000000";

async function createAccounts(baseUrl: string, ids: readonly string[], timeoutMs: number) {
  for (let start = 0; start < ids.length; start += REQUEST_TRANSFERS_MAX) {
    const accounts = ids
      .slice(start, start + REQUEST_TRANSFERS_MAX)
      .map((id) => ({ id, balance: accountBalanceInitial }));
    const { status, json } = await postJson(
      `${baseUrl}/v1/accounts/batch`,
      { accounts },
      timeoutMs,
    );
    if (status !== 200) {
      throw new Error(`creating accounts failed: ${status} ${JSON.stringify(json).slice(0, 500)}`);
    }
  }
}

interface LoadRoute {
  readonly path: string;
  readonly describe: string;
  body(debit: string, credit: string, amount: number, sequence: number): string;
  /** 0 acknowledged, 1 refused by the ledger (also acknowledged), 2 error. */
  classify(status: number): 0 | 1 | 2;
}

function loadRoute(options: BenchOptions, runTag: string): LoadRoute {
  if (options.api === "v1") {
    return {
      path: "/v1/transfers",
      describe: "POST /v1/transfers",
      body: (debit, credit, amount, sequence) =>
        `{"id":"bt-${runTag}-${sequence}","debitAccountId":"${debit}",` +
        `"creditAccountId":"${credit}","amount":"${amount}"}`,
      classify: (status) => (status === 201 || status === 200 ? 0 : status === 422 ? 1 : 2),
    };
  }
  const path = options.immediate ? "/transactions/immediately" : "/transactions";
  return {
    path,
    describe: `POST ${path}`,
    body: (debit, credit, amount) =>
      `{"sender":"${debit}","recipient":"${credit}","amount":${amount}}`,
    classify: (status) => (status === 200 ? 0 : status === 400 ? 1 : 2),
  };
}

export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const baseUrl = options.url.replace(/\/+$/, "");
  const timeoutMs = options.requestTimeoutMs;
  const status = await getJson(`${baseUrl}/v1/status`, timeoutMs);
  const durability = {
    fsync: String(status.fsyncPolicy ?? "unknown"),
    replication: String(status.replication ?? "none"),
  };
  const runTag = `${Date.now().toString(36)}${options.seed.toString(36)}`;
  const accountIds = Array.from({ length: options.accountCount }, (_, i) => `ba-${runTag}-${i}`);
  await createAccounts(baseUrl, accountIds, Math.max(timeoutMs, 60_000));
  const before = await readTotals(baseUrl, timeoutMs);
  const route = loadRoute(options, runTag);
  const load = await runLoad(options, baseUrl, accountIds, route);
  let process: BenchReport["process"] = null;
  if (options.api === "timpe" && !options.immediate) {
    const startedMs = performance.now();
    const { json } = await postJson(`${baseUrl}/transactions/process`, {}, 600_000);
    const failed = (json.failed_transactions as unknown[] | undefined) ?? [];
    process = { durationMs: performance.now() - startedMs, failedCount: failed.length };
  }
  const after = await readTotals(baseUrl, timeoutMs);
  const recordedTransferCount = after.transferCount - before.transferCount;
  return {
    options: { ...options, onProgress: undefined } as Omit<BenchOptions, "onProgress">,
    route: route.describe,
    durability,
    machine: describeMachine(),
    startedAt: new Date(Date.now() - load.elapsedMs).toISOString(),
    ...load,
    process,
    verify: after,
    recordedTransferCount,
    moneyConserved:
      options.reference !== true &&
      after.ok &&
      after.balanceSum === after.initialSum &&
      before.balanceSum === before.initialSum,
  };
}

async function runLoad(
  options: BenchOptions,
  baseUrl: string,
  accountIds: readonly string[],
  route: LoadRoute,
) {
  const url = new URL(baseUrl);
  const connections = await Promise.all(
    Array.from({ length: options.concurrency }, () =>
      HttpConnection.open(url, options.requestTimeoutMs),
    ),
  );
  const workload = new Workload(options.seed, accountIds.length, options.hotPercent);
  const latency = new LatencyRecorder();
  const completedPerSecond: number[] = [];
  const errorSamples: string[] = [];
  const counts = [0, 0, 0];
  let issuedCount = 0;
  let doneCount = 0;
  const startedMs = performance.now();
  const deadlineMs = startedMs + options.durationMs;
  const progressTimer = setInterval(
    () => options.onProgress?.(doneCount, options.transferCount),
    250,
  );
  const worker = async (connection: HttpConnection) => {
    while (issuedCount < options.transferCount && performance.now() < deadlineMs) {
      const sequence = issuedCount++;
      const choice = workload.next();
      const body = route.body(
        accountIds[choice.debitIndex] as string,
        accountIds[choice.creditIndex] as string,
        choice.amount,
        sequence,
      );
      const sentMs = performance.now();
      try {
        const answer = await connection.request("POST", route.path, body);
        const doneMs = performance.now();
        latency.record((doneMs - sentMs) * 1000);
        const outcome = route.classify(answer.status);
        counts[outcome] = (counts[outcome] as number) + 1;
        if (outcome === 2 && errorSamples.length < 5) {
          errorSamples.push(`${answer.status} ${answer.body.slice(0, 200)}`);
        }
        const second = Math.floor((doneMs - startedMs) / 1000);
        completedPerSecond[second] = (completedPerSecond[second] ?? 0) + 1;
      } catch (error) {
        counts[2] = (counts[2] as number) + 1;
        if (errorSamples.length < 5) errorSamples.push(String(error));
        return; // the connection is closed: this worker stops
      } finally {
        doneCount++;
      }
    }
  };
  await Promise.all(connections.map(worker));
  const elapsedMs = performance.now() - startedMs;
  clearInterval(progressTimer);
  options.onProgress?.(doneCount, options.transferCount);
  for (const connection of connections) connection.close();
  const answeredCount = (counts[0] as number) + (counts[1] as number);
  return {
    okCount: counts[0] as number,
    refusedCount: counts[1] as number,
    errorCount: counts[2] as number,
    errorSamples,
    elapsedMs,
    transfersPerSecond: (answeredCount / elapsedMs) * 1000,
    latency: latency.summary(),
    percentileCurve: latency.percentileCurve(),
    completedPerSecond: Array.from(completedPerSecond, (count) => count ?? 0),
  };
}
