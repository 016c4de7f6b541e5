// The ways `txgrid bench` reaches a txgrid: a Driver creates the run's accounts (not timed),
// sends one request of transfers from a sender slot, reads the server's totals for the
// money check, and finishes what a mode leaves open (TiMPE's phase 2).
//
//   http      REST over keep-alive connections, one per slot, one request in flight each:
//             TiMPE routes (a batch is one transfer) or /v1 (a batch of more than one goes to
//             POST /v1/transfers/batch)
//   tcp       the TypeScript client over the binary protocol: one connection, requests
//             pipelined; a request of one transfer is one createTransfer call (the client
//             gathers concurrent calls into frames), a larger one is one createTransferList
//             call: the run's transfers are written straight into the list's bytes from a
//             table of the accounts' id bytes (sendWritten: no string, object or BigInt per
//             transfer in the load generator, so that it is not the limit)
//   embedded  the same API on an engine in this process (open({ dir })): no network hop
//
// Outcomes: "ok" = applied or answered as a duplicate; "refused" = declined by the ledger
// (insufficient funds), which is an answer too; "error" = no answer (timeout, broken
// connection, 5xx): its outcome is unknown.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, TransferListEncoder, type TxgridApi } from "../client/index.ts";
import { REQUEST_TRANSFERS_MAX } from "../constants.ts";
import { type Embedded, open } from "../embedded/index.ts";
import { HttpConnection } from "./http-connection.ts";

export type BenchProtocol = "http" | "tcp" | "embedded";
export type BenchApi = "timpe" | "v1";

export interface BenchTransfer {
  readonly id: string;
  readonly debitId: string;
  readonly creditId: string;
  readonly amount: number;
}

export interface SendOutcome {
  okCount: number;
  refusedCount: number;
  errorCount: number;
  errorSample: string | null;
}

export interface ServerTotals {
  readonly ok: boolean;
  readonly problems: readonly string[];
  readonly balanceSum: string;
  readonly initialSum: string;
  readonly transferCount: number;
  readonly accountCount: number;
}

export interface Durability {
  readonly fsync: string;
  readonly replication: string;
}

/** The run's next transfers, written into a list without an object per transfer. */
export interface TransferWriter {
  /** Writes up to `countMax` of the next transfers into `list`; returns how many. */
  writeInto(list: TransferListEncoder, countMax: number): number;
}

export interface Driver {
  readonly route: string;
  readonly durability: Durability;
  /** Sends one request carrying `transfers` from sender slot `slot`. Never throws. */
  send(slot: number, transfers: readonly BenchTransfer[]): Promise<SendOutcome>;
  /**
   * Like send() for the next (up to) `countMax` transfers of `writer`, for drivers that write
   * lists of transfers as bytes; the bench uses it for requests of more than one transfer.
   */
  sendWritten?(slot: number, writer: TransferWriter, countMax: number): Promise<SendOutcome>;
  totals(): Promise<ServerTotals>;
  /** TiMPE phase 1 only: runs phase 2 (/transactions/process) and reports it. */
  finish(): Promise<{ durationMs: number; processedCount: number; failedCount: number } | null>;
  close(): Promise<void>;
}

export interface DriverOptions {
  readonly protocol: BenchProtocol;
  readonly api: BenchApi;
  readonly immediate: boolean;
  readonly url: string;
  readonly tcpUrl: string;
  readonly fsync: string;
  readonly slotCount: number;
  readonly batchSize: number;
  readonly requestTimeoutMs: number;
  readonly reference: boolean;
  /** tcp: the client's busy-poll window, µs (0: off). */
  readonly busyPollUs: number;
}

export const ACCOUNT_BALANCE_INITIAL = 10_000_000n;

export async function openDriver(options: DriverOptions, accountIds: readonly string[]) {
  const driver =
    options.protocol === "http" ? await HttpDriver.open(options) : await ApiDriver.open(options);
  await driver.createAccounts(accountIds);
  return driver as Driver;
}

