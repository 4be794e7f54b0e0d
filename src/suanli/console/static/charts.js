// Charts of the console: a thin wrapper over Apache ECharts 6.1.0, vendored in the package at
// vendor/echarts/echarts.min.js (Apache-2.0; LICENSE, NOTICE and LICENSE-d3 beside it). The script is
// loaded once, from this origin, the first time a chart is drawn: nothing is fetched from elsewhere.
//
//   import { lineChart, stackedArea, barChart, cellGrid } from "./charts.js";
//   lineChart(null, { testid: "util", x: ["2026-12-06T10:00:00Z", …], xFormat: "datetime", kind: "percent",
//                     series: [{ key: "allocation", name: t("home.allocation"), values: ["0.42", …] }] })
//
// Each helper returns (or fills) a <figure class="chart" data-testid=…>. The figures plotted are the
// API's exact decimal strings: they are kept in the DOM twice, as the figure's `data-chart` attribute
// (JSON {x, series: {key: [values]}}) and as a table that screen readers read (`…-data`, visually
// hidden; each cell carries data-series, data-x and data-value). Browser tests compare those with the
// API. Numbers are turned into floats only to place the points on the canvas; labels and tooltips
// format the exact strings (fmtMoney/fmtNumber/fmtPercent), times in the operator's time zone.
import { h } from "./ui.js";
import { fmtDate, fmtDateTime, fmtMoney, fmtNumber, fmtPercent, lang, register, t } from "./i18n.js";

register({
  en: {
    "chart.empty": "No data for this period yet.",
    "chart.load-failed": "The chart library could not be loaded.",
    "chart.data": "Figures of the chart",
    "chart.when": "Time",
    "chart.total": "Total",
  },
  "zh-CN": {
    "chart.empty": "该时段暂无数据。",
    "chart.load-failed": "图表库加载失败。",
    "chart.data": "图表数据",
    "chart.when": "时间",
    "chart.total": "合计",
  },
});

const SCRIPT = new URL("./vendor/echarts/echarts.min.js", import.meta.url).href;
const STYLE = new URL("./charts.css", import.meta.url).href;
let loading = null;

/** The ECharts namespace, loading the vendored script once (a <script> from this origin). */
export function loadECharts() {
  if (window.echarts) return Promise.resolve(window.echarts);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = SCRIPT;
      s.onload = () => resolve(window.echarts);
      s.onerror = () => {
        loading = null;
        reject(new Error(t("chart.load-failed")));
      };
      document.head.append(s);
    });
  }
  return loading;
}

/** Link charts.css once (the charts' and the start page's styles; theme colours as CSS variables). */
export function ensureStyle() {
  if (document.querySelector(`link[data-charts-css]`)) return;
  document.head.append(h("link", { rel: "stylesheet", href: STYLE, "data-charts-css": "1" }));
}
ensureStyle();

/** The palette: --chart-1 … --chart-10 of charts.css (falls back to fixed colours before it loads). */
const FALLBACK = ["#0b6bcb", "#e07b00", "#1b7f3b", "#8e44ad", "#c62828", "#00838f", "#6d4c41", "#c2185b",
  "#546e7a", "#9e9d24"];
export function palette() {
  const css = getComputedStyle(document.documentElement);
  return FALLBACK.map((c, i) => css.getPropertyValue(`--chart-${i + 1}`).trim() || c);
}
function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/** A stable colour for a key (e.g. a tenant's id): the same key gets the same colour on every page. */
export function colorFor(key, keys) {
  const p = palette();
  const i = keys ? keys.indexOf(key) : -1;
  if (i >= 0) return p[i % p.length];
  let hsh = 0;
  for (const ch of String(key)) hsh = (hsh * 31 + ch.codePointAt(0)) >>> 0;
  return p[hsh % p.length];
}

/** A value (decimal string) for display by kind: percent (a fraction), money, count or number. */
export function fmtValue(value, kind = "number", currency = "CNY") {
  if (value === null || value === undefined || value === "") return "—";
  if (kind === "percent") return fmtPercent(value);
  if (kind === "money") return fmtMoney(value, currency);
  if (kind === "count") return fmtNumber(value, { max: 0 });
  return fmtNumber(value, { max: 3 });
}

/** An x value for display: an ISO instant in the operator's zone (datetime/date), a month, or as is. */
export function fmtX(x, xFormat = "label") {
  if (xFormat === "datetime") return fmtDateTime(x);
  if (xFormat === "date") return fmtDate(x);
  if (xFormat === "month") return String(x).slice(0, 7);
  return String(x);
}

