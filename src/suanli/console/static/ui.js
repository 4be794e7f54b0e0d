// DOM and formatting helpers. Text goes in as text nodes (never as HTML). Money arrives from the
// API as exact decimal strings and is formatted for the language in use by i18n.js's fmt* functions
// (Intl.NumberFormat on the string: exact, never through a float); times in the operator's time zone.
import { fmtDateTime, fmtMoney, fmtNumber, fmtPercent, register, t } from "./i18n.js";

register({
  en: {
    "ui.empty": "Nothing here yet.", "ui.error": "Error", "ui.errorStatus": "Error {status}", "ui.confirm": "Confirm",
    "ui.back": "Back",
  },
  "zh-CN": {
    "ui.empty": "暂无内容。", "ui.error": "错误", "ui.errorStatus": "错误 {status}", "ui.confirm": "确认",
    "ui.back": "返回",
  },
});

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "testid") el.dataset.testid = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Round a decimal string half up to `places` (exact: BigInt on the digits). */
export function roundDec(s, places) {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(String(s).trim());
  if (!m) return String(s);
  const [, sign, intPart, fracPart = ""] = m;
  const digits = (intPart || "0") + fracPart.padEnd(places + 1, "0").slice(0, places + 1);
  let n = BigInt(digits);
  n = (n + 5n) / 10n; // half up on the magnitude
  let out = n.toString().padStart(places + 1, "0");
  const ip = out.slice(0, out.length - places) || "0";
  const fp = places ? out.slice(out.length - places) : "";
  out = ip.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + (places ? "." + fp : "");
  return (sign && /[1-9]/.test(out) ? "-" : "") + out;
}

/** Money for display (no currency sign): 2 decimals, or up to `max` when the value has more (unit prices). */
export function money(s, max = 2) {
  if (s === null || s === undefined || s === "") return "—";
  const frac = (String(s).split(".")[1] || "").length;
  const places = Math.min(Math.max(frac, 2), max);
  return fmtNumber(String(s).trim(), { min: places, max: places });
}

/** An amount in the operator's currency (元), with its sign for the locale: "¥8,720.85". */
export function yuan(s, max = 2) {
  if (s === null || s === undefined || s === "") return "—";
  const frac = (String(s).split(".")[1] || "").length;
  return fmtMoney(String(s).trim(), "CNY", { max: Math.min(Math.max(frac, 2), max) });
}

/** A quantity (decimal string or number) with at most `places` decimals, trailing zeros dropped. */
export function num(s, places = 3) {
  if (s === null || s === undefined || s === "") return "—";
  return fmtNumber(String(s).trim(), { min: 0, max: places });
}

/** An ISO instant as date and time (to the second) in the operator's time zone. */
export function when(iso) {
  return fmtDateTime(iso, { seconds: true });
}

export function currentPeriod() {
  return new Date().toISOString().slice(0, 7);
}

export function badge(state) {
  return h("span", { class: `badge st-${state}`, testid: "state" }, state);
}

/** A table from column specs {label, value(row) -> node|text, class?}. */
export function table(columns, rows, { empty, testid, rowTestid } = {}) {
  if (!rows.length) return h("p", { class: "muted empty", testid }, empty ?? t("ui.empty"));
  return h("div", { class: "table-wrap" },
    h("table", { testid },
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.class }, c.label)))),
      h("tbody", {}, rows.map((r) => h("tr", { testid: rowTestid ? rowTestid(r) : undefined },
        columns.map((c) => h("td", { class: c.class }, c.value(r))))))));
}

