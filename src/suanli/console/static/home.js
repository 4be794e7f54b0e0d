// The operator's start page (#/home): the state of the business in ten seconds.
//
// KPI tiles with trends (GET /v1/reports/overview), counts that link to filtered lists, charts over
// the chosen period (allocation stacked by model and by site from the capacity report, revenue split
// into supplier share and commission from the revenue report, payback per site from the economics
// report), and the node × device heatmap (GET /v1/fleet/heatmap). Each section loads on its own: one
// that fails shows its error and the rest of the page stays. The figures shown are the API's exact
// decimal strings, formatted for the locale; each tile and chart keeps them in data-* attributes.
import { get } from "./api.js";
import { barChart, cellGrid, colorFor, fmtValue, lineChart, stackedArea } from "./charts.js";
import { fmtDateTime, fmtMoney, fmtNumber, fmtPercent, register, t } from "./i18n.js";
import { errorBox, h, roundDec } from "./ui.js";

register({
  en: {
    "home.nav": "Overview",
    "home.title": "Overview",
    "home.asOf": "as of {time}",
    "home.period": "Period",
    "home.p.24h": "24 h", "home.p.7d": "7 d", "home.p.30d": "30 d", "home.p.90d": "90 d",
    "home.allocation": "Allocation",
    "home.utilisation": "measured utilisation {value}",
    "home.notMeasured": "utilisation not measured (no telemetry)",
    "home.leaseRate": "Lease rate (24 h)",
    "home.revenue": "Revenue this month",
    "home.runRate": "Run-rate",
    "home.provisional": "provisional until the month's invoices are issued",
    "home.perHour": "{value}/h",
    "home.energy": "Energy cost",
    "home.energyValue": "{today} today · {month} this month",
    "home.energyUnknown": "not sampled yet",
    "home.powerNow": "{value}/h now",
    "home.idle": "Idle capacity",
    "home.idleSplit": "{fragmented} fragmented · {unrented} unrented · {down} down",
    "home.deviceEq": "device-equivalents",
    "home.margin": "Margin this month",
    "home.marginNote": "commission less energy cost",
    "home.vs24h": "vs 24 h ago",
    "home.vsPrev24h": "vs the 24 h before",
    "home.vsLastMonth": "vs last month, same days",
    "home.devices": "{n} devices on available nodes",
    "home.needs": "Needs a look",
    "home.c.idle_whole_gpus": "Idle whole GPUs",
    "home.c.fragmented_gpus": "Partly held GPUs",
    "home.c.down_nodes": "Down nodes",
    "home.c.maintenance_nodes": "Nodes in maintenance",
    "home.c.suspended_leases": "Suspended leases",
    "home.c.interrupted_leases": "Interrupted leases",
    "home.c.unpaid_invoices": "Unpaid invoices",
    "home.c.low_runway_tenants": "Low-runway tenants",
    "home.charts": "Over time",
    "home.allocByModel": "Allocated devices by model",
    "home.allocBySite": "Allocated devices by site",
    "home.rates": "Allocation, lease rate and measured utilisation",
    "home.r.allocation_rate": "Allocation", "home.r.lease_rate": "Lease rate", "home.r.utilisation": "Measured utilisation",
    "home.idleOverTime": "Idle capacity: where it is lost (device-equivalents)",
    "home.i.fragmented": "Fragmented", "home.i.unrented": "Unrented whole", "home.i.down": "Down or maintenance",
    "home.revenueSplit": "Revenue: supplier share and commission",
    "home.supplierShare": "Supplier share",
    "home.commission": "Commission",
    "home.payback": "Payback per site (cumulative cash)",
    "home.paybackMonth": "month {n}",
    "home.heatmap": "Node × device",
    "home.heatmapHelp": "Each square is a device, coloured by the tenant holding it; the filled height is the share held. Hatched: down or in maintenance. Hover or focus for the lease; click to open it.",
    "home.free": "free",
    "home.down": "down",
    "home.maintenance": "maintenance",
    "home.cellFree": "{node} · device {slot}: free",
    "home.cellState": "{node} · device {slot}: {state}",
    "home.cellLease": "{node} · device {slot}: lease {lease}, {tenant}, {share} of the device",
    "home.unavailable": "Not available yet: {message}",
    "home.noNodes": "No nodes in the fleet yet.",
  },
  "zh-CN": {
    "home.nav": "总览",
    "home.title": "运营总览",
    "home.asOf": "截至 {time}",
    "home.period": "时段",
    "home.p.24h": "24 小时", "home.p.7d": "7 天", "home.p.30d": "30 天", "home.p.90d": "90 天",
    "home.allocation": "分配率",
    "home.utilisation": "实测利用率 {value}",
    "home.notMeasured": "利用率未实测（无遥测）",
    "home.leaseRate": "出租率（24 小时）",
    "home.revenue": "本月收入",
    "home.runRate": "每小时收入",
    "home.provisional": "本月账单开具前为暂估值",
    "home.perHour": "{value}/小时",
    "home.energy": "电费",
    "home.energyValue": "今日 {today} · 本月 {month}",
    "home.energyUnknown": "尚未采样",
    "home.powerNow": "当前 {value}/小时",
    "home.idle": "空闲算力",
    "home.idleSplit": "碎片 {fragmented} · 未出租 {unrented} · 停机 {down}",
    "home.deviceEq": "卡当量",
    "home.margin": "本月毛利",
    "home.marginNote": "平台佣金减电费",
    "home.vs24h": "较 24 小时前",
    "home.vsPrev24h": "较前 24 小时",
    "home.vsLastMonth": "较上月同期",
    "home.devices": "可用节点上共 {n} 张卡",
    "home.needs": "需要关注",
    "home.c.idle_whole_gpus": "空闲整卡",
    "home.c.fragmented_gpus": "部分占用的卡",
    "home.c.down_nodes": "故障节点",
    "home.c.maintenance_nodes": "维护中节点",
    "home.c.suspended_leases": "已暂停租约",
    "home.c.interrupted_leases": "已中断租约",
    "home.c.unpaid_invoices": "未付账单",
    "home.c.low_runway_tenants": "余额告急租户",
    "home.charts": "趋势",
    "home.allocByModel": "按型号的已分配卡数",
    "home.allocBySite": "按站点的已分配卡数",
    "home.rates": "分配率、出租率与实测利用率",
    "home.r.allocation_rate": "分配率", "home.r.lease_rate": "出租率", "home.r.utilisation": "实测利用率",
    "home.idleOverTime": "空闲算力：损失在哪里（卡当量）",
    "home.i.fragmented": "碎片", "home.i.unrented": "未出租整卡", "home.i.down": "故障或维护",
    "home.revenueSplit": "收入：供应商分成与平台佣金",
    "home.supplierShare": "供应商分成",
    "home.commission": "平台佣金",
    "home.payback": "各站点回本曲线（累计现金）",
    "home.paybackMonth": "第 {n} 月",
    "home.heatmap": "节点 × 加速卡",
    "home.heatmapHelp": "每个方块是一张卡，颜色代表占用它的租户，填充高度为占用份额；斜线：故障或维护中。悬停或聚焦查看租约，点击打开。",
    "home.free": "空闲",
    "home.down": "故障",
    "home.maintenance": "维护中",
    "home.cellFree": "{node} · 第 {slot} 张卡：空闲",
    "home.cellState": "{node} · 第 {slot} 张卡：{state}",
    "home.cellLease": "{node} · 第 {slot} 张卡：租约 {lease}，{tenant}，占用 {share}",
    "home.unavailable": "暂不可用：{message}",
    "home.noNodes": "资源池中还没有节点。",
  },
});

