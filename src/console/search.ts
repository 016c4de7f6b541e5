// Account search for the console: an exact id, then an exact nickname, then accounts whose id
// or nickname contains the query (case-insensitive), newest first. The engine has no ordered
// or text index, so substring matches come from a bounded scan of the newest
// CONSOLE_SEARCH_SCAN_ROWS_MAX accounts; the answer says whether the scan covered them all.
//
// Guarantees: at most `limit` (<= CONSOLE_SEARCH_RESULTS_MAX) accounts, each once; at most
// CONSOLE_SEARCH_SCAN_ROWS_MAX rows read, in pages, stopping as soon as `limit` matched (the
// scan runs on the event loop, so its cost is bounded by the constant).
import type { AccountJson } from "../api/http/index.ts";
import { accountView } from "../api/http/index.ts";
import { CONSOLE_SEARCH_RESULTS_MAX, CONSOLE_SEARCH_SCAN_ROWS_MAX } from "../constants.ts";
import type { Engine, Row } from "../engine/index.ts";
import { assert } from "../stdx/index.ts";

export interface SearchResult {
  readonly accounts: AccountJson[];
  /** Accounts read by the substring scan. */
  readonly scannedCount: number;
  /** True when the scan read every account (no match can be missing). */
  readonly complete: boolean;
  readonly total: number;
}

const scanPageRows = 1000;

export function searchAccounts(engine: Engine, query: string, limit: number): SearchResult {
  assert(limit >= 1 && limit <= CONSOLE_SEARCH_RESULTS_MAX, "the route bounds the limit");
  const total = engine.stats().accountCount;
  const found = new Map<string, Row>();
  const add = (row: Row | undefined) => {
    if (row !== undefined && found.size < limit) found.set(row.id as string, row);
  };
  add(engine.account(query));
  add(engine.accountByNickname(query));
  const needle = query.toLowerCase();
  const scanFrom = Math.max(0, total - CONSOLE_SEARCH_SCAN_ROWS_MAX);
  let end = total;
  let scannedCount = 0;
  while (end > scanFrom && found.size < limit) {
    const start = Math.max(scanFrom, end - scanPageRows);
    const rows = engine.accounts(start, end - start);
    scannedCount += rows.length;
    for (let index = rows.length - 1; index >= 0 && found.size < limit; index--) {
      const row = rows[index] as Row;
      const nickname = row.nickname;
      const matches =
        (row.id as string).toLowerCase().includes(needle) ||
        (typeof nickname === "string" && nickname.toLowerCase().includes(needle));
      if (matches && !found.has(row.id as string)) found.set(row.id as string, row);
    }
    end = start;
  }
  return {
    accounts: [...found.values()].map(accountView),
    scannedCount,
    complete: end === 0,
    total,
  };
}
