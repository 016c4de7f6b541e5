// Formatting and DOM helpers of the console. Money stays a decimal string end to end (the API
// sends int64 as strings; a JavaScript number would round above 2^53), so grouping digits is
// done on the string. Elements are built with h(), never from HTML strings, so ids and
// nicknames typed by users cannot inject markup.

/** "1234567" -> "1,234,567"; "-1000" -> "-1,000"; anything else is returned as is. */
export function money(decimal) {
  const text = String(decimal ?? "");
  const match = /^(-?)(\d+)$/.exec(text);
  if (match === null) return text;
  return match[1] + match[2].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

const integerFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export function count(value) {
  return value === null || value === undefined ? "—" : integerFormat.format(value);
}

export function time(ms) {
  if (ms === null || ms === undefined) return "—";
  const date = new Date(ms);
  return `${date.toLocaleDateString()} ${date.toLocaleTimeString()}`;
}

export function duration(seconds) {
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 86_400)
    return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  return `${Math.floor(seconds / 86_400)} d ${Math.floor((seconds % 86_400) / 3600)} h`;
}

/**
 * Builds an element: h("a", { href: "#/" }, "text", child). Attributes starting with "on" are
 * listeners; `class`, `data-*`, aria and others are set as attributes; null/false are skipped.
 * @param {string} tag
 * @param {Record<string, unknown> | null} [attributes]
 * @param {...(Node | string | number | null | undefined | false | (Node | string)[])} children
 */
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "value") {
      element.value = String(value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

/** A status badge for a transfer state or a health word. */
export function badge(word, kind = word) {
  return h("span", { class: `badge ${kind}` }, word);
}

/** An SVG chart string (from plot.js, escaped there) as an element. */
export function svg(markup) {
  const holder = document.createElement("div");
  holder.innerHTML = markup;
  return holder;
}

/** A transfer id that is unique enough for a person clicking "send" (the API's idempotency key). */
export function newTransferId() {
  const stamp = Date.now().toString(36);
  const random = Math.floor(Math.random() * 36 ** 4)
    .toString(36)
    .padStart(4, "0");
  return `console-${stamp}-${random}`;
}