/** The periods of the selector, in hours. */
export const PERIODS = { "24h": 24, "7d": 24 * 7, "30d": 24 * 30, "90d": 24 * 90 };

/** Where each count leads: a list filtered (or sorted) by the hash query (the lists' filters: ui.js listView).
 * The device counts open the nodes holding them (the fleet list's free filter: a whole device free, or a
 * device partly held), most free first; unpaid invoices open the tenants that have some. */
export const COUNT_LINKS = {
  idle_whole_gpus: "#/fleet?free=whole&sort=-free",
  fragmented_gpus: "#/fleet?free=partial&sort=-allocated",
  down_nodes: "#/fleet?state=down",
  maintenance_nodes: "#/fleet?state=maintenance",
  suspended_leases: "#/all-leases?state=suspended",
  interrupted_leases: "#/all-leases?state=interrupted",
  unpaid_invoices: "#/tenants?unpaid=yes",
  low_runway_tenants: "#/tenants?runway=low",
};
const BAD_COUNTS = new Set(["down_nodes", "interrupted_leases", "unpaid_invoices", "low_runway_tenants"]);
const WARN_COUNTS = new Set(["fragmented_gpus", "maintenance_nodes", "suspended_leases"]);

function sign(s) {
  if (s === null || s === undefined) return null;
  if (String(s).startsWith("-")) return "down";
  return /[1-9]/.test(String(s)) ? "up" : "flat";
}

