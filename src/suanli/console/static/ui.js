// DOM and formatting helpers. Text goes in as text nodes (never as HTML). Money arrives from the
// API as exact decimal strings and is formatted for the language in use by i18n.js's fmt* functions
// (Intl.NumberFormat on the string: exact, never through a float); times in the operator's time zone.
import { fmtDateTime, fmtMoney, fmtNumber, fmtPercent, has, register, t, timeZone } from "./i18n.js";

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

const STATES = {
  en: {},
  "zh-CN": {
    active: "运行中", scheduled: "已预约", suspended: "已暂停", interrupted: "已中断", ended: "已结束", cancelled: "已取消",
    available: "可用", maintenance: "维护中", down: "故障", drain: "排空", draining: "排空中", placed: "已放置",
    paid: "已支付", draft: "草稿", issued: "已开具", void: "已作废", preview: "预览", pending: "排队中", running: "运行中",
    completed: "已完成", failed: "失败", timeout: "超时", node_fail: "节点故障", lost: "丢失", rejected: "已拒绝",
    revoked: "已吊销", expired: "已过期", ok: "正常", low: "余额不足", "in force": "生效中", superseded: "已被取代",
    prepaid: "预付", postpaid: "后付", warn: "余额预警", suspend: "暂停", full: "完全", read: "只读", lease: "单租约", inference: "推理",
  },
};
for (const k of Object.keys(STATES["zh-CN"])) STATES.en[`state.${k}`] = k;
register({ en: STATES.en, "zh-CN": Object.fromEntries(Object.entries(STATES["zh-CN"]).map(([k, v]) => [`state.${k}`, v])) });

/** A state's name in the language in use (a state the console does not know shows as the API says it). */
export function stateLabel(state) {
  return has(`state.${state}`, "en") ? t(`state.${state}`) : String(state);
}