/** An axis tick (a float ECharts chose, not a figure of ours): money with up to 4 places so ticks differ. */
function axisValue(v, kind, currency) {
  const s = String(Number(v.toPrecision(12)));
  if (kind === "money") return fmtMoney(s, currency, { max: 4 });
  if (kind === "percent") return fmtPercent(s, { max: 2 });
  return fmtNumber(s, { max: 4 });
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// Live ECharts instances; ones whose element left the page are disposed when the next chart is made.
const live = new Set();
function sweep() {
  for (const c of live) {
    if (!c.getDom().isConnected) {
      c.dispose();
      live.delete(c);
    }
  }
}
window.addEventListener("resize", () => {
  for (const c of live) if (c.getDom().isConnected) c.resize();
});

/** The figure, its exact figures in the DOM, and the drawing once the element is on the page and has a size. */
function figure(el, opts, option) {
  const { testid, x, series, xFormat = "label", kind = "number", currency = "CNY", title, height = 260 } = opts;
  const fig = el || h("figure", {});
  fig.classList.add("chart");
  if (testid) fig.dataset.testid = testid;
  fig.dataset.chart = JSON.stringify({ x, series: Object.fromEntries(series.map((s) => [s.key ?? s.name, s.values])) });
  const canvas = h("div", { class: "chart-canvas", role: "img", "aria-label": title || "" });
  canvas.style.height = `${height}px`;
  const data = h("table", { class: "chart-data", testid: testid ? `${testid}-data` : undefined },
    h("caption", {}, title || t("chart.data")),
    h("thead", {}, h("tr", {}, h("th", {}, t("chart.when")), series.map((s) => h("th", {}, s.name)))),
    h("tbody", {}, x.map((xv, i) => h("tr", {}, h("th", {}, fmtX(xv, xFormat)),
      series.map((s) => h("td", { "data-series": s.key ?? s.name, "data-x": xv, "data-value": s.values[i] ?? "" },
        fmtValue(s.values[i], kind, currency)))))));
  // visually hidden (a table grows to its content, so the wrapper clips it), read by screen readers and tests
  fig.replaceChildren(title ? h("figcaption", {}, title) : null, canvas, h("div", { class: "sr-only" }, data));
  fig.querySelectorAll("figcaption").forEach((c) => !c.textContent && c.remove());
  if (!x.length || !series.length) {
    canvas.replaceWith(h("p", { class: "muted chart-empty", testid: testid ? `${testid}-empty` : undefined }, t("chart.empty")));
    return fig;
  }
  let chart = null;
  const ro = new ResizeObserver(() => {
    if (!canvas.isConnected) return;
    if (chart) {
      chart.resize();
      return;
    }
    if (!canvas.clientWidth) return;
    loadECharts().then((echarts) => {
      if (chart || !canvas.isConnected) return;
      sweep();
      chart = echarts.init(canvas, null, { renderer: "canvas", locale: lang() === "zh-CN" ? "ZH" : "EN" });
      chart.setOption(option());
      live.add(chart);
    }).catch((e) => canvas.replaceChildren(h("p", { class: "error" }, e.message)));
  });
  ro.observe(canvas);
  return fig;
}

function baseOption({ x, series, xFormat = "label", kind = "number", currency = "CNY" }, colors) {
  const ink = cssVar("--ink", "#1c2430");
  const muted = cssVar("--muted", "#667085");
  const line = cssVar("--line", "#e3e6eb");
  return {
    color: colors || palette(),
    animation: false,
    textStyle: { fontFamily: getComputedStyle(document.body).fontFamily, color: ink },
    grid: { left: 8, right: 28, top: series.length > 1 ? 36 : 16, bottom: 8, containLabel: true },
    legend: series.length > 1 ? { type: "scroll", top: 0, textStyle: { color: ink } } : undefined,
    tooltip: {
      trigger: "axis",
      confine: true,
      formatter: (items) => {
        const list = Array.isArray(items) ? items : [items];
        if (!list.length) return "";
        const i = list[0].dataIndex;
        const rows = series.map((s) => `<div>${esc(s.name)}: <b>${esc(fmtValue(s.values[i], kind, currency))}</b></div>`);
        return `<div class="chart-tip"><div>${esc(fmtX(x[i], xFormat))}</div>${rows.join("")}</div>`;
      },
    },
    xAxis: {
      type: "category",
      data: x.map((v) => fmtX(v, xFormat)),
      axisLabel: { color: muted, hideOverlap: true },
      axisLine: { lineStyle: { color: line } },
    },
    yAxis: {
      type: "value",
      axisLabel: { color: muted, formatter: (v) => axisValue(v, kind, currency) },
      splitLine: { lineStyle: { color: line } },
      max: kind === "percent" ? (e) => Math.max(1, e.max) : undefined,
    },
  };
}

function toNumbers(values) {
  return values.map((v) => (v === null || v === undefined || v === "" ? null : Number(v)));
}

/**
 * A line chart. opts: {testid, title, x: [x values], xFormat: datetime|date|month|label,
 * series: [{key, name, values: [decimal strings or null]}], kind: percent|money|number|count,
 * currency, height, area}. `el` may be null (a new <figure> is made); returns the figure.
 */
export function lineChart(el, opts) {
  return figure(el, opts, () => ({
    ...baseOption(opts, opts.colors),
    series: opts.series.map((s) => ({ name: s.name, type: "line", showSymbol: opts.x.length < 40, connectNulls: false,
      areaStyle: opts.area ? { opacity: 0.15 } : undefined, data: toNumbers(s.values) })),
  }));
}

/** Stacked areas (e.g. allocation by model): the same opts as lineChart; the stack sums the series. */
export function stackedArea(el, opts) {
  return figure(el, opts, () => ({
    ...baseOption(opts, opts.colors),
    series: opts.series.map((s) => ({ name: s.name, type: "line", stack: "total", showSymbol: opts.x.length < 40,
      areaStyle: { opacity: 0.75 }, lineStyle: { width: 1 }, data: toNumbers(s.values) })),
  }));
}

/** Bars, side by side or stacked (opts.stacked), e.g. revenue split into supplier share and commission. */
export function barChart(el, opts) {
  return figure(el, opts, () => ({
    ...baseOption(opts, opts.colors),
    series: opts.series.map((s) => ({ name: s.name, type: "bar", stack: opts.stacked ? "total" : undefined,
      barMaxWidth: 36, data: toNumbers(s.values) })),
  }));
}

/**
 * A grid of cells in HTML (keyboard and screen-reader friendly, no canvas), e.g. the node × device
 * heatmap. opts: {testid, rows: [{label, href, testid, cells: [{color, fill (0..1), state, label,
 * title, href, testid, data: {attr: value}}]}], legend: [{color, label}]}. A cell's fill is the
 * share of the cell that is coloured (slices); state "down"/"maintenance" is hatched (charts.css);
 * title shows on hover and focus; href makes the cell a link.
 */
export function cellGrid(el, { testid, rows, legend = [], caption }) {
  const box = el || h("figure", {});
  box.classList.add("cellgrid");
  if (testid) box.dataset.testid = testid;
  const body = rows.map((r) => h("div", { class: "cg-row", testid: r.testid },
    h("div", { class: "cg-label", title: r.title || r.label }, r.href ? h("a", { href: r.href }, r.label) : r.label),
    h("div", { class: "cg-cells" }, r.cells.map((c) => {
      const fill = Math.max(0, Math.min(1, Number(c.fill ?? 0)));
      const inner = h("span", { class: "cg-fill" });
      inner.style.height = `${(fill * 100).toFixed(1)}%`;
      if (c.color) inner.style.background = c.color;
      const tag = c.href ? "a" : "span";
      const attrs = { class: `cg-cell cg-${c.state || "available"}`, title: c.title, "aria-label": c.title,
        testid: c.testid, href: c.href, tabindex: c.href || c.state !== "available" ? "0" : undefined };
      if (c.href) delete attrs.tabindex; // a link is focusable already
      for (const [k, v] of Object.entries(c.data || {})) attrs[`data-${k}`] = v;
      const cell = h(tag, attrs, inner, c.label ? h("span", { class: "cg-text" }, c.label) : null);
      return cell;
    }))));
  // what the cell under the pointer or with the focus holds, at once (the title shows only after a delay)
  const detail = h("div", { class: "cg-detail", "aria-live": "polite", testid: testid ? `${testid}-detail` : undefined }, "\u00a0");
  const show = (ev) => {
    const cell = ev.target.closest && ev.target.closest(".cg-cell");
    if (cell && box.contains(cell)) detail.textContent = cell.getAttribute("title") || "";
  };
  box.addEventListener("mouseover", show);
  box.addEventListener("focusin", show);
  box.replaceChildren(
    caption ? h("figcaption", {}, caption) : null,
    detail,
    legend.length ? h("div", { class: "cg-legend" }, legend.map((l) => {
      const sw = h("span", { class: `cg-swatch ${l.class || ""}` });
      if (l.color) sw.style.background = l.color;
      return h("span", { class: "cg-key" }, sw, l.label);
    })) : null,
    h("div", { class: "cg-body" }, body));
  return box;
}