/** "▲ +1.2 pp" / "▼ −¥30.00" / "▬ 0": the change, its direction, what it is compared with. */
function delta(trend, kind, currency, versus, { goodWhenUp = true } = {}) {
  const dir = sign(trend.delta);
  if (!dir) return h("span", { class: "delta flat" }, "—");
  const arrow = { up: "▲", down: "▼", flat: "▬" }[dir];
  const abs = String(trend.delta).replace(/^-/, "");
  const text = kind === "percent" ? fmtPercent(abs, { max: 2 }) : fmtValue(abs, kind, currency);
  const signed = dir === "flat" ? text : `${dir === "up" ? "+" : "−"}${text}`;
  return h("span", { class: `delta ${dir}${goodWhenUp ? "" : " bad"}`, testid: "delta", "data-delta": trend.delta,
    title: versus }, `${arrow} ${signed} `, h("span", { class: "muted" }, versus));
}

function tile(testid, label, value, exact, sub, trendNode, before) {
  return h("div", { class: "tile", testid, "data-value": exact ?? "", "data-before": before ?? "" },
    h("div", { class: "tile-label" }, label),
    h("div", { class: "tile-value", testid: `${testid}-value`, title: value }, value),
    trendNode || null,
    sub ? h("div", { class: "tile-sub" }, sub) : null);
}

/** fragmented + unrented + down, added exactly on the decimal strings (3 places at most). */
function idleTotal(idle) {
  const milli = (v) => BigInt(roundDec(v, 3).replace(/[,.]/g, ""));
  const sum = milli(idle.fragmented) + milli(idle.unrented) + milli(idle.down);
  const str = sum.toString().padStart(4, "0");
  return `${str.slice(0, -3)}.${str.slice(-3)}`;
}

