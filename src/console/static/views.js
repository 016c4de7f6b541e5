// The console's views: overview (live charts, counters, cluster), accounts (search, create,
// one account's balance and history), transfers (single and two-phase, pending ones with
// post/void, recent ones). Each view function gets the context from app.js and answers
// { element, dispose }; dispose() stops whatever the view refreshes on its own.
import { api } from "./api.js";
import { badge, count, duration, h, money, newTransferId, svg, time } from "./format.js";
import { formatMicros, lineChart } from "./plot.js";

const liveWindowSeconds = 120;
const accountsPageRows = 25;

/** A notice (ok or error) placed under a form; errors carry the API's code. */
function notice(kind, text, code) {
  return h(
    "div",
    { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" },
    text,
    code ? h("span", { class: "code" }, code) : null,
  );
}

function errorNotice(error) {
  return notice("error", error.message, error.code && error.status > 0 ? error.code : null);
}

function table(headers, rows, emptyText) {
  return h(
    "table",
    null,
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        headers.map(([label, numeric]) => h("th", { class: numeric ? "num" : null }, label)),
      ),
    ),
    h(
      "tbody",
      null,
      rows.length === 0
        ? h("tr", null, h("td", { class: "empty", colspan: headers.length }, emptyText))
        : rows,
    ),
  );
}

// ---- overview ----

export function overviewView(context) {
  const kpis = h("div", { class: "kpis" });
  const throughput = h("div", { class: "panel", "data-chart": "throughput" });
  const latency = h("div", { class: "panel", "data-chart": "latency" });
  const cluster = h("div", { class: "panel" }, h("h2", null, "Cluster"));
  const element = h(
    "section",
    null,
    h("h1", null, "Overview"),
    kpis,
    h("div", { class: "grid cols-2" }, throughput, latency),
    cluster,
  );
  let stats = null;
  const draw = () => {
    const points = context.live.points;
    const last = points[points.length - 1] ?? null;
    const kpi = (label, value, id) =>
      h(
        "div",
        { class: "kpi" },
        h("div", { class: "label" }, label),
        h("div", { class: "value", "data-kpi": id }, value),
      );
    kpis.replaceChildren(
      kpi("Commands / s", last ? count(last.commandsPerSecond) : "—", "throughput"),
      kpi("Write p50", last?.writeP50Us != null ? formatMicros(last.writeP50Us) : "—", "p50"),
      kpi("Write p99", last?.writeP99Us != null ? formatMicros(last.writeP99Us) : "—", "p99"),
      kpi("Accounts", count(stats?.engine.accountCount), "accounts"),
      kpi("Transfers", count(stats?.engine.transferCount), "transfers"),
      kpi("Pending", count(stats?.engine.pendingCount), "pending"),
      kpi("Queue", last ? count(last.queueDepth) : "—", "queue"),
    );
    const nowMs = context.live.nowMs ?? Date.now();
    const x = (point) => (point.atMs - nowMs) / 1000;
    const domain = [-liveWindowSeconds, 0];
    const formatX = (seconds) => (seconds === 0 ? "now" : `${seconds}s`);
    throughput.replaceChildren(
      svg(
        lineChart({
          title: "Throughput",
          xDomain: domain,
          formatX,
          yLabel: "per second",
          series: [
            {
              name: "commands/s",
              color: "#1f6feb",
              points: points.map((p) => [x(p), p.commandsPerSecond]),
            },
            {
              name: "HTTP requests/s",
              color: "#e8590c",
              points: points.map((p) => [x(p), p.httpRequestsPerSecond]),
            },
          ],
        }),
      ),
    );
    latency.replaceChildren(
      svg(
        lineChart({
          title: "Latency (HTTP writes; log flush)",
          // Log scale: a start-up or fsync spike must not flatten the usual latencies.
          yScale: "log",
          xDomain: domain,
          formatX,
          formatY: formatMicros,
          series: [
            {
              name: "write p50",
              color: "#1f6feb",
              points: points.map((p) => [x(p), p.writeP50Us]),
            },
            {
              name: "write p99",
              color: "#e8590c",
              points: points.map((p) => [x(p), p.writeP99Us]),
            },
            {
              name: "flush p99",
              color: "#8250df",
              dashed: true,
              points: points.map((p) => [x(p), p.flushP99Us]),
            },
          ],
        }),
      ),
    );
  };
  const drawCluster = (view) => {
    const rows = view.shards.map((shard) => {
      const lag =
        shard.standbys.length === 0 ? null : Math.max(...shard.standbys.map((s) => s.lagBatches));
      return h(
        "tr",
        { "data-shard": shard.id },
        h("td", null, shard.id),
        h("td", { class: "mono" }, shard.primary),
        h(
          "td",
          null,
          shard.standbys.length === 0
            ? h("span", { class: "muted" }, "none")
            : shard.standbys.map((s) => h("div", { class: "mono" }, `${s.node} @ ${s.lsn ?? "?"}`)),
        ),
        h("td", { class: "num" }, shard.epoch ?? "—"),
        h("td", { class: "num" }, count(shard.lsnApplied)),
        h("td", { class: "num" }, count(shard.lsnDurable)),
        h("td", { class: "num" }, count(shard.snapshotLsn)),
        h("td", { class: "num" }, lag === null ? "—" : `${count(lag)} batches`),
        h("td", { class: "num" }, `${count(shard.queueDepth)} / ${count(shard.queueCapacity)}`),
        h("td", null, shard.failed ? badge("failed", "bad") : badge("healthy", "ok")),
      );
    });
    cluster.replaceChildren(
      h("h2", null, "Cluster"),
      h(
        "p",
        { class: "muted" },
        `${view.mode}, ${view.shards.length} shard${view.shards.length === 1 ? "" : "s"}; ` +
          `durability fsync=${view.fsyncPolicy}, replication=${view.replication}; up ${duration(view.uptimeSeconds)}`,
      ),
      table(
        [
          ["Shard"],
          ["Primary"],
          ["Standbys"],
          ["Epoch", true],
          ["Applied LSN", true],
          ["Durable LSN", true],
          ["Snapshot LSN", true],
          ["Lag", true],
          ["Queue", true],
          ["State"],
        ],
        rows,
        "no shard reported",
      ),
    );
  };
  const refresh = async () => {
    try {
      const [status, view] = await Promise.all([
        api("GET", "/v1/status"),
        api("GET", "/console/api/cluster"),
      ]);
      stats = status;
      drawCluster(view);
      draw();
    } catch (error) {
      context.toast(error);
    }
  };
  draw();
  void refresh();
  const unsubscribe = context.live.subscribe(draw);
  const timer = setInterval(refresh, 2000);
  return {
    element,
    dispose: () => {
      clearInterval(timer);
      unsubscribe();
    },
  };
}