export function badge(state) {
  return h("span", { class: `badge st-${String(state).replace(/\s+/g, "-")}`, testid: "state", title: String(state) }, stateLabel(state));
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

/** The offset (ms) of the operator's time zone from UTC at the instant `ms`. */
function zoneOffset(ms) {
  const p = Object.fromEntries(new Intl.DateTimeFormat("en-CA", { timeZone: timeZone(), hourCycle: "h23", year: "numeric",
    month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
    .formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - Math.floor(ms / 1000) * 1000;
}

/** A datetime-local value, read as a wall time in the operator's time zone, as an ISO instant
 * (undefined when empty). */
export function isoFromLocal(value) {
  if (!value) return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value);
  if (!m) return new Date(value).toISOString();
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
  let at = wall - zoneOffset(wall);
  at = wall - zoneOffset(at); // once more across a change of offset
  return new Date(at).toISOString();
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

// ---------------------------------------------------------------------------------------------------
// Lists: search, filters, sortable columns and paging over rows the page has loaded, with the state
// in the hash's query (#/all-leases?state=suspended&sort=-start&page=2), so another page can link to a
// filtered list and a reload or an auto-refresh keeps it.

register({
  en: {
    "list.search": "Search", "list.searchPlaceholder": "Search…", "list.any": "all", "list.pageSize": "Per page",
    "list.range": "{from}–{to} of {total}", "list.none": "0 of {total}", "list.prev": "← Previous", "list.next": "Next →",
    "list.noMatch": "Nothing matches these filters.", "list.clear": "Clear filters", "list.sortBy": "Sort by {label}",
  },
  "zh-CN": {
    "list.search": "搜索", "list.searchPlaceholder": "搜索…", "list.any": "全部", "list.pageSize": "每页",
    "list.range": "第 {from}–{to} 条，共 {total} 条", "list.none": "0 条，共 {total} 条", "list.prev": "← 上一页",
    "list.next": "下一页 →", "list.noMatch": "没有符合筛选条件的记录。", "list.clear": "清除筛选", "list.sortBy": "按{label}排序",
  },
});

const DEC = /^-?\d+(\.\d+)?$/;

/** Compare two exact decimal strings (no float). */
export function compareDecimal(a, b) {
  const [sa, sb] = [String(a).trim(), String(b).trim()];
  const na = sa.startsWith("-");
  const nb = sb.startsWith("-");
  if (na !== nb) return na ? -1 : 1;
  const [ia, fa = ""] = sa.replace("-", "").split(".");
  const [ib, fb = ""] = sb.replace("-", "").split(".");
  const len = Math.max(fa.length, fb.length);
  const x = BigInt((ia.replace(/^0+/, "") || "0") + fa.padEnd(len, "0"));
  const y = BigInt((ib.replace(/^0+/, "") || "0") + fb.padEnd(len, "0"));
  const c = x === y ? 0 : (x < y ? -1 : 1);
  return na ? -c : c;
}

/** Order two sort keys: numbers by value, decimal strings exactly, text by the locale (numeric aware). */
export function compareKeys(a, b) {
  const empty = (v) => v === null || v === undefined || v === "";
  if (empty(a) || empty(b)) return empty(a) === empty(b) ? 0 : (empty(a) ? 1 : -1);
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (DEC.test(String(a)) && DEC.test(String(b))) return compareDecimal(a, b);
  return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: "base" });
}

function hashQuery() {
  const raw = location.hash.replace(/^#/, "");
  const i = raw.indexOf("?");
  return [i < 0 ? raw : raw.slice(0, i), new URLSearchParams(i < 0 ? "" : raw.slice(i + 1))];
}

/** Write `values` (key -> string; "" or null removes the key) into the hash's query, without a navigation. */
export function setHashQuery(values) {
  const [path, q] = hashQuery();
  for (const [k, v] of Object.entries(values)) {
    if (v === null || v === undefined || v === "") q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  history.replaceState(history.state, "", `#${path}${s ? `?${s}` : ""}`);
}

/**
 * A list: a table with a search box, a select per filter, sortable headers (click; aria-sort) and
 * pages of 25/50/100 ("1–25 of 312"), over `rows` already loaded (client side).
 *
 *   listView({
 *     columns: [{ key: "state", label, value(row) -> node|text, sort?(row) -> key, class? }, ...],
 *     rows, search: (row) => "text to match", testid, rowTestid, rowClass?, empty,
 *     filters: [{ key: "state", label, options: [[value, label], ...], match?(row, value) -> bool }],
 *     query: ctx.query,       // initial values: q, each filter's key, sort ("key" / "-key"), page, size
 *     hash: true,             // reflect the state into the hash (one list per page does)
 *     sort: "-start",         // default order
 *   })
 *
 * A filter without `match` keeps the rows whose `row[key]` equals the value. A filter with
 * `reload()` is one the page passes to the API (it loaded only the matching rows): a change writes
 * the hash and calls it, and the page loads again.
 */
export function listView({ columns, rows, search, filters = [], query, hash = true, sort = "", testid, rowTestid,
  rowClass, empty, pageSizes = [25, 50, 100] }) {
  const q = query || new URLSearchParams();
  const state = {
    q: q.get("q") || "",
    filters: Object.fromEntries(filters.map((f) => [f.key, q.get(f.key) || ""])),
    sort: q.get("sort") || sort,
    size: pageSizes.includes(Number(q.get("size"))) ? Number(q.get("size")) : pageSizes[0],
    page: Math.max(1, Number.parseInt(q.get("page") || "1", 10) || 1),
  };
  const box = h("div", { class: "list", testid: testid ? `${testid}-list` : undefined });
  const tableBox = h("div", {});
  const pager = h("div", { class: "pager", testid: testid ? `${testid}-pager` : undefined });

  const sync = () => {
    if (!hash) return;
    const out = { q: state.q, sort: state.sort === sort ? "" : state.sort,
      size: state.size === pageSizes[0] ? "" : String(state.size), page: state.page === 1 ? "" : String(state.page) };
    for (const f of filters) out[f.key] = state.filters[f.key];
    setHashQuery(out);
  };

  const searchBox = h("input", { type: "search", name: "q", value: state.q, placeholder: t("list.searchPlaceholder"),
    "aria-label": t("list.search"), testid: testid ? `${testid}-search` : undefined, autocomplete: "off" });
  searchBox.addEventListener("input", () => {
    state.q = searchBox.value;
    searchBox.defaultValue = searchBox.value; // applied: not an unsaved edit for the auto-refresh
    state.page = 1;
    sync();
    draw();
  });
  const selects = filters.map((f) => {
    const known = f.options.some(([v]) => v === state.filters[f.key]);
    const opts = [["", t("list.any")], ...f.options, ...(!known && state.filters[f.key] ? [[state.filters[f.key], state.filters[f.key]]] : [])];
    const sel = h("select", { name: f.key, "aria-label": f.label, testid: testid ? `${testid}-filter-${f.key}` : undefined },
      opts.map(([v, label]) => h("option", { value: v, selected: v === state.filters[f.key] }, label)));
    sel.addEventListener("change", () => {
      state.filters[f.key] = sel.value;
      for (const o of sel.options) o.defaultSelected = o.selected;
      state.page = 1;
      sync();
      if (f.reload) f.reload(); // the page asks the API for these rows: load them again
      else draw();
    });
    return h("label", { class: "filter" }, h("span", {}, f.label), sel);
  });
  const sizeSel = h("select", { name: "size", "aria-label": t("list.pageSize"), testid: testid ? `${testid}-size` : undefined },
    pageSizes.map((n) => h("option", { value: String(n), selected: n === state.size }, String(n))));
  sizeSel.addEventListener("change", () => {
    state.size = Number(sizeSel.value);
    for (const o of sizeSel.options) o.defaultSelected = o.selected;
    state.page = 1;
    sync();
    draw();
  });

  const visible = () => {
    const needle = state.q.trim().toLowerCase();
    let out = rows.filter((r) => (!needle || String(search ? search(r) : "").toLowerCase().includes(needle))
      && filters.every((f) => {
        const v = state.filters[f.key];
        if (!v) return true;
        return f.match ? f.match(r, v) : String(r[f.key] ?? "") === v;
      }));
    const desc = state.sort.startsWith("-");
    const col = columns.find((c) => c.key && c.key === state.sort.replace(/^-/, ""));
    if (col) {
      const key = col.sort || ((r) => r[col.key]);
      out = out.map((r, i) => [r, i]).sort(([a, i], [b, j]) => (desc ? -1 : 1) * compareKeys(key(a), key(b)) || i - j)
        .map(([r]) => r);
    }
    return out;
  };

  function draw() {
    const all = visible();
    const pages = Math.max(1, Math.ceil(all.length / state.size));
    if (state.page > pages) state.page = pages;
    const first = (state.page - 1) * state.size;
    const shown = all.slice(first, first + state.size);
    if (!rows.length) {
      tableBox.replaceChildren(h("p", { class: "muted empty", testid }, empty ?? t("ui.empty")));
    } else if (!all.length) {
      tableBox.replaceChildren(h("p", { class: "muted empty", testid }, t("list.noMatch")));
    } else {
      const desc = state.sort.startsWith("-");
      const sortKey = state.sort.replace(/^-/, "");
      tableBox.replaceChildren(h("div", { class: "table-wrap" },
        h("table", { testid },
          h("thead", {}, h("tr", {}, columns.map((c) => {
            if (!c.key) return h("th", { class: c.class }, c.label);
            const on = c.key === sortKey;
            return h("th", { class: `${c.class || ""} sortable`, "aria-sort": on ? (desc ? "descending" : "ascending") : "none" },
              h("button", { type: "button", class: "sort", title: t("list.sortBy", { label: c.label }),
                testid: testid ? `${testid}-sort-${c.key}` : undefined, onclick: () => {
                  state.sort = on && !desc ? `-${c.key}` : c.key;
                  state.page = 1;
                  sync();
                  draw();
                } }, c.label, h("span", { class: "sort-mark", "aria-hidden": "true" }, on ? (desc ? " ▼" : " ▲") : "")));
          }))),
          h("tbody", {}, shown.map((r) => h("tr", { testid: rowTestid ? rowTestid(r) : undefined, class: rowClass ? rowClass(r) : undefined },
            columns.map((c) => h("td", { class: c.class }, c.value(r)))))))));
    }
    pager.replaceChildren(...[
      h("span", { class: "muted", testid: testid ? `${testid}-range` : undefined }, all.length
        ? t("list.range", { from: first + 1, to: first + shown.length, total: all.length })
        : t("list.none", { total: rows.length })),
      state.page > 1 ? h("button", { type: "button", class: "small", testid: testid ? `${testid}-prev` : undefined,
        onclick: () => { state.page -= 1; sync(); draw(); } }, t("list.prev")) : null,
      state.page < pages ? h("button", { type: "button", class: "small", testid: testid ? `${testid}-next` : undefined,
        onclick: () => { state.page += 1; sync(); draw(); } }, t("list.next")) : null,
      h("label", { class: "filter" }, h("span", {}, t("list.pageSize")), sizeSel)].filter(Boolean));
  }

  draw();
  box.append(h("div", { class: "list-tools" }, h("label", { class: "filter search" }, h("span", {}, t("list.search")), searchBox),
    ...selects), tableBox, pager);
  return box;
}

/** The distinct values of `key` over `rows`, sorted, as select options. */
export function optionsOf(rows, key, label = (v) => v) {
  return [...new Set(rows.map((r) => (typeof key === "function" ? key(r) : r[key])).filter((v) => v !== null && v !== undefined && v !== ""))]
    .sort(compareKeys).map((v) => [String(v), label(v)]);
}