function tiles(o) {
  const cur = o.currency;
  const util = o.utilisation.now === null ? t("home.notMeasured") : t("home.utilisation", { value: fmtPercent(o.utilisation.now) });
  const energy = o.energy_cost_today === null && o.energy_cost_mtd === null ? t("home.energyUnknown")
    : t("home.energyValue", { today: fmtMoney(o.energy_cost_today, cur), month: fmtMoney(o.energy_cost_mtd, cur) });
  return h("div", { class: "tiles", testid: "tiles" },
    tile("tile-allocation", t("home.allocation"), fmtPercent(o.allocation.now), o.allocation.now,
      util, delta(o.allocation, "percent", cur, t("home.vs24h")), o.allocation.before),
    tile("tile-lease-rate", t("home.leaseRate"), fmtPercent(o.lease_rate.now), o.lease_rate.now,
      t("home.devices", { n: fmtNumber(o.devices, { max: 0 }) }), delta(o.lease_rate, "percent", cur, t("home.vsPrev24h")),
      o.lease_rate.before),
    tile("tile-revenue", t("home.revenue"), fmtMoney(o.revenue_mtd.now, cur), o.revenue_mtd.now, t("home.provisional"),
      delta(o.revenue_mtd, "money", cur, t("home.vsLastMonth")), o.revenue_mtd.before),
    tile("tile-run-rate", t("home.runRate"), t("home.perHour", { value: fmtMoney(o.run_rate.now, cur) }), o.run_rate.now,
      null, delta(o.run_rate, "money", cur, t("home.vs24h")), o.run_rate.before),
    tile("tile-energy", t("home.energy"), o.energy_cost_mtd === null ? "—" : fmtMoney(o.energy_cost_mtd, cur),
      o.energy_cost_mtd, [energy, o.power_cost_per_hour === null ? null
        : h("div", {}, t("home.powerNow", { value: fmtMoney(o.power_cost_per_hour, cur) }))], null, o.energy_cost_today),
    tile("tile-idle", t("home.idle"), fmtNumber(idleTotal(o.idle), { max: 2 }), idleTotal(o.idle),
      t("home.idleSplit", { fragmented: fmtNumber(o.idle.fragmented, { max: 2 }),
        unrented: fmtNumber(o.idle.unrented, { max: 2 }), down: fmtNumber(o.idle.down, { max: 2 }) }), null,
      null),
    tile("tile-margin", t("home.margin"), fmtMoney(o.margin_mtd.now, cur), o.margin_mtd.now, t("home.marginNote"),
      delta(o.margin_mtd, "money", cur, t("home.vsLastMonth")), o.margin_mtd.before));
}

function counts(o) {
  return h("div", { class: "counts", testid: "counts" }, Object.entries(COUNT_LINKS).map(([key, href]) => {
    const n = o.counts[key];
    const tone = n > 0 && BAD_COUNTS.has(key) ? " bad" : n > 0 && WARN_COUNTS.has(key) ? " warn" : "";
    return h("a", { class: `count${tone}`, href, testid: `count-${key}`, "data-value": String(n) },
      h("span", { class: "count-n" }, fmtNumber(n, { max: 0 })), h("span", { class: "count-label" }, t(`home.c.${key}`)));
  }));
}

// The sections of the page being drawn: the page is shown once all have loaded (or failed), so a
// refresh replaces a whole page, never one with holes.
let pending = [];

/** A section that loads on its own; a failure (e.g. a report not there yet) says so in place. */
function section(testid, load) {
  const box = h("div", { class: "home-section", testid });
  pending.push(load().then((node) => box.replaceChildren(node)).catch((e) => {
    box.replaceChildren(e && e.status === 404 ? h("p", { class: "muted", testid: `${testid}-unavailable` },
      t("home.unavailable", { message: e.message })) : errorBox(e, `${testid}-error`));
  }));
  return box;
}

/** Series of `field` per group from a capacity report's points: {x: [instants], series: [{key, name, values}]}. */
export function seriesOf(report, field) {
  const xs = [...new Set(report.points.map((p) => p.at))].sort();
  const groups = [...new Set(report.points.map((p) => p.group))].sort();
  const at = new Map(report.points.map((p) => [`${p.at}|${p.group}`, p]));
  return {
    x: xs,
    series: groups.map((g) => ({ key: g, name: g, values: xs.map((x) => {
      const p = at.get(`${x}|${g}`);
      return p && p.figures[field] !== null && p.figures[field] !== undefined ? String(p.figures[field]) : null;
    }) })),
  };
}