// ---- accounts ----

export function accountsView(context, params) {
  const query = params.get("q") ?? "";
  const offset = Math.max(0, Number(params.get("offset") ?? 0) || 0);
  const result = h("div");
  const list = h("div");
  const search = h("input", {
    type: "search",
    name: "q",
    placeholder: "Search by id or nickname",
    "aria-label": "Search accounts",
    value: query,
  });
  let debounce = null;
  search.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(
      () =>
        context.navigate(
          `#/accounts${search.value ? `?q=${encodeURIComponent(search.value)}` : ""}`,
          true,
        ),
      250,
    );
  });
  const noFloor = h("input", { type: "checkbox", name: "noFloor" });
  const form = h(
    "form",
    { class: "inline", "aria-label": "New account" },
    h(
      "label",
      null,
      "Account id",
      h("input", {
        name: "id",
        required: true,
        pattern: "[A-Za-z0-9._:\\-]{1,128}",
        placeholder: "alice",
      }),
    ),
    h(
      "label",
      null,
      "Initial balance (minor units)",
      h("input", { name: "balance", inputmode: "numeric", value: "0" }),
    ),
    h("label", null, "Floor", h("input", { name: "floor", inputmode: "numeric", value: "0" })),
    h("label", { class: "check" }, noFloor, "no floor"),
    h("label", null, "Nickname (optional)", h("input", { name: "nickname", placeholder: "Alice" })),
    h("button", { class: "primary", type: "submit" }, "Create account"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = {
      id: String(data.get("id")).trim(),
      balance: String(data.get("balance") || "0").trim(),
    };
    body.floor = noFloor.checked ? null : String(data.get("floor") || "0").trim();
    const nickname = String(data.get("nickname") ?? "").trim();
    if (nickname !== "") body.nickname = nickname;
    try {
      const account = await api("POST", "/v1/accounts", body);
      result.replaceChildren(
        notice("ok", `Account “${account.id}” created with balance ${money(account.balance)}.`),
      );
      form.reset();
      void load();
    } catch (error) {
      result.replaceChildren(errorNotice(error));
    }
  });
  const row = (account) =>
    h(
      "tr",
      {
        class: "clickable",
        "data-account": account.id,
        onclick: () => context.navigate(`#/accounts/${encodeURIComponent(account.id)}`),
      },
      h("td", null, h("a", { href: `#/accounts/${encodeURIComponent(account.id)}` }, account.id)),
      h("td", null, account.nickname ?? h("span", { class: "muted" }, "—")),
      h("td", { class: "num", "data-field": "balance" }, money(account.balance)),
      h("td", { class: "num" }, money(account.reserved)),
      h("td", { class: "num", "data-field": "available" }, money(account.available)),
      h("td", { class: "num" }, account.floor === null ? "none" : money(account.floor)),
    );
  const headers = [
    ["Id"],
    ["Nickname"],
    ["Balance", true],
    ["Reserved", true],
    ["Available", true],
    ["Floor", true],
  ];
  const load = async () => {
    try {
      if (query !== "") {
        const found = await api(
          "GET",
          `/console/api/accounts?q=${encodeURIComponent(query)}&limit=50`,
        );
        list.replaceChildren(
          table(headers, found.accounts.map(row), `No account matches “${query}”.`),
          h(
            "p",
            { class: "muted" },
            found.complete
              ? `${found.accounts.length} match${found.accounts.length === 1 ? "" : "es"} among ${count(found.total)} accounts.`
              : `Searched the newest ${count(found.scannedCount)} of ${count(found.total)} accounts (an exact id or nickname is always found).`,
          ),
        );
        return;
      }
      const page = await api("GET", `/v1/accounts?offset=${offset}&limit=${accountsPageRows}`);
      const last = Math.min(page.total, offset + page.accounts.length);
      list.replaceChildren(
        table(headers, page.accounts.map(row), "No accounts yet: create the first one above."),
        h(
          "div",
          { class: "pager" },
          h(
            "span",
            { class: "muted" },
            page.total === 0 ? "" : `${count(offset + 1)}–${count(last)} of ${count(page.total)}`,
          ),
          h(
            "button",
            {
              class: "small",
              disabled: offset === 0,
              onclick: () =>
                context.navigate(`#/accounts?offset=${Math.max(0, offset - accountsPageRows)}`),
            },
            "Previous",
          ),
          h(
            "button",
            {
              class: "small",
              disabled: last >= page.total,
              onclick: () => context.navigate(`#/accounts?offset=${offset + accountsPageRows}`),
            },
            "Next",
          ),
        ),
      );
    } catch (error) {
      list.replaceChildren(errorNotice(error));
    }
  };
  void load();
  const element = h(
    "section",
    null,
    h("h1", null, "Accounts"),
    h("div", { class: "panel" }, h("h2", null, "New account"), form, result),
    h("div", { class: "panel" }, h("div", { class: "toolbar" }, search), list),
  );
  if (query !== "") queueMicrotask(() => search.focus());
  return { element, dispose: () => clearTimeout(debounce) };
}