export function kv(pairs, testid) {
  return h("dl", { class: "kv", testid }, pairs.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

export function card(label, value, testid, note) {
  return h("div", { class: "card", testid }, h("div", { class: "card-label" }, label),
    h("div", { class: "card-value" }, value), note ? h("div", { class: "card-note" }, note) : null);
}

export function errorBox(err, testid = "error") {
  return h("div", { class: "error", role: "alert", testid },
    h("strong", {}, err.status ? `${t("ui.errorStatus", { status: err.status })}${err.code ? ` (${err.code})` : ""}: `
      : `${t("ui.error")}: `),
    err.message);
}

/**
 * The fields a refusal names, with the server's words for each: the `name: message` entries of a
 * 422's `details.errors` (`models.0` -> `models`, `query.offset` -> `offset`), else `details.field`.
 */
export function refusedFields(err) {
  const out = new Map();
  const d = (err && err.details) || {};
  for (const p of Array.isArray(d.errors) ? d.errors : []) {
    const m = /^([^:]+): ([\s\S]*)$/.exec(String(p));
    if (!m) continue;
    const name = m[1].split(".").find((x) => !["body", "query", "path"].includes(x) && !/^\d+$/.test(x));
    if (name && !out.has(name)) out.set(name, m[2]);
  }
  if (!out.size && typeof d.field === "string") out.set(d.field.split(/[.[]/)[0], err.message);
  return out;
}

/**
 * Show a refusal next to the fields of `form` it names (`[data-field=NAME]`, see `field()`; `aliases`
 * maps a wire name to a form name, e.g. {models: "model"}). Earlier ones are cleared first; returns
 * how many fields got a message. The caller still shows the whole message in its status line.
 */
export function markFields(form, err, aliases = {}) {
  form.querySelectorAll(".field-error").forEach((el) => el.remove());
  let placed = 0;
  for (const [wire, message] of refusedFields(err)) {
    const name = aliases[wire] || wire;
    const holder = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (!holder) continue;
    holder.append(h("div", { class: "field-error", role: "alert", testid: `field-error-${name}` }, message));
    placed += 1;
  }
  return placed;
}

export function bar(fraction) {
  const pct = Math.max(0, Math.min(1, fraction)) * 100;
  const fill = h("span", { class: "bar-fill" });
  fill.style.width = `${pct.toFixed(1)}%`;
  return h("span", { class: "bar", title: fmtPercent(pct / 100) }, fill);
}

/** A fraction (0..1, number or decimal string) as a percentage for the locale. */
export function pct(fraction) {
  return fmtPercent(fraction, { max: 1 });
}

export function prevPeriod() {
  const d = new Date();
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth(); // 0-based: the previous month's number, 1-based
  return m === 0 ? `${y - 1}-12` : `${y}-${String(m).padStart(2, "0")}`;
}

export function field(label, input, help) {
  return h("div", { class: "field", "data-field": input.name },
    h("label", { for: input.id }, label), input, help ? h("div", { class: "help" }, help) : null);
}

export function text(name, placeholder, value = "", prefix = "f") {
  return h("input", { id: `${prefix}-${name}`, name, type: "text", placeholder, value, autocomplete: "off" });
}

export function select(name, options, selected, prefix = "f") {
  return h("select", { id: `${prefix}-${name}`, name },
    options.map(([value, label]) => h("option", { value, selected: value === selected }, label)));
}

/** A datetime-local value (the browser's local time) as an ISO instant, or undefined when empty. */
export function isoFromLocal(value) {
  return value ? new Date(value).toISOString() : undefined;
}

/**
 * A guarded action: `open(question)` shows a confirmation row; its confirm button runs `run()`,
 * whose error (the API's message) goes into `status`. Nothing is sent before the confirm click.
 */
export function confirmRow({ testid, status, run, confirmLabel, danger = true, errorTestid = "action-error", extra = [], form }) {
  const formNow = () => (typeof form === "function" ? form() : form);
  const question = h("span", { testid: testid ? `${testid}-question` : undefined });
  const yes = h("button", { type: "button", class: danger ? "danger" : "primary" }, confirmLabel ?? t("ui.confirm"));
  const row = h("div", { class: "confirm", hidden: true, testid }, question, ...extra, yes,
    h("button", { type: "button", onclick: () => { row.hidden = true; } }, t("ui.back")));
  yes.addEventListener("click", async () => {
    yes.disabled = true;
    try {
      await run();
      row.hidden = true;
    } catch (e) {
      status.replaceChildren(errorBox(e, errorTestid));
      if (formNow()) markFields(formNow(), e);
    } finally {
      yes.disabled = false;
    }
  });
  return {
    row,
    open(text) {
      question.textContent = text;
      status.replaceChildren();
      if (formNow()) formNow().querySelectorAll(".field-error").forEach((el) => el.remove());
      row.hidden = false;
      yes.focus();
    },
  };
}

/** A small form panel with a heading, used for the operator's actions. */
export function panel(heading, testid, ...children) {
  return h("div", { class: "panel", testid }, h("h3", {}, heading), ...children);
}

/** Does an allocation hold its device now? A fixed-term lease's allocations carry their planned end
 * (in the future); only an end in the past means the device was given up. */
export function holdsNow(a) {
  return !a.end || Date.parse(a.end) > Date.now();
}