function capacityChart(testid, title, by, period) {
  return section(testid, async () => {
    const q = { start: period.start, end: period.end, by };
    const report = await get("/v1/reports/capacity", q);
    const s = seriesOf(report, "allocated");
    const fig = stackedArea(null, { testid: `${testid}-chart`, title, ...s, xFormat: s.x.length && period.hours > 48 ? "date" : "datetime",
      kind: "number" });
    fig.dataset.query = JSON.stringify({ ...q, step: report.step });
    return fig;
  });
}

/** The whole fleet's series (by=none): the rates as lines, the idle split stacked. */
function fleetCharts(period) {
  const q = { start: period.start, end: period.end, by: "none" };
  const report = get("/v1/reports/capacity", q);
  const chart = (testid, title, fields, prefix, draw, kind) => section(testid, async () => {
    const r = await report;
    const xs = r.points.map((p) => p.at);
    const fig = draw(null, { testid: `${testid}-chart`, title, kind, x: xs, xFormat: period.hours > 48 ? "date" : "datetime",
      series: fields.filter((f) => f !== "utilisation" || r.points.some((p) => p.figures[f] !== null))
        .map((f) => ({ key: f, name: t(`${prefix}${f}`), values: r.points.map((p) => p.figures[f]) })) });
    fig.dataset.query = JSON.stringify({ ...q, step: r.step });
    return fig;
  });
  return [
    chart("home-rates", t("home.rates"), ["allocation_rate", "lease_rate", "utilisation"], "home.r.", lineChart, "percent"),
    chart("home-idle", t("home.idleOverTime"), ["fragmented", "unrented", "down"], "home.i.", stackedArea, "number"),
  ];
}

/** Revenue per bucket of the period, split into supplier share and commission (ECON's revenue report). */
function revenueChart(period, currency) {
  return section("home-revenue", async () => {
    const n = period.hours <= 24 ? 6 : period.hours <= 24 * 7 ? 7 : 6;
    const start = Date.parse(period.start);
    const step = (Date.parse(period.end) - start) / n;
    const edges = Array.from({ length: n + 1 }, (_, i) => new Date(start + Math.round(i * step)).toISOString());
    const reports = await Promise.all(edges.slice(0, -1).map((s, i) => get("/v1/reports/revenue",
      { start: s, end: edges[i + 1], by: "site" })));
    const fig = barChart(null, { testid: "home-revenue-chart", title: t("home.revenueSplit"), stacked: true,
      x: edges.slice(0, -1), xFormat: period.hours > 48 ? "date" : "datetime", kind: "money", currency,
      series: [
        { key: "supplier_share", name: t("home.supplierShare"), values: reports.map((r) => r.total.supplier_share) },
        { key: "commission", name: t("home.commission"), values: reports.map((r) => r.total.commission) },
      ] });
    fig.dataset.query = JSON.stringify(edges);
    return fig;
  });
}

/** Cumulative cash per site over the life, by month (ECON's economics report). */
function paybackChart(currency) {
  return section("home-payback", async () => {
    const r = await get("/v1/reports/economics", { by: "site" });
    const months = Math.max(0, ...r.groups.map((g) => g.curve.length));
    return lineChart(null, { testid: "home-payback-chart", title: t("home.payback"), kind: "money", currency,
      x: Array.from({ length: months }, (_, i) => t("home.paybackMonth", { n: i })),
      series: r.groups.map((g) => ({ key: g.group, name: g.group, values: g.curve })) });
  });
}