function outcome(): SendOutcome {
  return { okCount: 0, refusedCount: 0, errorCount: 0, errorSample: null };
}

function failed(count: number, error: unknown): SendOutcome {
  return { okCount: 0, refusedCount: 0, errorCount: count, errorSample: String(error) };
}

async function fetchJson(url: string, body: unknown, timeoutMs: number) {
  const response = await fetch(url, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const json = (await response.json()) as Record<string, unknown>;
  return { status: response.status, json, data: (json.data ?? {}) as Record<string, unknown> };
}

/** `f` on the first of the comma-separated base URLs that answers (replicas: any will do). */
async function onAnyUrl<T>(urls: string, f: (baseUrl: string) => Promise<T>): Promise<T> {
  let failure: unknown = null;
  for (const url of urls.split(",")) {
    try {
      return await f(url.trim().replace(/\/+$/, ""));
    } catch (error) {
      failure = error;
    }
  }
  throw failure;
}

async function readHttpTotals(baseUrl: string, timeoutMs: number): Promise<ServerTotals> {
  const { status, json, data } = await fetchJson(`${baseUrl}/v1/verify`, undefined, timeoutMs);
  if (status !== 200) throw new Error(`GET /v1/verify: ${status} ${JSON.stringify(json)}`);
  return {
    ok: data.ok === true,
    problems: (data.problems as string[] | undefined) ?? [],
    balanceSum: String(data.balanceSum),
    initialSum: String(data.initialSum),
    transferCount: Number(data.transferCount),
    accountCount: Number(data.accountCount),
  };
}

async function readHttpDurability(baseUrl: string, timeoutMs: number): Promise<Durability> {
  const { data } = await fetchJson(`${baseUrl}/v1/status`, undefined, timeoutMs);
  return {
    fsync: String(data.fsyncPolicy ?? "unknown"),
    replication: String(data.replication ?? "none"),
  };
}

async function createAccountsOverHttp(baseUrl: string, ids: readonly string[]) {
  for (let start = 0; start < ids.length; start += REQUEST_TRANSFERS_MAX) {
    const accounts = ids
      .slice(start, start + REQUEST_TRANSFERS_MAX)
      .map((id) => ({ id, balance: String(ACCOUNT_BALANCE_INITIAL) }));
    const url = `${baseUrl}/v1/accounts/batch`;
    const { status, json } = await fetchJson(url, { accounts }, 120_000);
    if (status !== 200) {
      throw new Error(`creating accounts failed: ${status} ${JSON.stringify(json).slice(0, 500)}`);
    }
  }
}

class HttpDriver implements Driver {
  readonly route: string;
  readonly durability: Durability;
  readonly #options: DriverOptions;
  readonly #baseUrl: string;
  readonly #connections: HttpConnection[];

  private constructor(
    options: DriverOptions,
    durability: Durability,
    connections: HttpConnection[],
  ) {
    this.#options = options;
    this.#baseUrl = options.url.replace(/\/+$/, "");
    this.durability = durability;
    this.#connections = connections;
    this.route = `http ${this.#path()}`;
  }

  static async open(options: DriverOptions): Promise<HttpDriver> {
    const baseUrl = options.url.replace(/\/+$/, "");
    const durability = await readHttpDurability(baseUrl, options.requestTimeoutMs);
    const url = new URL(baseUrl);
    const connections = await Promise.all(
      Array.from({ length: options.slotCount }, () =>
        HttpConnection.open(url, options.requestTimeoutMs),
      ),
    );
    return new HttpDriver(options, durability, connections);
  }

  #path(): string {
    if (this.#options.api === "v1") {
      return this.#options.batchSize > 1 ? "POST /v1/transfers/batch" : "POST /v1/transfers";
    }
    return this.#options.immediate ? "POST /transactions/immediately" : "POST /transactions";
  }

  createAccounts(ids: readonly string[]): Promise<void> {
    return createAccountsOverHttp(this.#baseUrl, ids);
  }

  async send(slot: number, transfers: readonly BenchTransfer[]): Promise<SendOutcome> {
    const connection = this.#connections[slot] as HttpConnection;
    const { api, batchSize, immediate } = this.#options;
    try {
      if (api === "v1" && batchSize > 1) return await sendV1Batch(connection, transfers);
      const transfer = transfers[0] as BenchTransfer;
      const path =
        api === "v1" ? "/v1/transfers" : immediate ? "/transactions/immediately" : "/transactions";
      const body =
        api === "v1"
          ? `{"id":"${transfer.id}","debitAccountId":"${transfer.debitId}",` +
            `"creditAccountId":"${transfer.creditId}","amount":"${transfer.amount}"}`
          : `{"sender":"${transfer.debitId}","recipient":"${transfer.creditId}",` +
            `"amount":${transfer.amount}}`;
      const answer = await connection.request("POST", path, body);
      const result = outcome();
      const ok =
        api === "v1" ? answer.status === 201 || answer.status === 200 : answer.status === 200;
      const refused = api === "v1" ? answer.status === 422 : answer.status === 400;
      if (ok) result.okCount = 1;
      else if (refused) result.refusedCount = 1;
      else {
        result.errorCount = 1;
        result.errorSample = `${answer.status} ${answer.body.slice(0, 200)}`;
      }
      return result;
    } catch (error) {
      return failed(transfers.length, error);
    }
  }

  totals(): Promise<ServerTotals> {
    return readHttpTotals(this.#baseUrl, this.#options.requestTimeoutMs);
  }

  async finish() {
    if (this.#options.api !== "timpe" || this.#options.immediate) return null;
    const startedMs = performance.now();
    const { json, data } = await fetchJson(`${this.#baseUrl}/transactions/process`, {}, 600_000);
    const failedTransactions = (json.failed_transactions as unknown[] | undefined) ?? [];
    return {
      durationMs: performance.now() - startedMs,
      processedCount: Number(data.processedCount),
      failedCount: failedTransactions.length,
    };
  }

  async close(): Promise<void> {
    for (const connection of this.#connections) connection.close();
  }
}

async function sendV1Batch(connection: HttpConnection, transfers: readonly BenchTransfer[]) {
  const items = transfers.map(
    (transfer) =>
      `{"id":"${transfer.id}","debitAccountId":"${transfer.debitId}",` +
      `"creditAccountId":"${transfer.creditId}","amount":"${transfer.amount}"}`,
  );
  const answer = await connection.request(
    "POST",
    "/v1/transfers/batch",
    `{"transfers":[${items}]}`,
  );
  if (answer.status !== 200) {
    return { ...failed(transfers.length, `${answer.status} ${answer.body.slice(0, 200)}`) };
  }
  const results = ((JSON.parse(answer.body) as { data?: { results?: { code: string }[] } }).data
    ?.results ?? []) as { code: string }[];
  const result = outcome();
  for (const item of results) {
    if (item.code === "OK") result.okCount++;
    else result.refusedCount++;
  }
  result.errorCount = transfers.length - results.length;
  return result;
}

/** Every transfer's answer of a list, counted: applied (or duplicate) or refused. */
function listOutcome(outcomes: readonly { readonly code: number }[]): SendOutcome {
  const result = outcome();
  for (const item of outcomes) {
    if (item.code === 0) result.okCount++;
    else result.refusedCount++;
  }
  return result;
}

class ApiDriver implements Driver {
  readonly route: string;
  readonly durability: Durability;
  readonly #options: DriverOptions;
  readonly #api: TxgridApi;
  readonly #embedded: Embedded | null;
  readonly #dataDir: string | null;
  readonly #list = new TransferListEncoder();

  private constructor(
    options: DriverOptions,
    api: TxgridApi,
    embedded: Embedded | null,
    dataDir: string | null,
    durability: Durability,
  ) {
    this.#options = options;
    this.#api = api;
    this.#embedded = embedded;
    this.#dataDir = dataDir;
    this.durability = durability;
    this.route = `${options.protocol} createTransfers`;
  }

  static async open(options: DriverOptions): Promise<ApiDriver> {
    const timeoutMs = options.requestTimeoutMs;
    if (options.protocol === "tcp") {
      const durability = await onAnyUrl(options.url, (baseUrl) =>
        readHttpDurability(baseUrl, timeoutMs),
      );
      const client = await connect(options.tcpUrl, {
        timeoutMs,
        busyPollUs: options.busyPollUs,
      });
      return new ApiDriver(options, client, null, null, durability);
    }
    const dataDir = mkdtempSync(join(tmpdir(), "txgrid-bench-embedded-"));
    const fsync = options.fsync as "always" | "batch" | "lazy";
    const embedded = await open({ dir: dataDir, fsync, timeoutMs });
    return new ApiDriver(options, embedded, embedded, dataDir, { fsync, replication: "none" });
  }

  async createAccounts(ids: readonly string[]): Promise<void> {
    for (let start = 0; start < ids.length; start += REQUEST_TRANSFERS_MAX) {
      const accounts = ids
        .slice(start, start + REQUEST_TRANSFERS_MAX)
        .map((id) => ({ id, balance: ACCOUNT_BALANCE_INITIAL }));
      const outcomes = await this.#api.createAccounts(accounts, { timeoutMs: 120_000 });
      const refused = outcomes.find((result) => result.code !== 0);
      if (refused !== undefined) throw new Error(`creating accounts failed: ${refused.name}`);
    }
  }

  async send(_slot: number, transfers: readonly BenchTransfer[]): Promise<SendOutcome> {
    if (transfers.length === 1) return this.#sendOne(transfers[0] as BenchTransfer);
    // Written straight into bytes (no NewTransfer, no BigInt per transfer); the call copies
    // the body, so one encoder serves every sender.
    const list = this.#list;
    try {
      list.reset();
      for (const transfer of transfers) {
        list.add(transfer.id, transfer.debitId, transfer.creditId, transfer.amount);
      }
      return listOutcome(await this.#api.createTransferList(list));
    } catch (error) {
      return failed(transfers.length, error);
    }
  }

  async sendWritten(_slot: number, writer: TransferWriter, countMax: number) {
    // The call copies the body, so one encoder serves every sender.
    const list = this.#list;
    list.reset();
    let count = 0;
    try {
      count = writer.writeInto(list, countMax);
      if (count === 0) return outcome();
      return listOutcome(await this.#api.createTransferList(list));
    } catch (error) {
      return failed(count, error);
    }
  }

  /** One transfer per call: the client gathers the calls of a tick into frames itself. */
  async #sendOne(transfer: BenchTransfer): Promise<SendOutcome> {
    try {
      const { code } = await this.#api.createTransfer({
        id: transfer.id,
        debitId: transfer.debitId,
        creditId: transfer.creditId,
        amount: BigInt(transfer.amount),
      });
      const result = outcome();
      if (code === 0) result.okCount = 1;
      else result.refusedCount = 1;
      return result;
    } catch (error) {
      return failed(1, error);
    }
  }

  async totals(): Promise<ServerTotals> {
    if (this.#embedded === null) {
      const timeoutMs = this.#options.requestTimeoutMs;
      return onAnyUrl(this.#options.url, (baseUrl) => readHttpTotals(baseUrl, timeoutMs));
    }
    const engine = this.#embedded.shard.engine;
    const totals = engine.totals();
    const stats = engine.stats();
    const problems = engine.checkInvariants();
    return {
      ok: problems.length === 0,
      problems,
      balanceSum: String(totals.balanceSum),
      initialSum: String(totals.initialSum),
      transferCount: stats.transferCount,
      accountCount: stats.accountCount,
    };
  }

  async finish() {
    return null;
  }

  async close(): Promise<void> {
    await this.#api.close();
    if (this.#dataDir !== null) rmSync(this.#dataDir, { recursive: true, force: true });
  }
}