export function accountView(context, id) {
  const element = h("section", null, h("p", { class: "muted" }, "Loading…"));
  const historyBody = h("tbody");
  const more = h("button", { class: "small", hidden: true }, "Load older transfers");
  let nextBefore = null;
  const historyRow = (transfer) => {
    const outgoing = transfer.debitAccountId === id;
    const other = outgoing ? transfer.creditAccountId : transfer.debitAccountId;
    return h(
      "tr",
      { "data-transfer": transfer.id },
      h("td", null, time(transfer.createdAtMs)),
      h("td", { class: "mono" }, transfer.id),
      h(
        "td",
        null,
        outgoing ? "to " : "from ",
        h("a", { href: `#/accounts/${encodeURIComponent(other)}` }, other),
      ),
      h(
        "td",
        { class: `num ${outgoing ? "amount-out" : "amount-in"}` },
        `${outgoing ? "−" : "+"}${money(transfer.amount)}`,
      ),
      h("td", null, transfer.pending ? "two-phase" : "single"),
      h("td", null, badge(transfer.state)),
    );
  };
  const loadHistory = async () => {
    const before = nextBefore === null ? "" : `&before=${nextBefore}`;
    const page = await api(
      "GET",
      `/v1/accounts/${encodeURIComponent(id)}/transfers?limit=50${before}`,
    );
    historyBody.append(...page.transfers.map(historyRow));
    if (historyBody.children.length === 0) {
      historyBody.append(
        h("tr", null, h("td", { class: "empty", colspan: 6 }, "No transfers yet.")),
      );
    }
    nextBefore = page.nextBefore;
    more.hidden = nextBefore === null;
  };
  more.addEventListener("click", () => void loadHistory().catch(context.toast));
  const load = async () => {
    try {
      const account = await api("GET", `/v1/accounts/${encodeURIComponent(id)}`);
      const figure = (label, value, field, big) =>
        h(
          "div",
          { class: "kpi" },
          h("div", { class: "label" }, label),
          h("div", { class: big ? "value big" : "value", "data-field": field }, value),
        );
      element.replaceChildren(
        h("p", null, h("a", { href: "#/accounts" }, "← Accounts")),
        h(
          "h1",
          null,
          `Account ${account.id}`,
          account.nickname ? h("span", { class: "muted" }, ` · ${account.nickname}`) : null,
        ),
        h(
          "div",
          { class: "balance" },
          figure("Balance", money(account.balance), "balance", true),
          figure("Available", money(account.available), "available"),
          figure("Reserved (pending)", money(account.reserved), "reserved"),
          figure("Floor", account.floor === null ? "none" : money(account.floor), "floor"),
          figure("Initial", money(account.initial), "initial"),
        ),
        h(
          "p",
          { class: "muted" },
          `Created ${time(account.createdAtMs)}. `,
          h(
            "a",
            { href: `#/transfers?debit=${encodeURIComponent(account.id)}` },
            "Send from this account",
          ),
          " · ",
          h(
            "a",
            { href: `#/transfers?credit=${encodeURIComponent(account.id)}` },
            "Send to this account",
          ),
        ),
        h(
          "div",
          { class: "panel" },
          h("h2", null, "History"),
          h(
            "table",
            null,
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                ["Time", "Transfer", "Counterparty", "Amount", "Type", "State"].map(
                  (label, index) => h("th", { class: index === 3 ? "num" : null }, label),
                ),
              ),
            ),
            historyBody,
          ),
          h("div", { class: "pager" }, more),
        ),
      );
      await loadHistory();
    } catch (error) {
      element.replaceChildren(
        h("p", null, h("a", { href: "#/accounts" }, "← Accounts")),
        errorNotice(error),
      );
    }
  };
  void load();
  return { element, dispose: () => {} };
}