/** The node × device heatmap: a cell per device, coloured by tenant, filled by the share held. */
export function heatmapView(data) {
  const nodes = data.nodes || [];
  if (!nodes.length) return h("p", { class: "muted", testid: "heatmap-empty" }, t("home.noNodes"));
  const tenants = [...new Set(nodes.flatMap((n) => n.devices.flatMap((d) => (d.leases || []).map((l) => l.tenant))))].sort();
  const names = new Map(nodes.flatMap((n) => n.devices.flatMap((d) => (d.leases || []).map((l) => [l.tenant, l.tenant_name || l.tenant]))));
  const rows = nodes.map((n) => ({
    label: n.node, title: `${n.node} · ${n.site} · ${n.model} · ${n.supplier}`, testid: "heatmap-row",
    cells: n.devices.map((d) => {
      const ls = d.leases || [];
      const main = ls[0];
      const state = n.state !== "available" ? n.state : (d.state || "available");
      let title;
      if (state !== "available") title = t("home.cellState", { node: n.node, slot: d.slot, state: t(`home.${state}`) });
      else if (!ls.length) title = t("home.cellFree", { node: n.node, slot: d.slot });
      else title = ls.map((l) => t("home.cellLease", { node: n.node, slot: d.slot, lease: l.lease, tenant: l.tenant_name || l.tenant,
        share: fmtPercent(l.share) })).join("\n");
      return {
        state, fill: d.fill, title, testid: "heatmap-cell",
        color: main ? colorFor(main.tenant, tenants) : undefined,
        href: main ? `#/leases/${encodeURIComponent(main.lease)}` : undefined,
        data: { node: n.node, slot: String(d.slot), fill: String(d.fill), tenant: main ? main.tenant : "",
          "tenant-name": main ? (main.tenant_name || main.tenant) : "", lease: main ? main.lease : "", state },
      };
    }),
  }));
  const legend = [...tenants.map((x) => ({ color: colorFor(x, tenants), label: names.get(x) })),
    { label: t("home.free") }, { class: "cg-down", label: t("home.down") }, { class: "cg-maintenance", label: t("home.maintenance") }];
  return cellGrid(null, { testid: "heatmap-grid", rows, legend, caption: t("home.heatmapHelp") });
}

function periodPicker(current) {
  return h("div", { class: "periods", role: "group", "aria-label": t("home.period"), testid: "home-periods" },
    Object.keys(PERIODS).map((k) => h("a", { href: `#/home?period=${k}`, class: k === current ? "on" : "",
      "aria-current": k === current ? "true" : false, testid: `period-${k}` }, t(`home.p.${k}`))));
}

/** How often the page reloads itself: once a minute (the capacity series is sampled every minute by
 * default; the page makes a dozen reads, too many for the console's 10-second rhythm). */
export const REFRESH_MS = 60_000;

/** The page: ctx.query's `period` picks the charts' window (24h, 7d, 30d, 90d; default 7d). */
export async function home(ctx) {
  ctx.refreshMs = REFRESH_MS;
  const key = PERIODS[ctx.query.get("period")] ? ctx.query.get("period") : "7d";
  const o = await get("/v1/reports/overview");
  const end = o.as_of;
  const hours = PERIODS[key];
  const period = { key, hours, end, start: new Date(Date.parse(end) - hours * 3600_000).toISOString() };
  pending = [];
  const page = h("div", { class: "home", testid: "home", "data-as-of": o.as_of },
    h("div", { class: "home-head" },
      h("h1", {}, t("home.title")),
      h("span", { class: "asof", testid: "home-as-of" }, t("home.asOf", { time: fmtDateTime(o.as_of, { seconds: true }) })),
      h("span", { class: "spacer" }),
      periodPicker(key)),
    tiles(o),
    h("h2", {}, t("home.needs")),
    counts(o),
    h("h2", {}, t("home.charts")),
    h("div", { class: "charts2" },
      ...fleetCharts(period),
      capacityChart("home-alloc-model", t("home.allocByModel"), "model", period),
      capacityChart("home-alloc-site", t("home.allocBySite"), "site", period),
      revenueChart(period, o.currency),
      paybackChart(o.currency)),
    h("h2", {}, t("home.heatmap")),
    section("home-heatmap", async () => heatmapView(await get("/v1/fleet/heatmap"))));
  await Promise.all(pending);
  return page;
}
