// The console's entry: hash routing between the views (views.js), the live series polled
// once a second and kept across views (so charts have history when you come back), the
// node badge in the top bar, and the toast that shows failures nobody else shows.
// Routes: #/ overview, #/accounts[?q=|?offset=], #/accounts/<id>, #/transfers[?debit=&credit=].
import { api } from "./api.js";
import { duration, h } from "./format.js";
import { accountsView, accountView, overviewView, transfersView } from "./views.js";

const livePointsMax = 300;
const toastMs = 8000;

const live = {
  points: [],
  nowMs: null,
  listeners: new Set(),
  subscribe(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  },
};

let toastTimer = null;
function toast(error) {
  const element = document.getElementById("toast");
  element.replaceChildren(h("strong", null, "Error: "), error.message ?? String(error));
  element.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    element.hidden = true;
  }, toastMs);
}

let current = null;
let renderedHref = null;

function navigate(hash, replace = false) {
  if (replace) history.replaceState(null, "", hash);
  else history.pushState(null, "", hash);
  render();
}

/** Renders the view of the current URL (once per URL: popstate and hashchange both fire). */
function onLocationChange() {
  if (location.href !== renderedHref) render();
}

function render() {
  renderedHref = location.href;
  const [path, search = ""] = (location.hash.slice(1) || "/").split("?");
  const params = new URLSearchParams(search);
  const context = { live, toast, navigate };
  current?.dispose();
  let section = "overview";
  if (path === "/accounts") {
    section = "accounts";
    current = accountsView(context, params);
  } else if (path.startsWith("/accounts/")) {
    section = "accounts";
    current = accountView(context, decodeURIComponent(path.slice("/accounts/".length)));
  } else if (path === "/transfers") {
    section = "transfers";
    current = transfersView(context, params);
  } else {
    current = overviewView(context);
  }
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.classList.toggle("active", link.getAttribute("data-nav") === section);
  }
  const view = document.getElementById("view");
  // Keep the search box's focus when typing re-renders the accounts view.
  const focused = document.activeElement?.getAttribute("name");
  const caret = document.activeElement?.selectionStart ?? null;
  view.replaceChildren(current.element);
  if (focused === "q") {
    const input = view.querySelector('input[name="q"]');
    input?.focus();
    if (input && caret !== null) input.setSelectionRange(caret, caret);
  }
}

async function pollLive() {
  const last = live.points[live.points.length - 1];
  try {
    const data = await api("GET", `/console/api/live${last ? `?since=${last.atMs}` : ""}`);
    live.nowMs = data.nowMs;
    live.points.push(...data.points);
    if (live.points.length > livePointsMax)
      live.points.splice(0, live.points.length - livePointsMax);
    for (const listener of live.listeners) listener();
  } catch {
    // The badge shows that the node is unreachable; the charts keep what they have.
  }
}

async function pollNode() {
  const badge = document.getElementById("node-badge");
  try {
    const view = await api("GET", "/console/api/cluster");
    badge.classList.remove("down");
    badge.replaceChildren(
      h("span", { class: "dot" }),
      `txgrid ${view.version} · fsync=${view.fsyncPolicy} · replication=${view.replication} · up ${duration(view.uptimeSeconds)}`,
    );
  } catch {
    badge.classList.add("down");
    badge.replaceChildren(h("span", { class: "dot" }), "node unreachable");
  }
}

window.addEventListener("popstate", onLocationChange);
window.addEventListener("hashchange", onLocationChange);
render();
void pollLive();
void pollNode();
setInterval(pollLive, 1000);
setInterval(pollNode, 5000);