// ---- transfers ----

export function transfersView(context, params) {
  const result = h("div");
  const pendingPanel = h("div");
  const recentPanel = h("div");
  const idInput = h("input", {
    name: "id",
    class: "mono",
    value: newTransferId(),
    required: true,
    size: 26,
  });
  const twoPhase = h("input", { type: "checkbox", name: "pending" });
  const timeout = h("input", {
    name: "timeoutSeconds",
    inputmode: "numeric",
    placeholder: "never",
    size: 8,
    disabled: true,
  });
  twoPhase.addEventListener("change", () => {
    timeout.disabled = !twoPhase.checked;
  });
  const form = h(
    "form",
    { class: "inline", "aria-label": "New transfer" },
    h("label", null, "Transfer id (idempotency key)", idInput),
    h(
      "label",
      null,
      "From (debit)",
      h("input", {
        name: "debit",
        required: true,
        value: params.get("debit") ?? "",
        placeholder: "alice",
      }),
    ),
    h(
      "label",
      null,
      "To (credit)",
      h("input", {
        name: "credit",
        required: true,
        value: params.get("credit") ?? "",
        placeholder: "bob",
      }),
    ),
    h(
      "label",
      null,
      "Amount (minor units)",
      h("input", {
        name: "amount",
        required: true,
        inputmode: "numeric",
        placeholder: "250",
        size: 10,
      }),
    ),
    h("label", { class: "check" }, twoPhase, "two-phase (reserve now, post or void later)"),
    h("label", null, "Timeout (s)", timeout),
    h("button", { class: "primary", type: "submit" }, "Send transfer"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const body = {
      id: idInput.value.trim(),
      debitAccountId: String(data.get("debit")).trim(),
      creditAccountId: String(data.get("credit")).trim(),
      amount: String(data.get("amount")).trim(),
    };
    if (twoPhase.checked) {
      body.pending = true;
      const seconds = Number(timeout.value || 0);
      if (seconds > 0) body.timeoutMs = Math.round(seconds * 1000);
    }
    try {
      const transfer = await api("POST", "/v1/transfers", body);
      const what =
        transfer.state === "pending"
          ? `reserved ${money(transfer.amount)} of “${transfer.debitAccountId}” for “${transfer.creditAccountId}”; post or void it below.`
          : `moved ${money(transfer.amount)} from “${transfer.debitAccountId}” to “${transfer.creditAccountId}”.`;
      result.replaceChildren(notice("ok", `Transfer ${transfer.id} ${transfer.state}: ${what}`));
    } catch (error) {
      result.replaceChildren(errorNotice(error));
    }
    // The id is the idempotency key, and a refusal is recorded under it too: a new attempt
    // needs a new id.
    idInput.value = newTransferId();
    void loadLists();
  });
  const resolve = async (transfer, action) => {
    try {
      const done = await api("POST", `/v1/transfers/${encodeURIComponent(transfer.id)}/${action}`);
      result.replaceChildren(
        notice(
          "ok",
          `Transfer ${done.id} ${done.state}: ${money(done.amount)} ${action === "post" ? `moved to “${done.creditAccountId}”` : `released back to “${done.debitAccountId}”`}.`,
        ),
      );
    } catch (error) {
      result.replaceChildren(errorNotice(error));
    }
    void loadLists();
  };
  const transferCells = (transfer) => [
    h("td", { class: "mono" }, transfer.id),
    h(
      "td",
      null,
      h(
        "a",
        { href: `#/accounts/${encodeURIComponent(transfer.debitAccountId)}` },
        transfer.debitAccountId,
      ),
    ),
    h(
      "td",
      null,
      h(
        "a",
        { href: `#/accounts/${encodeURIComponent(transfer.creditAccountId)}` },
        transfer.creditAccountId,
      ),
    ),
    h("td", { class: "num" }, money(transfer.amount)),
  ];
  const loadLists = async () => {
    try {
      const [pending, head] = await Promise.all([
        api("GET", "/v1/transfers?state=pending&limit=100"),
        api("GET", "/v1/transfers?limit=1"),
      ]);
      const offset = Math.max(0, head.total - 20);
      const recent = await api("GET", `/v1/transfers?offset=${offset}&limit=20`);
      pendingPanel.replaceChildren(
        h("h2", null, `Pending transfers (${count(pending.total)})`),
        table(
          [["Id"], ["From"], ["To"], ["Amount", true], ["Created"], ["Expires"], ["Action"]],
          pending.transfers.map((transfer) =>
            h(
              "tr",
              { "data-pending": transfer.id },
              transferCells(transfer),
              h("td", null, time(transfer.createdAtMs)),
              h("td", null, transfer.expiresAtMs === null ? "never" : time(transfer.expiresAtMs)),
              h(
                "td",
                null,
                h("button", { class: "small", onclick: () => resolve(transfer, "post") }, "Post"),
                " ",
                h(
                  "button",
                  { class: "small danger", onclick: () => resolve(transfer, "void") },
                  "Void",
                ),
              ),
            ),
          ),
          "No pending transfers.",
        ),
      );
      recentPanel.replaceChildren(
        h("h2", null, `Recent transfers (${count(recent.total)} in all)`),
        table(
          [["Id"], ["From"], ["To"], ["Amount", true], ["Type"], ["State"], ["Time"]],
          recent.transfers
            .slice()
            .reverse()
            .map((transfer) =>
              h(
                "tr",
                { "data-transfer": transfer.id },
                transferCells(transfer),
                h("td", null, transfer.pending ? "two-phase" : "single"),
                h("td", null, badge(transfer.state)),
                h("td", null, time(transfer.resolvedAtMs ?? transfer.createdAtMs)),
              ),
            ),
          "No transfers yet.",
        ),
      );
    } catch (error) {
      context.toast(error);
    }
  };
  void loadLists();
  const timer = setInterval(loadLists, 3000);
  const element = h(
    "section",
    null,
    h("h1", null, "Transfers"),
    h("div", { class: "panel" }, h("h2", null, "New transfer"), form, result),
    h("div", { class: "panel" }, pendingPanel),
    h("div", { class: "panel" }, recentPanel),
  );
  return { element, dispose: () => clearInterval(timer) };
}
